"""Data-parallel training across processes: ``torchrun`` and ``DistributedDataParallel``.

A script run as ``torchrun --nproc_per_node=N script.py`` joins torch's process group when
a fit or a pretraining run begins (:func:`join_world`: ``nccl`` between GPUs, ``gloo`` on
CPUs; or the group the script set up itself with ``torch.distributed.init_process_group``). Every process then plans the same
global batches from the same seed and trains on its own rows of each (:func:`shard`);
DDP averages the gradients, so every process takes the same optimiser step and ends
with the same weights. The head's BatchNorm normalises with the statistics of the global batch, not of
the process's rows (:class:`GlobalBatchNorm1d`), so several processes train the network
one process would. Only rank 0 writes files (:func:`is_writer`). Outside ``torchrun``
all of this reduces to one process and a world of size 1.

Nothing here communicates by itself: the collectives are torch's (DDP, ``all_reduce``,
its differentiable functional ``all_reduce``).
"""

from __future__ import annotations

import contextlib
import os
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
import torch.distributed._functional_collectives as collectives
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def launched_by_torchrun() -> bool:
    """Whether this process is one of several that ``torchrun`` started."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "MASTER_ADDR" in os.environ


def local_gpu() -> int:
    """The GPU this process trains on under ``torchrun`` (``LOCAL_RANK``); 0 otherwise."""
    return int(os.environ.get("LOCAL_RANK", "0"))


def join_world() -> None:
    """Join ``torchrun``'s process group if this process is one of several it started and
    has not joined yet (a fit and a pretraining run call this as they begin)."""
    if dist.is_available() and not dist.is_initialized() and launched_by_torchrun():
        if torch.cuda.is_available():
            torch.cuda.set_device(local_gpu())
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")


def world() -> tuple[int, int]:
    """``(rank, world_size)`` of the joined process group; ``(0, 1)`` for a process on
    its own (or one that has not joined yet)."""
    if not dist.is_available() or not dist.is_initialized():
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
    size = world()[1]
    if size == 1:
        return slice(0, n_rows), 1.0
    if n_rows < size:
        raise ValueError(
            f"a batch of {n_rows} rows cannot be shared by {size} processes: use a larger "
            "batch_size or fewer processes"
        )
    rows = part(n_rows)
    return rows, (rows.stop - rows.start) * size / n_rows


def part(n_rows: int) -> slice:
    """This process's contiguous part of ``n_rows`` rows: all of them on one process,
    possibly none when there are fewer rows than processes."""
    rank, size = world()
    bounds = np.linspace(0, n_rows, size + 1).round().astype(int)
    return slice(int(bounds[rank]), int(bounds[rank + 1]))


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
    copies rank 0's weights to every process, and makes its BatchNorm layers normalise
    with the global batch's statistics (:func:`global_batch_norm`).
    """
    module = _LossNetwork(network, loss_fn)
    if world()[1] == 1:
        return module
    global_batch_norm(network)
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None,
                                   forward_sync_buffers=False)  # BatchNorm statistics agree already


class GlobalBatchNorm1d(nn.BatchNorm1d):
    """``BatchNorm1d`` that trains on the statistics of the global batch of all processes.

    In training under several processes the batch mean and variance are sums over every
    process's rows (torch's differentiable ``all_reduce``, whose backward pass sums the
    gradients of the statistics the same way), so the output, the gradients and the running
    statistics are those of one process holding the whole batch. Elsewhere (evaluation,
    one process) it is ``BatchNorm1d`` unchanged: same parameters, buffers and state dict.

    Why our own: ``torch.nn.SyncBatchNorm`` computes its statistics with kernels that exist
    for GPUs only (``batch_norm_stats``), so it cannot train on CPUs under ``gloo``; this one
    is a few tensor operations and runs the same on either.
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if not self.training or world()[1] == 1:
            return super().forward(input)
        self._check_input_dim(input)
        dims = [0, *range(2, input.dim())]
        shape = [1, -1] + [1] * (input.dim() - 2)
        values = input.to(torch.promote_types(input.dtype, torch.float32))  # float32 at least
        count = _sum_over_processes(torch.tensor(float(values.numel() // values.shape[1]), device=values.device))
        mean = _sum_over_processes(values.sum(dims)) / count
        centred = values - mean.reshape(shape)
        variance = _sum_over_processes(centred.pow(2).sum(dims)) / count
        output = centred * torch.rsqrt(variance + self.eps).reshape(shape)
        if self.affine:
            output = output * self.weight.reshape(shape) + self.bias.reshape(shape)
        if self.track_running_stats:
            self._track(mean.detach(), variance.detach() * count / (count - 1).clamp(min=1))
        return output.to(input.dtype)

    @torch.no_grad()
    def _track(self, mean: torch.Tensor, unbiased_variance: torch.Tensor) -> None:
        """Update the running statistics as ``BatchNorm1d`` does from one batch."""
        self.num_batches_tracked.add_(1)
        factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), factor)
        self.running_var.lerp_(unbiased_variance.to(self.running_var.dtype), factor)


def _sum_over_processes(values: torch.Tensor) -> torch.Tensor:
    """``values`` summed over all processes, differentiably (the backward pass sums too)."""
    return collectives.wait_tensor(collectives.all_reduce(values, "sum", dist.group.WORLD))


def global_batch_norm(network: nn.Module) -> nn.Module:
    """Make every ``BatchNorm1d`` of ``network`` a :class:`GlobalBatchNorm1d`, in place.

    The class changes and nothing else: parameters (those the optimiser holds), buffers
    and the state dict stay the same objects.
    """
    for module in network.modules():
        if type(module) is nn.BatchNorm1d:
            module.__class__ = GlobalBatchNorm1d
    return network


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
