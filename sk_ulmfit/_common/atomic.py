"""The one atomic write: a file appears under its name complete, or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

_UMASK = os.umask(0)  # read once at import (the only way to read it), then restored
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_target(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; move it onto ``dest`` only on success.

    The file gets the mode the user's umask gives new files (not ``mkstemp``'s 0600), and
    whatever was at ``dest`` stays there until the new file is complete.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # the temporary name ends in ``dest``'s suffixes, so writers that choose a format by suffix still can
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part" + "".join(dest.suffixes))
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
