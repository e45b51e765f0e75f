"""What keeps the files and pickles of earlier versions working, in one place. Each piece
goes in ``REMOVED_IN``.

- 0.1.0's module paths (``sk_ulmfit.classifier`` and others): 0.1.0 kept its classes in
  public-looking modules; estimators now pickle under the public path
  ``sk_ulmfit.ULMFiTClassifier``. A pickle names the module of each class it holds, so the
  old paths stay importable, as numpy kept ``numpy.core`` for its pickles: each is a
  module whose names resolve on first use (PEP 562) and warn (:func:`moved`). Pickling
  the loaded object again, or calling its ``save``, writes the public path.
- 0.1.0's stage-2 parameters ``lm_epochs``/``lm_lr`` in classifier pickles and files
  (:func:`renamed_params`), and its language-model pickles of private classes
  (:func:`plain_language_model_state`).
- Pickles and files from before a parameter existed: the parameter's default, which does
  what the model did before it (:func:`with_new_params`, :func:`backfilled_classifier`).
- ``ULMFiTLanguageModel.save(half=...)`` (:func:`precision_of_half`).
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable

REMOVED_IN = "0.3"
# 0.1.0's stage-2 defaults, lm_epochs and lm_lr: what language_model="auto" still does
STAGE2_0_1_0 = {"epochs": 1, "lr": 2e-3}


def moved(module: str, names: dict[str, object]):
    """A module ``__getattr__`` that hands out ``names`` of the 0.1.0 ``module`` and warns
    (one message for every old path: loading one pickle shows it once)."""

    def __getattr__(name: str):
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warnings.warn(f"sk_ulmfit 0.1.0's module paths (sk_ulmfit.classifier, sk_ulmfit.language_model, ...) "
                      f"go in {REMOVED_IN}: import the estimators from sk_ulmfit, and pickle an estimator "
                      f"loaded from an old pickle again (or call its save()) to store today's paths",
                      FutureWarning, stacklevel=2)
        return names[name]

    return __getattr__


def with_new_params(estimator_class: type, state: dict) -> dict:
    """``state``, a pickled ``estimator_class``'s, with each parameter added since it was
    written at its default: a new parameter's default does what the model did before it
    existed, so the model predicts and refits as it did."""
    signature = inspect.signature(estimator_class.__init__)
    defaults = {name: param.default for name, param in signature.parameters.items() if name != "self"}
    return {**defaults, **state}


def renamed_params(params: dict, auto_language_model: Callable) -> dict:
    """``params`` (or a pickled state) with sk_ulmfit 0.1.0's stage-2 parameters in today's
    terms: ``lm_epochs=0`` was ``language_model=None``, and ``lm_epochs``, ``lm_lr`` the
    epochs and rate of what is now ``"auto"`` (their defaults are ``"auto"``'s), built by
    ``auto_language_model(params, epochs=..., lr=...)``. Only pickles and files written by
    0.1.0 have them."""
    if "lm_epochs" not in params:
        return params
    params = dict(params)
    epochs, lr = params.pop("lm_epochs"), params.pop("lm_lr", STAGE2_0_1_0["lr"])
    if epochs == 0:
        params["language_model"] = None
    elif (epochs, lr) == (STAGE2_0_1_0["epochs"], STAGE2_0_1_0["lr"]) or (
            "pretrained" in params and params["pretrained"] is None):
        params["language_model"] = "auto"  # which, as lm_epochs did, skips stage 2 without a pretrained model
    else:
        params["language_model"] = auto_language_model(params, epochs=epochs, lr=lr)
    return params


def backfilled_classifier(state: dict, directions: list, attributes: bool) -> dict:
    """A classifier's saved ``params`` (or, with ``attributes``, its pickled state) from
    before ``pool_layers`` (and the ``multilabel_`` attribute) existed: what its trained
    ``directions`` did."""
    state = dict(state)
    state.setdefault("pool_layers", directions[0].config.pool_layers)
    if attributes:
        state.setdefault("multilabel_", False)
    return state


def plain_language_model_state(config, vocab) -> tuple[dict, list[str]]:
    """A pickled language model's ``config_`` and ``vocab_`` as plain data: 0.1.0 pickled
    the config dataclass and the ``Vocabulary`` themselves."""
    if isinstance(config, dict):
        return config, vocab
    return vars(config), vocab.itos


def precision_of_half(half: bool | None, precision: str) -> str:
    """``save(half=...)``'s storage precision, with the deprecation warning."""
    if half is None:
        return precision
    warnings.warn(f"save(half=...) is deprecated and will be removed in {REMOVED_IN}; use "
                  "precision='float16' (or 'float32', 'int8')", FutureWarning, stacklevel=3)
    return "float16" if half else "float32"
