"""Transfer: reuse a trained news classifier for a label set with an extra class.

A newsroom has a classifier for three AG News sections (World, Sports, Business) and
now wants a fourth, Sci/Tech, with few labelled articles. The AG News test set (7,600
real articles) is split in two halves: the *source* half trains the 3-class model; from
the *target* half come the 4-class training sets (a small learning curve) and 1,000 test
articles. Each size is fitted three ways on identical data:

- TF-IDF + logistic regression;
- ``ULMFiTClassifier()`` from the shipped WikiText-2 language model (no transfer);
- ``ULMFiTClassifier(pretrained=source_classifier)``: the encoder, the head's hidden
  layer and the three known classes' output rows come from the source model; the
  Sci/Tech row is new.

    python examples/transfer_new_classes.py --data-home ../shared/data
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit.datasets import fetch_ag_news

NEW_CLASS = "Sci/Tech"
# The README's table was measured from the "wikitext-2" model with batches of 64.
SOURCE = {"pretrained": "wikitext-2", "direction": "forward", "language_model": None, "batch_size": 64,
          "schedule": ((1, 1, 2e-2), (2, 1, 1e-2), ("all", 2, 2e-3))}
# The same schedule for both ULMFiT rows of the learning curve.
TARGET = {"direction": "forward", "language_model": None, "batch_size": 64, "schedule": ((1, 2, 2e-2), ("all", 3, 2e-3))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[40, 200, 1000])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    news = fetch_ag_news(data_home=args.data_home)
    X, y = np.asarray(news.data, dtype=object), np.asarray(news.target, dtype=object)
    X_source, X_target, y_source, y_target = train_test_split(
        X, y, test_size=0.5, stratify=y, random_state=args.seed)
    X_pool, X_test, y_pool, y_test = train_test_split(
        X_target, y_target, test_size=1000, stratify=y_target, random_state=args.seed)
    known = y_source != NEW_CLASS
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"GPU: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}")
    print(f"source task: {known.sum()} articles, classes {sorted(set(y_source[known]))}")

    started = time.perf_counter()
    source = ULMFiTClassifier(random_state=args.seed, **SOURCE).fit(X_source[known], y_source[known])
    print(f"source model: {time.perf_counter() - started:.0f} s, accuracy on its 3 classes "
          f"{source.score(X_test[y_test != NEW_CLASS], y_test[y_test != NEW_CLASS]):.1%}\n")

    rows = []
    for size in args.sizes:
        X_train, _, y_train, _ = train_test_split(X_pool, y_pool, train_size=size, stratify=y_pool,
                                                  random_state=args.seed)
        contenders = {
            "TF-IDF + logistic regression": make_pipeline(
                TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(C=10, max_iter=2000)),
            "ULMFiT, no transfer": ULMFiTClassifier(pretrained="wikitext-2", random_state=args.seed, **TARGET),
            "ULMFiT, from the 3-class model": ULMFiTClassifier(pretrained=source, random_state=args.seed, **TARGET),
        }
        for name, model in contenders.items():
            started = time.perf_counter()
            model.fit(X_train, y_train)
            seconds = time.perf_counter() - started
            accuracy = model.score(X_test, y_test)
            new_class = model.score(X_test[y_test == NEW_CLASS], y_test[y_test == NEW_CLASS])
            rows.append((size, name, accuracy, new_class, seconds))
            print(f"{size:5d} labels  {name:32s} accuracy {accuracy:.1%}  "
                  f"{NEW_CLASS} recall {new_class:.1%}  fit {seconds:.0f} s", flush=True)

    print("\n| labelled articles (4 classes) | model | accuracy | Sci/Tech recall | fit time |")
    print("| --- | --- | --- | --- | --- |")
    for size, name, accuracy, new_class, seconds in rows:
        print(f"| {size} | {name} | {accuracy:.1%} | {new_class:.1%} | {seconds:.0f} s |")


if __name__ == "__main__":
    main()
