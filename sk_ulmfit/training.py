"""Training and inference loops for the classifier network (plain torch)."""

from __future__ import annotations

import contextlib
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from fastprogress.fastprogress import progress_bar
from torch import nn

from .batching import collate, inference_batches
from .text import PAD_ID

# fastai's RNNRegularizer for text learners: activation regularisation (AR) on the
# encoder outputs and temporal activation regularisation (TAR) on their differences.
AR_ALPHA = 2.0
TAR_BETA = 1.0


def resolve_device(device) -> torch.device:
    """``"auto"`` → the first CUDA GPU when there is one, else the CPU."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N'; got {device!r}") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but no CUDA GPU is available; use 'auto' or 'cpu'")
    return resolved


def autocast(device: torch.device):
    """Mixed precision (float16) on a GPU, full precision on the CPU."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    return contextlib.nullcontext()


def regularized_loss(logits, raw_outputs, outputs, targets) -> torch.Tensor:
    """Cross-entropy plus fastai's AR/TAR penalties on the encoder outputs."""
    loss = F.cross_entropy(logits.float(), targets)
    loss = loss + AR_ALPHA * outputs.float().pow(2).mean()
    if raw_outputs.shape[1] > 1:
        loss = loss + TAR_BETA * (raw_outputs[:, 1:] - raw_outputs[:, :-1]).float().pow(2).mean()
    return loss


def train_epoch(
    model: nn.Module,
    sequences: Sequence[np.ndarray],
    targets: np.ndarray,
    batches: list[np.ndarray],
    optimizer: torch.optim.Optimizer,
    rates,
    scaler: torch.amp.GradScaler,
    device: torch.device,
    bptt: int,
    show_progress: bool = False,
) -> float:
    """One pass over ``batches``; returns the mean training loss per text."""
    model.train()
    total, count = 0.0, 0
    for batch in progress_bar(batches, leave=False) if show_progress else batches:
        tokens, order = collate([sequences[i] for i in batch], bptt, PAD_ID)
        batch_targets = torch.from_numpy(targets[batch[order]])
        tokens, batch_targets = tokens.to(device), batch_targets.to(device)
        with autocast(device):
            logits, raw_outputs, outputs = model(tokens)
            loss = regularized_loss(logits, raw_outputs, outputs, batch_targets)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        rates.step()
        total += loss.item() * len(batch)
        count += len(batch)
    return total / count


@torch.inference_mode()
def predict_outputs(
    model: nn.Module,
    sequences: Sequence[np.ndarray],
    batch_size: int,
    device: torch.device,
    bptt: int,
    head: Callable[[nn.Module, torch.Tensor], torch.Tensor],
) -> np.ndarray:
    """Run ``head(model, tokens)`` over length-sorted batches; rows in input order."""
    model.eval()
    results = [None] * len(sequences)
    for batch in inference_batches([len(s) for s in sequences], batch_size):
        tokens, order = collate([sequences[i] for i in batch], bptt, PAD_ID)
        with autocast(device):
            values = head(model, tokens.to(device)).float().cpu().numpy()
        for row, index in zip(values, batch[order]):
            results[index] = row
    return np.stack(results)


def logits_head(model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """Class scores for a batch."""
    return model(tokens)[0]
