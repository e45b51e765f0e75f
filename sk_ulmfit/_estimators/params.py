"""Every plain parameter of both estimators, checked from one table.

Numbers: ``name -> (type, lowest, highest, which bounds are allowed)``; choices come
from the modules that own them. A parameter means the same in both estimators, so it is
checked the same way in both.
"""

from __future__ import annotations

import numbers
import os

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_scalar

from .._nn.awd_lstm import POOL_LAYERS
from .._nn.inference import PREDICT_PRECISIONS
from .._train.schedule import LR_SCHEDULES

NUMBERS = {
    "emb_size": (numbers.Integral, 1, None, "left"),
    "hidden_size": (numbers.Integral, 1, None, "left"),
    "n_layers": (numbers.Integral, 1, None, "left"),
    "bptt": (numbers.Integral, 1, None, "left"),
    "max_len": (numbers.Integral, 1, None, "left"),
    "min_freq": (numbers.Integral, 1, None, "left"),
    "max_vocab": (numbers.Integral, 1, None, "left"),
    "epochs": (numbers.Integral, 1, None, "left"),
    # the classifier's BatchNorm needs 2 texts; a language model's stream at least 2 rows
    "batch_size": (numbers.Integral, 2, None, "left"),
    "predict_batch_size": (numbers.Integral, 1, None, "left"),
    "n_sampled": (numbers.Integral, 1, None, "left"),
    "verbose": (numbers.Integral, 0, None, "left"),
    "lr": (numbers.Real, 0, None, "neither"),
    "lr_decay": (numbers.Real, 0, None, "neither"),
    "drop_mult": (numbers.Real, 0, None, "left"),
    "weight_decay": (numbers.Real, 0, None, "left"),
    "validation_fraction": (numbers.Real, 0, 1, "neither"),
    "n_jobs": (numbers.Integral, None, None, "both"),
    "n_iter_no_change": (numbers.Integral, 1, None, "left"),
}
CHOICES = {"lr_schedule": LR_SCHEDULES, "predict_precision": PREDICT_PRECISIONS, "pool_layers": POOL_LAYERS}
# None is a valid value of these
OPTIONAL = {"n_sampled", "validation_fraction", "n_jobs"}


def check_params(estimator, only: tuple[str, ...] | None = None, auto: tuple[str, ...] = (), **choices) -> None:
    """Check every parameter of ``estimator`` (or those in ``only``) that the table or
    ``choices`` (per-estimator choices, e.g. ``direction``) covers; the parameters named in
    ``auto`` may also be ``"auto"``."""
    params = estimator.get_params(deep=False)
    if only is not None:
        params = {name: params[name] for name in only}
    for name, value in params.items():
        if value is None and name in OPTIONAL:
            continue
        if name in auto and isinstance(value, str):
            if value != "auto":
                raise ValueError(f"{name} must be 'auto' or a number; got {value!r}")
            continue
        if name in NUMBERS:
            kind, lowest, highest, bounds = NUMBERS[name]
            check_scalar(value, name, kind, min_val=lowest, max_val=highest, include_boundaries=bounds)
        allowed = choices.get(name, CHOICES.get(name))
        if allowed is not None and (not isinstance(value, str) or value not in allowed):
            raise ValueError(f"{name} must be one of {list(allowed)}; got {value!r}")
    if params.get("n_jobs") == 0:
        raise ValueError("n_jobs=0 has no meaning: use None or 1 (one process), -1 (every core) or a count")
    if "early_stopping" in params and not isinstance(params["early_stopping"], (bool, np.bool_)):
        raise TypeError(f"early_stopping must be True or False; got {params['early_stopping']!r}")
    folder = params.get("checkpoint_dir")
    if folder is not None and not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"checkpoint_dir must be None or a folder path (str or pathlib.Path); got {folder!r}")
    if "random_state" in params:
        check_random_state(params["random_state"])
