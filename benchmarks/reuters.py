"""Multi-label on real data: Reuters-21578 (ModApte, 90 topics), micro and macro F1.

``ULMFiTClassifier(random_state=0)`` with every default (the shipped ``"english"`` encoder,
stage 2 on the training stories, the default schedule) on the indicator matrix of
``fetch_reuters21578``, against TF-IDF + one-vs-rest logistic regression and linear SVM
on the same split. A label is predicted where its probability exceeds 0.5 (ULMFiT) or its
decision is positive (baselines); nothing is tuned on the test stories.

    python benchmarks/reuters.py --data-home ../shared/data --write
"""

from __future__ import annotations

import argparse
import os
import time

from common import machine, peak_rss_mb, write_section
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC

from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit.datasets import fetch_reuters21578


def models(seed: int) -> dict:
    tfidf = {"ngram_range": (1, 2), "sublinear_tf": True, "min_df": 2}
    return {
        "TF-IDF + one-vs-rest logistic regression": make_pipeline(
            TfidfVectorizer(**tfidf), OneVsRestClassifier(LogisticRegression(C=10, max_iter=2000))),
        "TF-IDF + one-vs-rest linear SVM": make_pipeline(
            TfidfVectorizer(**tfidf), OneVsRestClassifier(LinearSVC(C=0.5))),
        "ULMFiT (defaults)": ULMFiTClassifier(random_state=seed, n_jobs=-1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    X_train, Y_train = fetch_reuters21578("train", data_home=args.data_home, return_X_y=True)
    X_test, Y_test = fetch_reuters21578("test", data_home=args.data_home, return_X_y=True)
    rows = []
    for name, model in models(args.seed).items():
        started = time.perf_counter()
        model.fit(X_train, Y_train)
        seconds = time.perf_counter() - started
        predicted = model.predict(X_test)
        row = (f"| {name} | {100 * f1_score(Y_test, predicted, average='micro'):.1f} | "
               f"{100 * f1_score(Y_test, predicted, average='macro', zero_division=0):.1f} | "
               f"{100 * (predicted == Y_test).all(1).mean():.1f} | {seconds:,.0f} s |")
        print(row, flush=True)
        rows.append(row)
    text = (f"`python benchmarks/reuters.py`: Reuters-21578, ModApte split, 7,770 / 3,019 stories, 90 topics "
            f"(1.24 per story). Seed {args.seed}. Machine: {machine()}; peak memory {peak_rss_mb():,.0f} MB.\n\n"
            "| model | micro-F1 | macro-F1 | subset accuracy | fit time |\n| --- | --- | --- | --- | --- |\n"
            + "\n".join(rows))
    print(text)
    if args.write:
        write_section("## Multi-label: Reuters-21578 (ModApte, 90 topics)", text)


if __name__ == "__main__":
    main()
