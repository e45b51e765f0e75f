"""The ULMFiT fit schedule as plain data: gradual unfreezing, discriminative and cyclical rates.

A schedule is a sequence of stages ``(unfreeze, epochs, lr)``. ``unfreeze`` is how many
layer groups from the top are trained (1 = head only, 2 = head + last LSTM, ...,
``"all"``); ``lr`` is the top group's peak rate, and each lower group gets the rate
above it divided by ``lr_decay``. fastai owns the shapes of the per-step rates.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Sequence

import torch
from fastai.callback.schedule import SchedLin, combine_scheds, combined_cos

# Howard & Ruder (2018): head, then one more layer group per epoch, then everything. The
# paper (and fastai's course) then trains all layers 2 epochs at 1e-3 from a WT103 encoder;
# "ulmfit"'s last stage is longer and faster, 8 epochs at 5e-3 for batches of 16 texts,
# chosen on development splits of training data (benchmarks/schedule_search.py).
ULMFIT_SCHEDULE = ((1, 1, 2e-2), (2, 1, 1e-2), (3, 1, 5e-3), ("all", 8, 5e-3))
# Eight epochs of a few labelled texts are few optimiser steps (100 texts: 56), which
# under-trains them; "ulmfit" lengthens its last stage to at least the steps that eight
# epochs of 500 texts take in batches of 16.
ULMFIT_MIN_LAST_STEPS = 256

# The classifier's batch_size="auto": 16 texts a batch (the size its rates were chosen for,
# on development splits of 100-1,000 labelled texts where small batches buy optimiser steps)
# for up to AUTO_BATCH_STEPS * 16 texts; on more, batches grow in steps of 8 texts to keep an
# epoch near AUTO_BATCH_STEPS optimiser steps, up to 64 (fastai's and the paper's batch), and
# every stage's rate grows by sqrt(batch / 16), the square-root rule for Adam (Hoffer et al.,
# 2017; Malladi et al., 2022). On a CPU a step of 64 texts costs little more than one of 16.
AUTO_BATCH_MIN, AUTO_BATCH_MAX, AUTO_BATCH_STEPS = 16, 64, 128


def auto_batch_size(n_texts: int) -> int:
    """The classifier's training batch for ``n_texts`` training texts (``batch_size="auto"``)."""
    grown = 8 * math.ceil(n_texts / AUTO_BATCH_STEPS / 8)
    return int(min(AUTO_BATCH_MAX, max(AUTO_BATCH_MIN, grown)))


def batch_and_rate_factor(batch_size: int | str, n_texts: int) -> tuple[int, float]:
    """The training batch for ``n_texts`` texts and the factor every stage's rate is
    multiplied by: ``batch_size`` and 1 as given, or ``"auto"``'s size and sqrt(size / 16)."""
    if batch_size != "auto":
        return int(batch_size), 1.0
    size = auto_batch_size(n_texts)
    return size, math.sqrt(size / AUTO_BATCH_MIN)


def scaled(stages: Sequence[Stage], factor: float) -> list[Stage]:
    """``stages`` with every rate multiplied by ``factor``."""
    return [Stage(stage.n_trainable, stage.epochs, stage.lr * factor) for stage in stages]


LR_SCHEDULES = ("one_cycle", "slanted_triangular")

# fastai's fit_one_cycle for text learners: cosine warm-up over 25 % of the steps from
# lr/25 to lr, cosine decay to lr/1e5, momentum 0.8 -> 0.7 -> 0.8 (TextLearner's moms).
ONE_CYCLE_PCT, ONE_CYCLE_DIV, ONE_CYCLE_DIV_FINAL = 0.25, 25.0, 1e5
ONE_CYCLE_MOMS = (0.8, 0.7, 0.8)
# The paper's slanted triangular rates: linear rise over cut_frac = 0.1 of the steps from
# lr/ratio to lr, linear decay back to lr/ratio, ratio = 32; Adam's beta1 stays 0.7.
STLR_CUT_FRAC, STLR_RATIO = 0.1, 32.0
ADAM_BETAS = {"one_cycle": (0.8, 0.99), "slanted_triangular": (0.7, 0.99)}
ADAM_EPS = 1e-5  # fastai's Adam


@dataclass(frozen=True)
class Stage:
    """One stage of gradual unfreezing: train the top ``n_trainable`` groups for ``epochs``."""

    n_trainable: int
    epochs: int
    lr: float


def parse_schedule(schedule, n_groups: int, steps_per_epoch: int | None = None) -> list[Stage]:
    """Validate ``schedule`` ("ulmfit" or stages ``(unfreeze, epochs, lr)``) into stages.

    With ``steps_per_epoch`` (optimiser steps in one epoch of the training texts),
    ``"ulmfit"``'s last stage runs at least ``ULMFIT_MIN_LAST_STEPS`` steps; a schedule
    given as stages runs as given.

    Raises
    ------
    ValueError
        With the offending stage and what a valid one looks like.
    """
    if isinstance(schedule, str):
        if schedule != "ulmfit":
            raise ValueError(
                f"schedule={schedule!r} is not known: use 'ulmfit' or a sequence of "
                "(unfreeze, epochs, lr) stages such as ((1, 1, 2e-2), ('all', 3, 1e-3))"
            )
        *stages, last = [_parse_stage(stage, n_groups) for stage in ULMFIT_SCHEDULE]
        if steps_per_epoch:
            last = Stage(last.n_trainable, max(last.epochs, math.ceil(ULMFIT_MIN_LAST_STEPS / steps_per_epoch)),
                         last.lr)
        return [*stages, last]
    if not isinstance(schedule, Sequence) or len(schedule) == 0:
        raise ValueError(
            f"schedule must be 'ulmfit' or a non-empty sequence of (unfreeze, epochs, lr) "
            f"stages; got {schedule!r}"
        )
    return [_parse_stage(stage, n_groups) for stage in schedule]


def _parse_stage(stage, n_groups: int) -> Stage:
    example = "e.g. (1, 1, 2e-2) or ('all', 2, 1e-3)"
    if isinstance(stage, str) or not isinstance(stage, Sequence) or len(stage) != 3:
        raise ValueError(f"each schedule stage must be (unfreeze, epochs, lr), {example}; got {stage!r}")
    unfreeze, epochs, lr = stage
    if unfreeze == "all":
        n_trainable = n_groups
    elif _is_int(unfreeze) and 1 <= unfreeze <= n_groups:
        n_trainable = int(unfreeze)
    else:
        raise ValueError(
            f"stage {stage!r}: unfreeze must be 'all' or an int from 1 (head only) to "
            f"{n_groups} (this model has {n_groups} layer groups); got {unfreeze!r}"
        )
    if not _is_int(epochs) or epochs < 1:
        raise ValueError(f"stage {stage!r}: epochs must be an int >= 1; got {epochs!r}")
    if not isinstance(lr, numbers.Real) or isinstance(lr, bool) or not 0 < lr < float("inf"):
        raise ValueError(f"stage {stage!r}: lr must be a positive number; got {lr!r}")
    return Stage(n_trainable, int(epochs), float(lr))


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def group_rates(lr: float, n_groups: int, lr_decay: float) -> list[float]:
    """Discriminative rates bottom to top: the top group gets ``lr``, each lower ÷ ``lr_decay``."""
    return [lr / lr_decay ** (n_groups - 1 - index) for index in range(n_groups)]


def make_optimizer(groups, lr_schedule: str, weight_decay: float) -> torch.optim.Optimizer:
    """Adam with decoupled weight decay and one parameter group per layer group (fastai's Adam).

    torch's fused implementation (one kernel over all parameters) where torch has one for
    the parameters' device (CPUs from torch 2.4, GPUs), else its default: on a CPU the
    per-parameter loop was a fifth of a training step at 16 texts a batch
    (``benchmarks/fit_time.py``).
    """
    settings = dict(lr=1e-3, betas=ADAM_BETAS[lr_schedule], eps=ADAM_EPS, weight_decay=weight_decay)
    try:
        return torch.optim.AdamW([{"params": group} for group in groups], fused=True, **settings)
    except RuntimeError:  # no fused kernel for these parameters' device in this torch; fresh
        # group dicts: AdamW wrote fused=True into the ones it refused
        return torch.optim.AdamW([{"params": group} for group in groups], **settings)


def make_gradient_scaler(device: torch.device) -> torch.amp.GradScaler:
    """The loss scaler of mixed precision: active on a GPU, a no-op on the CPU."""
    return torch.amp.GradScaler(device.type, enabled=device.type == "cuda")


class StageRates:
    """Per-step learning rates (and momentum) for one stage, one curve per layer group.

    fastai owns the curve shapes (``combined_cos``, ``SchedLin``), so ``"one_cycle"`` is
    exactly its ``fit_one_cycle``; call :meth:`step` after every optimiser step.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, max_lrs: list[float],
                 total_steps: int, lr_schedule: str):
        self.optimizer = optimizer
        self.total_steps = max(total_steps, 1)
        self.step_count = 0
        self.lr_curves = [_lr_curve(lr, lr_schedule) for lr in max_lrs]
        self.momentum_curve = combined_cos(ONE_CYCLE_PCT, *ONE_CYCLE_MOMS) if lr_schedule == "one_cycle" else None
        self._apply()

    def seek(self, step_count: int) -> None:
        """Set the rates of step ``step_count`` (continuing a run where it stopped)."""
        self.step_count = step_count
        self._apply()

    def step(self) -> None:
        self.step_count += 1
        if self.step_count < self.total_steps:
            self._apply()

    def _apply(self) -> None:
        position = self.step_count / self.total_steps
        for group, curve in zip(self.optimizer.param_groups, self.lr_curves, strict=True):
            group["lr"] = float(curve(position))
            if self.momentum_curve is not None:
                group["betas"] = (float(self.momentum_curve(position)), group["betas"][1])


def _lr_curve(lr: float, lr_schedule: str):
    if lr_schedule == "one_cycle":
        return combined_cos(ONE_CYCLE_PCT, lr / ONE_CYCLE_DIV, lr, lr / ONE_CYCLE_DIV_FINAL)
    return combine_scheds([STLR_CUT_FRAC, 1 - STLR_CUT_FRAC],
                          [SchedLin(lr / STLR_RATIO, lr), SchedLin(lr, lr / STLR_RATIO)])
