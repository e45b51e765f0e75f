"""Language-model batches: one contiguous token stream read in ``bptt`` windows.

As fastai's ``LMDataLoader``: the documents (each starting with ``xxbos``) are
concatenated in a random order each epoch, the stream is cut into ``batch_size`` rows
read in parallel, and consecutive windows continue each row, so the LSTM's hidden state
carries from one window to the next.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
import torch


def token_stream(sequences: Sequence[np.ndarray], order: np.ndarray | None = None) -> np.ndarray:
    """Concatenate the token-id arrays (in ``order`` when given) into one stream."""
    if order is not None:
        sequences = [sequences[i] for i in order]
    return np.concatenate(list(sequences)) if len(sequences) else np.zeros(0, dtype=np.int64)


def stream_windows(
    stream: np.ndarray, batch_size: int, bptt: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield ``(inputs, targets)`` windows of shape ``(rows, <= bptt)``; targets are shifted by one.

    With fewer tokens than ``batch_size`` rows need, fewer rows are used.
    """
    rows, per_row = _layout(len(stream), batch_size)
    if per_row < 1:
        return
    inputs = torch.from_numpy(stream[: rows * per_row].reshape(rows, per_row))
    targets = torch.from_numpy(stream[1 : rows * per_row + 1].reshape(rows, per_row))
    for start in range(0, per_row, bptt):
        yield inputs[:, start : start + bptt], targets[:, start : start + bptt]


def n_windows(n_tokens: int, batch_size: int, bptt: int) -> int:
    """How many windows :func:`stream_windows` yields for a stream of ``n_tokens``."""
    _, per_row = _layout(n_tokens, batch_size)
    return -(-per_row // bptt) if per_row >= 1 else 0


def _layout(n_tokens: int, batch_size: int) -> tuple[int, int]:
    """Rows read in parallel, and tokens per row (one token is kept back as the last target)."""
    rows = max(1, min(batch_size, (n_tokens - 1) // 2))
    return rows, (n_tokens - 1) // rows
