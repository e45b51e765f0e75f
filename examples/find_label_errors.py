"""Finding wrong labels: flip 5 % of a dataset's labels, then look for them.

TREC-6's 5,452 training questions (``--dataset trec``, the default) or AG News's 7,600
articles (``--dataset ag_news``, its one file). Each text is graded by a model that did not see its label
(``sk_ulmfit.inspection.out_of_fold_proba``), then ranked by ``top_losses``,
``most_unsure`` (wrong predictions only) and cleanlab's confident learning. The table
reports precision at k: the share of the k first questions that are among the flipped
ones (random picking finds 5 %), and the seconds the scores took, for three ways to get
out-of-fold probabilities side by side:

- ``ULMFiTClassifier()`` features: the encoder before any label is seen (the shipped model),
  a logistic regression cross-validated on its pooled features (``method="features"``, the
  default);
- ``ULMFiTClassifier()`` refit: one full fit per fold (``method="refit"``);
- TF-IDF + logistic regression, refit per fold.

    python examples/find_label_errors.py --data-home ../shared/data [--dataset ag_news] [--no-refit]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit.datasets import fetch_ag_news, fetch_trec
from sk_ulmfit.inspection import (
    label_issues,
    most_unsure,
    out_of_fold_proba,
    top_losses,
)

# --dataset: (its texts and labels, its name, what its texts are)
DATASETS = {"trec": (lambda home: fetch_trec("train", data_home=home, return_X_y=True), "TREC-6 train", "questions"),
            "ag_news": (lambda home: fetch_ag_news("test", data_home=home, return_X_y=True), "AG News", "articles")}


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
    parser.add_argument("--dataset", choices=list(DATASETS), default="trec")
    parser.add_argument("--fraction", type=float, default=0.05)
    parser.add_argument("--cv", type=int, default=3, help="folds, the same for every way (default 3)")
    parser.add_argument("--no-refit", action="store_true", help="skip the ULMFiT refit (cv full fits)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    load, title, unit = DATASETS[args.dataset]
    X, y = load(args.data_home)
    X, y = list(X), np.asarray(y, dtype=object)
    noisy, flipped = flip_labels(y, args.fraction, np.random.default_rng(args.seed))
    print(f"{title}: {len(X)} {unit}, {len(flipped)} labels flipped ({args.fraction:.0%})")

    tfidf = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(C=10, max_iter=2000))
    ways = {"ULMFiT features": (ULMFiTClassifier(random_state=args.seed), "features")}
    if not args.no_refit:
        ways["ULMFiT refit"] = (ULMFiTClassifier(random_state=args.seed), "refit")
    ways["TF-IDF + LR refit"] = (tfidf, "refit")
    ks = (50, 100, 200)
    print("\n| out-of-fold probabilities | seconds | accuracy on the true labels | ranking | "
          + " | ".join(f"precision@{k}" for k in ks) + " | flipped found (recall) |")
    print("| --- | --- | --- | --- | " + " | ".join("---" for _ in ks) + " | --- |")
    scores = {}
    for name, (model, method) in ways.items():
        started = time.perf_counter()
        proba = out_of_fold_proba(model, X, noisy, method=method, cv=args.cv, random_state=args.seed)
        seconds = time.perf_counter() - started
        scores[name] = proba
        accuracy = np.mean(np.unique(noisy)[proba.argmax(1)] == y)
        rankings = {
            "top_losses": top_losses(X, noisy, proba),
            "most_unsure (misclassified only)": most_unsure(X, noisy, proba, misclassified_only=True),
            "cleanlab find_label_issues": label_issues(X, noisy, proba),
        }
        for ranking, frame in rankings.items():
            found = len(set(frame["position"]) & flipped) if ranking.startswith("cleanlab") else None
            recall = f"{found}/{len(flipped)} of {len(frame)} flagged" if found is not None else ""
            print(f"| {name} | {seconds:.0f} | {accuracy:.1%} | {ranking} | "
                  + " | ".join(f"{precision(frame, flipped, k):.0%}" for k in ks) + f" | {recall} |", flush=True)
    print("| random picking | | | | " + " | ".join(f"{args.fraction:.0%}" for _ in ks) + " | |")

    frame = top_losses(X, noisy, scores["ULMFiT features"], k=5)
    print("\nTop losses (ULMFiT features), flipped marked *:")
    for row in frame.itertuples():
        mark = "*" if row.position in flipped else " "
        print(f" {mark} {row.position:5d} {row.label:5s} -> {row.predicted:5s} loss {row.loss:.2f}  {row.text[:120]}")


if __name__ == "__main__":
    main()
