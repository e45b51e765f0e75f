"""The one atomic write: a file appears under its name complete, or not at all."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_target(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; move it onto ``dest`` only on success.

    The file gets the mode the user's umask gives new files (not ``mkstemp``'s 0600), and
    whatever was at ``dest`` stays there until the new file is complete.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_file_beside(dest)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def _new_file_beside(dest: Path) -> Path:
    """A new empty file in ``dest``'s folder under an unused hidden name that ends in
    ``dest``'s suffixes (writers that choose a format by suffix still can), created with
    mode 0666 so that the operating system applies the user's umask."""
    while True:
        tmp = dest.parent / f".{dest.name}.{secrets.token_hex(4)}.part{''.join(dest.suffixes)}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
