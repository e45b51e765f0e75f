"""Choosing the default fit schedule on training data only (never a test set).

Each task is a split of a dataset's *training* part into a small labelled set and a
disjoint development set (TREC-6's 5,452 training questions, IMDb's 25,000 training
reviews); each candidate is a set of ``ULMFiTClassifier`` parameters. Prints the
development accuracy and fit time of every (task, candidate); results are cached with
joblib.Memory in ``benchmarks/out/`` so that adding a candidate reruns only that one (keyed
also by the starting weights' files and the library's code: ``common.model_version``).

    python benchmarks/schedule_search.py --data-home ../shared/data --model english
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from baselines import tfidf_logistic_regression
from common import machine, model_version, report
from joblib import Memory
from pretraining_curve import probe
from sklearn.model_selection import train_test_split

from sk_ulmfit import ULMFiTClassifier, ULMFiTLanguageModel
from sk_ulmfit.datasets import fetch_imdb, fetch_trec

GRADUAL = ((1, 1, 2e-2), (2, 1, 1e-2), (3, 1, 5e-3))
FORWARD = {"direction": "forward"}  # one reading direction (the default reads both)
CANDIDATES = {
    "ulmfit 0.1.0 (gradual + all 4 x 2e-3), batch 64": {**FORWARD, "schedule": GRADUAL + (("all", 4, 2e-3),)},
    "same, batch 16": {**FORWARD, "schedule": GRADUAL + (("all", 4, 2e-3),), "batch_size": 16},
    "all layers 8 x 1e-2, batch 64": {**FORWARD, "schedule": (("all", 8, 1e-2),)},
    "all layers 8 x 5e-3, batch 16": {**FORWARD, "schedule": (("all", 8, 5e-3),), "batch_size": 16},
    "gradual + all 8 x 5e-3, batch 16": {**FORWARD, "schedule": GRADUAL + (("all", 8, 5e-3),), "batch_size": 16},
    "gradual + all 8 x 5e-3, batch 8": {**FORWARD, "schedule": GRADUAL + (("all", 8, 5e-3),), "batch_size": 8},
    "gradual + all 16 x 5e-3, batch 16": {**FORWARD, "schedule": GRADUAL + (("all", 16, 5e-3),), "batch_size": 16},
    "gradual + all 32 x 5e-3, batch 16": {**FORWARD, "schedule": GRADUAL + (("all", 32, 5e-3),), "batch_size": 16},
    # 37 epochs of 7 batches: the 100-text tasks' last stage sized to at least 256 optimiser steps
    # (what 8 epochs of 500 texts in batches of 16 take)
    "gradual + all 37 x 5e-3, batch 16": {**FORWARD, "schedule": GRADUAL + (("all", 37, 5e-3),), "batch_size": 16},
    "gradual + all 8 x 5e-3, batch 16, both directions": {"schedule": GRADUAL + (("all", 8, 5e-3),),
                                                           "batch_size": 16, "direction": "both"},
    "gradual + all 8 x 5e-3, batch 16, pooling every layer": {**FORWARD, "schedule": GRADUAL + (("all", 8, 5e-3),),
                                                             "batch_size": 16, "pool_layers": "all"},
    "gradual + all 8 x 5e-3, batch 16, stage 2 4 epochs": {
        **FORWARD, "schedule": GRADUAL + (("all", 8, 5e-3),), "batch_size": 16,
        "language_model": ULMFiTLanguageModel(epochs=4, lr=2e-3, drop_mult=0.3, batch_size=64)},
    # the reference every pretrained candidate must beat: the same network from random weights
    "no pretraining (200/512/3, all 8 x 1e-2, batch 64)": {
        **FORWARD, "pretrained": None, "language_model": None, "emb_size": 200, "hidden_size": 512, "n_layers": 3,
        "schedule": (("all", 8, 1e-2),), "batch_size": 64},
}
# not an estimator's parameters: logistic regression on the frozen encoder's pooled features
# (pretraining_curve.probe: a head-only fit, then C by 3-fold CV on the labelled texts only)
PROBES = {"frozen features (last layer) + logistic regression": "last",
          "frozen features (every layer) + logistic regression": "all"}
TASKS = {"trec 100 / 1000": ("trec", 100), "trec 1000 / 1000": ("trec", 1000), "imdb 100 / 1000": ("imdb", 100),
         "imdb 500 / 1000": ("imdb", 500), "trec 4452 / 1000": ("trec", 4452)}
MEMORY = Memory(Path(__file__).with_name("out") / "schedule_search_cache", verbose=0)


def development_split(dataset: str, n_train: int, data_home, seed: int, n_dev: int = 1000):
    """``n_train`` labelled texts and ``n_dev`` others, both from the training part only."""
    fetch = fetch_trec if dataset == "trec" else fetch_imdb
    X, y = fetch("train", data_home=data_home, return_X_y=True)
    index = np.arange(len(X))
    train, dev = train_test_split(index, train_size=n_train, test_size=n_dev, stratify=y, random_state=seed)
    y = np.asarray(y)
    return [X[i] for i in train], y[train], [X[i] for i in dev], y[dev]


@MEMORY.cache(ignore=["data_home"])
def score(task: str, candidate: str, params: dict, model: str, lm_epochs: int, seed: int, data_home,
          version: str = "") -> tuple:
    """Development accuracy and fit seconds; ``version`` (of the starting weights and the library's
    code) keys the cache only."""
    X_train, y_train, X_dev, y_dev = development_split(*TASKS[task], data_home, seed)
    if candidate in PROBES:
        started = time.perf_counter()
        accuracy, _ = probe(model, X_train, y_train, X_dev, y_dev, seed, PROBES[candidate])
        return accuracy, time.perf_counter() - started
    if candidate == "TF-IDF + logistic regression":
        estimator = tfidf_logistic_regression()
    else:
        stage2 = None if lm_epochs == 0 else "auto" if lm_epochs == 1 else ULMFiTLanguageModel(epochs=lm_epochs,
                                                                                            drop_mult=0.3)
        estimator = ULMFiTClassifier(**{"pretrained": model, "language_model": stage2, "random_state": seed, **params})
    started = time.perf_counter()
    estimator.fit(X_train, y_train)
    seconds = time.perf_counter() - started
    return float(estimator.score(X_dev, y_dev)), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--model", default="english")
    parser.add_argument("--lm-epochs", type=int, default=0)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--candidates", nargs="+", default=list(CANDIDATES), choices=[*CANDIDATES, *PROBES])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cached-only", action="store_true", help="print what is measured, '–' for the rest")
    parser.add_argument("--write", action="store_true", help="write the table into RESULTS.md")
    args = parser.parse_args()

    rows = {"TF-IDF + logistic regression": {}, **{name: CANDIDATES.get(name, {}) for name in args.candidates}}
    lines = ["| candidate | " + " | ".join(args.tasks) + " |", "|" + " --- |" * (len(args.tasks) + 1)]
    for candidate, params in rows.items():
        cells = []
        measured = candidate in CANDIDATES or candidate in PROBES  # from the encoder: its version keys the cache
        version = model_version(args.model, params.get("direction", "forward")) if measured else ""
        for task in args.tasks:
            call = (task, candidate, params, args.model, args.lm_epochs, args.seed, args.data_home, version)
            if args.cached_only and not score.check_call_in_cache(*call):
                cells.append("–")
                continue
            accuracy, seconds = score(*call)
            cells.append(f"{accuracy:.1%} ({seconds:.0f} s)")
        lines.append(f"| {candidate} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    report("## Choosing the default schedule (training data only)",
           f"`python benchmarks/schedule_search.py --model {args.model} --lm-epochs {args.lm_epochs}`: "
           f"development accuracy (fit time) on splits of the *training* data only (seed {args.seed}). "
           f"Machine: {machine()}.", lines, args.write)


if __name__ == "__main__":
    main()
