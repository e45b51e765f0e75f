"""Batches of token ids in the layout fastai's ``SentenceEncoder`` requires.

``SentenceEncoder`` reads a batch in ``bptt``-sized chunks and, for each chunk, runs
the LSTM only on the first rows whose token at the chunk start is not padding. That is
correct only when rows are sorted longest-first, padded by ``pad_chunk`` (whole chunks
of padding before the text, the remainder after it) *and*, when the batch spans more
than one chunk, the padded length is a multiple of ``bptt``. fastai's own
``pad_input_chunk`` pads to the longest text only, so in a multi-chunk batch whose length
is not a multiple of ``bptt`` a shorter text whose padding remainder reaches into the
last chunk loses its last tokens and gets a zero ``h_last`` (fastai issue #3379). Every
batch this module builds has the full layout, so a text gets the same features alone or
in any batch; a batch of texts no longer than ``bptt`` is one chunk and is padded only to
its longest text.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from fastai.text.data import pad_chunk

from .._common.distributed import world

# fastai's SortedDL sorts each pool of ``batch_size * POOL_BATCHES`` shuffled items by
# length, so batches hold texts of similar length while their order stays random.
POOL_BATCHES = 50


def training_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Shuffled, length-bucketed batches of indices (fastai ``SortedDL`` shuffling).

    The batch holding the longest text comes first, so running out of memory shows up
    at the first step. BatchNorm cannot train on a single row, and under ``torchrun``
    every process needs a row of each batch (BatchNorm then normalises the global batch),
    so a batch needs ``max(2, processes)`` rows: a smaller last batch is merged into the
    one before it.
    """
    processes = world()[1]
    smallest = max(2, processes)
    if batch_size < processes:
        raise ValueError(
            f"batch_size={batch_size} leaves some of the {processes} processes without a text in "
            f"each batch: use batch_size >= {processes}"
        )
    lengths = np.asarray(lengths)
    order = rng.permutation(len(lengths))
    longest = int(np.argmax(lengths[order]))
    order[0], order[longest] = order[longest], order[0]
    pool = batch_size * POOL_BATCHES
    pools = [order[i : i + pool] for i in range(0, len(order), pool)]
    order = np.concatenate([p[np.argsort(-lengths[p], kind="stable")] for p in pools])
    batches = _split(order, batch_size, smallest)
    if len(batches) > 2:
        middle = [batches[i] for i in rng.permutation(np.arange(1, len(batches) - 1))]
        batches = [batches[0], *middle, batches[-1]]
    return batches


def _split(order: np.ndarray, batch_size: int, smallest: int) -> list[np.ndarray]:
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if len(batches) > 1 and len(batches[-1]) < smallest:
        last = batches.pop()
        batches[-1] = np.concatenate([batches[-1], last])
    return batches


def collate(
    sequences: Sequence[np.ndarray], bptt: int, pad_id: int
) -> tuple[torch.Tensor, np.ndarray]:
    """Pad token-id sequences into one batch for ``SentenceEncoder``.

    Returns
    -------
    batch : LongTensor of shape (n, padded_length)
        Rows sorted longest-first, padded by fastai's ``pad_chunk`` to the longest
        length, rounded up to a multiple of ``bptt`` when that is over ``bptt``.
    order : ndarray of int
        ``batch[k]`` holds ``sequences[order[k]]``.
    """
    order = np.argsort([-len(s) for s in sequences], kind="stable")
    longest = len(sequences[order[0]])
    padded_length = longest if longest <= bptt else -(-longest // bptt) * bptt
    rows = [
        pad_chunk(torch.from_numpy(sequences[i]), pad_idx=pad_id, pad_first=True,
                  seq_len=bptt, pad_len=padded_length)
        for i in order
    ]
    return torch.stack(rows), order
