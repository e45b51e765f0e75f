"""Sampled softmax for training a language model (Jean et al., 2015; TensorFlow's
``sampled_softmax_loss``).

A language model's decoder scores every vocabulary token for every position; with a
30k-token vocabulary and a 200-wide AWD-LSTM that output layer costs more than the three
LSTMs together. During training only, each batch scores the true next tokens and one
shared set of ``n_samples`` sampled tokens, each logit corrected by ``-log Q`` (``Q``: the
probability that the token is among the candidates), which keeps the estimate consistent
with the full softmax. Evaluation and inference always use the full softmax, and the
network and its weights are fastai's unchanged (tied decoder), so nothing changes for
files or fastai compatibility.

torch has ``nn.AdaptiveLogSoftmaxWithLoss`` but no sampled softmax, and an adaptive
softmax would replace fastai's tied decoder (fastai and WT103 files would no longer
load), so this module is ours.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# Candidates are drawn from the unigram distribution raised to this power (word2vec's
# 0.75): frequent tokens are drawn often, rare ones more often than their frequency.
PROPOSAL_POWER = 0.75
# A sampled token equal to a position's true token is not a negative for it.
_MASKED = -1e4


class SampledSoftmax:
    """Cross-entropy over the true token plus ``n_samples`` shared sampled candidates.

    Parameters
    ----------
    counts : array of int, shape (vocab_size,)
        How often each token occurs in the training stream (sets the proposal).
    n_samples : int
        Draws per batch (with replacement; the distinct ones are used).
    """

    def __init__(self, counts: np.ndarray, n_samples: int):
        proposal = (np.asarray(counts, dtype=np.float64) + 1.0) ** PROPOSAL_POWER
        proposal /= proposal.sum()
        self.n_samples = int(n_samples)
        self.probs = torch.from_numpy(proposal).float()
        # P(token among n draws) = 1 - (1 - p)^n, in log space
        inclusion = -np.expm1(self.n_samples * np.log1p(-proposal))
        self.log_q = torch.from_numpy(np.log(inclusion)).float()

    def to(self, device: torch.device) -> "SampledSoftmax":
        """Move the proposal to ``device`` (in place); returns self."""
        self.probs, self.log_q = self.probs.to(device), self.log_q.to(device)
        return self

    def loss(self, hidden: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor,
             bias: torch.Tensor | None) -> torch.Tensor:
        """Mean sampled cross-entropy of ``hidden`` (n, emb) predicting ``targets`` (n,)
        through the decoder ``weight`` (vocab, emb) and ``bias`` (vocab,)."""
        sampled = torch.multinomial(self.probs, self.n_samples, replacement=True).unique()
        true_logits = (hidden * weight[targets]).sum(-1) - self.log_q[targets]
        sampled_logits = hidden @ weight[sampled].T - self.log_q[sampled]
        if bias is not None:
            true_logits = true_logits + bias[targets]
            sampled_logits = sampled_logits + bias[sampled]
        sampled_logits = sampled_logits.masked_fill(sampled[None, :] == targets[:, None], _MASKED)
        logits = torch.cat([true_logits[:, None], sampled_logits], dim=1).float()
        return F.cross_entropy(logits, torch.zeros(len(targets), dtype=torch.long, device=logits.device))


def make_sampler(counts: np.ndarray, n_samples: int | None) -> SampledSoftmax | None:
    """A :class:`SampledSoftmax`, or ``None`` (full softmax) when ``n_samples`` is
    ``None``/0 or not smaller than the vocabulary, where sampling saves nothing."""
    if not n_samples or n_samples >= len(counts):
        return None
    return SampledSoftmax(counts, n_samples)
