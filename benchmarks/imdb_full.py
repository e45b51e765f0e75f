"""Under load: all 25,000 IMDb training reviews in, all 25,000 test reviews predicted.

One fresh process (its peak memory is its own) fits ``ULMFiTClassifier`` on the whole
IMDb training set and predicts the whole test set, recording the wall time of each step
and the process's resident memory (current after each step, and the peak). The schedule
is one epoch of the head on the frozen shipped encoder, no stage 2 (``--schedule``): the
defaults (gradual unfreezing, stage 2) take about 1 s of this 2-core CPU per review and
per epoch, some hours for 25,000; memory does not depend on the schedule, since every
step holds one batch of activations at a time. TF-IDF + logistic regression on the same
split for reference.

    python benchmarks/imdb_full.py --data-home ../shared/data --write
"""

from __future__ import annotations

import argparse
import os
import time

from common import in_fresh_process, machine, peak_rss_mb, write_section


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run(data_home: str, schedule: tuple, limit: int | None = None) -> dict:
    import numpy as np

    from sk_ulmfit import ULMFiTClassifier
    from sk_ulmfit.datasets import fetch_imdb

    result = {"rss_start_mb": current_rss_mb()}
    X_train, y_train = fetch_imdb("train", data_home=data_home, return_X_y=True)
    X_test, y_test = fetch_imdb("test", data_home=data_home, return_X_y=True)
    if limit:  # a quick try of this script
        X_train, y_train, X_test, y_test = X_train[::len(X_train) // limit], y_train[::len(y_train) // limit], \
            X_test[::len(X_test) // limit], y_test[::len(y_test) // limit]
    result["rss_data_mb"] = current_rss_mb()
    clf = ULMFiTClassifier(language_model=None, schedule=schedule, n_jobs=-1, random_state=0, verbose=1)
    started = time.perf_counter()
    clf.fit(X_train, y_train)
    result["fit_s"] = time.perf_counter() - started
    result["rss_after_fit_mb"] = current_rss_mb()
    result["peak_fit_mb"] = peak_rss_mb()
    started = time.perf_counter()
    predicted = clf.predict(X_test)
    result["predict_s"] = time.perf_counter() - started
    result["rss_after_predict_mb"] = current_rss_mb()
    result["peak_mb"] = peak_rss_mb()
    result["accuracy"] = float(np.mean(predicted == np.asarray(y_test)))
    return result


def tfidf(data_home: str) -> dict:
    from baselines import tfidf_logistic_regression

    from sk_ulmfit.datasets import fetch_imdb

    X_train, y_train = fetch_imdb("train", data_home=data_home, return_X_y=True)
    X_test, y_test = fetch_imdb("test", data_home=data_home, return_X_y=True)
    started = time.perf_counter()
    model = tfidf_logistic_regression().fit(X_train, y_train)
    return {"fit_predict_s": time.perf_counter() - started, "accuracy": model.score(X_test, y_test),
            "peak_mb": peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--limit", type=int, help="only this many reviews of each part (a quick try)")
    args = parser.parse_args()
    schedule = ((1, 1, 2e-2),)
    ours = in_fresh_process(run, args.data_home, schedule, args.limit)
    baseline = in_fresh_process(tfidf, args.data_home)
    print(ours, baseline)
    text = (
        f"`python benchmarks/imdb_full.py`: IMDb's standard split, 25,000 / 25,000 reviews, seed 0. "
        f"`ULMFiTClassifier(language_model=None, schedule={schedule!r}, n_jobs=-1)` (the shipped "
        f"`\"english\"` encoder frozen, one epoch of the head) in a fresh process. Machine: {machine()}.\n\n"
        "| step | wall time | resident memory after | peak so far |\n| --- | --- | --- | --- |\n"
        f"| reviews loaded | | {ours['rss_data_mb']:,.0f} MB | |\n"
        f"| fit (tokenise 25,000, train) | {ours['fit_s']:,.0f} s | {ours['rss_after_fit_mb']:,.0f} MB | "
        f"{ours['peak_fit_mb']:,.0f} MB |\n"
        f"| predict 25,000 | {ours['predict_s']:,.0f} s | {ours['rss_after_predict_mb']:,.0f} MB | "
        f"{ours['peak_mb']:,.0f} MB |\n\n"
        f"Test accuracy {100 * ours['accuracy']:.1f} % (TF-IDF + logistic regression on the same split: "
        f"{100 * baseline['accuracy']:.1f} %, {baseline['fit_predict_s']:.0f} s, peak {baseline['peak_mb']:,.0f} MB)."
    )
    print(text)
    if args.write:
        write_section("## Under load: all of IMDb (25,000 / 25,000)", text)


if __name__ == "__main__":
    main()
