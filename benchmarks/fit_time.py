"""Where a classifier fit's time goes, what the default spends for its accuracy, and what a
grid search costs: one library against another, side by side in one run.

    python benchmarks/fit_time.py --data-home ../shared/data --parts step fits grid accuracy epochs \\
        [--baseline ../sk_ulmfit_0.2_before] [--write]

``--baseline`` is another checkout of sk_ulmfit (e.g. ``git worktree add ../before <commit>``):
every measurement runs in a fresh interpreter, once with this checkout's library and once
with the baseline's, one after the other (never two at once: on 2 cores they slow each
other). Parts:

- ``step``: one training step of the shipped ``"english"`` encoder's classifier (200/512/3)
  on TREC-6 questions, by batch size and by what is trained (head only, all layers): ms per
  text, forward / backward / optimiser, and the achieved GFLOP/s of the LSTMs' arithmetic
  against this machine's dense float32 peak (a 4096² matrix product); also under CPU
  bfloat16 autocast, for this library only.
- ``fits``: ``ULMFiTClassifier(random_state=seed)`` with every default on TREC-6 (all 5,452
  questions) and 1,000 AG News articles / IMDb reviews: tokenising, stage 2 and each stage
  of each direction (``history_``), fit time and test accuracy.
- ``grid``: ``GridSearchCV`` over 4 schedules with 3-fold cross-validation on 1,000 TREC-6
  questions (``memory=`` a fresh folder, refit included): the wall time a user waits.
- ``accuracy``: development accuracy against fit time for batch sizes on splits of the
  *training* data (TREC-6's training part, AG News's test file split into train and
  development articles), forward direction, several seeds.
- ``epochs``: development accuracy against fit time for the last stage's length (``"ulmfit"``
  with 8, 4, 2 or 3 epochs in its last stage) on 1,000 IMDb reviews and 7,000 AG News
  articles, forward direction, several seeds.
- ``encoders``: development accuracy of the default classifier (forward direction, several
  seeds) from each pretrained encoder of ``--encoders`` (``"english"`` or language-model
  files) on 1,000 IMDb reviews against 1,000 others of the training part: how the choice
  of a general encoder is made without a test set.
- ``threads``: the two directions of a fit one after the other with every core (what
  ``fit`` does) against both at once in two processes of one thread each, on 800 TREC-6
  questions (each direction from the shipped encoder, no stage 2, all layers 2 epochs).

Results are cached in ``benchmarks/out/fit_time/`` by call and library code, so an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CACHE = HERE / "out" / "fit_time"
THIS_LIBRARY = HERE.parent
SCHEDULES = {
    "ulmfit": "ulmfit",
    "the paper's": ((1, 1, 2e-2), (2, 1, 1e-2), (3, 1, 5e-3), ("all", 2, 1e-3)),
    "head, then all 8 x 5e-3": ((1, 1, 2e-2), ("all", 8, 5e-3)),
    "all 4 x 1e-2": (("all", 4, 1e-2),),
}


# ----------------------------------------------------------------- workers (fresh processes)
def load(dataset: str, part: str, data_home: str):
    from sk_ulmfit.datasets import fetch_ag_news, fetch_imdb, fetch_trec

    fetch = {"trec": fetch_trec, "imdb": fetch_imdb, "ag_news": fetch_ag_news}[dataset]
    X, y = fetch(part, data_home=data_home, return_X_y=True)
    return list(X), np.asarray(y)


def split(dataset: str, n_train: int, n_eval: int, seed: int, data_home: str, development: bool):
    """``n_train`` labelled texts and ``n_eval`` others: from the training part only when
    ``development`` (AG News: its one file), else the training part and the test part."""
    from sklearn.model_selection import train_test_split

    train_part = "test" if dataset == "ag_news" else "train"
    X, y = load(dataset, train_part, data_home)
    if development or dataset == "ag_news":
        train, held = train_test_split(np.arange(len(X)), train_size=n_train, test_size=n_eval, stratify=y,
                                       random_state=seed)
        return [X[i] for i in train], y[train], [X[i] for i in held], y[held]
    if n_train < len(X):
        train, _ = train_test_split(np.arange(len(X)), train_size=n_train, stratify=y, random_state=seed)
        X, y = [X[i] for i in train], y[train]
    if n_eval == 0:  # the grid search scores by cross-validation only
        return X, y, [], y[:0]
    X_test, y_test = load(dataset, "test", data_home)
    if n_eval < len(X_test):
        held, _ = train_test_split(np.arange(len(X_test)), train_size=n_eval, stratify=y_test, random_state=seed)
        X_test, y_test = [X_test[i] for i in held], y_test[held]
    return X, y, X_test, y_test


def dense_peak_gflops() -> float:
    import torch

    a, b = torch.randn(4096, 4096), torch.randn(4096, 4096)
    a @ b
    started = time.perf_counter()
    for _ in range(5):
        a @ b
    return 5 * 2 * 4096**3 / (time.perf_counter() - started) / 1e9


def lstm_flops_per_token(sizes: list[tuple[int, int]]) -> float:
    """Forward multiply-adds ×2 of one token through LSTM layers of (input, hidden) sizes."""
    return sum(2 * 4 * hidden * (inputs + hidden) for inputs, hidden in sizes)


def step_worker(data_home: str, batch_sizes: list[int], n_steps: int, precision: str = "float32") -> dict:
    import contextlib

    import torch

    from sk_ulmfit._io.pretrained import resolve
    from sk_ulmfit._nn.awd_lstm import (
        ClassifierConfig,
        aligned_weights,
        build_classifier,
        compact_encoder_weights,
        encoder_part,
        layer_groups,
        load_encoder,
        renumber,
        set_trainable,
        used_rows,
    )
    from sk_ulmfit._text.batching import collate, training_batches
    from sk_ulmfit._text.tokenizer import PAD_ID, Vocabulary, tokenize
    from sk_ulmfit._train.loop import network_loss
    from sk_ulmfit._train.schedule import make_optimizer

    X, y = load("trec", "train", data_home)
    classes, targets = np.unique(y, return_inverse=True)
    tokens = tokenize(X)
    saved = resolve("english", ("forward",))[0].language_model
    vocab = Vocabulary(saved.itos).extend(tokens, 3, 60000)
    encoder = encoder_part(aligned_weights(saved.weights, saved.itos, vocab.itos))
    sequences = [vocab.numericalize(t) for t in tokens]
    rows = used_rows(sequences)
    sequences = renumber(sequences, rows, len(vocab))
    size = saved.config
    config = ClassifierConfig(vocab_size=len(rows), n_classes=len(classes), emb_size=size.emb_size,
                              hidden_size=size.hidden_size, n_layers=size.n_layers, drop_mult=0.5, bptt=72,
                              max_len=1440)
    layers = [(size.emb_size, size.hidden_size)] + [(size.hidden_size, size.hidden_size)] * (size.n_layers - 2) \
        + [(size.hidden_size, size.emb_size)]
    per_token = lstm_flops_per_token(layers)
    torch.manual_seed(0)
    model = build_classifier(config)
    load_encoder(model, compact_encoder_weights(encoder, rows))
    groups = layer_groups(model)
    results = {"peak_gflops": dense_peak_gflops(), "threads": torch.get_num_threads(), "rows": []}
    for batch_size in batch_sizes:
        for trained in (1, len(groups)):
            set_trainable(groups, trained)
            optimizer = make_optimizer(groups, "one_cycle", 0.01)
            batches = training_batches([len(s) for s in sequences], batch_size, np.random.default_rng(0))
            batches = batches[1 : n_steps + 3]  # the first holds the longest text
            model.train()
            forward = backward = optimise = padded_tokens = texts = 0.0
            for number, batch in enumerate(batches):
                inputs, order = collate([sequences[i] for i in batch], 72, PAD_ID)
                batch_targets = torch.from_numpy(targets[batch[order]])
                started = time.perf_counter()
                with (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bfloat16"
                      else contextlib.nullcontext()):
                    loss = network_loss(model, inputs, batch_targets)
                forwarded = time.perf_counter()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                backwarded = time.perf_counter()
                optimizer.step()
                stepped = time.perf_counter()
                if number >= 2:  # warm-up steps are not counted
                    forward += forwarded - started
                    backward += backwarded - forwarded
                    optimise += stepped - backwarded
                    padded_tokens += inputs.numel()
                    texts += len(batch)
            seconds = forward + backward + optimise
            # the backward pass of the trained LSTM layers costs twice their forward pass
            trained_lstms = max(trained - 1, 0) if trained < len(groups) else size.n_layers
            lstm_share = lstm_flops_per_token(layers[len(layers) - trained_lstms:]) if trained_lstms else 0.0
            flops = padded_tokens * (per_token + 2 * lstm_share)
            results["rows"].append({"batch_size": batch_size, "trained": "all layers" if trained == len(groups)
                                    else "head only", "ms_per_text": 1000 * seconds / texts,
                                    "forward_ms": 1000 * forward / n_steps, "backward_ms": 1000 * backward / n_steps,
                                    "optimiser_ms": 1000 * optimise / n_steps, "gflops": flops / seconds / 1e9})
    return results


def fit_worker(data_home: str, dataset: str, n_train: int, n_eval: int, seed: int, params: dict,
               development: bool) -> dict:
    from sk_ulmfit import ULMFiTClassifier
    from sk_ulmfit._text.tokenizer import tokenize

    X, y, X_eval, y_eval = split(dataset, n_train, n_eval, seed, data_home, development)
    started = time.perf_counter()
    tokenize(X)  # the fit finds them in the cache: tokenising is timed on its own
    tokenising = time.perf_counter() - started
    clf = ULMFiTClassifier(random_state=seed, **params)
    started = time.perf_counter()
    clf.fit(X, y)
    fit = time.perf_counter() - started
    history = [{key: value for key, value in record.items() if key in
                ("direction", "stage", "epoch", "unfreeze", "steps", "batch_size", "seconds")}
               for record in clf.history_]
    return {"tokenise_s": tokenising, "fit_s": fit + tokenising, "history": history,
            "train_tokens": sum(len(t) for t in tokenize(X)), "accuracy": float(clf.score(X_eval, y_eval))}


def grid_worker(data_home: str, n_train: int, seed: int) -> dict:
    import tempfile

    from sklearn.model_selection import GridSearchCV

    from sk_ulmfit import ULMFiTClassifier

    X, y, _, _ = split("trec", n_train, 0, seed, data_home, development=False)
    with tempfile.TemporaryDirectory() as memory:
        search = GridSearchCV(ULMFiTClassifier(memory=memory, random_state=seed),
                              {"schedule": list(SCHEDULES.values())}, cv=3)
        started = time.perf_counter()
        search.fit(X, y)
        seconds = time.perf_counter() - started
    return {"wall_s": seconds, "mean_fit_s": [float(s) for s in search.cv_results_["mean_fit_time"]],
            "cv_accuracy": [float(s) for s in search.cv_results_["mean_test_score"]]}


def direction_worker(data_home: str, direction: str, threads: int, start_at: float) -> dict:
    """One direction's fit with ``threads`` torch threads, started at wall time ``start_at``
    (after imports and a warm-up), so that two processes fit at the same time."""
    import torch

    from sk_ulmfit import ULMFiTClassifier

    torch.set_num_threads(threads)
    X, y, _, _ = split("trec", 800, 0, 0, data_home, development=False)
    clf = ULMFiTClassifier(direction=direction, language_model=None, schedule=(("all", 2, 5e-3),), random_state=0)
    clf.fit(X[:32], y[:32])  # tokeniser, encoder file and kernels warmed up
    time.sleep(max(0.0, start_at - time.time()))
    started = time.perf_counter()
    clf.fit(X, y)
    return {"start": time.time() - (time.perf_counter() - started), "fit_s": time.perf_counter() - started}


WORKERS = {"step": step_worker, "fit": fit_worker, "grid": grid_worker, "direction": direction_worker}


# ------------------------------------------------------------------- the driver
def library_digest(root: Path) -> str:
    digest = hashlib.sha1()
    for path in sorted((root / "sk_ulmfit").rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


CACHED_ONLY = []  # set by --cached-only: measure nothing new


def measure(root: Path, worker: str, *args) -> dict | None:
    """``WORKERS[worker](*args)`` in a fresh interpreter importing sk_ulmfit from ``root``;
    cached by call and library code (``None`` with ``--cached-only`` for what is not)."""
    key = hashlib.sha1(json.dumps([library_digest(root), worker, args], default=str).encode()).hexdigest()[:16]
    cached = CACHE / f"{worker}-{key}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    if CACHED_ONLY:
        return None
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONWARNINGS": "ignore"}
    process = subprocess.run([sys.executable, __file__, "--worker", json.dumps([worker, args])], env=env,
                             capture_output=True, text=True)
    if process.returncode:
        raise RuntimeError(f"{worker}{args} failed with {root}:\n{process.stderr[-3000:]}")
    result = json.loads(process.stdout.strip().splitlines()[-1])
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(result))
    return result


def libraries(args) -> dict[str, Path]:
    this = Path(args.library).resolve() if args.library else THIS_LIBRARY
    return {"before": Path(args.baseline).resolve(), "after": this} if args.baseline else {"this": this}


def part_step(args) -> list[str]:
    lines = ["| library | batch | trained | ms per text | forward / backward / optimiser (ms a step) "
             "| achieved GFLOP/s | of the dense peak |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, root in libraries(args).items():
        result = measure(root, "step", args.data_home, [16, 32, 64], 30)
        for row in [] if result is None else result["rows"]:
            lines.append(f"| {name} | {row['batch_size']} | {row['trained']} | {row['ms_per_text']:.2f} | "
                         f"{row['forward_ms']:.1f} / {row['backward_ms']:.1f} / {row['optimiser_ms']:.1f} | "
                         f"{row['gflops']:.0f} | {row['gflops'] / result['peak_gflops']:.0%} |")
            print(lines[-1], flush=True)
    # bfloat16 autocast, this library only: does the CPU's native bfloat16 pay for training?
    bfloat16 = measure(list(libraries(args).values())[-1], "step", args.data_home, [16, 64], 30, "bfloat16")
    for row in [] if bfloat16 is None else bfloat16["rows"]:
        lines.append(f"| {list(libraries(args))[-1]}, bfloat16 autocast | {row['batch_size']} | {row['trained']} | "
                     f"{row['ms_per_text']:.2f} | {row['forward_ms']:.1f} / {row['backward_ms']:.1f} / "
                     f"{row['optimiser_ms']:.1f} | {row['gflops']:.0f} | {row['gflops'] / bfloat16['peak_gflops']:.0%} |")
        print(lines[-1], flush=True)
    if result is not None:
        lines.append("")
        lines.append(f"Dense float32 peak of this machine (4096² matrix product, {result['threads']} threads): "
                     f"{result['peak_gflops']:.0f} GFLOP/s.")
    return lines


FITS = [("trec", 5452, 500), ("ag_news", 1000, 1000), ("imdb", 1000, 1000), ("ag_news", 7000, 600)]


def _phases(result: dict) -> str:
    history = result["history"]
    cells = []
    for direction in dict.fromkeys(record["direction"] for record in history):
        records = [record for record in history if record["direction"] == direction]
        stages = {}
        for record in records:
            stages[record["stage"]] = stages.get(record["stage"], 0.0) + record["seconds"]
        cells.append(f"{direction[:3]}: " + " + ".join(f"{seconds:.0f}" for seconds in stages.values()))
    training = sum(record["seconds"] for record in history)
    stage2 = result["fit_s"] - result["tokenise_s"] - training
    return f"{result['tokenise_s']:.0f} s | {stage2:.0f} s | " + "; ".join(cells)


def part_fits(args) -> list[str]:
    lines = ["| data (train / test) | library | batch | fit time | tokenise | stage 2 and set-up "
             "| training per stage (s) | test accuracy |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for dataset, n_train, n_test in FITS:
        if args.fits and f"{dataset}:{n_train}" not in args.fits:
            continue
        for name, root in libraries(args).items():
            result = measure(root, "fit", args.data_home, dataset, n_train, n_test, args.seed, {}, False)
            if result is None:
                continue
            batch = result["history"][0].get("batch_size", 16)
            lines.append(f"| {dataset} {n_train:,} / {n_test:,} | {name} | {batch} | {result['fit_s']:.0f} s | "
                         f"{_phases(result)} | {result['accuracy']:.1%} |")
            print(lines[-1], flush=True)
    return lines


def part_grid(args) -> list[str]:
    lines = ["| library | wall time | mean fit time per candidate (s) | mean CV accuracy per candidate |",
             "| --- | --- | --- | --- |"]
    for name, root in libraries(args).items():
        result = measure(root, "grid", args.data_home, 1000, args.seed)
        if result is None:
            continue
        lines.append(f"| {name} | {result['wall_s']:.0f} s | " + ", ".join(f"{s:.0f}" for s in result["mean_fit_s"])
                     + " | " + ", ".join(f"{a:.1%}" for a in result["cv_accuracy"]) + " |")
        print(lines[-1], flush=True)
    lines.append("")
    lines.append("Candidates, in order: " + "; ".join(f"`{name}`" for name in SCHEDULES) + ".")
    return lines


def development_fits(root: Path, args, dataset: str, n_train: int, n_dev: int, params: dict) -> list[dict]:
    """One fit with ``params`` per seed of ``--seeds`` on a development split (the measured ones)."""
    results = [measure(root, "fit", args.data_home, dataset, n_train, n_dev, seed, params, True)
               for seed in args.seeds]
    return [result for result in results if result is not None]


def seeds_cells(results: list[dict]) -> str:
    """The table cells: seeds, mean development accuracy (per seed), mean fit time."""
    accuracy = [r["accuracy"] for r in results]
    return (f"{len(results)} | {np.mean(accuracy):.1%} ({', '.join(f'{a:.1%}' for a in accuracy)}) | "
            f"{np.mean([r['fit_s'] for r in results]):.0f} s |")


# (batch size, rate factor): the factor multiplies every stage's rate of "ulmfit"
ACCURACY = [("trec", 4452, 1000, [(16, 1.0), (40, 1.0), (64, 1.0), (40, 1.58)]),
            ("ag_news", 7000, 600, [(16, 1.0), (56, 1.0), (56, 1.87)])]


def scaled_ulmfit(factor: float):
    from sk_ulmfit._train.schedule import ULMFIT_SCHEDULE

    return [(unfreeze, epochs, lr * factor) for unfreeze, epochs, lr in ULMFIT_SCHEDULE]


def part_accuracy(args) -> list[str]:
    lines = ["| development split (train / dev) | batch | rates | seeds | dev accuracy, mean (per seed) "
             "| fit time, mean |", "| --- | --- | --- | --- | --- | --- |"]
    root = Path(args.library or THIS_LIBRARY).resolve()
    for dataset, n_train, n_dev, candidates in ACCURACY:
        for batch_size, factor in candidates:
            params = {"direction": "forward", "batch_size": batch_size}
            if factor != 1.0:
                params["schedule"] = scaled_ulmfit(factor)
            results = development_fits(root, args, dataset, n_train, n_dev, params)
            if not results:
                continue
            lines.append(f"| {dataset} {n_train:,} / {n_dev:,} | {batch_size} | ×{factor:g} | {seeds_cells(results)}")
            print(lines[-1], flush=True)
    return lines


# the last stage's epochs of "ulmfit" (its other stages unchanged), per development split
LAST_EPOCHS = [("imdb", 1000, 1000, [8, 4, 2]), ("ag_news", 7000, 600, [3, 8])]


def last_stage(epochs: int):
    from sk_ulmfit._train.schedule import ULMFIT_SCHEDULE

    *stages, (unfreeze, _, lr) = ULMFIT_SCHEDULE
    return [*stages, (unfreeze, epochs, lr)]


def part_epochs(args) -> list[str]:
    lines = ["| development split (train / dev) | batch | last stage | tokens a last-stage epoch | seeds "
             "| dev accuracy, mean (per seed) | fit time, mean |", "| --- | --- | --- | --- | --- | --- | --- |"]
    root = Path(args.library or THIS_LIBRARY).resolve()
    for dataset, n_train, n_dev, candidates in LAST_EPOCHS:
        if args.fits and f"{dataset}:{n_train}" not in args.fits:
            continue
        for epochs in candidates:
            params = {"direction": "forward", "schedule": last_stage(epochs)}
            results = development_fits(root, args, dataset, n_train, n_dev, params)
            if not results:
                continue
            lines.append(f"| {dataset} {n_train:,} / {n_dev:,} | {results[0]['history'][0]['batch_size']} | "
                         f"all, {epochs} epochs | {results[0].get('train_tokens', 0):,} | {seeds_cells(results)}")
            print(lines[-1], flush=True)
    return lines


# the development splits the encoders are compared on
ENCODER_SPLITS = [("imdb", 1000, 1000)]


def part_encoders(args) -> list[str]:
    lines = ["| development split (train / dev) | encoder | seeds | dev accuracy, mean (per seed) | fit time, mean |",
             "| --- | --- | --- | --- | --- |"]
    root = Path(args.library or THIS_LIBRARY).resolve()
    for dataset, n_train, n_dev in ENCODER_SPLITS:
        for encoder in args.encoders:
            # "ulmfit" written out as its stages: the same cells as the epochs part's 8-epoch row
            params = {"direction": "forward", "schedule": last_stage(8)}
            if encoder != "english":
                params["pretrained"] = str(Path(encoder).resolve())
            results = development_fits(root, args, dataset, n_train, n_dev, params)
            if results:
                lines.append(f"| {dataset} {n_train:,} / {n_dev:,} | {Path(encoder).stem} | {seeds_cells(results)}")
                print(lines[-1], flush=True)
    return lines


def run_worker(root: Path, worker: str, *args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, __file__, "--worker", json.dumps([worker, args])], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def worker_result(process: subprocess.Popen) -> dict:
    out, err = process.communicate()
    if process.returncode:
        raise RuntimeError(f"worker failed:\n{err[-3000:]}")
    return json.loads(out.strip().splitlines()[-1])


def part_threads(args) -> list[str]:
    import torch

    root = Path(args.library or THIS_LIBRARY).resolve()
    threads = torch.get_num_threads()
    # one after the other, every core each (what fit does)
    one_by_one = [worker_result(run_worker(root, "direction", args.data_home, direction, threads, 0.0))["fit_s"]
                  for direction in ("forward", "backward")]
    # both at once, one thread each, started together once both have warmed up
    start_at = time.time() + 60
    processes = [run_worker(root, "direction", args.data_home, direction, max(1, threads // 2), start_at)
                 for direction in ("forward", "backward")]
    together = [worker_result(process) for process in processes]
    wall = max(r["start"] + r["fit_s"] for r in together) - min(r["start"] for r in together)
    lines = ["| how the two directions run | forward | backward | both directions, wall time |",
             "| --- | --- | --- | --- |",
             f"| one after the other, {threads} threads | {one_by_one[0]:.1f} s | {one_by_one[1]:.1f} s "
             f"| {sum(one_by_one):.1f} s |",
             f"| at once, two processes of {max(1, threads // 2)} thread | {together[0]['fit_s']:.1f} s "
             f"| {together[1]['fit_s']:.1f} s | {wall:.1f} s |"]
    print("\n".join(lines), flush=True)
    return lines


PARTS = {"step": part_step, "fits": part_fits, "grid": part_grid, "accuracy": part_accuracy,
         "epochs": part_epochs, "encoders": part_encoders, "threads": part_threads}
HEADINGS = {"step": "## Fit time: one training step", "fits": "## Fit time: default fits, phase by phase",
            "grid": "## Fit time: a grid search over schedules", "accuracy": "## Fit time: batch size, accuracy and time",
            "epochs": "## Fit time: the last stage's length, accuracy and time",
            "encoders": "## Fit time: the general encoder, development accuracy",
            "threads": "## Fit time: the two directions in parallel processes"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data-home")
    parser.add_argument("--parts", nargs="+", default=list(PARTS), choices=list(PARTS))
    parser.add_argument("--baseline", help="another sk_ulmfit checkout to measure side by side")
    parser.add_argument("--library", help="the checkout measured as 'after' (default: this one)")
    parser.add_argument("--fits", nargs="+", help="rows of the fits part, as dataset:n_train (default: all)")
    parser.add_argument("--encoders", nargs="+", default=["english"],
                        help="pretrained encoders of the encoders part: 'english' or language-model files")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="seeds of the accuracy part")
    parser.add_argument("--cached-only", action="store_true", help="report what is measured, measure nothing")
    parser.add_argument("--write", action="store_true", help="put the tables in benchmarks/RESULTS.md")
    args = parser.parse_args()
    if args.data_home:  # the cache's key names the folder, however it was typed
        args.data_home = str(Path(args.data_home).resolve())
    if args.cached_only:
        CACHED_ONLY.append(True)
    if args.worker:
        name, call = json.loads(args.worker)
        print(json.dumps(WORKERS[name](*call)))
        return
    sys.path.insert(0, str(HERE))
    from common import machine, report

    for part in args.parts:
        lines = PARTS[part](args)
        intro = (f"`python benchmarks/fit_time.py --parts {part}` (seed {args.seed}"
                 + (f", seeds {args.seeds}" if part in ("accuracy", "epochs", "encoders") else "") + "), each cell in a fresh process, one "
                 f"after another. Machine: {machine()}.")
        report(HEADINGS[part], intro, lines, args.write)


if __name__ == "__main__":
    main()
