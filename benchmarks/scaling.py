"""Scaling out on one machine: a grid search on 1 vs 2 Dask workers, and one language-model
fit on 1 vs 2 ``torchrun`` processes (DDP, ``gloo``), with the same cores in both cases.

    python benchmarks/scaling.py --data-home ../shared/data --write

Search: ``GridSearchCV(ULMFiTClassifier(...), 4 candidates, cv=2)`` on 600 TREC-6 questions
from the shipped ``"english"`` encoder, through joblib's Dask backend: a ``LocalCluster``
of one worker with every core's threads, then of one single-threaded worker per core.
DDP: ``ULMFiTLanguageModel(pretrained="english")`` fine-tuned one epoch on IMDb reviews,
one process using every core, then one process per core sharing each global batch;
training tokens per second from the fit's own epoch time. Pretraining: the pretraining
command (the shipped encoder's recipe, from random weights) on Wikinews articles, 1 vs 2
``torchrun`` processes, tokens/s from its own ``train_seconds`` (the token cache built first).
"""

from __future__ import annotations

import argparse
import itertools
import json
import lzma
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
from common import machine, report, subset
from distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV

from sk_ulmfit import ULMFiTClassifier, ULMFiTLanguageModel
from sk_ulmfit._estimators.language_model import tokens_in_reading_order
from sk_ulmfit.datasets import fetch_imdb, fetch_trec, get_data_home

GRID = {"lr_decay": [2.0, 2.6], "schedule": [((1, 1, 2e-2), ("all", 1, 1e-2)), ((1, 1, 2e-2), (2, 1, 1e-2))]}
CORES = os.cpu_count() or 1


def search_seconds(X, y, workers: int, threads: int, cache: str) -> float:
    """Wall time of the grid search on a LocalCluster of ``workers`` x ``threads``."""
    with LocalCluster(n_workers=workers, threads_per_worker=threads, processes=True, host="127.0.0.1",
                      dashboard_address=None, env={"OMP_NUM_THREADS": str(threads)}) as cluster, \
            Client(cluster):
        search = GridSearchCV(ULMFiTClassifier(random_state=0, memory=cache), GRID, cv=2, n_jobs=-1,
                              refit=False)
        started = time.perf_counter()
        with joblib.parallel_backend("dask", scatter=[X, y]):
            search.fit(X, y)
        return time.perf_counter() - started


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ddp_tokens_per_second(texts_file: Path, processes: int) -> dict:
    """Launch this file's ``--lm-fit`` under torchrun with ``processes``; rank 0's figures."""
    command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={processes}",
               "--master_addr=127.0.0.1", f"--master_port={_free_port()}", __file__, "--lm-fit", str(texts_file)]
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, CORES // processes))}
    finished = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return json.loads(finished.stdout.strip().splitlines()[-1])


PRETRAIN_RECIPE = ["--batch-size", "64", "--bptt", "72", "--max-vocab", "30k", "--max-tokens", "{tokens}",
                   "--valid-permille", "5", "--valid-tokens", "10k", "--quiet"]


def pretrain_tokens_per_second(corpus: Path, folder: Path, processes: int, tokens: str) -> dict:
    """``torchrun -m sk_ulmfit.pretrain`` on ``corpus`` (cache in ``folder/cache``); rank 0's
    exported figures."""
    launcher = ["-m"] if processes == 1 else [
        "-m", "torch.distributed.run", f"--nproc_per_node={processes}", "--master_addr=127.0.0.1",
        f"--master_port={_free_port()}", "-m"]
    run = folder / f"{processes}-{tokens}"
    command = [sys.executable, *launcher, "sk_ulmfit.pretrain", str(corpus), "--output", str(run / "lm.pt"),
               "--checkpoint-dir", str(run / "checkpoint"), "--cache-dir", str(folder / "cache"),
               *(arg.format(tokens=tokens) for arg in PRETRAIN_RECIPE)]
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, CORES // processes))}
    subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return json.loads((run / "lm.json").read_text())


def lm_fit(texts_file: Path) -> None:
    """(Under torchrun) fine-tune the shipped encoder one epoch; rank 0 prints tokens/s."""
    texts = json.loads(texts_file.read_text())
    model = ULMFiTLanguageModel(pretrained="english", epochs=1, batch_size=32, random_state=0).fit(texts)
    record = model.history_[-1]
    tokens = sum(len(t) for t in tokens_in_reading_order(texts, "forward"))  # the epoch's stream: every token once
    if os.environ.get("RANK", "0") == "0":
        print(json.dumps({"seconds": record["seconds"], "train_loss": record["train_loss"], "tokens": tokens}))


def rate_row(what: str, runs: dict[int, tuple[int, float]]) -> str:
    """The table row of tokens/s for ``{processes: (tokens, seconds)}`` with 1 and 2 processes."""
    for n, (tokens, seconds) in runs.items():
        print(f"{what}: {n} process(es), {tokens:,} tokens in {seconds:.1f} s", flush=True)
    rate = {n: tokens / seconds for n, (tokens, seconds) in runs.items()}
    return (f"| {what} | {rate[1]:,.0f} ({CORES} threads) | {rate[2]:,.0f} (2 x {max(1, CORES // 2)} thread) | "
            f"{rate[2] / rate[1]:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--lm-fit", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--reviews", type=int, default=400)
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--skip-lm-fit", action="store_true")
    parser.add_argument("--pretrain-tokens", default="300k")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    if args.lm_fit is not None:
        return lm_fit(args.lm_fit)
    lines = ["| what | 1 process | 2 processes | speed-up |", "| --- | --- | --- | --- |"]
    if not args.skip_search:
        X, y = fetch_trec("train", data_home=args.data_home, return_X_y=True)
        X, y = subset(X, y, 600, seed=0)
        timings = []
        for workers, threads in ((1, CORES), (CORES, 1)):
            with tempfile.TemporaryDirectory() as cache:
                timings.append(search_seconds(X, y, workers, threads, cache))
            print(f"search: {workers} worker(s) x {threads} thread(s): {timings[-1]:.0f} s", flush=True)
        lines.append(f"| grid search, 8 fits (4 candidates x 2 folds), wall time | {timings[0]:.0f} s "
                     f"(1 worker x {CORES} threads) | {timings[1]:.0f} s ({CORES} workers x 1 thread) | "
                     f"{timings[0] / timings[1]:.2f}x |")
    if not args.skip_lm_fit:
        reviews = fetch_imdb("train", data_home=args.data_home, return_X_y=True)[0]
        rng = np.random.default_rng(0)
        texts = [reviews[i] for i in rng.choice(len(reviews), args.reviews, replace=False)]
        with tempfile.TemporaryDirectory() as folder:
            texts_file = Path(folder) / "texts.json"
            texts_file.write_text(json.dumps(texts))
            runs = {n: ddp_tokens_per_second(texts_file, n) for n in (1, 2)}
        lines.append(rate_row("language-model fine-tuning, training tokens/s (DDP, gloo)",
                              {n: (run["tokens"], run["seconds"]) for n, run in runs.items()}))
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "wikinews.jsonl"
        shard = get_data_home(args.data_home) / "pretrain" / "wikinews-00.jsonl.xz"
        with lzma.open(shard, "rt", encoding="utf-8") as f:
            corpus.write_text("".join(itertools.islice(f, 3000)))
        pretrain_tokens_per_second(corpus, Path(folder), 1, "10k")  # fills the token cache
        runs = {n: pretrain_tokens_per_second(corpus, Path(folder), n, args.pretrain_tokens) for n in (1, 2)}
    lines.append(rate_row("pretraining command, training tokens/s (`torchrun -m sk_ulmfit.pretrain`, gloo)",
                          {n: (run["tokens_seen"], run["train_seconds"]) for n, run in runs.items()}))
    intro = (f"`python benchmarks/scaling.py`: {machine()}. Same cores in both columns. Search: "
             f"`GridSearchCV` over {json.dumps(GRID['lr_decay'])} x 2 schedules, cv=2, on 600 TREC-6 "
             "questions from the shipped `\"english\"` encoder, joblib's Dask backend on a `LocalCluster` "
             "(texts scattered, `memory=` shared). DDP: the shipped encoder fine-tuned one epoch on "
             f"{args.reviews} IMDb training reviews, batch 32 rows x 72 tokens, seed 0, under `torchrun`. "
             "Pretraining: `python -m sk_ulmfit.pretrain` (AWD-LSTM 200/512/3 from random weights, "
             f"vocabulary up to 30k, sampled softmax, batch 64 x 72) on 3,000 Wikinews articles, "
             f"{args.pretrain_tokens} training tokens, the token cache built beforehand.")
    report("## Scaling out: Dask workers and DDP processes (`benchmarks/scaling.py`)", intro, lines, args.write)


if __name__ == "__main__":
    main()
