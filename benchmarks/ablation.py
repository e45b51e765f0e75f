"""Ablation of ULMFiT's stages against TF-IDF + logistic regression.

Rows per dataset: TF-IDF + LR; ULMFiTClassifier without pretraining; with the shipped
pretrained language model; + language-model fine-tuning on the domain's texts; + both
directions (when a backward model is shipped). Prints a Markdown table and, with
``--write``, puts it in ``benchmarks/RESULTS.md`` under the heading of this ablation.

    python benchmarks/ablation.py --data-home ../shared/data --write
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from fastai_learner import FastaiTextClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline

from sk_ulmfit import ULMFiTClassifier, ULMFiTLanguageModel, available_models
from sk_ulmfit.datasets import fetch_imdb, fetch_trec

# stage 2 as "auto" does it (drop_mult 0.3, batch 64, lr 2e-3), for two epochs
STAGE2_TWO_EPOCHS = ULMFiTLanguageModel(epochs=2, drop_mult=0.3)

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADING = "## Ablation: what each ULMFiT stage adds"
# pretrained=None: the default is the shipped model, whose size would override these
SCRATCH = {"pretrained": None, "direction": "forward", "language_model": None,
           "emb_size": 200, "hidden_size": 512, "n_layers": 3,
           "schedule": (("all", 8, 1e-2),), "batch_size": 64}
PRETRAINED = {"direction": "forward"}  # the default schedule and batch size; one direction (the last row: both)


def load(dataset: str, data_home, n_train: int | None, n_test: int | None, seed: int):
    if dataset == "trec":
        X_train, y_train = fetch_trec("train", data_home=data_home, return_X_y=True)
        X_test, y_test = fetch_trec("test", data_home=data_home, return_X_y=True)
    else:
        X_train, y_train = fetch_imdb("train", data_home=data_home, return_X_y=True)
        X_test, y_test = fetch_imdb("test", data_home=data_home, return_X_y=True)
    if n_train and n_train < len(X_train):
        X_train, _, y_train, _ = train_test_split(X_train, y_train, train_size=n_train,
                                                  stratify=y_train, random_state=seed)
    if n_test and n_test < len(X_test):
        X_test, _, y_test, _ = train_test_split(X_test, y_test, train_size=n_test,
                                                stratify=y_test, random_state=seed)
    return list(X_train), np.asarray(y_train), list(X_test), np.asarray(y_test)


def contenders(model_name: str | None, seed: int, fastai: bool = False):
    yield "TF-IDF + logistic regression", make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LogisticRegression(C=10, max_iter=2000))
    yield "ULMFiT, no pretraining", ULMFiTClassifier(random_state=seed, **SCRATCH)
    if model_name is None:
        return
    yield f"ULMFiT, pretrained ({model_name})", ULMFiTClassifier(
        pretrained=model_name, language_model=None, random_state=seed, **PRETRAINED)
    if fastai:  # is the classifier's training the limit? fastai's own learner from the same start
        yield f"fastai text_classifier_learner, pretrained ({model_name})", FastaiTextClassifier(
            pretrained=model_name, seed=seed)
    yield "ULMFiT, pretrained + domain fine-tuning", ULMFiTClassifier(
        pretrained=model_name, language_model=STAGE2_TWO_EPOCHS, random_state=seed, **PRETRAINED)
    try:
        ULMFiTLanguageModel.from_pretrained(model_name, direction="backward")
    except ValueError:
        return
    yield "ULMFiT, + both directions", ULMFiTClassifier(
        pretrained=model_name, language_model=STAGE2_TWO_EPOCHS, random_state=seed,
        **{**PRETRAINED, "direction": "both"})


def run(dataset, data, model_name, seed, only=None, fastai=False):
    X_train, y_train, X_test, y_test = data
    rows = []
    for name, estimator in contenders(model_name, seed, fastai):
        if only and only not in name:
            continue
        started = time.perf_counter()
        estimator.fit(X_train, y_train)
        fit_seconds = time.perf_counter() - started
        accuracy = float(np.mean(np.asarray(estimator.predict(X_test)).astype(str) == y_test.astype(str)))
        rows.append((dataset, len(X_train), len(X_test), name, accuracy, fit_seconds))
        print(f"{dataset}: {name}: accuracy {accuracy:.4f}, fit {fit_seconds:.0f}s", flush=True)
    return rows


def table(rows) -> str:
    lines = ["| dataset | train / test | model | accuracy | fit time |",
             "| --- | --- | --- | --- | --- |"]
    for dataset, n_train, n_test, name, accuracy, seconds in rows:
        lines.append(f"| {dataset} | {n_train} / {n_test} | {name} | {accuracy:.1%} | {seconds:.0f} s |")
    return "\n".join(lines)


def write_section(text: str) -> None:
    existing = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    before, _, after = existing.partition(HEADING)
    rest = after.split("\n## ", 1)
    tail = "\n## " + rest[1] if len(rest) == 2 else ""
    RESULTS.write_text(before.rstrip() + "\n\n" + HEADING + "\n\n" + text.strip() + "\n" + tail)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--datasets", nargs="+", default=["trec", "imdb"], choices=["trec", "imdb"])
    parser.add_argument("--imdb-train", type=int, default=1000, help="stratified IMDb subset (CPU size)")
    parser.add_argument("--imdb-test", type=int, default=1000)
    parser.add_argument("--model", default=(available_models() or [None])[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help="run only the rows whose name contains this text")
    parser.add_argument("--fastai", action="store_true",
                        help="add fastai's text_classifier_learner from the same pretrained start")
    parser.add_argument("--write", action="store_true", help=f"update {RESULTS.name}")
    args = parser.parse_args()

    rows = []
    for dataset in args.datasets:
        sizes = (None, None) if dataset == "trec" else (args.imdb_train, args.imdb_test)
        rows += run(dataset, load(dataset, args.data_home, *sizes, args.seed), args.model, args.seed, args.only,
                    args.fastai)
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
               f"{'GPU ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU only'}")
    text = (f"Machine: {machine}. Seed {args.seed}. Pretrained model: {args.model}.\n"
            f"No pretraining: {SCRATCH}. Pretrained rows: {PRETRAINED or 'the default schedule and batch size'}.\n\n{table(rows)}")
    print("\n" + text)
    if args.write:
        write_section(text)


if __name__ == "__main__":
    main()
