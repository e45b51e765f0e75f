"""Finding wrong labels: flip 5 % of TREC-6's labels, then look for them.

The out-of-fold workflow of ``sk_ulmfit.inspection``: each training question is graded
by a model that did not see it (``cross_val_predict(..., method="predict_proba")``), then
ranked by ``top_losses``, ``most_unsure`` (wrong predictions only) and cleanlab's
confident learning. The table reports precision at k: the share of the k first
questions that are among the flipped ones (random picking finds 5 %), for
``ULMFiTClassifier`` (shipped WikiText-2 model) and TF-IDF + logistic regression.

    python examples/find_label_errors.py --data-home ../shared/data
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline

from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit.datasets import fetch_trec
from sk_ulmfit.inspection import label_issues, most_unsure, top_losses

# The README's figures were measured from the "wikitext-2" model with batches of 64.
ULMFIT = {"pretrained": "wikitext-2", "direction": "forward", "language_model": None, "batch_size": 64,
          "schedule": ((1, 1, 2e-2), (2, 1, 1e-2), (3, 1, 5e-3), ("all", 2, 2e-3))}


def flip_labels(y: np.ndarray, fraction: float, rng: np.random.Generator):
    flipped = rng.choice(len(y), size=int(fraction * len(y)), replace=False)
    classes = np.unique(y)
    noisy = y.copy()
    for i in flipped:
        noisy[i] = rng.choice(classes[classes != y[i]])
    return noisy, set(flipped.tolist())


def precision(frame, flipped: set, k: int) -> float:
    return float(np.mean([p in flipped for p in frame["position"][:k]])) if len(frame) else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--fraction", type=float, default=0.05)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    X, y = fetch_trec("train", data_home=args.data_home, return_X_y=True)
    X, y = list(X), np.asarray(y, dtype=object)
    noisy, flipped = flip_labels(y, args.fraction, np.random.default_rng(args.seed))
    print(f"TREC-6 train: {len(X)} questions, {len(flipped)} labels flipped ({args.fraction:.0%})")

    models = {
        "ULMFiT (wikitext-2)": ULMFiTClassifier(random_state=args.seed, **ULMFIT),
        "TF-IDF + LR": make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                                     LogisticRegression(C=10, max_iter=2000)),
    }
    ks = (50, 100, 200)
    print("\n| probabilities from | out-of-fold accuracy on true labels | ranking | "
          + " | ".join(f"precision@{k}" for k in ks) + " | flipped found (recall) |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in ks) + " | --- |")
    for name, model in models.items():
        started = time.perf_counter()
        proba = cross_val_predict(model, X, noisy, cv=args.cv, method="predict_proba")
        seconds = time.perf_counter() - started
        accuracy = np.mean(np.unique(noisy)[proba.argmax(1)] == y)
        rankings = {
            "top_losses": top_losses(X, noisy, proba),
            "most_unsure (misclassified only)": most_unsure(X, noisy, proba, misclassified_only=True),
            "cleanlab find_label_issues": label_issues(X, noisy, proba),
        }
        for ranking, frame in rankings.items():
            found = len(set(frame["position"]) & flipped) if ranking.startswith("cleanlab") else None
            recall = f"{found}/{len(flipped)} of {len(frame)} flagged" if found is not None else ""
            print(f"| {name} ({seconds:.0f} s) | {accuracy:.1%} | {ranking} | "
                  + " | ".join(f"{precision(frame, flipped, k):.0%}" for k in ks) + f" | {recall} |", flush=True)
    print("| random picking | | | " + " | ".join(f"{args.fraction:.0%}" for _ in ks) + " | |")

    frame = top_losses(X, noisy, proba, k=5)
    print("\nTop losses (TF-IDF probabilities), flipped marked *:")
    for row in frame.itertuples():
        mark = "*" if row.position in flipped else " "
        print(f" {mark} {row.position:5d} {row.label:5s} -> {row.predicted:5s} loss {row.loss:.2f}  {row.text}")


if __name__ == "__main__":
    main()
