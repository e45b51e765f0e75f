"""Downstream value of a pretrained encoder: logistic regression on its frozen features.

For each language model (a shipped name, or a file such as the snapshots that
``python -m sk_ulmfit.pretrain --snapshot-every 10M`` keeps), the encoder's pooled
``[h_last; max; mean]`` features of each text (``ULMFiTClassifier.transform`` after a
head-only fit, so the encoder is exactly the pretrained one) feed a standardised logistic
regression whose C is chosen by 3-fold cross-validation on the training part only. The
TF-IDF + logistic regression baseline runs on the same splits. Cheap enough to run every
10M tokens of a pretraining run, and the previous ablation found it equal to the
fine-tuned classifier for the shipped encoder.

    python benchmarks/pretraining_curve.py --data-home ../shared/data wikitext-2 runs/english_fwd/snapshots/*.pt
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
from baselines import tfidf_logistic_regression
from common import machine, model_files, model_version, subset, write_section
from joblib import Memory
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit.datasets import fetch_ag_news, fetch_imdb, fetch_trec


def load_tasks(data_home, n_imdb: int, n_ag: int, seed: int) -> dict:
    """``name -> (X_train, y_train, X_test, y_test)``."""
    X, y = fetch_trec("train", data_home=data_home, return_X_y=True)
    X_test, y_test = fetch_trec("test", data_home=data_home, return_X_y=True)
    tasks = {"TREC-6": (X, np.asarray(y), X_test, np.asarray(y_test))}
    X, y = fetch_imdb("train", data_home=data_home, return_X_y=True)
    X_test, y_test = fetch_imdb("test", data_home=data_home, return_X_y=True)
    tasks[f"IMDb {n_imdb}/{n_imdb}"] = (*subset(X, y, n_imdb, seed), *subset(X_test, y_test, n_imdb, seed))
    X, y = fetch_ag_news("test", data_home=data_home, return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, np.asarray(y), train_size=n_ag, test_size=n_ag,
                                                        stratify=y, random_state=seed)
    tasks[f"AG News {n_ag}/{n_ag}"] = (X_train, y_train, X_test, y_test)
    return tasks


# Rows already measured (same model file, same version of it, same task) are not measured again.
MEMORY = Memory(Path(__file__).with_name("out") / "pretraining_curve_cache", verbose=0)


@MEMORY.cache(ignore=["model"])
def cached_scores(model, model_version, task: str, X_train, y_train, X_test, y_test, seed: int,
                  pool_layers: str = "last") -> tuple:
    return probe(model, X_train, y_train, X_test, y_test, seed, pool_layers)


def probe(model, X_train, y_train, X_test, y_test, seed: int, pool_layers: str = "last") -> tuple[float, float]:
    """Test accuracy of logistic regression on the frozen encoder's features, and its
    3-fold cross-validated accuracy on the training part (at the chosen C): the figure to
    choose encoders by, since it never sees the test texts."""
    clf = ULMFiTClassifier(pretrained=model, direction="forward", language_model=None, schedule=((1, 1, 1e-3),),
                           pool_layers=pool_layers, random_state=seed)
    clf.fit(X_train, y_train)
    regression = make_pipeline(StandardScaler(), LogisticRegressionCV(
        Cs=[1e-3, 1e-2, 1e-1, 1], cv=3, max_iter=3000,
        # today's behaviour stated, so that scikit-learn 1.9 does not warn: L2, accuracy, scores_ per class
        l1_ratios=(0.0,), scoring="accuracy", use_legacy_attributes=True))
    regression.fit(clf.transform(X_train), y_train)
    folds = next(iter(regression[-1].scores_.values()))  # (folds, Cs, 1), the same for every class
    return float(regression.score(clf.transform(X_test), y_test)), float(folds.mean(axis=0).max())


def tokens_seen(model: str) -> str:
    files = model_files(model, "forward")
    metadata = files[0].with_suffix(".json") if files else None
    if metadata is not None and metadata.is_file():
        data = json.loads(metadata.read_text())
        if "tokens_seen" in data:
            return f"{data['tokens_seen'] / 1e6:.1f}M"
    return "2.1M x 2 epochs" if model == "wikitext-2" else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="shipped names or language-model files")
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--imdb", type=int, default=1000)
    parser.add_argument("--ag", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pool-layers", choices=["last", "all"], default="last",
                        help="the LSTM layers whose outputs are pooled (ULMFiTClassifier's pool_layers)")
    parser.add_argument("--write", action="store_true", help="write the table into RESULTS.md")
    args = parser.parse_args()
    tasks = load_tasks(args.data_home, args.imdb, args.ag, args.seed)

    header = "| encoder | tokens seen | " + " | ".join(tasks) + " | seconds |"
    lines = [header, "|" + " --- |" * (len(tasks) + 3)]
    started = time.perf_counter()
    scores = [float(tfidf_logistic_regression().fit(a, b).score(c, d)) for a, b, c, d in tasks.values()]
    lines.append("| TF-IDF + logistic regression (no encoder) | – | "
                 + " | ".join(f"{s:.1%}" for s in scores) + f" | {time.perf_counter() - started:.0f} |")
    print(lines[-1], flush=True)
    for model in args.models:
        started = time.perf_counter()
        scores = [cached_scores(model, model_version(model, "forward"), name, *task, seed=args.seed,
                                pool_layers=args.pool_layers)
                  for name, task in tasks.items()]
        name = model if model == "wikitext-2" else Path(model).name
        name += ", every layer pooled" if args.pool_layers == "all" else ""
        lines.append(f"| {name} | {tokens_seen(model)} | " + " | ".join(f"{t:.1%} ({cv:.1%})" for t, cv in scores)
                     + f" | {time.perf_counter() - started:.0f} |")
        print(lines[-1], flush=True)
    text = (f"`python benchmarks/pretraining_curve.py` (IMDb and AG News: stratified {args.imdb}/{args.ag} "
            f"train and test subsets; seed {args.seed}). Logistic regression on the frozen encoder's "
            f"pooled features, C by 3-fold CV on the training part; in brackets that CV accuracy, "
            f"the figure to choose an encoder by. Machine: {machine()}.\n\n"
            + "\n".join(lines))
    print(text)
    if args.write:
        write_section("## Pretraining curve: frozen-encoder features + logistic regression", text)


if __name__ == "__main__":
    main()
