"""The paper's semi-supervised setup: few IMDb labels, stage 2 on the unlabelled reviews.

IMDb's 50,000 unlabelled reviews (``{data_home}/imdb_unsup/``) fine-tune the pretrained
language model (stage 2, ``ULMFiTLanguageModel``); the classifier then starts from that
model with ``language_model=None``. The unlabelled reviews that copy a labelled *test* review
word for word are left out. Rows: ULMFiT after stage 2, ULMFiT without stage 2 and the
three TF-IDF baselines of ``targets.py`` on the same labelled subset; test on a stratified subset of
the test reviews. The stage-2 model is kept in ``benchmarks/out/`` and reused; an
interrupted stage 2 resumes from its last completed epoch. ``--direction both`` fine-tunes
the backward model too, and the classifiers read both ways
(``pretrained={"forward": ..., "backward": ...}``); ``--direction backward`` only the
backward one. The stage-2 files depend on the unlabelled reviews and the seed, not on
``--labelled``, so other label counts reuse them (``--skip-no-stage2`` leaves out the
slow row without stage 2). The fitted ULMFiT classifiers are kept in ``benchmarks/out/`` too
(named by their parameters, the labelled count and the seed), so a run with more ``--test``
reviews only predicts; the fit time shown is the kept fit's.

``--stage2 pretrain`` runs stage 2 with the pretraining command instead
(``pretrain_language_model(start_from=model)``, one file of the kept reviews written to
``benchmarks/out/``): checkpoints every five minutes, and ``--time-budget`` stops it there; the
same command resumes it exactly and runs the classifiers once stage 2 is complete. ``--passes 2``
runs the command a second time, from the first pass's model, over the same reviews in another
order (the first pass's file is reused).

    python benchmarks/semi_supervised.py --data-home ../shared/data --labelled 1000 --unlabelled 50000
    python benchmarks/semi_supervised.py --stage2 pretrain --direction both --time-budget 2h
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from baselines import NBSVMClassifier, tfidf_linear_svm, tfidf_logistic_regression
from common import machine, model_version, report
from sklearn.model_selection import train_test_split

from sk_ulmfit import ULMFiTClassifier, ULMFiTLanguageModel
from sk_ulmfit._estimators.classifier import DIRECTION_SETS
from sk_ulmfit.datasets import fetch_imdb, get_data_home
from sk_ulmfit.pretrain import parse_duration, pretrain_language_model
from sk_ulmfit.pretrain._corpus import iter_documents

OUT = Path(__file__).with_name("out")


def split(data_home, n_labelled: int, n_test: int, seed: int):
    """``(X_train, y_train, X_test, y_test)``: stratified subsets of IMDb's train and test parts."""
    X, y = fetch_imdb("train", data_home=data_home, return_X_y=True)
    X_test, y_test = fetch_imdb("test", data_home=data_home, return_X_y=True)
    labelled, _ = train_test_split(np.arange(len(X)), train_size=n_labelled, stratify=y, random_state=seed)
    tested, _ = train_test_split(np.arange(len(X_test)), train_size=n_test, stratify=y_test, random_state=seed)
    y, y_test = np.asarray(y), np.asarray(y_test)
    return [X[i] for i in labelled], y[labelled], [X_test[i] for i in tested], y_test[tested]


def unlabelled_reviews(data_home, n: int, seed: int) -> tuple[list[str], int]:
    """``n`` unlabelled reviews (random, seeded) that are not copies of a labelled test review,
    and how many copies were left out of the whole file."""
    test = set(fetch_imdb("test", data_home=data_home, return_X_y=True)[0])
    path = get_data_home(data_home) / "imdb_unsup" / "imdb-unsup-00.jsonl.xz"
    reviews = [text for _, text in iter_documents(path)]
    kept = [text for text in reviews if text not in test]
    order = np.random.default_rng(seed).permutation(len(kept))[:n]
    return [kept[i] for i in sorted(order)], len(reviews) - len(kept)


def stage2_model(model: str, direction: str, texts: list[str], epochs: int, seed: int, path: Path) -> float:
    """Fine-tune ``model``'s ``direction`` on ``texts`` into ``path`` (kept and reused); returns the seconds.

    A fit that is interrupted resumes from its last completed epoch (``checkpoint_dir``).
    """
    if path.is_file():
        return float(path.with_suffix(".seconds").read_text())
    started = time.perf_counter()
    language_model = ULMFiTLanguageModel(pretrained=model, direction=direction, epochs=epochs, drop_mult=0.3,
                                         random_state=seed, n_jobs=-1, verbose=1,
                                         checkpoint_dir=path.with_suffix(".checkpoints")).fit(texts)
    seconds = time.perf_counter() - started
    path.parent.mkdir(parents=True, exist_ok=True)
    language_model.save(path)
    path.with_suffix(".seconds").write_text(f"{seconds:.1f}\n")
    return seconds


def pretrained_stage2(model: str, direction: str, texts: list[str], epochs: int, seed: int, path: Path,
                      time_budget: float | None, order_seed: int) -> float | None:
    """Stage 2 as ``pretrain_language_model(start_from=model)`` into ``path``: returns its
    training seconds, or ``None`` while the run is incomplete (the same call resumes it).

    ``model`` is a shipped name or the file of an earlier pass. ``seed`` is the one that drew
    ``texts``: it names their corpus file, whose name decides which reviews are held back,
    so every pass holds back the same ones. ``order_seed`` orders the training reviews.
    """
    metadata = path.with_suffix(".json")
    if metadata.is_file():
        record = json.loads(metadata.read_text())
        if record["complete"]:
            return record["train_seconds"]
    corpus = OUT / f"imdb_unsup_{len(texts)}_seed{seed}.jsonl"
    if not corpus.is_file():
        OUT.mkdir(parents=True, exist_ok=True)
        corpus.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts)),
                          encoding="utf-8")
    pretrain_language_model([corpus], path, checkpoint_dir=path.with_suffix(".run"), cache_dir=OUT / "token-cache",
                            resume=True, time_budget=time_budget, n_jobs=-1, start_from=model, direction=direction,
                            epochs=epochs, lr=2e-3, drop_mult=0.3, max_vocab=60000, seed=order_seed)
    record = json.loads(metadata.read_text())
    return record["train_seconds"] if record["complete"] else None


def fitted(estimator, path: Path | None, X, y) -> tuple[object, float]:
    """``estimator`` fitted on ``(X, y)`` and the seconds the fit took; kept in ``path`` (a ULMFiT
    classifier's file) and loaded from there by later runs, which then only predict."""
    if path is not None and path.is_file():
        return ULMFiTClassifier.load(path), float(path.with_suffix(".seconds").read_text())
    started = time.perf_counter()
    estimator.fit(X, y)
    seconds = time.perf_counter() - started
    if path is not None:  # the time first: the model file (written atomically) is what marks the fit kept
        path.with_suffix(".seconds").write_text(f"{seconds:.1f}\n")
        estimator.save(path)
    return estimator, seconds


def classifier_file(estimator: ULMFiTClassifier, n_labelled: int, seed: int) -> Path:
    """Where a ULMFiT classifier fitted on the ``n_labelled`` reviews drawn with ``seed`` is kept:
    named by its parameters (``pretrained`` names the stage-2 files) and the draw."""
    key = repr((sorted(estimator.get_params().items()), n_labelled, seed))
    return OUT / f"imdb_classifier_{n_labelled}_seed{seed}_{hashlib.sha1(key.encode()).hexdigest()[:10]}.skl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--model", default="english")
    parser.add_argument("--labelled", type=int, default=1000)
    parser.add_argument("--unlabelled", type=int, default=50000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--lm-epochs", type=int, default=1)
    parser.add_argument("--direction", choices=list(DIRECTION_SETS), default="forward",
                        help="the classifiers' reading directions; 'backward' and 'both' fine-tune a backward model")
    parser.add_argument("--stage2", choices=["estimator", "pretrain"], default="estimator",
                        help="stage 2 by ULMFiTLanguageModel.fit, or by the pretraining command (start_from)")
    parser.add_argument("--time-budget", type=parse_duration,
                        help="with --stage2 pretrain: stop stage 2 after this long (run again to resume)")
    parser.add_argument("--passes", type=int, default=1,
                        help="with --stage2 pretrain: run the command this many times, each from the last "
                             "one's model (another document order each time)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-no-stage2", action="store_true",
                        help="leave out the row without stage 2 (another classifier fit: minutes to half an hour)")
    parser.add_argument("--write", action="store_true", help="write the table into RESULTS.md")
    args = parser.parse_args()
    if args.passes < 1 or (args.passes > 1 and args.stage2 != "pretrain"):
        parser.error("--passes takes 1 or more, and more than 1 only with --stage2 pretrain")
    X_train, y_train, X_test, y_test = split(args.data_home, args.labelled, args.test, args.seed)
    unlabelled, left_out = unlabelled_reviews(args.data_home, args.unlabelled, args.seed)
    stage2, stage2_seconds = {}, 0.0
    deadline = None if args.time_budget is None else time.monotonic() + args.time_budget
    for direction in DIRECTION_SETS[args.direction]:
        version = hashlib.sha1(model_version(args.model, direction).encode()).hexdigest()[:8]  # a new file: a new run
        kind = "stage2" if args.stage2 == "estimator" else "stage2p"
        path = OUT / (f"imdb_{kind}_{Path(args.model).stem}-{version}_{len(unlabelled)}_{args.lm_epochs}ep"
                      f"_seed{args.seed}{'' if direction == 'forward' else '_bwd'}.pt")
        if args.stage2 == "estimator":
            stage2_seconds += stage2_model(args.model, direction, unlabelled, args.lm_epochs, args.seed, path)
        else:
            start_from = args.model
            for number in range(1, args.passes + 1):  # pass 1 keeps the name it has always had
                done = path if number == 1 else path.with_name(f"{path.stem}_pass{number}.pt")
                budget = None if deadline is None else max(0.0, deadline - time.monotonic())
                seconds = pretrained_stage2(start_from, direction, unlabelled, args.lm_epochs, args.seed, done,
                                            budget, order_seed=args.seed + number - 1)
                if seconds is None:
                    sys.exit(f"stage 2 ({direction}, pass {number}) is not complete: run the same command "
                             "again to resume it")
                stage2_seconds += seconds
                start_from = str(done)
            path = done
        stage2[direction] = str(path)

    reading = {"forward": "", "backward": ", backward", "both": ", both directions"}[args.direction]
    by = "" if args.stage2 == "estimator" else " by the pretraining command"
    passes = f"{args.passes} passes of " if args.passes > 1 else ""  # more than one: --stage2 pretrain
    rows = [(f"ULMFiT ({args.model}{reading}) + stage 2{by} on {len(unlabelled):,} unlabelled reviews "
             f"({passes}{args.lm_epochs} epoch{'s' if args.lm_epochs > 1 else ''})",
             ULMFiTClassifier(pretrained=stage2, direction=args.direction, language_model=None,
                              random_state=args.seed), stage2_seconds),
            *([] if args.skip_no_stage2 else [
                (f"ULMFiT ({args.model}{reading}), no stage 2",
                 ULMFiTClassifier(pretrained=args.model, direction=args.direction, language_model=None,
                                  random_state=args.seed), 0.0)]),
            ("TF-IDF + logistic regression", tfidf_logistic_regression(), 0.0),
            ("TF-IDF + linear SVM", tfidf_linear_svm(), 0.0),
            ("NB-SVM", NBSVMClassifier(), 0.0)]
    lines = ["| model | accuracy | stage 2 time | classifier fit time |", "| --- | --- | --- | --- |"]
    for name, estimator, seconds in rows:
        kept = classifier_file(estimator, args.labelled, args.seed) if isinstance(estimator, ULMFiTClassifier) else None
        estimator, fit_seconds = fitted(estimator, kept, X_train, y_train)
        accuracy = float(np.mean(estimator.predict(X_test) == y_test))
        lines.append(f"| {name} | {accuracy:.1%} | {seconds:.0f} s | {fit_seconds:.0f} s |")
        print(lines[-1], flush=True)
    report("## Semi-supervised: IMDb with few labels and stage 2 on unlabelled reviews",
           f"`python benchmarks/semi_supervised.py --labelled {args.labelled} --unlabelled {args.unlabelled} "
           f"--test {args.test} --model {args.model} --direction {args.direction} --stage2 {args.stage2}"
           f"{f' --passes {args.passes}' if args.passes > 1 else ''}`: IMDb, "
           f"{args.labelled:,} labelled training reviews "
           f"(stratified), {args.test:,} test reviews (stratified); stage 2 on {len(unlabelled):,} of the "
           f"unlabelled reviews ({left_out} copies of test reviews left out of the file first). Defaults "
           f"otherwise; seed {args.seed}. Machine: {machine()}.", lines, args.write)


if __name__ == "__main__":
    main()
