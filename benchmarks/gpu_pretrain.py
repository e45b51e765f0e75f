"""Pretraining on a borrowed GPU: pack a slice of the token-id cache here, train there.

A GPU machine lent for a few minutes cannot see ``../shared`` and takes at most 64 MiB of
files, so the corpus travels as token ids, not text:

1. ``pack`` (here, on the CPU, where the corpus was tokenised once by
   ``python -m sk_ulmfit.pretrain``): reads the token-id cache, keeps the vocabulary of a
   previous run, takes whole training documents in a seeded random order (all sources in
   their corpus proportions) up to ``--tokens``, and writes them with the held-back
   validation documents as xz-compressed ``uint16`` arrays.

2. ``train`` (on the GPU): unpacks them into a corpus the pretraining loop of
   ``sk_ulmfit.pretrain`` reads exactly as it reads the cache (same ``_Run``: mixed
   precision, sampled softmax, weight averaging, slanted triangular rates; same
   ``_Exporter``: the file and metadata the package ships). It first times a few seconds of
   training, then sets the schedule's length so that it ends at ``--minutes``.

3. To continue a trained pair rather than start afresh: ``pack-init`` stores its weights as
   the package's int8 files (``save(precision="int8")``: half the float16 file, leaving more
   of the 64 MiB for fresh text), ``pack --skip-tokens`` leaves out the documents an earlier
   pack of the same seed took, and ``train --init`` starts a new schedule from those weights
   (``tokens_seen`` and the history continue; the metadata records what came before under
   ``continued_from``).

    python benchmarks/gpu_pretrain.py pack --data-home ../shared/data --cache runs/token-cache \\
        --vocab-from runs/english_fwd.pt --tokens 45M --out .gpu/slice
    python benchmarks/gpu_pretrain.py train --slice .gpu/slice --direction forward \\
        --minutes 7 --out $OUT/fwd
    python benchmarks/gpu_pretrain.py pack-init sk_ulmfit/pretrained_models/english_{fwd,bwd}.pt --out .gpu/init

4. A new model of another size (not ``--init``): ``train --emb-size 400 --hidden-size 1152``, the
   paper's size. With the 30,008-token vocabulary it is 65.1 MB per direction in float16;
   ``train --precision int8`` exports it at about a quarter of float32 (int8 rows, a scale
   each; the package reads such files), and ``pack --max-vocab 20000`` packs the slice with
   the 20,000 most frequent tokens only (the rest xxunk), so that a pair fits the wheel's
   60 MB:

    python benchmarks/gpu_pretrain.py pack ... --max-vocab 20000 --out .gpu/slice20k
    python benchmarks/gpu_pretrain.py train --slice .gpu/slice20k --emb-size 400 --hidden-size 1152 \
        --precision int8 ...
"""

from __future__ import annotations

import argparse
import json
import lzma
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from sk_ulmfit._io.persistence import (
    STORAGE_PRECISIONS,
    language_model_payload,
    read_language_model,
    write_payload,
)
from sk_ulmfit._text.tokenizer import Vocabulary
from sk_ulmfit.pretrain import Recipe, parse_count
from sk_ulmfit.pretrain._corpus import Corpus, TokenCache
from sk_ulmfit.pretrain._run import _Exporter, _print_flushed, _Run

SOURCES = ("enwiki2014", "wikinews", "gutenberg")
SHORT = {"forward": "fwd", "backward": "bwd"}


@dataclass
class _Name:
    name: str


class ArrayCorpus:
    """The slice as a corpus: the methods of ``sk_ulmfit.pretrain._corpus.Corpus`` that ``_Run`` uses."""

    def __init__(self, vocab, train, lengths, doc_source, valid, describe):
        self.vocab, self.train, self.lengths, self.doc_source = vocab, train, lengths, doc_source
        self.valid, self._describe = valid, describe
        self.starts = np.concatenate([[0], np.cumsum(lengths)])
        self.shards = [_Name(f"{s}-slice") for s in describe]

    def training_stream(self, seed: int, epoch: int) -> np.ndarray:
        order = np.random.default_rng([seed, epoch]).permutation(len(self.lengths))
        return np.concatenate([self.train[self.starts[d]:self.starts[d + 1]] for d in order]).astype(np.int64)

    def validation_streams(self, max_tokens: int) -> dict[str, np.ndarray]:
        return {source: stream[:max_tokens].astype(np.int64) for source, stream in self.valid.items()}

    def token_counts(self) -> np.ndarray:
        return np.bincount(self.train, minlength=len(self.vocab))

    def describe(self) -> dict:
        return self._describe


def _write_xz(path: Path, array: np.ndarray) -> None:
    with lzma.open(path, "wb", preset=9 | lzma.PRESET_EXTREME) as f:
        f.write(np.ascontiguousarray(array).tobytes())


def _read_xz(path: Path, dtype) -> np.ndarray:
    with lzma.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=dtype)


def pack(args) -> None:
    saved = read_language_model(args.vocab_from)
    vocab = Vocabulary(saved.itos)
    assert len(vocab) < 2 ** 16
    # --max-vocab: the first N tokens of that vocabulary (fastai's layout: special tokens, then
    # the most frequent first), the rest packed as xxunk (id 0)
    kept = len(vocab) if args.max_vocab is None else min(len(vocab), -(-args.max_vocab // 8) * 8)
    files = sorted((Path(args.data_home) / "pretrain").glob("*.jsonl.xz"))
    corpus = Corpus.prepare(files, TokenCache(args.cache), min_freq=3, max_vocab=30000, valid_permille=5,
                            vocab=vocab)
    shard_index, doc_index = corpus._documents(held_out=False)
    order = np.random.default_rng(args.seed).permutation(len(doc_index))
    lengths = np.array([int(corpus.shards[s].starts[d + 1] - corpus.shards[s].starts[d])
                        for s, d in zip(shard_index[order], doc_index[order])])
    # --skip-tokens: leave out the documents an earlier pack (same seed) took, for fresh text
    ends = np.cumsum(lengths)
    first = 0 if not args.skip_tokens else int(np.searchsorted(ends, parse_count(args.skip_tokens))) + 1
    taken = ends[first - 1] if first else 0
    keep = order[first: int(np.searchsorted(ends, taken + parse_count(args.tokens))) + 1]
    train = _truncated(corpus._concatenate(shard_index[keep], doc_index[keep]), kept)
    doc_lengths = np.array([int(corpus.shards[s].starts[d + 1] - corpus.shards[s].starts[d])
                            for s, d in zip(shard_index[keep], doc_index[keep])], dtype=np.uint32)
    doc_source = np.array([SOURCES.index(corpus.shards[s].source) for s in shard_index[keep]], dtype=np.uint8)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    _write_xz(out / "train.u16.xz", train)
    np.save(out / "lengths.npy", doc_lengths)
    np.save(out / "doc_source.npy", doc_source)
    for source, stream in corpus.validation_streams(args.valid_tokens).items():
        _write_xz(out / f"valid-{source}.u16.xz", _truncated(stream, kept))
    describe = {}
    for i, source in enumerate(SOURCES):
        mine = doc_source == i
        describe[source] = {"files": [f"{source}-slice"], "documents": int(mine.sum()),
                            "tokens": int(doc_lengths[mine].sum()),
                            "valid_documents": corpus.describe()[source]["valid_documents"],
                            "valid_tokens": corpus.describe()[source]["valid_tokens"]}
    (out / "slice.json").write_text(json.dumps({"itos": vocab.itos[:kept], "describe": describe, "seed": args.seed,
                                                "skipped_documents": first}))
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"packed {len(train) / 1e6:.1f}M tokens in {len(doc_lengths)} documents: {size / 2**20:.1f} MiB; "
          + json.dumps({s: d["tokens"] for s, d in describe.items()}))


def _truncated(ids: np.ndarray, kept: int) -> np.ndarray:
    """Token ids as ``uint16``, those of tokens past the first ``kept`` made xxunk (0)."""
    return np.where(ids < kept, ids, 0).astype(np.uint16)


def pack_init(args) -> None:
    """Trained weights as the package's int8 files (half the float16 size, so more fresh
    text fits in the 64 MiB that travel), their metadata beside them; training there
    continues from them."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for model in args.models:
        model = Path(model)
        saved = read_language_model(model)
        packed = write_payload(out / model.name, language_model_payload(saved, "int8"))
        (out / model.with_suffix(".json").name).write_text(model.with_suffix(".json").read_text())
        error = max(float((weight - saved.weights[name]).abs().max())
                    for name, weight in read_language_model(packed).weights.items())
        print(f"{model.name}: {packed.stat().st_size / 2**20:.1f} MiB, largest weight change {error:.2e}")


def continue_from(run: _Run, path: Path) -> dict:
    """Load exported (e.g. int8) weights into the run's weights and average; the new
    schedule starts afresh, while ``tokens_seen``, time and history continue the earlier
    run's count (from the metadata beside the file)."""
    init = read_language_model(path)
    assert init.itos == list(run.corpus.vocab.itos) and init.direction == run.recipe.direction
    run.model.load_state_dict(init.weights)
    run.average.load_state_dict(run.model.state_dict())
    earlier = json.loads(path.with_suffix(".json").read_text())
    run.tokens_seen, run.train_seconds = earlier["tokens_seen"], earlier["train_seconds"]
    run.history = list(earlier.get("history", []))
    return earlier


def load_slice(folder: Path) -> ArrayCorpus:
    meta = json.loads((folder / "slice.json").read_text())
    valid = {source: _read_xz(folder / f"valid-{source}.u16.xz", np.uint16) for source in SOURCES
             if (folder / f"valid-{source}.u16.xz").exists()}
    return ArrayCorpus(Vocabulary(meta["itos"]), _read_xz(folder / "train.u16.xz", np.uint16),
                       np.load(folder / "lengths.npy").astype(np.int64), np.load(folder / "doc_source.npy"),
                       valid, meta["describe"])


def _sizes(args) -> dict:
    """The model sizes given on the command line (the others: ``Recipe``'s defaults)."""
    return {name: getattr(args, name) for name in ("emb_size", "hidden_size", "n_layers")
            if getattr(args, name) is not None}


def train(args) -> None:
    started = time.monotonic()
    out = Path(args.out)
    (out / "snapshots").mkdir(parents=True, exist_ok=True)
    log_file = open(out / "train.log", "a", encoding="utf-8")

    def log(line: str) -> None:
        _print_flushed(f"[{args.direction}] {line}")
        log_file.write(line + "\n")
        log_file.flush()

    corpus = load_slice(Path(args.slice))
    device = torch.device(args.device)
    recipe = Recipe(direction=args.direction, batch_size=args.batch_size, lr=args.lr, drop_mult=args.drop_mult,
                    epochs=1000, **_sizes(args)).check()
    log(f"slice: {len(corpus.train) / 1e6:.1f}M tokens; {json.dumps(corpus.describe())}; "
        f"{torch.cuda.get_device_name(device) if device.type == 'cuda' else 'cpu'}")
    # Probe the speed with a throwaway run, then size the schedule to end at the deadline.
    probe = _Run(corpus, replace(recipe, max_tokens=10 ** 9), device, log)
    probe_deadline = time.monotonic() + args.probe_seconds
    probe.train(deadline=probe_deadline, every={"checkpoint": 1e9, "eval": 1e9, "log": 5.0},
                snapshot_every=None, save_checkpoint=lambda: None, evaluate_and_export=lambda snapshot=None: None)
    speed = probe.tokens_seen / max(probe.train_seconds, 1e-9)
    del probe
    torch.cuda.empty_cache() if device.type == "cuda" else None
    remaining = args.minutes * 60 - (time.monotonic() - started) - args.reserve_seconds
    max_tokens = int(speed * remaining * 0.93)
    epochs = max(1, math.ceil(max_tokens / len(corpus.train)))
    recipe = replace(recipe, max_tokens=max_tokens, epochs=epochs)
    log(f"probe: {speed:,.0f} tok/s; schedule: {max_tokens / 1e6:.1f}M tokens ({epochs} epochs of the slice) "
        f"in {remaining:.0f} s")
    run = _Run(corpus, recipe, device, log)
    earlier = None
    if args.init:
        earlier = continue_from(run, Path(args.init) / f"english_{SHORT[args.direction]}.pt")
        start = {source: round(math.exp(loss), 2)
                 for source, loss in run.validation_losses(args.valid_tokens)["weights"].items()}
        log(f"continuing from {earlier['tokens_seen'] / 1e6:.1f}M tokens seen: perplexity of the int8 "
            f"weights {json.dumps(start)}, recorded for the packed file {json.dumps(earlier['valid_perplexity'])}")
    exporter = _Exporter(out / f"english_{SHORT[args.direction]}.pt", out, corpus, recipe, args.precision, log)
    deadline = started + args.minutes * 60 - args.reserve_seconds
    run.train(deadline=deadline, every={"checkpoint": 1e9, "eval": args.eval_every, "log": 15.0},
              snapshot_every=args.snapshot_every, save_checkpoint=lambda: None,
              evaluate_and_export=lambda snapshot=None: exporter.export(run, args.valid_tokens, snapshot))
    if earlier is not None:  # the metadata says what the weights saw before this run
        meta_path = out / f"english_{SHORT[args.direction]}.json"
        meta = json.loads(meta_path.read_text())
        meta["continued_from"] = {k: v for k, v in earlier.items() if k != "history"}
        # passes over each slice, summed (the export divided all tokens by this slice's size)
        meta["epochs_seen"] = round(earlier["epochs_seen"] + (meta["tokens_seen"] - earlier["tokens_seen"])
                                    / run.tokens_per_epoch, 3)
        meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    log(f"done in {time.monotonic() - started:.0f} s")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--data-home", required=True)
    p.add_argument("--cache", required=True)
    p.add_argument("--vocab-from", required=True)
    p.add_argument("--tokens", default="45M")
    p.add_argument("--valid-tokens", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--skip-tokens", default=None, help="leave out what an earlier pack of this seed took")
    p.add_argument("--max-vocab", type=parse_count, default=None,
                   help="keep the first N tokens of --vocab-from's vocabulary (a multiple of 8), the rest xxunk")
    p.add_argument("--out", required=True)
    q = sub.add_parser("pack-init")
    q.add_argument("models", nargs="+", help="exported language models (their .json beside them)")
    q.add_argument("--out", required=True)
    t = sub.add_parser("train")
    t.add_argument("--slice", required=True)
    t.add_argument("--direction", choices=("forward", "backward"), required=True)
    t.add_argument("--minutes", type=float, required=True)
    t.add_argument("--reserve-seconds", type=float, default=40.0, help="kept for the final export")
    t.add_argument("--probe-seconds", type=float, default=20.0)
    t.add_argument("--batch-size", type=int, default=128)
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--drop-mult", type=float, default=0.1)
    t.add_argument("--eval-every", type=float, default=120.0)
    t.add_argument("--snapshot-every", type=parse_count, default=None)
    t.add_argument("--valid-tokens", type=int, default=100_000)
    t.add_argument("--device", default="cuda")
    t.add_argument("--init", default=None, help="folder of pack-init files to continue from")
    t.add_argument("--emb-size", type=int, help="a new model's size (default: Recipe's; --init brings its own)")
    t.add_argument("--hidden-size", type=int)
    t.add_argument("--n-layers", type=int)
    t.add_argument("--precision", choices=STORAGE_PRECISIONS, default="float16", help="how the export is stored")
    t.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "train" and args.init and _sizes(args):
        parser.error("--init continues a trained model at its own size: leave out --emb-size, --hidden-size "
                     "and --n-layers")
    {"pack": pack, "pack-init": pack_init, "train": train}[args.command](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
