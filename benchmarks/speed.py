"""Speed against fastai's own learner: same model, same weights, same data, one machine.

Each side runs in a fresh process (so its peak memory is its own):

- tokenisation: ``sk_ulmfit.text.tokenize`` (one process, and ``n_jobs=-1``) against
  fastai's ``tokenize_texts`` (its default: one worker per core), tokens compared;
- training: one epoch with every layer trainable, tokens per second of the epoch itself
  (ours: ``history_``; fastai: ``fit_one_cycle``), starting from the shipped language model;
- prediction: texts per second from raw texts to probabilities (tokenisation included)
  for ``predict_proba`` (float32, and ``predict_precision`` bfloat16 and int8) against
  ``learn.get_preds`` on a ``test_dl``; how often the lower precisions predict the same class;
- peak resident memory of each process (training + prediction).

    python benchmarks/speed.py --data-home ../shared/data
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from common import in_fresh_process, peak_rss_mb  # noqa: E402

SCHEDULE = (("all", 1, 2e-3),)


def ours(X_train, y_train, X_test, model_name: str, n_jobs: int) -> dict:
    from sk_ulmfit import ULMFiTClassifier
    from sk_ulmfit.text import clear_token_cache, tokenize

    n_train_tokens = sum(len(t) for t in tokenize(X_train))
    clf = ULMFiTClassifier(pretrained=model_name, lm_epochs=0, schedule=SCHEDULE, random_state=0,
                           n_jobs=n_jobs).fit(X_train, y_train)
    result = {"train_tokens_per_s": n_train_tokens / clf.history_[-1]["seconds"]}
    for name, precision in (("predict", "float32"), ("predict_bf16", "bfloat16"), ("predict_int8", "int8")):
        clear_token_cache()
        clf.set_params(predict_precision=precision)
        started = time.perf_counter()
        probabilities = clf.predict_proba(X_test)
        result[f"{name}_texts_per_s"] = len(X_test) / (time.perf_counter() - started)
        result[f"{name}_labels"] = clf.classes_[probabilities.argmax(1)].astype(str)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def fastai(X_train, y_train, X_test, model_name: str) -> dict:
    from fastai_learner import fastai_learner, predict_fastai, train_fastai

    from sk_ulmfit.pretrained import resolve_language_model
    from sk_ulmfit.text import tokenize

    n_train_tokens = sum(len(t) for t in tokenize(X_train))
    learn = fastai_learner(X_train, y_train, language_model=resolve_language_model(model_name))
    seconds = train_fastai(learn, SCHEDULE)
    labels, predict_seconds = predict_fastai(learn, X_test)
    return {"train_tokens_per_s": n_train_tokens / seconds[-1], "predict_texts_per_s": len(X_test) / predict_seconds,
            "predict_labels": labels.astype(str), "peak_rss_mb": peak_rss_mb()}


def tokenizers(texts) -> dict:
    """Tokens per second of fastai's ``tokenize_texts`` and of ours, sequential and parallel."""
    from fastai.text.core import tokenize_texts

    from sk_ulmfit.text import clear_token_cache, tokenize

    result = {}
    started = time.perf_counter()
    theirs = [list(t) for t in tokenize_texts(texts)]
    result["fastai"] = time.perf_counter() - started
    for name, n_jobs in (("ours", None), ("ours_parallel", -1)):
        clear_token_cache()
        started = time.perf_counter()
        mine = tokenize(texts, n_jobs=n_jobs)
        result[name] = time.perf_counter() - started
        result[f"{name}_same_tokens"] = mine == theirs
    n_tokens = sum(len(t) for t in theirs)
    return {name: (n_tokens / value if isinstance(value, float) else value) for name, value in result.items()}


def measure(X_train, y_train, X_test, model_name: str = "wikitext-2", tokenize_texts=None) -> dict:
    """Every speed figure of the module docstring, each side in its own process
    (tokenisation on ``tokenize_texts``, by default ``X_test``)."""
    tokens = in_fresh_process(tokenizers, list(X_test if tokenize_texts is None else tokenize_texts))
    mine = in_fresh_process(ours, list(X_train), list(y_train), list(X_test), model_name, -1)
    theirs = in_fresh_process(fastai, list(X_train), list(y_train), list(X_test), model_name)
    return {
        "texts": (len(X_train), len(X_test)),
        "tokenize_tokens_per_s": {"fastai": tokens["fastai"], "ours": tokens["ours"],
                                  "ours n_jobs=-1": tokens["ours_parallel"]},
        "same_tokens": tokens["ours_same_tokens"] and tokens["ours_parallel_same_tokens"],
        "train_tokens_per_s": {"fastai": theirs["train_tokens_per_s"], "ours": mine["train_tokens_per_s"]},
        "predict_texts_per_s": {"fastai": theirs["predict_texts_per_s"], "ours": mine["predict_texts_per_s"],
                                "ours bfloat16": mine["predict_bf16_texts_per_s"],
                                "ours int8": mine["predict_int8_texts_per_s"]},
        "peak_rss_mb": {"fastai": theirs["peak_rss_mb"], "ours": mine["peak_rss_mb"]},
        "bf16_agreement": float(np.mean(mine["predict_labels"] == mine["predict_bf16_labels"])),
        "int8_agreement": float(np.mean(mine["predict_labels"] == mine["predict_int8_labels"])),
    }


def table(dataset: str, figures: dict) -> str:
    """Markdown rows: one per figure, fastai and ours side by side with the ratio."""
    lines = []
    for key, label, higher_is_better in (
        ("tokenize_tokens_per_s", "tokenisation, tokens/s", True),
        ("train_tokens_per_s", "training, tokens/s", True),
        ("predict_texts_per_s", "prediction, texts/s", True),
        ("peak_rss_mb", "peak memory, MB", False),
    ):
        values = figures[key]
        for name, value in values.items():
            if name == "fastai":
                continue
            ratio = value / values["fastai"]
            lines.append(f"| {dataset} | {label} | {values['fastai']:,.0f} | {name} | {value:,.0f} | "
                         f"{ratio:.2f}× {'(higher is better)' if higher_is_better else '(lower is better)'} |")
    return "\n".join(lines)


def main() -> None:
    from sk_ulmfit.datasets import fetch_imdb_sample

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    args = parser.parse_args()
    X_train, y_train = fetch_imdb_sample("train", data_home=args.data_home, return_X_y=True)
    X_test, _ = fetch_imdb_sample("valid", data_home=args.data_home, return_X_y=True)
    figures = measure(X_train, y_train, X_test)
    print(figures)
    print(table("imdb sample", figures))


if __name__ == "__main__":
    main()
