"""A fit that ``tests/test_distributed.py`` runs under ``torchrun`` (and in one process).

    python -m torch.distributed.run --nproc_per_node=2 tests/ddp_fit.py KIND DATA_HOME OUT [PRETRAINED]

KIND is ``language_model`` or ``classifier``. Every process writes what it ended with
(weights, history, probabilities) to ``OUT/rank<R>.pt``; the estimator's own ``save``
writes ``OUT/model.pt`` (rank 0 only).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import torch

from sk_ulmfit import ULMFiTClassifier, ULMFiTLanguageModel
from sk_ulmfit.datasets import fetch_trec

TINY = {"emb_size": 16, "hidden_size": 32, "n_layers": 2, "min_freq": 1}


def texts(data_home):
    """300 real TREC questions (and labels) for training, 100 for predicting."""
    X, y = fetch_trec("train", data_home=data_home, return_X_y=True)
    return list(X[:300]), np.asarray(y[:300]), list(X[300:400])


def fit(kind: str, data_home, pretrained: str | None = None):
    """The estimator fitted on TREC: the same call in one process or under torchrun.

    No dropout (``drop_mult=0``), so that one process and several see the same network
    on the same global batches. The classifier holds out a validation set, which the
    processes score in parts.
    """
    X, y, _ = texts(data_home)
    if kind == "language_model":
        return ULMFiTLanguageModel(**TINY, drop_mult=0.0, batch_size=8, bptt=16, epochs=2, lr=1e-2,
                                   random_state=0).fit(X)
    stage2 = ULMFiTLanguageModel(drop_mult=0.0, batch_size=8, bptt=16, epochs=1, lr=1e-2)
    return ULMFiTClassifier(pretrained=pretrained, direction="forward", language_model=stage2, drop_mult=0.0,
                            batch_size=16, bptt=16, min_freq=1, schedule=((1, 1, 3e-2), ("all", 2, 1e-2)),
                            validation_fraction=0.2, random_state=0).fit(X, y)


def outcome(estimator, data_home) -> dict:
    """What a process ended with: weights (every tensor), history and predictions."""
    _, _, X_new = texts(data_home)
    if isinstance(estimator, ULMFiTClassifier):
        state = estimator.directions_[0].network.state_dict()
        predictions = estimator.predict_proba(X_new)
    else:
        state = estimator.model_.state_dict()
        predictions = np.array([estimator.perplexity(X_new)])
    return {"state": {k: v.detach().cpu().clone() for k, v in state.items()},
            "history": estimator.history_, "predictions": predictions}


def main() -> None:
    kind, data_home, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    estimator = fit(kind, data_home, sys.argv[4] if len(sys.argv) > 4 else None)
    torch.save(outcome(estimator, data_home), out / f"rank{os.environ.get('RANK', '0')}.pt")
    estimator.save(out / "model.pt")


if __name__ == "__main__":
    main()
