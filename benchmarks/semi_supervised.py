"""Does stage 2 on unlabelled in-domain reviews close the IMDb gap? (the paper's semi-supervised setup)

A stratified labelled subset of IMDb's training reviews, and other training reviews as
``unlabeled_texts`` for language-model fine-tuning (their labels unused); test on a
stratified subset of the test reviews. Prints the classifier's accuracy and that of
logistic regression on its pooled features (``transform``), so a weak classifier head
and a weak encoder can be told apart.

    python benchmarks/semi_supervised.py --data-home ../shared/data --labelled 500 --unlabelled 2000
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import train_test_split

from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit.datasets import fetch_imdb


def split(data_home, n_labelled: int, n_unlabelled: int, n_test: int, seed: int):
    """``(X_train, y_train, unlabelled, X_test, y_test)`` from IMDb; no review is in two parts."""
    X, y = fetch_imdb("train", data_home=data_home, return_X_y=True)
    X_test, y_test = fetch_imdb("test", data_home=data_home, return_X_y=True)
    labelled, rest = train_test_split(np.arange(len(X)), train_size=n_labelled, stratify=y, random_state=seed)
    tested, _ = train_test_split(np.arange(len(X_test)), train_size=n_test, stratify=y_test, random_state=seed)
    y, y_test = np.asarray(y), np.asarray(y_test)
    return ([X[i] for i in labelled], y[labelled], [X[i] for i in rest[:n_unlabelled]],
            [X_test[i] for i in tested], y_test[tested])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--labelled", type=int, default=500)
    parser.add_argument("--unlabelled", type=int, default=2000)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--lm-epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    X_train, y_train, unlabelled, X_test, y_test = split(args.data_home, args.labelled, args.unlabelled,
                                                         args.test, args.seed)
    started = time.perf_counter()
    clf = ULMFiTClassifier(lm_epochs=args.lm_epochs, random_state=args.seed, n_jobs=-1, verbose=1)
    clf.fit(X_train, y_train, unlabeled_texts=unlabelled if args.lm_epochs else None)
    fit_seconds = time.perf_counter() - started
    accuracy = float(np.mean(clf.predict(X_test) == y_test))
    probe = LogisticRegressionCV(max_iter=2000).fit(clf.transform(X_train), y_train)
    print(f"IMDb {args.labelled} labelled + {args.unlabelled if args.lm_epochs else 0} unlabelled "
          f"(lm_epochs={args.lm_epochs}), {args.test} test: accuracy {accuracy:.1%}, logistic regression "
          f"on its features {probe.score(clf.transform(X_test), y_test):.1%}, fit {fit_seconds:.0f} s")


if __name__ == "__main__":
    main()
