"""Training and inference loops for the classifier network (plain torch)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence, Sized

import numpy as np
import torch
import torch.nn.functional as F
from fastprogress.fastprogress import progress_bar
from torch import nn

from .._common.distributed import data_parallel, shard
from .._common.distributed import total as sum_over_processes
from .._nn.awd_lstm import set_trainable
from .._nn.device import autocast, rng_states, set_rng_states
from .._nn.sampled_softmax import SampledSoftmax
from .._text.batching import collate
from .._text.stream import stream_windows
from .._text.tokenizer import PAD_ID
from .schedule import (
    Stage,
    StageRates,
    group_rates,
    make_gradient_scaler,
    make_optimizer,
)

# fastai's RNNRegularizer for text learners: activation regularisation (AR) on the
# encoder outputs and temporal activation regularisation (TAR) on their differences.
AR_ALPHA = 2.0
TAR_BETA = 1.0


def regularized_loss(logits, raw_outputs, outputs, targets, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy plus fastai's AR/TAR penalties on the encoder outputs.

    ``logits`` is ``(n, classes)`` for a classifier or ``(n, steps, vocab)`` for a
    language model, with ``targets`` of shape ``(n,)`` or ``(n, steps)``. ``weights``
    (classifier, one per text) make the cross-entropy a weighted mean. Float ``targets``
    of shape ``(n, labels)`` are multi-label indicators: binary cross-entropy per label
    (one sigmoid each), averaged over labels, then over texts.
    """
    if targets.is_floating_point():
        per_text = text_losses(logits, targets)
        loss = per_text.mean() if weights is None else (per_text * weights).mean()
        return loss + activation_penalty(raw_outputs, outputs)
    flat_logits, flat_targets = logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1)
    if weights is None:
        loss = F.cross_entropy(flat_logits, flat_targets)
    else:
        loss = (F.cross_entropy(flat_logits, flat_targets, reduction="none") * weights).mean()
    return loss + activation_penalty(raw_outputs, outputs)


def text_losses(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """A classifier's loss per text: cross-entropy against class ids, or, for float
    ``(n, labels)`` indicator targets, binary cross-entropy per label averaged over labels."""
    if targets.is_floating_point():
        return F.binary_cross_entropy_with_logits(logits.float(), targets.float(), reduction="none").mean(1)
    return F.cross_entropy(logits.float(), targets, reduction="none")


def activation_penalty(raw_outputs, outputs) -> torch.Tensor:
    """fastai's AR (size of the dropped-out outputs) + TAR (change between steps)."""
    penalty = AR_ALPHA * outputs.float().pow(2).mean()
    if raw_outputs.shape[1] > 1:
        penalty = penalty + TAR_BETA * (raw_outputs[:, 1:] - raw_outputs[:, :-1]).float().pow(2).mean()
    return penalty


def network_loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor,
                 weights: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`regularized_loss` of the network's full output (classifier or language model)."""
    return regularized_loss(*model(inputs), targets, weights)


def sampled_language_model_loss(sampler: SampledSoftmax) -> Callable:
    """A loss like :func:`network_loss` for a language model whose softmax is sampled."""

    def loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        encoder, decoder = model[0], model[1]
        raw_outputs = encoder(inputs)
        outputs = decoder.output_dp(raw_outputs)
        cross_entropy = sampler.loss(outputs.reshape(-1, outputs.shape[-1]), targets.reshape(-1),
                                     decoder.decoder.weight, decoder.decoder.bias)
        return cross_entropy + activation_penalty(raw_outputs, outputs)

    return loss


def train_step(network: nn.Module, inputs, targets, optimizer, rates, scaler, device, *extra,
               clip: float | None = None, share: float = 1.0) -> float:
    """One optimiser step on a batch (mixed precision on a GPU); returns the batch loss.

    ``network(inputs, targets, *extra)`` is the loss (see
    :func:`~sk_ulmfit._common.distributed.data_parallel`); under DDP the backward pass averages
    the gradients of all processes, whose loss is scaled by ``share`` (see
    :func:`~sk_ulmfit._common.distributed.shard`). ``clip`` caps the gradients' total norm (after
    unscaling) when given.
    """
    inputs, targets = inputs.to(device), targets.to(device)
    with autocast(device):
        loss = network(inputs, targets, *extra)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss * share if share != 1.0 else loss).backward()
    if clip is not None:
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(network.parameters(), clip)
    scaler.step(optimizer)
    scaler.update()
    rates.step()
    return loss.item()


def train_epoch(
    model: nn.Module,
    sequences: Sequence[np.ndarray],
    targets: np.ndarray,
    batches: list[np.ndarray],
    optimizer: torch.optim.Optimizer,
    rates,
    scaler: torch.amp.GradScaler,
    device: torch.device,
    bptt: int,
    show_progress: bool = False,
    weights: np.ndarray | None = None,
) -> float:
    """One pass over ``batches``; returns the mean training loss per text.

    ``weights`` (one per text, mean 1) weight each text's cross-entropy.
    """
    model.train()
    network = data_parallel(model, network_loss, device)
    total, count = 0.0, 0
    for batch in progress_bar(batches, leave=False) if show_progress else batches:
        # padded as a whole, then shared: a text's padding (which the LSTM reads) is the same
        # under any number of processes
        tokens, order = collate([sequences[i] for i in batch], bptt, PAD_ID)
        rows, share = shard(len(batch))
        tokens, batch = tokens[rows], batch[order][rows]
        batch_targets = torch.from_numpy(targets[batch])
        extra = () if weights is None else (torch.from_numpy(weights[batch]).float().to(device),)
        loss = train_step(network, tokens, batch_targets, optimizer, rates, scaler, device, *extra, share=share)
        total += loss * len(batch)
        count += len(batch)
    total, count = sum_over_processes(total, count)
    return total / count


def train_language_model_epoch(
    model: nn.Module,
    stream: np.ndarray,
    batch_size: int,
    bptt: int,
    optimizer: torch.optim.Optimizer,
    rates,
    scaler: torch.amp.GradScaler,
    device: torch.device,
    show_progress: bool = False,
    sampler: SampledSoftmax | None = None,
) -> float:
    """One pass over a token stream, hidden state carried between windows; mean loss per token.

    With a ``sampler`` the training loss uses a sampled softmax (about 3x faster per
    token on a CPU at a 24k-token vocabulary); without, the full softmax.
    """
    loss_fn = network_loss if sampler is None else sampled_language_model_loss(sampler.to(device))
    model.train()
    model.reset()
    network = data_parallel(model, loss_fn, device)
    total, count = 0.0, 0
    windows = stream_windows(stream, batch_size, bptt)
    for inputs, targets in progress_bar(list(windows), leave=False) if show_progress else windows:
        rows, share = shard(len(inputs))
        inputs, targets = inputs[rows], targets[rows]
        loss = train_step(network, inputs, targets, optimizer, rates, scaler, device, share=share)
        total += loss * targets.numel()
        count += targets.numel()
    total, count = sum_over_processes(total, count)
    return total / max(count, 1)


@torch.inference_mode()
def language_model_loss(model: nn.Module, stream: np.ndarray, batch_size: int, bptt: int,
                        device: torch.device) -> float:
    """Mean cross-entropy (nats per token) of predicting each next token of ``stream``."""
    model.eval()
    model.reset()
    total, count = 0.0, 0
    for inputs, targets in stream_windows(stream, batch_size, bptt):
        with autocast(device):
            logits = model(inputs.to(device))[0]
        total += F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]),
                                 targets.to(device).reshape(-1), reduction="sum").item()
        count += targets.numel()
    if count == 0:
        raise ValueError("the texts are too short to score: at least 2 tokens are needed")
    return total / count


def run_schedule(
    groups: list[list[nn.Parameter]],
    stages: list[Stage],
    make_epoch: Callable[[], Sized],
    train_on: Callable,
    evaluate: Callable[[], dict] | None,
    *,
    lr_schedule: str,
    lr_decay: float,
    weight_decay: float,
    device: torch.device,
    verbose: int,
    rng: np.random.Generator | None = None,
    resume: dict | None = None,
    save_progress: Callable[[dict], None] | None = None,
    early_stopping: EarlyStopping | None = None,
    runs_after: int = 0,
    title: str = "training",
) -> list[dict]:
    """Train through the stages of gradual unfreezing; returns one record per epoch.

    ``make_epoch()`` plans an epoch (its ``len`` is its number of steps) and
    ``train_on(plan, optimizer, rates, scaler)`` runs it and returns the training loss.

    After every completed epoch ``save_progress(progress)`` (if given) receives plain data
    (optimiser, scaler and random states, position, history; not the network, which the
    caller owns); ``resume=progress``, with the network's weights of that moment restored
    by the caller, continues with exactly the epochs, rates and dropout masks that an
    uninterrupted run would have had. ``rng`` is the generator ``make_epoch`` draws from.

    ``early_stopping`` ends the last stage once ``evaluate``'s ``valid_loss`` has not
    improved for ``n_iter_no_change`` epochs, and leaves the network with the weights of
    its best epoch of that stage.

    With ``verbose``, each epoch prints a line that starts with ``title`` (what is trained,
    e.g. "training the classifier (forward)") and ends with an estimate of the time left:
    the steps still to run at the last epoch's seconds per step, plus ``runs_after`` more
    runs of the whole schedule (the classifier's other reading direction).
    """
    optimizer = make_optimizer(groups, lr_schedule, weight_decay)
    scaler = make_gradient_scaler(device)
    history, first_stage, epochs_done, best = [], 0, 0, None
    if resume is not None:
        optimizer.load_state_dict(resume["optimizer"])
        scaler.load_state_dict(resume["scaler"])
        history, first_stage, epochs_done = list(resume["history"]), resume["stage"], resume["epochs_done"]
        best = resume.get("best")
        if rng is not None:
            rng.bit_generator.state = resume["stage_rng"]
    clock = _Clock(stages, runs_after)
    for stage_index in range(first_stage, len(stages)):
        stage = stages[stage_index]
        set_trainable(groups, stage.n_trainable)
        stage_rng = None if rng is None else rng.bit_generator.state
        plans = [make_epoch() for _ in range(stage.epochs)]
        rates = StageRates(optimizer, group_rates(stage.lr, len(groups), lr_decay),
                           total_steps=sum(len(plan) for plan in plans), lr_schedule=lr_schedule)
        skipped = epochs_done if stage_index == first_stage else 0
        if skipped:
            rates.seek(sum(len(plan) for plan in plans[:skipped]))
        if resume is not None and stage_index == first_stage:
            set_rng_states(resume, device)
        last_stage = stage_index == len(stages) - 1
        for epoch_number, plan in enumerate(plans[skipped:], start=skipped + 1):
            if last_stage and early_stopping is not None and best is not None and \
                    epoch_number - best["epoch"] > early_stopping.n_iter_no_change:
                break
            started = time.perf_counter()
            record = {"stage": stage_index + 1, "epoch": epoch_number, "unfreeze": stage.n_trainable,
                      "lr": stage.lr, "steps": len(plan), "train_loss": train_on(plan, optimizer, rates, scaler)}
            if evaluate is not None:
                record.update(evaluate())
            record["seconds"] = time.perf_counter() - started
            history.append(record)
            if verbose:
                left = clock.seconds_left(stage_index, epoch_number, record)
                print(f"{title}: {format_record(record, len(stages), stage.epochs)}; {format_duration(left)} left",
                      flush=True)
            if last_stage and early_stopping is not None and (best is None or record["valid_loss"] < best["loss"]):
                best = {"epoch": epoch_number, "loss": record["valid_loss"], "state": early_stopping.snapshot()}
            if save_progress is not None:
                save_progress({"stage": stage_index, "epochs_done": epoch_number, "stage_rng": stage_rng,
                               "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
                               "history": list(history), "best": best, **rng_states(device)})
    if best is not None and best["epoch"] != history[-1]["epoch"]:
        early_stopping.restore(best["state"])
        history[-1]["restored_epoch"] = best["epoch"]
    return history


class _Clock:
    """The time a run of ``stages`` has left, from the pace of its last epoch.

    Every epoch of a run has the same number of steps (the batches of the same texts), so
    the steps left are the epochs left times the last epoch's steps; they are priced at the
    last epoch's seconds per step (exact from the last stage on; the frozen stages before it
    are cheaper per step, so early estimates are low), plus the whole run again for each of
    ``runs_after`` runs still to come.
    """

    def __init__(self, stages: list[Stage], runs_after: int):
        self.stages, self.runs_after, self.started = stages, runs_after, time.perf_counter()

    def seconds_left(self, stage_index: int, epoch_number: int, record: dict) -> float:
        per_step = record["seconds"] / max(record["steps"], 1)
        epochs_left = self.stages[stage_index].epochs - epoch_number + sum(
            stage.epochs for stage in self.stages[stage_index + 1:])
        left = epochs_left * record["steps"] * per_step
        whole_run = time.perf_counter() - self.started + left
        return left + self.runs_after * whole_run


def format_duration(seconds: float) -> str:
    """``seconds`` as a person reads a wait: ``"about 40 s"``, ``"about 12 min"``, ``"about 1 h 5 min"``."""
    if seconds < 90:
        return f"about {max(seconds, 0):.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} min"
    return f"about {minutes // 60} h {minutes % 60} min"


@dataclass
class EarlyStopping:
    """How :func:`run_schedule` stops the last stage early: after ``n_iter_no_change``
    epochs without a lower validation loss; ``snapshot()`` copies the network's weights
    (to CPU) and ``restore(copy)`` puts them back."""

    n_iter_no_change: int
    snapshot: Callable[[], dict]
    restore: Callable[[dict], None]


def format_record(record: dict, n_stages: int, n_epochs: int) -> str:
    """One line of training progress."""
    parts = [
        f"stage {record['stage']}/{n_stages} epoch {record['epoch']}/{n_epochs}",
        f"unfreeze={record['unfreeze']} lr={record['lr']:.1e} train_loss={record['train_loss']:.4f}",
        *(f"{key}={value:.4f}" for key, value in record.items() if key.startswith("valid_")),
        f"({record['seconds']:.1f}s)",
    ]
    return " ".join(parts)
