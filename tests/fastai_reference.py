"""fastai's own chunked prediction path: the reference the library's inference is tested against.

The library predicts with ``sk_ulmfit._nn.inference`` (plain LSTMs, no chunks); these
functions run fastai's ``SentenceEncoder`` + ``masked_concat_pool`` as fastai does, on
batches in the layout ``sk_ulmfit._text.batching.collate`` builds.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from fastai.text.models.core import masked_concat_pool
from torch import nn

from sk_ulmfit._text.batching import collate
from sk_ulmfit._text.tokenizer import PAD_ID


def inference_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Batches of indices sorted longest-first, so padding is minimal."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


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
        values = head(model, tokens.to(device)).float().cpu().numpy()
        for row, index in zip(values, batch[order], strict=True):
            results[index] = row
    return np.stack(results)


def logits_head(model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """Class scores for a batch."""
    return model(tokens)[0]


def pooled_head(model: nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    """The head's input for a batch: ``[h_last; max; mean]`` of the last LSTM layer over
    the non-pad steps (fastai's ``masked_concat_pool``, as ``PoolingLinearClassifier`` does)."""
    output, mask = model[0](tokens)
    return masked_concat_pool(output, mask, model[1].bptt)
