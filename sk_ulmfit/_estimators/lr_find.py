"""``lr_find``: fastai's learning-rate range test, on a clone of a classifier."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from fastai.callback.schedule import minimum, slide, steep, valley
from sklearn.base import clone

from .._nn.awd_lstm import layer_groups, set_trainable
from .._text.batching import training_batches
from .._train.loop import train_epoch
from .._train.schedule import (
    batch_and_rate_factor,
    make_gradient_scaler,
    make_optimizer,
)
from .classifier import ULMFiTClassifier, _training_part

# fastai's suggestion functions, by the names fastai's ``lr_find(suggest_funcs=...)`` uses
SUGGESTIONS = {"valley": valley, "slide": slide, "minimum": minimum, "steep": steep}
SMOOTHING = 0.98  # fastai's AvgSmoothLoss
DIVERGED = 4.0  # fastai's LRFinder stops once the smoothed loss exceeds 4x its minimum


@dataclass
class LRFinderResult:
    """What :func:`lr_find` measured.

    Attributes
    ----------
    curve : pandas.DataFrame
        One row per step: ``lr``, ``loss`` (the batch loss) and ``smoothed_loss``
        (fastai's exponential average, debiased), the column fastai plots.
    suggestions : dict
        fastai's suggested rate per suggestion function (``{"valley": 1.2e-3}``).
    stage : int
        The schedule stage whose trainable layers were tested.
    """

    curve: pd.DataFrame
    suggestions: dict = field(default_factory=dict)
    stage: int = 1

    def plot(self, ax=None):
        """The loss against the learning rate (log scale), suggestions marked, as fastai draws it."""
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.curve["lr"], self.curve["smoothed_loss"])
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss (smoothed)")
        for (name, lr), marker in zip(self.suggestions.items(), "os^D"):
            loss = np.interp(np.log(lr), np.log(self.curve["lr"]), self.curve["smoothed_loss"])
            ax.plot(lr, loss, marker, label=f"{name}: {lr:.2e}")
        if self.suggestions:
            ax.legend()
        ax.set_title(f"learning-rate range test, stage {self.stage}")
        return ax


def lr_find(estimator: ULMFiTClassifier, X, y, *, stage: int = 1, start_lr: float = 1e-7, end_lr: float = 10.0,
            num_it: int = 100, suggest_funcs=("valley",), show_plot: bool = True) -> LRFinderResult:
    """fastai's learning-rate range test for one stage of ``estimator``'s schedule.

    A clone of ``estimator`` (the estimator itself is not changed) prepares its network
    exactly as ``fit`` would (tokens, vocabulary, stage 2, pretrained weights; the forward
    direction), trains the layers that schedule stage ``stage`` trains for ``num_it``
    batches while the rate grows exponentially from ``start_lr`` to ``end_lr`` (all layer
    groups at the same rate, as fastai's ``Learner.lr_find``), and stops early once the
    smoothed loss exceeds 4 times its minimum. A stage 2 run here is cached in this
    process, so the ``fit`` that follows reuses it. The rates are in the schedule's terms:
    where ``batch_size="auto"`` grows the batch (more than 2,048 training texts), the
    test trains at the grown batch with every rate times ``sqrt(batch / 16)``, as ``fit``
    would, so a suggestion goes into ``schedule`` as it is.

    Parameters
    ----------
    estimator : ULMFiTClassifier
        Its parameters set everything (``pretrained``, ``schedule``, ``batch_size``, ...).
    X : sequence of str
    y : array-like of labels
    stage : int, default=1
        The stage of the schedule (from 1) whose trainable layer groups are tested.
    start_lr, end_lr : float, default=1e-7, 10
    num_it : int, default=100
    suggest_funcs : sequence of str, default=("valley",)
        fastai's suggestion functions: ``"valley"``, ``"slide"``, ``"minimum"``, ``"steep"``.
    show_plot : bool, default=True
        Draw the curve (``LRFinderResult.plot``).

    Returns
    -------
    LRFinderResult
        ``curve`` (a DataFrame), ``suggestions`` and ``plot()``.

    See Also
    --------
    sk_ulmfit.plot_history : The losses of a whole fit across its stages.

    Examples
    --------
    Choose the rate of the schedule's last stage (all layers) and use it::

        result = lr_find(ULMFiTClassifier(), X, y, stage=4, suggest_funcs=("valley", "steep"))
        lr = result.suggestions["valley"]
        clf = ULMFiTClassifier(schedule=[(1, 1, 2e-2), (2, 1, 1e-2), (3, 1, 5e-3), ("all", 8, lr)])
    """
    if not isinstance(estimator, ULMFiTClassifier):
        raise TypeError(f"lr_find takes a ULMFiTClassifier; got {type(estimator).__name__}")
    unknown = [name for name in suggest_funcs if name not in SUGGESTIONS]
    if unknown:
        raise ValueError(f"suggest_funcs must name fastai's {sorted(SUGGESTIONS)}; got {unknown}")
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr; got start_lr={start_lr}, end_lr={end_lr}")
    if int(num_it) != num_it or num_it < 10:
        raise ValueError(f"num_it must be an integer of at least 10; got {num_it!r}")
    params = clone(estimator).get_params(deep=False)
    tester = _RangeTest(**{**params, "direction": "forward", "checkpoint_dir": None, "early_stopping": False})
    tester.range_test = {"stage": stage, "lrs": np.geomspace(start_lr, end_lr, int(num_it))}
    tester.fit(X, y)
    curve = pd.DataFrame(tester.range_curve, columns=["lr", "loss", "smoothed_loss"])
    # fastai leaves out the first tenth and the last 5 steps before suggesting
    lrs = torch.tensor(curve["lr"].to_numpy()[num_it // 10:-5])
    losses = torch.tensor(curve["smoothed_loss"].to_numpy()[num_it // 10:-5])
    suggestions = {}
    if len(lrs) >= 3:
        for name in suggest_funcs:
            suggestion, _ = SUGGESTIONS[name](lrs, losses, num_it)
            suggestions[name] = float(suggestion)
    result = LRFinderResult(curve, suggestions, stage)
    if show_plot:
        result.plot()
    return result


class _RangeTest(ULMFiTClassifier):
    """A ``ULMFiTClassifier`` whose fit runs the range test where the schedule would run."""

    range_test: dict
    range_curve: list

    def _run_schedule(self, model, config, device, data, sequences, rng, resume=None, save_progress=None,
                      runs_after=0, direction="forward"):
        stages, batch_size, train_idx = data.stages, data.batch_size, data.train_idx
        stage = self.range_test["stage"]
        if not 1 <= stage <= len(stages):
            raise ValueError(f"stage must be between 1 and {len(stages)} (the schedule's stages); got {stage}")
        groups = layer_groups(model)
        set_trainable(groups, stages[stage - 1].n_trainable)
        optimizer = make_optimizer(groups, self.lr_schedule, self.weight_decay)
        scaler = make_gradient_scaler(device)
        train, train_targets, train_weights = _training_part(sequences, data.targets, data.weights, train_idx)
        _, rate_factor = batch_and_rate_factor(self.batch_size, len(train_idx))  # as fit scales the schedule
        batches, smoothed, lowest, self.range_curve = [], 0.0, math.inf, []
        for step, lr in enumerate(self.range_test["lrs"]):
            if not batches:
                batches = training_batches([len(s) for s in train], batch_size, rng)
            for group in optimizer.param_groups:
                group["lr"] = float(lr) * rate_factor
            loss = train_epoch(model, train, train_targets, [batches.pop()], optimizer, _Constant(), scaler,
                               device, self.bptt, weights=train_weights)
            smoothed = SMOOTHING * smoothed + (1 - SMOOTHING) * loss
            debiased = smoothed / (1 - SMOOTHING ** (step + 1))
            self.range_curve.append((float(lr), loss, debiased))
            lowest = min(lowest, debiased)
            if not math.isfinite(debiased) or debiased > DIVERGED * lowest:
                break
        return []


class _Constant:
    """Rates that stay where the range test sets them."""

    def step(self) -> None:
        pass
