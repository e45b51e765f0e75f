"""The pretraining run: the recipe, the training loop over the token stream, checkpoints,
export with metadata, and the command line (see the package's docstring)."""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import os
import platform
import re
import signal
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
from torch.optim.swa_utils import get_ema_multi_avg_fn

from .._common.atomic import atomic_target
from .._common.distributed import (
    any_process,
    data_parallel,
    is_writer,
    join_world,
    shard,
    wait_for_all,
    world,
    writer_first,
)
from .._estimators.language_model import ULMFiTLanguageModel
from .._io.persistence import (
    STORAGE_PRECISIONS,
    SavedLanguageModel,
    check_precision,
    language_model_payload,
    read_language_model,
    read_payload,
    write_payload,
)
from .._io.pretrained import DIRECTIONS, metadata_file, resolve
from .._nn.awd_lstm import (
    SIZE_PARAMS,
    LanguageModelConfig,
    aligned_weights,
    build_language_model,
    state_dict_on_cpu,
)
from .._nn.device import resolve_device, rng_states, set_rng_states
from .._nn.sampled_softmax import make_sampler
from .._text.stream import n_windows, stream_windows
from .._text.tokenizer import FAKE, Vocabulary, in_reading_order
from .._train.loop import (
    language_model_loss,
    network_loss,
    sampled_language_model_loss,
    train_step,
)
from .._train.schedule import StageRates, make_gradient_scaler, make_optimizer
from ._corpus import Corpus, TokenCache

CHECKPOINT_FORMAT = "sk_ulmfit.pretrain_checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_FILE = "checkpoint.pt"
# With ``start_from`` the network's size is the starting model's.
# Pretraining uses the paper's slanted triangular rates: a short linear warm-up (10 % of
# the steps), then a long linear decay, so a run stopped early is still well trained.
LR_SCHEDULE = "slanted_triangular"


@dataclass(frozen=True)
class Recipe:
    """What a pretraining run trains: the same recipe and corpus resume the same run.

    Parameters
    ----------
    start_from : str or None
        ``None`` trains from random weights. A shipped model's name (``"english"``) or a
        language-model file fine-tunes that model on the corpus instead: ULMFiT's stage 2
        on a domain corpus of any size. The network size comes from it; its vocabulary is
        kept and extended with the corpus's frequent tokens it lacks, up to ``max_vocab``
        (new tokens start from the mean embedding, as in ``ULMFiTLanguageModel.fit``); the
        rate schedule starts afresh.
    direction : {"forward", "backward"}
    emb_size, hidden_size, n_layers : int
        AWD-LSTM size (the decoder is tied to the embedding); with ``start_from``, the
        starting model's.
    drop_mult : float
        Multiplies fastai's language-model dropouts (a single pass over a large corpus
        needs little regularisation).
    max_vocab, min_freq : int
        The vocabulary: the ``max_vocab`` most frequent training tokens seen at least
        ``min_freq`` times.
    batch_size, bptt : int
        Rows of the token stream read in parallel, and tokens per back-propagation window.
    lr, weight_decay, clip : float
        Peak learning rate (slanted triangular), AdamW's decoupled weight decay, and the
        cap on the gradients' total norm.
    epochs : int
        Passes over the training documents (each pass in a new random document order).
    max_tokens : int or None
        End the schedule after this many training tokens (``None``: all ``epochs``).
    n_sampled : int or None
        Candidates of the sampled softmax used for training (``None``: full softmax).
    ema_decay : float
        Decay of the exponential moving average of the weights kept beside them; the
        export takes whichever of the two has the lower validation loss.
    valid_permille : int
        Documents per thousand held back for validation (chosen by a hash of source and id).
    seed : int
    """

    start_from: str | None = None
    direction: str = "forward"
    emb_size: int = 200
    hidden_size: int = 512
    n_layers: int = 3
    drop_mult: float = 0.1
    max_vocab: int = 30000
    min_freq: int = 3
    batch_size: int = 64
    bptt: int = 72
    lr: float = 3e-3
    weight_decay: float = 0.01
    clip: float = 0.5
    epochs: int = 1
    max_tokens: int | None = None
    n_sampled: int | None = 2048
    ema_decay: float = 0.999
    valid_permille: int = 5
    seed: int = 0

    def check(self) -> "Recipe":
        """Raise ``ValueError`` for a value no run can use; returns self."""
        if self.start_from is not None and not isinstance(self.start_from, str):
            raise ValueError(f"start_from must be a shipped model's name or a file path; got {self.start_from!r}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}; got {self.direction!r}")
        for name in ("emb_size", "hidden_size", "n_layers", "max_vocab", "min_freq", "batch_size",
                     "bptt", "epochs"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}")
        for name in ("max_tokens", "n_sampled"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None; got {value!r}")
        if not 0 < self.lr:
            raise ValueError(f"lr must be positive; got {self.lr!r}")
        if self.drop_mult < 0 or self.weight_decay < 0 or self.clip <= 0:
            raise ValueError("drop_mult and weight_decay must be >= 0 and clip > 0")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1); got {self.ema_decay!r}")
        if not 0 <= self.valid_permille < 1000:
            raise ValueError(f"valid_permille must be in [0, 1000); got {self.valid_permille!r}")
        return self


def pretrain_language_model(
    corpus: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    *,
    checkpoint_dir: str | os.PathLike,
    cache_dir: str | os.PathLike | None = None,
    resume: bool = False,
    init: str | os.PathLike | None = None,
    time_budget: float | None = None,
    checkpoint_every: float = 300.0,
    eval_every: float = 1800.0,
    log_every: float = 60.0,
    snapshot_every: int | None = None,
    valid_tokens: int = 100_000,
    text_field: str = "text",
    precision: str = "float16",
    device="auto",
    n_jobs: int | None = None,
    verbose: int = 1,
    **recipe,
) -> ULMFiTLanguageModel:
    """Train a language model on ``corpus`` and write it to ``output``.

    Parameters
    ----------
    corpus : sequence of path
        Corpus files: ``.jsonl`` (a ``text_field`` per line) or ``.txt`` (a document per
        line), optionally compressed. A file's source is its name without shard number
        (``wiki-03.jsonl.xz`` → ``wiki``); validation perplexity is reported per source.
    output : path
        The language-model file written (also at every evaluation), with metadata in
        ``output`` with suffix ``.json``. Load it with ``ULMFiTLanguageModel.load`` or pass
        it as ``pretrained=``.
    checkpoint_dir : path
        Where the run's checkpoint (and ``snapshots/``) live; written atomically.
    cache_dir : path, default=checkpoint_dir/../token-cache
        Token-id cache, shared between runs and directions.
    resume : bool, default=False
        Continue the run in ``checkpoint_dir`` exactly where it stopped (start one if there
        is none). Without it, an existing checkpoint is an error, never overwritten.
    init : path, default=None
        Start a new run from a file this function exported (its ``.json`` beside it), with
        the same recipe and corpus: the schedule continues at the file's ``tokens_seen``
        (optimiser moments start afresh). For recovering a run whose checkpoint was lost.
    time_budget : float, default=None
        Seconds this call may run; it then checkpoints, exports and returns.
    checkpoint_every, eval_every, log_every : float
        Seconds between checkpoints, validation runs (with an export) and progress lines.
    snapshot_every : int, default=None
        Every this many training tokens, also export to ``snapshots/tokens-<N>M.pt``
        (for downstream curves).
    valid_tokens : int, default=100000
        Held-back tokens scored per source at each validation.
    text_field : str, default="text"
        The JSON field holding a document's text.
    precision : {"float16", "int8", "float32"}, default="float16"
        How the exported weights are stored (see ``ULMFiTLanguageModel.save``); checkpoints
        are always float32.
    device : str or torch.device, default="auto"
    n_jobs : int or None
        Worker processes for tokenising (joblib's meaning; -1: every core).
    verbose : int, default=1
        0: silent; 1: progress lines.
    **recipe
        Fields of :class:`Recipe` (starting model, size, vocabulary, rates, direction, ...).

    Returns
    -------
    ULMFiTLanguageModel
        The exported model.

    See Also
    --------
    sk_ulmfit.ULMFiTLanguageModel : Stage 2 on texts that fit in memory.

    Examples
    --------
    Continue the shipped forward model on a corpus of your domain, two hours at a time::

        from sk_ulmfit.pretrain import pretrain_language_model
        lm = pretrain_language_model(["tickets-00.jsonl.gz"], "tickets_lm.pt", checkpoint_dir="runs/tickets",
                                     start_from="english", time_budget=2 * 3600)
        # later, or after an interruption: the same call with resume=True
        clf = ULMFiTClassifier(pretrained="tickets_lm.pt", direction="forward")
    """
    check_precision(precision)
    join_world()
    started = time.monotonic()
    log = _print_flushed if verbose and is_writer() else (lambda line: None)  # under torchrun: rank 0
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_path = checkpoint_dir / CHECKPOINT_FILE
    if checkpoint_path.exists() and not resume:
        raise ValueError(
            f"{checkpoint_dir} already holds a pretraining run: pass resume=True (--resume) to "
            "continue it, or give another checkpoint_dir to start a new one"
        )
    checkpoint = _read_checkpoint(checkpoint_path) if resume and checkpoint_path.exists() else None
    if checkpoint is None and init is not None:
        checkpoint = _checkpoint_from_export(Path(init))
    recipe, start = _recipe_and_start(recipe, checkpoint)
    if checkpoint is not None:
        _check_same_run(checkpoint, recipe, corpus)
    cache = TokenCache(cache_dir if cache_dir is not None else checkpoint_dir.parent / "token-cache",
                       n_jobs=n_jobs, log=log)
    with writer_first():  # under torchrun, rank 0 fills the token cache; the others then read it
        data = Corpus.prepare(corpus, cache, min_freq=recipe.min_freq, max_vocab=recipe.max_vocab,
                              valid_permille=recipe.valid_permille, text_field=text_field,
                              vocab=Vocabulary(checkpoint["itos"]) if checkpoint else None,
                              extend=None if start is None else Vocabulary(start.itos))
    run = _Run(data, recipe, resolve_device(device), log, start)
    if checkpoint is not None:
        run.restore(checkpoint)
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        log(f"resumed at {run.tokens_seen / 1e6:.1f}M tokens (epoch {run.epoch + 1}, step {run.step})")
    else:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        summary = data.describe()
        log(f"corpus: {json.dumps(summary)}")
        _warn_unmeasured_sources(summary, recipe.valid_permille)
    exporter = _Exporter(Path(output), checkpoint_dir, data, recipe, precision, log)
    if start is not None:
        _log_vocabulary(log, recipe, start, data.vocab)
        _warn_renamed_sources(recipe.start_from, _start_metadata(recipe).get("corpus") or {}, data.describe())
        exporter.export(run, valid_tokens)  # where fine-tuning starts: the held-back perplexity before it
    deadline = None if time_budget is None else started + time_budget
    run.train(
        deadline=deadline,
        every={"checkpoint": checkpoint_every, "eval": eval_every, "log": log_every},
        snapshot_every=snapshot_every,
        # under torchrun only rank 0 copies the run's state and writes it
        save_checkpoint=lambda: _write_checkpoint(checkpoint_path, run.state()) if is_writer() else None,
        evaluate_and_export=lambda snapshot=None: exporter.export(run, valid_tokens, snapshot),
    )
    wait_for_all()  # under torchrun, until rank 0 has written the export
    return ULMFiTLanguageModel.load(output, device=device)


def _recipe_and_start(given: dict, checkpoint: dict | None) -> tuple[Recipe, SavedLanguageModel | None]:
    """The run's :class:`Recipe` from the fields given and, for a new run with
    ``start_from``, the language model it starts from (its size fills the size fields)."""
    given = dict(given)
    if given.get("start_from") is None:
        return Recipe(**given).check(), None
    spec = given["start_from"]
    if isinstance(spec, os.PathLike):
        spec = given["start_from"] = os.fspath(spec)
    Recipe(**given).check()  # a bad start_from is refused before anything is read
    start = None
    if checkpoint is None:
        start = resolve(spec, [given.get("direction", Recipe.direction)])[0].language_model
        sizes = start.config.to_dict()
    else:  # resuming: the size is the run's, and the starting file is no longer needed
        sizes = checkpoint["recipe"]
    for name in SIZE_PARAMS:
        if name in given and given[name] != sizes[name]:
            raise ValueError(f"{name}={given[name]!r}, but start_from={spec!r} has {name} {sizes[name]!r}: "
                             f"leave {name} out (a run that starts from a model keeps its size)")
        given[name] = sizes[name]
    return Recipe(**given).check(), start


def _log_vocabulary(log: Callable[[str], None], recipe: Recipe, start: SavedLanguageModel,
                    vocab: Vocabulary) -> None:
    known = sum(token != FAKE for token in start.itos)
    added = sum(token != FAKE for token in vocab.itos) - known
    log(f"vocabulary: {len(vocab):,} tokens, {known:,} from {recipe.start_from} and {added:,} new from the corpus")
    if recipe.max_vocab <= known:
        log(f"note: max_vocab={recipe.max_vocab:,} leaves no room for the corpus's own tokens; "
            f"pass a larger max_vocab (e.g. --max-vocab {2 * known // 1000 * 1000}) to add them")


class _Run:
    """The state of one pretraining run and its training loop."""

    def __init__(self, corpus: Corpus, recipe: Recipe, device: torch.device, log: Callable[[str], None],
                 start: SavedLanguageModel | None = None):
        self.corpus, self.recipe, self.device, self.log = corpus, recipe, device, log
        self.config = LanguageModelConfig(len(corpus.vocab), recipe.emb_size, recipe.hidden_size,
                                          recipe.n_layers, recipe.drop_mult)
        torch.manual_seed(recipe.seed)
        self.model = build_language_model(self.config)
        if start is not None:  # known tokens keep their rows, new ones start from the mean row
            self.model.load_state_dict(aligned_weights(start.weights, start.itos, corpus.vocab.itos))
        self.model.to(device)
        self.model.reset()  # fastai keeps the hidden state as plain tensors: make them on `device`
        self.average = build_language_model(self.config).to(device)
        self.average.load_state_dict(self.model.state_dict())
        self.average.requires_grad_(False)
        self.update_average = get_ema_multi_avg_fn(recipe.ema_decay)
        self.optimizer = make_optimizer([list(self.model.parameters())], LR_SCHEDULE, recipe.weight_decay)
        self.scaler = make_gradient_scaler(device)
        self.tokens_per_epoch = sum(int(v["tokens"]) for v in corpus.describe().values())
        self.steps_per_epoch = n_windows(self.tokens_per_epoch, recipe.batch_size, recipe.bptt)
        if self.steps_per_epoch < 1:
            raise ValueError("the corpus has too few training tokens for one batch: add documents")
        total = self.steps_per_epoch * recipe.epochs
        if recipe.max_tokens is not None:
            total = min(total, max(1, recipe.max_tokens // (recipe.batch_size * recipe.bptt)))
        self.total_steps = total
        self.rates = StageRates(self.optimizer, [recipe.lr], total, LR_SCHEDULE)
        sampler = make_sampler(corpus.token_counts(), recipe.n_sampled)
        self.loss_fn = None if sampler is None else sampled_language_model_loss(sampler.to(device))
        self.epoch = self.step = self.global_step = self.tokens_seen = 0
        self.train_seconds = 0.0
        self._typical_step: float | None = None
        self.history: list[dict] = []
        self._stop = threading.Event()

    # ---------------------------------------------------------------- state
    def state(self) -> dict:
        """Everything needed to continue exactly here (plain data and CPU tensors)."""
        return {
            "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
            "recipe": dataclasses.asdict(self.recipe), "corpus": [s.name for s in self.corpus.shards],
            "itos": list(self.corpus.vocab.itos), "config": self.config.to_dict(),
            "model": state_dict_on_cpu(self.model), "average": state_dict_on_cpu(self.average),
            "optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(),
            "hidden": [[h.detach().cpu() for h in pair] for pair in self.model[0].hidden],
            "epoch": self.epoch, "step": self.step, "global_step": self.global_step,
            "tokens_seen": self.tokens_seen, "train_seconds": self.train_seconds,
            **rng_states(self.device),
            "history": self.history,
        }

    def restore(self, state: dict) -> None:
        """Continue from :meth:`state`'s output (or, from an export, from its weights and
        position only: no optimiser state, hidden state or random state)."""
        self.model.load_state_dict(state["model"])
        self.average.load_state_dict(state["average"])
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scaler.load_state_dict(state["scaler"])
        self.global_step, self.tokens_seen = state["global_step"], state["tokens_seen"]
        self.epoch, self.step = divmod(self.global_step, self.steps_per_epoch)
        if "epoch" in state:
            self.epoch, self.step = state["epoch"], state["step"]
        self.train_seconds, self.history = state["train_seconds"], list(state["history"])
        self.rates.seek(self.global_step)
        if "hidden" not in state:
            return
        if world()[1] == 1:  # under torchrun each process has its own rows: their hidden states start afresh
            encoder = self.model[0]
            encoder.hidden = [tuple(h.to(self.device) for h in pair) for pair in state["hidden"]]
            encoder.bs = encoder.hidden[0][0].shape[1]
        set_rng_states(state, self.device)

    # ----------------------------------------------------------------- loop
    def _epoch_stream(self) -> np.ndarray:
        stream = self.corpus.training_stream(self.recipe.seed, self.epoch)
        return np.ascontiguousarray(in_reading_order(stream, self.recipe.direction))

    def train(self, *, deadline, every: dict, snapshot_every, save_checkpoint, evaluate_and_export) -> None:
        """Train until the schedule ends, the deadline passes or a stop is asked for
        (Ctrl-C, SIGTERM); always leaves a checkpoint and an exported model."""
        recipe = self.recipe
        loss_fn = self.loss_fn or network_loss
        last = dict.fromkeys(("checkpoint", "eval", "log"), time.monotonic())
        window_loss, window_tokens, window_seconds = 0.0, 0, 0.0
        next_snapshot = None
        if snapshot_every:
            next_snapshot = (self.tokens_seen // snapshot_every + 1) * snapshot_every
        with _stop_on_signals(self._stop):
            self.model.train()
            network = data_parallel(self.model, loss_fn, self.device)
            while self.global_step < self.total_steps and not self._stop.is_set():
                stream = self._epoch_stream()
                windows = itertools.islice(stream_windows(stream, recipe.batch_size, recipe.bptt), self.step, None)
                for inputs, targets in windows:
                    step_start = time.monotonic()
                    rows, share = shard(len(inputs))
                    loss = train_step(network, inputs[rows].long(), targets[rows].long(), self.optimizer, self.rates,
                                      self.scaler, self.device, clip=recipe.clip, share=share)
                    if not math.isfinite(loss):
                        raise FloatingPointError(
                            f"the training loss became {loss} at step {self.global_step}; the last "
                            "checkpoint is intact: resume with a lower lr or a smaller clip")
                    self.update_average(list(self.average.parameters()), list(self.model.parameters()), None)
                    self.step += 1
                    self.global_step += 1
                    self.tokens_seen += targets.numel()
                    now = time.monotonic()
                    seconds = self._step_seconds(now - step_start)
                    self.train_seconds += seconds
                    window_loss += loss * targets.numel()
                    window_tokens += targets.numel()
                    window_seconds += seconds
                    if now - last["log"] >= every["log"]:
                        self._log_progress(window_loss / window_tokens, window_tokens / window_seconds)
                        window_loss, window_tokens, window_seconds = 0.0, 0, 0.0
                        last["log"] = now
                    if next_snapshot is not None and self.tokens_seen >= next_snapshot:
                        evaluate_and_export(snapshot=f"tokens-{next_snapshot // 1_000_000:04d}M")
                        next_snapshot += snapshot_every
                        last["eval"] = time.monotonic()
                    elif now - last["eval"] >= every["eval"]:
                        evaluate_and_export()
                        last["eval"] = time.monotonic()
                    if now - last["checkpoint"] >= every["checkpoint"]:
                        save_checkpoint()
                        last["checkpoint"] = time.monotonic()
                    finished = self.global_step >= self.total_steps
                    # under torchrun the processes stop at the same step, when any of them is asked to
                    if finished or any_process(self._stop.is_set() or (deadline is not None and now >= deadline)):
                        break
                else:
                    self.epoch += 1
                    self.step = 0
                    self.model.reset()
                    continue
                break
        reason = ("schedule complete" if self.global_step >= self.total_steps
                  else "stop asked for" if self._stop.is_set() else "time budget spent")
        self.log(f"stopping ({reason}) at {self.tokens_seen / 1e6:.2f}M tokens; checkpoint and export")
        save_checkpoint()
        evaluate_and_export()
        save_checkpoint()  # with the final evaluation in its history

    def _step_seconds(self, seconds: float) -> float:
        """``seconds``, or the typical step time when a step took over 10x longer: time the
        process was stopped (SIGSTOP, a sleeping laptop) is not training time."""
        typical = self._typical_step
        if typical is not None and seconds > 10 * typical:
            seconds = typical
        self._typical_step = seconds if typical is None else 0.95 * typical + 0.05 * seconds
        return seconds

    def _log_progress(self, loss: float, tokens_per_second: float) -> None:
        done = self.global_step / self.total_steps
        remaining = (self.total_steps - self.global_step) * self.recipe.batch_size * self.recipe.bptt
        self.log(
            f"{self.tokens_seen / 1e6:8.2f}M tokens ({100 * done:5.1f} %) epoch {self.epoch + 1} "
            f"loss {loss:.3f} lr {self.optimizer.param_groups[0]['lr']:.2e} "
            f"{tokens_per_second:,.0f} tok/s, {_hours(self.train_seconds)} trained, "
            f"{_hours(remaining / max(tokens_per_second, 1e-9))} to go"
        )

    @torch.no_grad()
    def validation_losses(self, max_tokens: int) -> dict[str, dict[str, float]]:
        """Mean cross-entropy per held-back token, per source, of the weights and of their average."""
        saved_hidden = self.model[0].hidden
        streams = {source: in_reading_order(stream, self.recipe.direction).astype(np.int64)
                   for source, stream in self.corpus.validation_streams(max_tokens).items()}
        results = {}
        for name, network in (("weights", self.model), ("average", self.average)):
            results[name] = {source: language_model_loss(network, stream, self.recipe.batch_size,
                                                         self.recipe.bptt, self.device)
                             for source, stream in streams.items()}
        self.model.train()
        self.model[0].hidden, self.model[0].bs = saved_hidden, saved_hidden[0][0].shape[1]
        return results


class _Exporter:
    """Writes the better of the weights and their average, with metadata, after validation."""

    def __init__(self, output: Path, checkpoint_dir: Path, corpus: Corpus, recipe: Recipe,
                 precision: str, log: Callable[[str], None]):
        self.output, self.checkpoint_dir, self.corpus = output, checkpoint_dir, corpus
        self.recipe, self.precision, self.log = recipe, precision, log
        self.started_from = None if recipe.start_from is None else _started_from(recipe)  # read once per run

    def export(self, run: _Run, valid_tokens: int, snapshot: str | None = None) -> Path:
        losses = run.validation_losses(valid_tokens)
        if not losses["weights"]:
            choice = "average"
        else:
            choice = min(losses, key=lambda name: float(np.mean(list(losses[name].values()))))
        perplexity = {source: round(math.exp(loss), 2) for source, loss in losses[choice].items()}
        record = {"tokens_seen": run.tokens_seen, "train_seconds": round(run.train_seconds, 1),
                  "weights": choice, "valid_perplexity": perplexity,
                  "valid_perplexity_other": {s: round(math.exp(v), 2)
                                             for s, v in losses["weights" if choice == "average" else "average"].items()}}
        run.history.append(record)
        self.log(f"validation at {run.tokens_seen / 1e6:.2f}M tokens ({choice}): "
                 + (", ".join(f"{s} perplexity {p:.1f}" for s, p in perplexity.items())
                    or "no held-back documents (see --valid-permille)"))
        path = self.output if snapshot is None else self.checkpoint_dir / "snapshots" / f"{snapshot}.pt"
        if not is_writer():  # under torchrun, rank 0 writes
            return path
        network = run.average if choice == "average" else run.model
        params = {"bptt": self.recipe.bptt, "batch_size": self.recipe.batch_size,
                  "max_vocab": self.recipe.max_vocab, "min_freq": self.recipe.min_freq}
        saved = SavedLanguageModel(state_dict_on_cpu(network), self.corpus.vocab.itos, run.config,
                                   self.recipe.direction, params)
        write_payload(path, language_model_payload(saved, self.precision))
        metadata = {
            "direction": self.recipe.direction, "tokens_seen": run.tokens_seen,
            "epochs_seen": round(run.tokens_seen / max(run.tokens_per_epoch, 1), 3),
            "train_seconds": round(run.train_seconds, 1), "complete": run.global_step >= run.total_steps,
            "weights": choice,
            "valid_perplexity": perplexity, "vocab_size": len(self.corpus.vocab),
            "config": run.config.to_dict(), "recipe": dataclasses.asdict(self.recipe),
            "lr_schedule": LR_SCHEDULE, "corpus": self.corpus.describe(),
            "corpus_files": [shard.name for shard in self.corpus.shards],
            "machine": machine_description(run.device), "file_bytes": path.stat().st_size,
            **({} if self.started_from is None else {"started_from": self.started_from}),
            "history": run.history,
        }
        _write_json(path.with_suffix(".json"), metadata)
        return path


def _start_metadata(recipe: Recipe) -> dict:
    """The metadata JSON beside the model a fine-tuning run starts from (``{}`` if none)."""
    path = metadata_file(recipe.start_from, recipe.direction)
    return {} if path is None else json.loads(path.read_text(encoding="utf-8"))


def _started_from(recipe: Recipe) -> dict:
    """What a fine-tuning run started from: the model named, and what its metadata says of it."""
    metadata = _start_metadata(recipe)
    return {"model": recipe.start_from,
            **{key: metadata[key] for key in ("tokens_seen", "corpus_files", "valid_perplexity", "started_from")
               if key in metadata}}


def _warn_unmeasured_sources(corpus: dict, valid_permille: int) -> None:
    """Warn when ``valid_permille`` holds back no document of a source (``describe()`` summary):
    a source of few long documents (books) then has no held-back perplexity."""
    if valid_permille == 0:
        return  # no validation asked for
    for source, entry in corpus.items():
        if entry["valid_documents"] == 0:
            warnings.warn(
                f"source {source!r}: no document of its {entry['documents']:,} is held back at "
                f"valid_permille={valid_permille} (documents are held back by a hash of source and id, about "
                f"{valid_permille} per thousand), so its held-back perplexity is not measured; with no "
                f"held-back document in any source, the weight average is exported unmeasured. Raise "
                f"valid_permille (--valid-permille) or split long documents into more of them.",
                UserWarning, stacklevel=3)


def _warn_renamed_sources(start_from: str, start_corpus: dict, corpus: dict) -> None:
    """Warn when a source of this corpus has exactly the documents and tokens of one of the
    starting model's sources under another name (``describe()`` summaries).

    Documents are held back by a hash of their source's name, so the same texts under another
    name are split otherwise: the run validates on documents its starting model trained on.
    """
    def size(entry: dict) -> tuple[int, int]:
        return (entry.get("documents", 0) + entry.get("valid_documents", 0),  # older metadata may lack them
                entry.get("tokens", 0) + entry.get("valid_tokens", 0))

    for source, entry in corpus.items():
        if source in start_corpus:
            continue
        twins = [name for name, other in start_corpus.items() if size(other) == size(entry)]
        if twins:
            warnings.warn(
                f"source {source!r} has the same {size(entry)[0]:,} documents and {size(entry)[1]:,} tokens as "
                f"{twins[0]!r}, a source of start_from={start_from!r}: documents are held back by a hash of "
                f"their source's name (the file name less its shard number and extensions), so under another "
                f"name other documents are held back, some of which the starting model trained on, and the "
                f"held-back perplexity is not comparable with that model's. If these are the same texts, "
                f"name the file as before ({twins[0]!r}).", UserWarning, stacklevel=3)


def machine_description(device: torch.device) -> str:
    """Architecture, cores, torch version and accelerator, for records of timings."""
    accelerator = f"GPU {torch.cuda.get_device_name(device)}" if device.type == "cuda" else "CPU only"
    return f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {accelerator}"


def _write_json(path: Path, data: dict) -> None:
    with atomic_target(path) as partial:
        partial.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def _write_checkpoint(path: Path, state: dict) -> None:
    """The run's state, atomically (the previous checkpoint stays until the new one is
    complete) and with its checksum: the estimators' file format."""
    write_payload(path, state)


def _read_checkpoint(path: Path) -> dict:
    try:
        state = read_payload(path, kind="pretraining checkpoint")
    except ValueError as error:
        raise ValueError(f"{error}; or remove it to start the run again") from error
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an sk_ulmfit pretraining checkpoint")
    if state.get("version") != CHECKPOINT_VERSION:
        raise ValueError(f"{path} has checkpoint version {state.get('version')}; this sk_ulmfit reads "
                         f"{CHECKPOINT_VERSION}")
    return state


def _checkpoint_from_export(path: Path) -> dict:
    """The part of a checkpoint that an exported model and its metadata hold."""
    metadata_path = path.with_suffix(".json")
    if not metadata_path.is_file():
        raise ValueError(f"init={path} needs the metadata file {metadata_path.name} beside it")
    metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    if "recipe" not in metadata or "tokens_seen" not in metadata:
        raise ValueError(f"{metadata_path} was not written by pretrain_language_model")
    saved = read_language_model(path)
    recipe = metadata["recipe"]
    steps = metadata["tokens_seen"] // (recipe["batch_size"] * recipe["bptt"])
    corpus = metadata.get("corpus_files") or [name for entry in metadata["corpus"].values()
                                              for name in entry["files"]]
    return {"recipe": recipe, "corpus": corpus, "itos": saved.itos, "model": saved.weights,
            "average": saved.weights, "global_step": steps, "tokens_seen": metadata["tokens_seen"],
            "train_seconds": metadata["train_seconds"], "history": metadata.get("history", [])}


def _check_same_run(checkpoint: dict, recipe: Recipe, corpus: Sequence) -> None:
    saved = checkpoint["recipe"]
    differing = [f"{name}: {saved.get(name)!r} in the checkpoint, {value!r} now"
                 for name, value in dataclasses.asdict(recipe).items() if saved.get(name) != value]
    names = [Path(p).name for p in corpus]
    if names != checkpoint["corpus"]:
        differing.append(f"corpus files: {checkpoint['corpus']} in the checkpoint, {names} now")
    if differing:
        raise ValueError("resume continues the same run, but " + "; ".join(differing)
                         + ": use the checkpoint's settings, or another checkpoint_dir for a new run")


class _stop_on_signals:
    """Turn Ctrl-C and SIGTERM into a request to stop after the current step."""

    def __init__(self, event: threading.Event):
        self.event = event
        self.previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, lambda *_: self.event.set())
        return self

    def __exit__(self, *exc):
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        return False


def _print_flushed(line: str) -> None:
    print(line, flush=True)


def _hours(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


# --------------------------------------------------------------------------- command line
def parse_duration(text: str) -> float:
    """Seconds in ``"90"``, ``"90s"``, ``"45m"``, ``"2h"`` or ``"1h30m"``."""
    match = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m)?\s*(?:(\d+(?:\.\d+)?)s?)?\s*", text)
    if not text.strip() or match is None or not any(match.groups()):
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use e.g. 90, 45m, 2h, 1h30m)")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def parse_count(text: str) -> int:
    """An integer, with an optional ``k``/``M``/``G`` suffix (``"10M"`` = 10,000,000)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)\s*", text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a count: {text!r} (use e.g. 5000000 or 5M)")
    scale = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sk_ulmfit.pretrain",
        description="Pretrain an AWD-LSTM language model on a corpus (ULMFiT stage 1).")
    parser.add_argument("corpus", nargs="+", help=".jsonl or .txt files (optionally .xz/.gz/.bz2)")
    parser.add_argument("--output", required=True, help="language-model file to write")
    parser.add_argument("--checkpoint-dir", required=True, help="folder for the run's checkpoint")
    parser.add_argument("--cache-dir", help="token-id cache (default: CHECKPOINT_DIR/../token-cache)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --checkpoint-dir")
    parser.add_argument("--init", help="start from a model this command exported (its checkpoint lost)")
    parser.add_argument("--time-budget", type=parse_duration, help="stop after this long (e.g. 2h, 45m)")
    parser.add_argument("--checkpoint-every", type=parse_duration, default=300.0)
    parser.add_argument("--eval-every", type=parse_duration, default=1800.0)
    parser.add_argument("--log-every", type=parse_duration, default=60.0)
    parser.add_argument("--snapshot-every", type=parse_count, help="tokens between snapshots (e.g. 10M)")
    parser.add_argument("--valid-tokens", type=parse_count, default=100_000)
    parser.add_argument("--text-field", default="text")
    parser.add_argument("--precision", choices=STORAGE_PRECISIONS, default="float16",
                        help="how the exported weights are stored (default float16; int8 quarters float32)")
    parser.add_argument("--float32", dest="precision", action="store_const", const="float32",
                        help="the same as --precision float32")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--quiet", action="store_true")
    # Recipe fields not given stay unset, so that Recipe's defaults (and, with --start-from,
    # the starting model's size) apply.
    defaults = Recipe()
    for field in dataclasses.fields(Recipe):
        flag = "--" + field.name.replace("_", "-")
        default = getattr(defaults, field.name)
        if field.name == "start_from":
            parser.add_argument(flag, default=argparse.SUPPRESS, metavar="MODEL",
                                help="fine-tune this language model on the corpus (ULMFiT stage 2 at any scale): a "
                                     "shipped name (english) or a file; its size and vocabulary carry over")
        elif field.name == "direction":
            parser.add_argument(flag, choices=DIRECTIONS, default=argparse.SUPPRESS, help=f"default {default}")
        elif field.name in ("max_tokens", "n_sampled"):
            parser.add_argument(flag, type=_optional_count, default=argparse.SUPPRESS,
                                help=f"default {default}; 'none' for no limit / full softmax")
        else:
            kind = type(default)
            help_text = f"default {default}" + (" (with --start-from: that model's)" if field.name in SIZE_PARAMS else "")
            parser.add_argument(flag, type=parse_count if kind is int else kind, default=argparse.SUPPRESS,
                                help=help_text)
    return parser


def _optional_count(text: str) -> int | None:
    return None if text.strip().lower() in ("none", "0", "") else parse_count(text)


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: ``python -m sk_ulmfit.pretrain --help``."""
    args = build_parser().parse_args(argv)
    recipe = {field.name: getattr(args, field.name) for field in dataclasses.fields(Recipe) if hasattr(args, field.name)}
    try:
        pretrain_language_model(
            args.corpus, args.output, checkpoint_dir=args.checkpoint_dir, cache_dir=args.cache_dir,
            resume=args.resume, init=args.init, time_budget=args.time_budget, checkpoint_every=args.checkpoint_every,
            eval_every=args.eval_every, log_every=args.log_every, snapshot_every=args.snapshot_every,
            valid_tokens=args.valid_tokens, text_field=args.text_field, precision=args.precision,
            device=args.device, n_jobs=args.n_jobs, verbose=0 if args.quiet else 1, **recipe)
    except (ValueError, FileNotFoundError, FloatingPointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0

