"""The same numbers from two checkouts of the library: a check for changes that must not
change what a fit computes (moving code, renaming, sharing one loop).

    PYTHONPATH=../before python benchmarks/same_numbers.py --data-home ../shared/data --output before.npz
    PYTHONPATH=.         python benchmarks/same_numbers.py --data-home ../shared/data --output after.npz
    python benchmarks/same_numbers.py --compare before.npz after.npz

Each case fits a tiny model on real text with one thread and a fixed seed and keeps what
it predicts: a classifier from a pretrained language model with stage 2 and a validation
split, one from random weights, a transfer to a new class, a multi-label one, a fit
interrupted after its third optimiser step and resumed from its checkpoint, the language
model itself, and the first steps of ``sk_ulmfit.pretrain``. ``--compare`` says, case by
case, whether the arrays are bit-identical.
"""

from __future__ import annotations

import argparse
import itertools
import json
import lzma
import sys
import tempfile
from pathlib import Path

import numpy as np

TINY = {"emb_size": 16, "hidden_size": 32, "n_layers": 2, "batch_size": 32, "min_freq": 1,
        "direction": "forward", "random_state": 0}
SCHEDULE = ((1, 1, 2e-2), ("all", 2, 1e-2))


def trec(data_home: Path):
    from sk_ulmfit.datasets import fetch_trec

    X, y = fetch_trec("train", data_home=data_home, return_X_y=True)
    X_test, _ = fetch_trec("test", data_home=data_home, return_X_y=True)
    return list(X[:300]), np.asarray(y[:300]), list(X_test[:100])


def wiki(data_home: Path, n: int) -> list[str]:
    with lzma.open(data_home / "pretrain" / "enwiki2014-00.jsonl.xz", "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in itertools.islice(f, n)]


class Interrupted(Exception):
    pass


def interrupt_after(steps: int):
    """Make ``torch.optim.AdamW.step`` raise after ``steps`` calls; returns the undo."""
    import torch

    original = torch.optim.AdamW.step
    calls = {"n": 0}

    def step(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] > steps:
            raise Interrupted
        return original(self, *args, **kwargs)

    torch.optim.AdamW.step = step
    return lambda: setattr(torch.optim.AdamW, "step", original)


def cases(data_home: Path) -> dict[str, np.ndarray]:
    import torch

    from sk_ulmfit import ULMFiTClassifier, ULMFiTLanguageModel
    from sk_ulmfit.pretrain import pretrain_language_model

    torch.set_num_threads(1)
    X, y, X_test = trec(data_home)
    out = {}
    lm = ULMFiTLanguageModel(emb_size=16, hidden_size=32, n_layers=2, batch_size=16, min_freq=2, epochs=1,
                             lr=1e-2, random_state=0).fit(wiki(data_home, 20))
    out["language_model_perplexity"] = np.array([lm.perplexity(X_test)])
    sized = {k: v for k, v in TINY.items() if k not in ("emb_size", "hidden_size", "n_layers")}
    staged = ULMFiTClassifier(**sized, pretrained=lm, language_model=ULMFiTLanguageModel(epochs=1, random_state=0),
                              validation_fraction=0.2, schedule=SCHEDULE).fit(X, y)
    out["pretrained_stage2_validation"] = staged.predict_proba(X_test)
    scratch = ULMFiTClassifier(**TINY, pretrained=None, schedule=SCHEDULE).fit(X, y)
    out["from_scratch"] = scratch.predict_proba(X_test)
    out["from_scratch_features"] = scratch.transform(X_test[:20])
    both = ULMFiTClassifier(**{**TINY, "direction": "both"}, pretrained=None, schedule=SCHEDULE).fit(X, y)
    out["both_directions"] = both.predict_proba(X_test)
    extra = np.where(np.arange(len(y)) % 7 == 0, "NEW", y)
    transfer = ULMFiTClassifier(**sized, pretrained=scratch, schedule=SCHEDULE).fit(X, extra)
    out["transfer_extra_class"] = transfer.predict_proba(X_test)
    classes = sorted(set(y))
    Y = np.stack([(y == classes[0]) | (y == classes[1]), (y == classes[1]) | (y == classes[2])], 1).astype(int)
    out["multilabel"] = ULMFiTClassifier(**TINY, pretrained=None, schedule=SCHEDULE).fit(X, Y).predict_proba(X_test)
    with tempfile.TemporaryDirectory() as folder:
        undo = interrupt_after(3 + len(X) // TINY["batch_size"])  # inside the second stage
        try:
            ULMFiTClassifier(**TINY, pretrained=None, schedule=SCHEDULE, checkpoint_dir=folder).fit(X, y)
        except Interrupted:
            if not any(Path(folder).iterdir()):
                raise RuntimeError("the interrupted fit left no checkpoint to resume from") from None
        else:
            raise RuntimeError("the fit ended before the interruption: interrupt it earlier")
        finally:
            undo()
        resumed = ULMFiTClassifier(**TINY, pretrained=None, schedule=SCHEDULE, checkpoint_dir=folder).fit(X, y)
        out["resumed"] = resumed.predict_proba(X_test)
        corpus = Path(folder) / "wiki-00.jsonl"
        corpus.write_text("".join(json.dumps({"text": t}) + "\n" for t in wiki(data_home, 40)), encoding="utf-8")
        pretrained = pretrain_language_model(
            [corpus], Path(folder) / "lm.pt", checkpoint_dir=Path(folder) / "run", cache_dir=Path(folder) / "cache",
            verbose=0, precision="float32", emb_size=16, hidden_size=32, n_layers=2, batch_size=8, bptt=16,
            max_vocab=2000, min_freq=1, valid_permille=100, n_sampled=200, lr=5e-3, max_tokens=3000, seed=0)
        out["pretrain_first_steps"] = np.array([pretrained.perplexity(X_test)])
        out["pretrain_embedding"] = pretrained.model_.state_dict()["0.encoder.weight"].numpy()
    return out


def compare(before: Path, after: Path) -> int:
    a, b = np.load(before), np.load(after)
    failures = 0
    for name in sorted(set(a.files) | set(b.files)):
        if name not in a.files or name not in b.files:
            print(f"{name}: only in {'after' if name in b.files else 'before'}")
            failures += 1
            continue
        same = a[name].shape == b[name].shape and np.array_equal(a[name], b[name])
        detail = "" if same else f" (largest difference {np.abs(a[name] - b[name]).max():.3g})"
        print(f"{name}: {'bit-identical' if same else 'DIFFERENT'}{detail}")
        failures += not same
    return failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home")
    parser.add_argument("--output", help="the .npz to write")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = parser.parse_args()
    if args.compare:
        sys.exit(1 if compare(*map(Path, args.compare)) else 0)
    import sk_ulmfit

    print(f"library: {Path(sk_ulmfit.__file__).parent}", flush=True)
    np.savez(args.output, **cases(Path(args.data_home)))


if __name__ == "__main__":
    main()
