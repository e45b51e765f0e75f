"""Speed against fastai's own learner: same model, same weights, same data, one machine.

Each side runs in a fresh process (so its peak memory is its own):

- tokenisation: ``sk_ulmfit._text.tokenize`` (one process, and ``n_jobs=-1``) against
  fastai's ``tokenize_texts`` (its default: one worker per core), tokens compared;
- training: one epoch with every layer trainable, tokens per second of the epoch itself
  (ours: ``history_``; fastai: ``fit_one_cycle``), starting from the shipped language model;
- prediction: texts per second from raw texts to probabilities (tokenisation included)
  for ``predict_proba`` (float32, and ``predict_precision`` int8, plus bfloat16 where the
  CPU computes it natively) against ``learn.get_preds`` on a ``test_dl``; how often the
  lower precisions predict the same class; and the LSTM arithmetic each side sustains
  while predicting (GFLOP/s) against this CPU's float32 matrix-multiply throughput;
- peak resident memory of each process after the same work: training, then float32
  prediction.

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


def precisions() -> tuple[str, ...]:
    """``predict_precision`` values worth timing here: bfloat16 only where it is native."""
    from sk_ulmfit._nn.inference import native_bfloat16_cpu

    return ("float32", "bfloat16", "int8") if native_bfloat16_cpu() else ("float32", "int8")


def ours(X_train, y_train, X_test, model_name: str, n_jobs: int) -> dict:
    from sk_ulmfit import ULMFiTClassifier
    from sk_ulmfit._text.tokenizer import clear_token_cache, tokenize

    n_train_tokens = sum(len(t) for t in tokenize(X_train))
    clf = ULMFiTClassifier(pretrained=model_name, direction="forward", language_model=None, schedule=SCHEDULE,
                           batch_size=64, random_state=0, n_jobs=n_jobs).fit(X_train, y_train)
    result = {"train_tokens_per_s": n_train_tokens / clf.history_[-1]["seconds"]}
    for precision in precisions():
        clear_token_cache()
        clf.set_params(predict_precision=precision)
        started = time.perf_counter()
        probabilities = clf.predict_proba(X_test)
        result[f"predict_{precision}_texts_per_s"] = len(X_test) / (time.perf_counter() - started)
        result[f"predict_{precision}_labels"] = clf.classes_[probabilities.argmax(1)].astype(str)
        if precision == "float32":
            result["peak_rss_mb"] = peak_rss_mb()  # the same work as fastai's side
    return result


def lstm_flops_per_token(model_name: str) -> float:
    """Multiply-adds x 2 of the AWD-LSTM's layers for one token (gates: input and recurrent)."""
    from sk_ulmfit import ULMFiTLanguageModel

    config = ULMFiTLanguageModel.from_pretrained(model_name).config_
    sizes = [config.emb_size] + [config.hidden_size] * (config.n_layers - 1) + [config.emb_size]
    return sum(2 * 4 * out * (inp + out) for inp, out in zip(sizes[:-1], sizes[1:]))


def matmul_gflops(size: int = 1024, repeats: int = 20) -> float:
    """This machine's float32 matrix-multiply throughput (GFLOP/s), all threads."""
    import torch

    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def fastai(X_train, y_train, X_test, model_name: str) -> dict:
    from fastai_learner import fastai_learner, predict_fastai, train_fastai

    from sk_ulmfit import ULMFiTLanguageModel
    from sk_ulmfit._text.tokenizer import tokenize

    n_train_tokens = sum(len(t) for t in tokenize(X_train))
    learn = fastai_learner(X_train, y_train, language_model=ULMFiTLanguageModel.from_pretrained(model_name))
    seconds = train_fastai(learn, SCHEDULE)
    labels, predict_seconds = predict_fastai(learn, X_test)
    return {"train_tokens_per_s": n_train_tokens / seconds[-1], "predict_texts_per_s": len(X_test) / predict_seconds,
            "predict_labels": labels.astype(str), "peak_rss_mb": peak_rss_mb()}


def tokenizers(texts) -> dict:
    """Tokens per second of fastai's ``tokenize_texts`` and of ours, sequential and parallel."""
    from fastai.text.core import tokenize_texts

    from sk_ulmfit._text.tokenizer import clear_token_cache, tokenize

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
    rates = {name: (n_tokens / value if isinstance(value, float) else value) for name, value in result.items()}
    return {**rates, "n_tokens": n_tokens}


def measure(X_train, y_train, X_test, model_name: str = "wikitext-2", tokenize_texts=None) -> dict:
    """Every speed figure of the module docstring, each side in its own process
    (tokenisation on ``tokenize_texts``, by default ``X_test``)."""
    tokens = in_fresh_process(tokenizers, list(X_test if tokenize_texts is None else tokenize_texts))
    mine = in_fresh_process(ours, list(X_train), list(y_train), list(X_test), model_name, -1)
    theirs = in_fresh_process(fastai, list(X_train), list(y_train), list(X_test), model_name)
    test_tokens = tokens["n_tokens"] if tokenize_texts is None else None
    predict = {"fastai": theirs["predict_texts_per_s"], "ours": mine["predict_float32_texts_per_s"],
               **{f"ours {p}": mine[f"predict_{p}_texts_per_s"] for p in precisions()[1:]}}
    figures = {
        "texts": (len(X_train), len(X_test)),
        "tokenize_tokens_per_s": {"fastai": tokens["fastai"], "ours": tokens["ours"],
                                  "ours n_jobs=-1": tokens["ours_parallel"]},
        "same_tokens": tokens["ours_same_tokens"] and tokens["ours_parallel_same_tokens"],
        "train_tokens_per_s": {"fastai": theirs["train_tokens_per_s"], "ours": mine["train_tokens_per_s"]},
        "predict_texts_per_s": predict,
        "peak_rss_mb": {"fastai": theirs["peak_rss_mb"], "ours": mine["peak_rss_mb"]},
        "agreement": {p: float(np.mean(mine["predict_float32_labels"] == mine[f"predict_{p}_labels"]))
                      for p in precisions()[1:]},
        "matmul_gflops": matmul_gflops(),  # this process is idle: the children have finished
    }
    if test_tokens:  # LSTM arithmetic sustained while predicting, float32 sides
        flops = lstm_flops_per_token(model_name) * test_tokens / len(X_test) / 1e9
        figures["predict_lstm_gflops"] = {"fastai": predict["fastai"] * flops, "ours": predict["ours"] * flops}
    return figures


def table(dataset: str, figures: dict) -> str:
    """Markdown rows: one per figure, fastai and ours side by side with the ratio."""
    lines = []
    for key, label, higher_is_better in (
        ("tokenize_tokens_per_s", "tokenisation, tokens/s", True),
        ("train_tokens_per_s", "training, tokens/s", True),
        ("predict_texts_per_s", "prediction, texts/s", True),
        ("predict_lstm_gflops", "prediction, LSTM GFLOP/s", True),
        ("peak_rss_mb", "peak memory, MB", False),
    ):
        values = figures.get(key, {})
        for name, value in values.items():
            if name == "fastai":
                continue
            ratio = value / values["fastai"]
            lines.append(f"| {dataset} | {label} | {values['fastai']:,.0f} | {name} | {value:,.0f} | "
                         f"{ratio:.2f}× {'(higher is better)' if higher_is_better else '(lower is better)'} |")
    return "\n".join(lines)


def summary(dataset: str, figures: dict) -> str:
    """One line: same tokens, how often lower precisions agree, arithmetic against the CPU's peak."""
    parts = [f"tokens identical to fastai's: {figures['same_tokens']}"]
    parts += [f"predicted class unchanged by {p} for {share:.1%} of texts (one-epoch model)"
              for p, share in figures["agreement"].items()]
    if "predict_lstm_gflops" in figures:
        gflops = figures["predict_lstm_gflops"]
        parts.append(f"LSTM arithmetic while predicting: fastai {gflops['fastai']:.0f}, ours {gflops['ours']:.0f} "
                     f"GFLOP/s, against {figures['matmul_gflops']:.0f} GFLOP/s for a 1024² float32 matmul here")
    return f"- {dataset}: " + "; ".join(parts)


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
    print(summary("imdb sample", figures))


if __name__ == "__main__":
    main()
