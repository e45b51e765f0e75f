"""Does ULMFiT with its defaults beat the best TF-IDF baseline? (the targets of issue 11)

For each dataset and labelled-set size: ``ULMFiTClassifier(pretrained=MODEL)`` with every
other parameter at its default, against the best of three TF-IDF baselines (logistic
regression, linear SVM, NB-SVM) on the same split, and the margin. Datasets: TREC-6
(standard test set; 100 / 500 / 1,000 / all 5,452 training questions), IMDb (a stratified
1,000-review test subset; 100 / 500 / 1,000 training reviews), the IMDb sample (its own
800 / 200 split) and AG News (1,500 test articles, stratified 3-fold cross-validation).
Each cell is cached with joblib.Memory in ``benchmarks/out/`` (keyed by the estimator's
parameters, the split, the starting weights' files and the library's code:
``common.model_version``), so the table can be built over several sessions and a change
of the library measures its cells again.

    python benchmarks/targets.py --data-home ../shared/data --model english
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from baselines import NBSVMClassifier, tfidf_linear_svm, tfidf_logistic_regression
from common import machine, model_version, report, subset
from joblib import Memory
from sklearn.model_selection import StratifiedKFold

from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit.datasets import fetch_ag_news, fetch_imdb, fetch_imdb_sample, fetch_trec

MEMORY = Memory(Path(__file__).with_name("out") / "targets_cache", verbose=0)
BASELINES = {"TF-IDF + logistic regression": tfidf_logistic_regression, "TF-IDF + linear SVM": tfidf_linear_svm,
             "NB-SVM": NBSVMClassifier}
# (dataset, labelled training texts or None for the dataset's own split)
ROWS = (("trec", None), ("imdb", 1000), ("imdb_sample", None), ("ag_news", None),
        ("trec", 100), ("trec", 500), ("trec", 1000), ("imdb", 100), ("imdb", 500))
TARGET_MARGIN = 0.03


def splits(dataset: str, n_train: int | None, data_home, seed: int) -> tuple[str, list[tuple]]:
    """``(description, [(X_train, y_train, X_test, y_test), ...])``; every subset is stratified."""
    if dataset == "ag_news":
        X, y = subset(*fetch_ag_news(data_home=data_home, return_X_y=True), 1500, seed)
        folds = StratifiedKFold(3, shuffle=True, random_state=seed).split(X, y)
        return "1,500 test articles, 3-fold CV", [([X[i] for i in a], y[a], [X[i] for i in b], y[b])
                                                  for a, b in folds]
    if dataset == "imdb_sample":
        train = fetch_imdb_sample("train", data_home=data_home, return_X_y=True)
        test = fetch_imdb_sample("valid", data_home=data_home, return_X_y=True)
        return "its split 800 / 200", [(list(train[0]), np.asarray(train[1]), list(test[0]), np.asarray(test[1]))]
    fetch = fetch_trec if dataset == "trec" else fetch_imdb
    X, y = fetch("train", data_home=data_home, return_X_y=True)
    X_test, y_test = fetch("test", data_home=data_home, return_X_y=True)
    if dataset == "imdb":
        X_test, y_test = subset(X_test, y_test, 1000, seed)
    if n_train is not None:
        X, y = subset(X, y, n_train, seed)
    return f"{len(X):,} / {len(X_test):,}", [(list(X), np.asarray(y), list(X_test), np.asarray(y_test))]


@MEMORY.cache(ignore=["data_home"])
def score(name: str, params: dict, dataset: str, n_train: int | None, seed: int, data_home,
          version: str = "") -> tuple:
    """Mean accuracy over the folds and mean fit seconds."""
    accuracies, seconds = [], []
    for X_train, y_train, X_test, y_test in splits(dataset, n_train, data_home, seed)[1]:
        estimator = BASELINES[name]() if name in BASELINES else ULMFiTClassifier(**params)
        started = time.perf_counter()
        estimator.fit(X_train, y_train)
        seconds.append(time.perf_counter() - started)
        accuracies.append(float(np.mean(estimator.predict(X_test) == y_test)))
    return float(np.mean(accuracies)), float(np.mean(seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--model", default="english")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rows", nargs="+", help="only these rows, as dataset:labels (e.g. imdb:100 trec:all)")
    parser.add_argument("--cached-only", action="store_true", help="print what is measured, skip the rest")
    parser.add_argument("--write", action="store_true", help="write the table into RESULTS.md")
    args = parser.parse_args()
    # every parameter, defaults included, keys the cache: a changed default is measured again
    params = ULMFiTClassifier(pretrained=args.model, random_state=args.seed).get_params()
    lines = ["| dataset | train / test | best TF-IDF baseline | ULMFiT | margin | fit time (ULMFiT) | target (+3) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for dataset, n_train in ROWS:
        if args.rows and f"{dataset}:{n_train or 'all'}" not in args.rows:
            continue
        description = splits(dataset, n_train, args.data_home, args.seed)[0]
        calls = {name: (name, {}, dataset, n_train, args.seed, args.data_home) for name in BASELINES}
        calls["ULMFiT"] = ("ULMFiT", params, dataset, n_train, args.seed, args.data_home, model_version(args.model, params["direction"]))
        if args.cached_only and not all(score.check_call_in_cache(*call) for call in calls.values()):
            continue
        results = {name: score(*call) for name, call in calls.items()}
        best = max(BASELINES, key=lambda name: results[name][0])
        ours, seconds = results["ULMFiT"]
        margin = ours - results[best][0]
        lines.append(f"| {dataset} | {description} | {results[best][0]:.1%} ({best}) | {ours:.1%} | "
                     f"{100 * margin:+.1f} | {seconds:,.0f} s | {'met' if margin >= TARGET_MARGIN else 'missed'} |")
        print(lines[-1], flush=True)
    report("## Targets: ULMFiT with defaults against the best TF-IDF baseline",
           f"`python benchmarks/targets.py --model {args.model}`: `ULMFiTClassifier(pretrained={args.model!r}, "
           f"random_state={args.seed})`, every other parameter at its default, against the best of TF-IDF + "
           f"logistic regression, TF-IDF + linear SVM and NB-SVM on the same split. Machine: {machine()}.",
           lines, args.write)


if __name__ == "__main__":
    main()
