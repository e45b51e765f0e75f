"""Where a network runs: the device ``"auto"`` resolves to, seeded work, mixed precision,
and the random states a resumed run restores."""

from __future__ import annotations

import contextlib
import threading

import torch

from .._common.distributed import launched_by_torchrun, local_gpu


def resolve_device(device) -> torch.device:
    """``"auto"`` → a CUDA GPU when there is one (the first, or under ``torchrun`` the
    process's ``LOCAL_RANK``), else the CPU."""
    if isinstance(device, str) and device == "auto":
        if not torch.cuda.is_available():
            return torch.device("cpu")
        # under torchrun, each process trains on its own GPU
        return torch.device("cuda", local_gpu()) if launched_by_torchrun() else torch.device("cuda")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but no CUDA GPU is available; use 'auto' or 'cpu'")
    return resolved


# torch's generator is one per process: while one fit draws its dropout masks from it under
# its seed, a fit in another thread would draw from the same stream and shift them. Seeded
# work therefore runs one thread at a time (fits in threads stay reproducible; for fits in
# parallel, use processes: joblib's default backend).
_SEEDED = threading.RLock()


@contextlib.contextmanager
def seeded(seed: int, device: torch.device):
    """Seed torch inside a fork of its RNG state: the caller's generators are left as they
    were, and no other thread's seeded work interleaves with this one."""
    with _SEEDED, torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


def autocast(device: torch.device, dtype: torch.dtype = torch.float16):
    """Mixed precision (``dtype``, float16 by default) on a GPU, full precision on the CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=dtype)
    return contextlib.nullcontext()


def rng_states(device: torch.device) -> dict:
    """torch's random state (and the GPU's, on one): what a resumed run restores."""
    return {"torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None}


def set_rng_states(states: dict, device: torch.device) -> None:
    """Inverse of :func:`rng_states`."""
    torch.set_rng_state(states["torch_rng"])
    if device.type == "cuda" and states.get("cuda_rng") is not None:
        torch.cuda.set_rng_state(states["cuda_rng"], device)
