"""The benchmark suite: one command, one table per dataset, a plot, and the speed ratios.

    python benchmarks/run.py --data-home ../shared/data --quick   # 2-core CPU: under 30 min
    python benchmarks/run.py --data-home ../shared/data           # full size (GPU territory)

Datasets (``../shared/data``): TREC-6 (standard split), the IMDb sample (its own
800/200 split), IMDb (a stratified subset; all 25k/25k with ``--imdb-train 0``) and the
AG News test set (stratified k-fold cross-validation). Contenders on identical splits:
``ULMFiTClassifier(direction="forward", language_model=None)``: the shipped default model and
the default schedule, read forwards only and without stage 2, so that it does what fastai's
learner below does (one direction, no stage 2); the defaults themselves (both directions,
stage 2 on the labelled texts) are measured by ``targets.py``. Its float32 and int8
predictions, and bfloat16 where the CPU has it natively, are scored from one fit; TF-IDF + logistic regression; TF-IDF +
linear SVM; NB-SVM; fastai's ``text_classifier_learner`` from the same language model
with the same schedule. Each contender runs in a fresh process, so its peak memory is its
own. Also: a low-shot curve on TREC-6 (ULMFiT against TF-IDF), the speed ratios against
fastai (``speed.py``), and the paper's published accuracies.

Writes the "Benchmark suite" section of ``benchmarks/RESULTS.md`` and ``benchmarks/results.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from common import in_fresh_process, machine, peak_rss_mb, write_section  # noqa: E402

HEADING = "## Benchmark suite (`benchmarks/run.py`)"
PAPER = {"trec": 96.4, "imdb": 95.4, "ag_news": 94.99}  # Howard & Ruder (2018), tables 2-3
CONTENDERS = ("ULMFiT (language_model=None)", "TF-IDF + logistic regression", "TF-IDF + linear SVM", "NB-SVM",
              "fastai text_classifier_learner")
SIZES = {  # quick: IMDb train/test subset and AG News rows/folds
    True: {"imdb": (500, 500), "ag_news": (1500, 3), "fastai_on": ("trec",)},
    False: {"imdb": (5000, 5000), "ag_news": (7600, 5), "fastai_on": ("trec", "imdb_sample", "imdb", "ag_news")},
}
LOW_SHOT = (100, 500, 1000)


def make(name: str, seed: int):
    from baselines import NBSVMClassifier, tfidf_linear_svm, tfidf_logistic_regression
    from fastai_learner import FastaiTextClassifier

    from sk_ulmfit import ULMFiTClassifier

    return {
        "ULMFiT (language_model=None)": lambda: ULMFiTClassifier(direction="forward", language_model=None,
                                                                  random_state=seed, n_jobs=-1),
        "TF-IDF + logistic regression": tfidf_logistic_regression,
        "TF-IDF + linear SVM": tfidf_linear_svm,
        "NB-SVM": NBSVMClassifier,
        "fastai text_classifier_learner": lambda: FastaiTextClassifier(seed=seed),
    }[name]()


def evaluate(name: str, splits, seed: int) -> dict:
    """Fit and score ``name`` on each ``(X_train, y_train, X_test, y_test)``; run in a fresh process."""
    import torch
    from speed import precisions as speed_precisions

    torch.manual_seed(seed)
    from sk_ulmfit._text.tokenizer import clear_token_cache

    runs = []
    for X_train, y_train, X_test, y_test in splits:
        model = make(name, seed)
        started = time.perf_counter()
        model.fit(X_train, y_train)
        fit_seconds = time.perf_counter() - started
        precisions = speed_precisions() if hasattr(model, "predict_precision") else (None,)
        for precision in precisions:
            if precision is not None:
                model.set_params(predict_precision=precision)
            clear_token_cache()  # prediction speed includes tokenisation
            started = time.perf_counter()
            predicted = np.asarray(model.predict(X_test)).astype(str)
            runs.append({"precision": precision, "fit_seconds": fit_seconds,
                         "predict_texts_per_s": len(X_test) / (time.perf_counter() - started),
                         "accuracy": float(np.mean(predicted == np.asarray(y_test).astype(str)))})
    results = []
    for precision in dict.fromkeys(run["precision"] for run in runs):
        mine = [run for run in runs if run["precision"] == precision]
        accuracies = [run["accuracy"] for run in mine]
        results.append({"model": name if precision in (None, "float32") else f"{name}, predict_precision={precision}",
                        "accuracy": float(np.mean(accuracies)), "accuracy_std": float(np.std(accuracies)),
                        "fit_seconds": float(np.mean([run["fit_seconds"] for run in mine])),
                        "predict_texts_per_s": float(np.mean([run["predict_texts_per_s"] for run in mine])),
                        "peak_rss_mb": peak_rss_mb()})
    return results


def load(dataset: str, data_home, quick: bool, seed: int, imdb_sizes=None):
    """``(description, splits)``: the train/test pairs of ``dataset`` as lists of str."""
    from sk_ulmfit.datasets import (
        fetch_ag_news,
        fetch_imdb,
        fetch_imdb_sample,
        fetch_trec,
    )

    def as_lists(*arrays):
        return tuple(list(map(str, a)) for a in arrays)

    if dataset == "trec":
        X, y = fetch_trec("train", data_home=data_home, return_X_y=True)
        X_test, y_test = fetch_trec("test", data_home=data_home, return_X_y=True)
        return f"standard split {len(X)} / {len(X_test)}", [as_lists(X, y, X_test, y_test)]
    if dataset == "imdb_sample":
        X, y = fetch_imdb_sample("train", data_home=data_home, return_X_y=True)
        X_test, y_test = fetch_imdb_sample("valid", data_home=data_home, return_X_y=True)
        return f"its split {len(X)} / {len(X_test)}", [as_lists(X, y, X_test, y_test)]
    if dataset == "imdb":
        n_train, n_test = imdb_sizes or SIZES[quick]["imdb"]
        X, y = fetch_imdb("train", data_home=data_home, return_X_y=True)
        X_test, y_test = fetch_imdb("test", data_home=data_home, return_X_y=True)
        if n_train:
            X, _, y, _ = train_test_split(X, y, train_size=n_train, stratify=y, random_state=seed)
            X_test, _, y_test, _ = train_test_split(X_test, y_test, train_size=n_test, stratify=y_test,
                                                    random_state=seed)
        return f"stratified {len(X)} / {len(X_test)}", [as_lists(X, y, X_test, y_test)]
    n_rows, folds = SIZES[quick]["ag_news"]
    X, y = fetch_ag_news(data_home=data_home, return_X_y=True)
    X, y = np.asarray(X, dtype=object), np.asarray(y, dtype=object)
    if n_rows < len(X):
        X, _, y, _ = train_test_split(X, y, train_size=n_rows, stratify=y, random_state=seed)
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    splits = [as_lists(X[tr], y[tr], X[te], y[te]) for tr, te in cv.split(X, y)]
    return f"{len(X)} test articles, {folds}-fold CV", splits


def low_shot(data_home, seed: int) -> list[dict]:
    """ULMFiT and TF-IDF on stratified subsets of TREC-6's training set, full test set."""
    (_, [(X, y, X_test, y_test)]) = load("trec", data_home, True, seed)
    rows = []
    for size in LOW_SHOT:
        X_small, _, y_small, _ = train_test_split(X, y, train_size=size, stratify=y, random_state=seed)
        for name in CONTENDERS[:2]:
            result = in_fresh_process(evaluate, name, [(X_small, y_small, X_test, y_test)], seed)[0]
            rows.append({"labels": size, **result})
            print(f"low-shot {size}: {name}: {result['accuracy']:.1%}", flush=True)
    return rows


def results_table(results: list[dict]) -> str:
    lines = ["| dataset | split | model | accuracy | fit time | prediction | peak memory |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in results:
        spread = f" ± {r['accuracy_std']:.1%}" if r["accuracy_std"] else ""
        lines.append(f"| {r['dataset']} | {r['split']} | {r['model']} | {r['accuracy']:.1%}{spread} | "
                     f"{r['fit_seconds']:,.0f} s | {r['predict_texts_per_s']:,.0f} texts/s | "
                     f"{r['peak_rss_mb']:,.0f} MB |")
    for dataset, accuracy in PAPER.items():
        lines.append(f"| {dataset} | the paper's full data | ULMFiT (Howard & Ruder 2018, WT103, GPU) | "
                     f"{accuracy:.2f}% | | | |")
    return "\n".join(lines)


def low_shot_table(rows: list[dict], full: list[dict]) -> str:
    trec_full = {r["model"]: r["accuracy"] for r in full if r["dataset"] == "trec"}
    names = CONTENDERS[:2]
    lines = ["| labelled questions | " + " | ".join(names) + " |", "| --- | --- | --- |"]
    for size in LOW_SHOT:
        accuracy = {r["model"]: r["accuracy"] for r in rows if r["labels"] == size}
        lines.append(f"| {size} | " + " | ".join(f"{accuracy[n]:.1%}" for n in names) + " |")
    if all(n in trec_full for n in names):
        lines.append("| all (5,452) | " + " | ".join(f"{trec_full[n]:.1%}" for n in names) + " |")
    return "\n".join(lines)


def plot(results: list[dict], shots: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in results))
    figure, axes = plt.subplots(1, len(datasets) + 1, figsize=(4.2 * (len(datasets) + 1), 3.8))
    for axis, dataset in zip(axes, datasets):
        for r in (r for r in results if r["dataset"] == dataset):
            axis.scatter(r["fit_seconds"], 100 * r["accuracy"], label=r["model"])
        axis.set(xscale="log", title=dataset, xlabel="fit time (s, log)", ylabel="accuracy (%)")
    axes[0].legend(fontsize=7)
    for name in CONTENDERS[:2]:
        points = [(r["labels"], 100 * r["accuracy"]) for r in shots if r["model"] == name]
        axes[-1].plot(*zip(*points), marker="o", label=name)
    axes[-1].set(xscale="log", title="TREC-6 low-shot", xlabel="labelled questions", ylabel="accuracy (%)")
    axes[-1].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    from speed import measure
    from speed import summary as speed_summary
    from speed import table as speed_table

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--quick", action="store_true", help="CPU size: under 30 minutes on 2 cores")
    parser.add_argument("--datasets", nargs="+", default=["trec", "imdb_sample", "imdb", "ag_news"])
    parser.add_argument("--imdb-train", type=int, help="IMDb training subset (0: all 25k and the 25k test set)")
    parser.add_argument("--imdb-test", type=int)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    started = time.perf_counter()
    imdb_sizes = None if args.imdb_train is None else (args.imdb_train, args.imdb_test or args.imdb_train)

    results = []
    for dataset in args.datasets:
        split, splits = load(dataset, args.data_home, args.quick, args.seed, imdb_sizes)
        for name in CONTENDERS:
            if name.startswith("fastai") and dataset not in SIZES[args.quick]["fastai_on"]:
                continue
            for result in in_fresh_process(evaluate, name, splits, args.seed):
                results.append({"dataset": dataset, "split": split, **result})
                print(f"{dataset}: {json.dumps(result)}", flush=True)
    shots = low_shot(args.data_home, args.seed)

    speeds = {}
    (_, [(X_train, y_train, X_test, _)]) = load("trec", args.data_home, True, args.seed)
    speeds["TREC-6 (train 5,452, predict 500)"] = measure(X_train, y_train, X_test)
    (_, [(X_train, y_train, _, _)]) = load("imdb_sample", args.data_home, True, args.seed)
    n_reviews = 500 if args.quick else 2000
    (_, [(_, _, X_test, _)]) = load("imdb", args.data_home, True, args.seed, (n_reviews, n_reviews))
    speeds[f"IMDb (train the 800 of the sample, predict {n_reviews:,} test reviews)"] = measure(X_train, y_train, X_test)
    for data, speed in speeds.items():
        print(data, json.dumps(speed, default=str), flush=True)

    minutes = (time.perf_counter() - started) / 60
    text = "\n\n".join([
        f"`python benchmarks/run.py --data-home ../shared/data{' --quick' if args.quick else ''}` "
        f"({minutes:.0f} min). Machine: {machine()}. Seed {args.seed}. One fresh process per "
        "contender and dataset; fit time includes tokenisation; prediction is texts per second "
        "from raw text (tokenisation included). ULMFiT: `ULMFiTClassifier(direction=\"forward\", "
        "language_model=None)`, the shipped model and the default schedule, one direction and no stage 2 as "
        "fastai's learner; fastai: the same starting weights and schedule. The defaults (both directions, "
        "stage 2 on the labelled texts): `benchmarks/targets.py`.",
        results_table(results),
        "### Low-shot: TREC-6 with fewer labels (test set: the 500 standard questions)",
        low_shot_table(shots, results),
        "### Speed against fastai (same model size, same starting weights, same data; "
        "`benchmarks/speed.py`, each side in a fresh process)",
        "Training: one epoch with all layers trainable, tokens/s of the epoch itself. Prediction: "
        "raw texts to probabilities, tokenisation included. Tokenisation: on the prediction texts.",
        "| data | figure | fastai | ours | value | ratio |\n| --- | --- | --- | --- | --- | --- |\n"
        + "\n".join(speed_table(data, speed) for data, speed in speeds.items()),
        "\n".join(speed_summary(data, speed) for data, speed in speeds.items()),
        "![accuracy against fit time](results.png)",
    ])
    print(text)
    if not args.no_write:
        write_section(HEADING, text)
        plot(results, shots, HERE / "results.png")


if __name__ == "__main__":
    main()
