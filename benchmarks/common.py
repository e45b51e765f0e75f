"""Helpers shared by the benchmark scripts: machine line, fresh processes, peak memory, RESULTS.md."""

from __future__ import annotations

import functools
import hashlib
import multiprocessing
import os
import platform
import resource
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

import sk_ulmfit
from sk_ulmfit._io.pretrained import SHIPPED, _shipped_path

RESULTS = Path(__file__).with_name("RESULTS.md")


def machine() -> str:
    import torch

    from sk_ulmfit._nn.inference import native_bfloat16_cpu

    device = f"GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "CPU only"
    bfloat16 = "native bfloat16" if native_bfloat16_cpu() else "no native bfloat16"
    return (f"{platform.machine()} ({torch.backends.cpu.get_cpu_capability()}, {bfloat16}), "
            f"{os.cpu_count()} cores, torch {torch.__version__}, {device}")


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_fresh_process(function, *args):
    """``function(*args)`` in a new interpreter (spawned), so memory and caches are its own."""
    # concurrent.futures workers may start processes of their own (parallel tokenisation)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as executor:
        return executor.submit(function, *args).result()


def write_section(heading: str, text: str) -> None:
    """Put ``text`` under ``heading`` in RESULTS.md, replacing that section only."""
    existing = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    before, found, after = existing.partition(heading)
    rest = after.split("\n## ", 1) if found else ["", ""]
    tail = "\n## " + rest[1] if len(rest) == 2 and rest[1] else ""
    RESULTS.write_text(before.rstrip() + "\n\n" + heading + "\n\n" + text.strip() + "\n" + tail)


def report(heading: str, intro: str, lines: list[str], write: bool) -> None:
    """Print ``intro`` and the table ``lines``; with ``write``, put them under ``heading``."""
    text = intro + "\n\n" + "\n".join(lines)
    print(text)
    if write:
        write_section(heading, text)


def subset(X, y, n: int, seed: int) -> tuple[list, np.ndarray]:
    """A stratified, seeded subset of ``n`` texts and their labels."""
    index, _ = train_test_split(np.arange(len(X)), train_size=n, stratify=y, random_state=seed)
    return [X[i] for i in index], np.asarray(y)[index]


def model_files(model: str, direction: str) -> list[Path]:
    """The weight files a model reads: the file itself, or a shipped name's files for the
    directions used (``"both"``: every direction)."""
    if Path(model).is_file():
        return [Path(model)]
    files = SHIPPED.get(model, {})
    used = files if direction == "both" else {d: f for d, f in files.items() if d == direction}
    return [path for path in map(_shipped_path, used.values()) if path.is_file()]


@functools.cache
def library_digest() -> str:
    """A digest of the library's source (every ``sk_ulmfit/**/*.py``): changes with any edit of
    its code, not with its shipped weights (``model_version`` names those)."""
    digest = hashlib.sha1()
    root = Path(sk_ulmfit.__file__).parent
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def model_version(model: str, direction: str) -> str:
    """What a cached figure depends on beyond its parameters: the path, size and modification
    time of each weight file read (for a shipped name, those of the directions used), and
    the library's code (:func:`library_digest`), so a behaviour change measures again."""
    files = ";".join(f"{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in model_files(model, direction))
    return f"{files};sk_ulmfit:{library_digest()}"
