"""Demo: ULMFiTClassifier against TF-IDF + logistic regression on TREC-6.

Trains on the 5,452 TREC training questions and reports accuracy on the 500 test
questions, with fit and prediction times, for TF-IDF + logistic regression, ULMFiT from
a random start, and ULMFiT from the language model shipped with the package.

    python examples/trec_demo.py --data-home ../shared/data
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit.datasets import fetch_trec

# Without a pretrained language model the ULMFiT schedule's frozen stages would train
# a head on a random encoder, so that run trains everything from the start.
FROM_SCRATCH = {  # pretrained=None: the default is the shipped model, which brings its own size
    "pretrained": None,
    "direction": "forward",
    "language_model": None,
    "emb_size": 200,
    "hidden_size": 512,
    "n_layers": 3,
    "schedule": (("all", 8, 1e-2),),
    "batch_size": 64,
}
# The defaults: the shipped pretrained model read forwards and backwards, stage 2 on the
# training questions, gradual unfreezing, then 8 epochs with all layers.
PRETRAINED = {}


def timed(action, *args):
    started = time.perf_counter()
    result = action(*args)
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"),
                        help="folder holding trec/ (default: $SK_ULMFIT_DATA)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args()

    X_train, y_train = fetch_trec("train", data_home=args.data_home, return_X_y=True)
    X_test, y_test = fetch_trec("test", data_home=args.data_home, return_X_y=True)
    print(f"TREC-6: {len(X_train)} training and {len(X_test)} test questions, "
          f"{len(set(y_train))} classes")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, GPU: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}")

    rows = []
    tfidf = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                          LogisticRegression(C=10, max_iter=2000))
    _, fit_seconds = timed(tfidf.fit, X_train, y_train)
    accuracy, predict_seconds = timed(tfidf.score, X_test, y_test)
    rows.append(("TF-IDF + logistic regression", accuracy, fit_seconds, predict_seconds))

    for name, params in (("ULMFiTClassifier, no pretraining", FROM_SCRATCH),
                         ("ULMFiTClassifier, pretrained", PRETRAINED)):
        ulmfit = ULMFiTClassifier(random_state=args.seed, verbose=args.verbose, **params)
        print(f"training {ulmfit!r}")
        _, fit_seconds = timed(ulmfit.fit, X_train, y_train)
        accuracy, predict_seconds = timed(ulmfit.score, X_test, y_test)
        rows.append((name, accuracy, fit_seconds, predict_seconds))

    print()
    print(f"| {'model':<36} | test accuracy | fit time | predict time |")
    print(f"| {'-' * 36} | ------------- | -------- | ------------ |")
    for name, accuracy, fit_seconds, predict_seconds in rows:
        print(f"| {name:<36} | {accuracy:>13.1%} | {fit_seconds:>7.1f}s | {predict_seconds:>11.2f}s |")


if __name__ == "__main__":
    main()
