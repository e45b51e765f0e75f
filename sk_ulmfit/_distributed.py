"""Data-parallel training across processes: ``torchrun`` and ``DistributedDataParallel``.

A script run as ``torchrun --nproc_per_node=N script.py`` joins torch's process group at
its first fit (``nccl`` between GPUs, ``gloo`` on CPUs; or the group the script set up
itself with ``torch.distributed.init_process_group``). Every process then plans the same
global batches from the same seed and trains on its own rows of each (:func:`shard`);
DDP averages the gradients, so every process takes the same optimiser step and ends
with the same weights. Only rank 0 writes files (:func:`is_writer`). Outside ``torchrun``
all of this reduces to one process and a world of size 1.

Nothing here communicates by itself: the collectives are torch's (DDP, ``all_reduce``,
``broadcast``).
"""

from __future__ import annotations

import contextlib
import os
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def launched_by_torchrun() -> bool:
    """Whether this process is one of several that ``torchrun`` started."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "MASTER_ADDR" in os.environ


def local_gpu() -> int:
    """The GPU this process trains on under ``torchrun`` (``LOCAL_RANK``); 0 otherwise."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def world() -> tuple[int, int]:
    """``(rank, world_size)``: joins ``torchrun``'s process group the first time it is
    asked for; ``(0, 1)`` for a process on its own."""
    if not dist.is_available():
        return 0, 1
    if not dist.is_initialized() and launched_by_torchrun():
        if torch.cuda.is_available():
            torch.cuda.set_device(local_gpu())
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    if not dist.is_initialized():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def is_writer() -> bool:
    """Whether this process writes files: always on its own, rank 0 only under ``torchrun``."""
    return world()[0] == 0


def shard(n_rows: int) -> tuple[slice, float]:
    """This process's rows of a global batch of ``n_rows`` (a contiguous slice), and the
    factor its mean loss is scaled by so that DDP's average of the processes' gradients is
    the gradient of the global batch's mean loss (``rows * world_size / n_rows``: 1 when
    the shards are equal)."""
    rank, size = world()
    if size == 1:
        return slice(0, n_rows), 1.0
    if n_rows < size:
        raise ValueError(
            f"a batch of {n_rows} rows cannot be shared by {size} processes: use a larger "
            "batch_size or fewer processes"
        )
    bounds = np.linspace(0, n_rows, size + 1).round().astype(int)
    start, stop = int(bounds[rank]), int(bounds[rank + 1])
    return slice(start, stop), (stop - start) * size / n_rows


class _LossNetwork(nn.Module):
    """A network and its loss as one module (what DDP wraps): ``forward(inputs, targets,
    *extra)`` is ``loss_fn(network, inputs, targets, *extra)``."""

    def __init__(self, network: nn.Module, loss_fn: Callable):
        super().__init__()
        self.network = network
        self.loss_fn = loss_fn

    def forward(self, inputs, targets, *extra):
        return self.loss_fn(self.network, inputs, targets, *extra)


def data_parallel(network: nn.Module, loss_fn: Callable, device: torch.device) -> nn.Module:
    """``loss_fn`` bound to ``network``, wrapped in DDP when there are several processes.

    Made once per epoch: DDP averages the gradients of the parameters that train at its
    creation, and gradual unfreezing changes those between stages. Creating it also
    copies rank 0's weights to every process.
    """
    module = _LossNetwork(network, loss_fn)
    if world()[1] == 1:
        return module
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None,
                                   broadcast_buffers=False)


def sync_buffers(network: nn.Module) -> None:
    """Give every process rank 0's buffers (BatchNorm's running statistics, which each
    process updated from its own rows)."""
    if world()[1] == 1:
        return
    for buffer in network.buffers():
        dist.broadcast(buffer.data, src=0)


def total(*values: float) -> list[float]:
    """The sums of ``values`` over all processes (the values themselves on one)."""
    if world()[1] == 1:
        return list(values)
    on = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else None
    summed = torch.tensor(values, dtype=torch.float64, device=on)
    dist.all_reduce(summed)
    return summed.tolist()


def any_process(flag: bool) -> bool:
    """Whether ``flag`` is true in any process: how the processes agree to stop together."""
    if world()[1] == 1:
        return flag
    return total(float(flag))[0] > 0


@contextlib.contextmanager
def writer_first():
    """Rank 0 runs the block first (filling a cache on disk), then the other processes."""
    rank, size = world()
    if size > 1 and rank != 0:
        dist.barrier()
    yield
    if size > 1 and rank == 0:
        dist.barrier()


def wait_for_all() -> None:
    """Block until every process gets here (after rank 0 has written what they read)."""
    if world()[1] > 1:
        dist.barrier()
