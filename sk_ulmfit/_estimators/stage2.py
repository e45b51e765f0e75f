"""Stage 2, the language model's fine-tuning on the training texts: what the classifier's
``language_model`` means (``"auto"``'s settings, a given estimator, or none), and the
fine-tuned models cached in this process and, with ``memory``, on disk.

A grid search over classifier parameters fits many classifiers on the same training
texts; the fine-tuned language model depends only on the starting model, the texts and
the fine-tuning parameters, so it is computed once per distinct combination: in this
process (the last ``CACHE_SIZE``), and with the classifier's ``memory`` (joblib.Memory)
once across every process that shares its folder.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

import joblib
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_memory

from .._io.persistence import SavedLanguageModel
from .language_model import ULMFiTLanguageModel

# language_model="auto": stage 2 as fastai's ULMFiT examples fine-tune (drop_mult 0.3), one
# epoch at 2e-3; 64 rows of bptt tokens keep the cores busy (the classifier's smaller
# batch_size is for its few labelled texts). The AUTO_SHARED parameters follow the classifier's.
AUTO_LANGUAGE_MODEL = {"epochs": 1, "lr": 2e-3, "drop_mult": 0.3, "batch_size": 64}
AUTO_SHARED = ("bptt", "min_freq", "max_vocab", "weight_decay", "lr_schedule", "verbose")


def auto_language_model(params: dict, **changes) -> ULMFiTLanguageModel:
    """Stage 2 for ``language_model="auto"`` in a classifier with ``params``: the
    ``AUTO_LANGUAGE_MODEL`` settings (and ``changes``) with the classifier's shared ones."""
    return ULMFiTLanguageModel(**{**AUTO_LANGUAGE_MODEL, **changes}, **{name: params[name] for name in AUTO_SHARED})


def stage2_estimator(params: dict) -> ULMFiTLanguageModel | None:
    """The unfitted estimator of stage 2 for a classifier with ``params``, or ``None`` for none."""
    language_model, pretrained = params["language_model"], params["pretrained"]
    if language_model is None:
        return None
    if isinstance(language_model, str):  # "auto" (checked with the classifier's parameters)
        return None if pretrained is None else auto_language_model(params)
    if pretrained is None:
        raise ValueError("language_model fine-tunes the pretrained model (stage 2), but pretrained=None: "
                         "set pretrained, or language_model=None to train from random weights")
    if language_model.pretrained is not None:
        raise ValueError("stage 2 starts from the classifier's pretrained model: set pretrained on the "
                         "classifier and leave language_model's pretrained as None")
    return clone(language_model)


CACHE_SIZE = 4
_cache: OrderedDict[str, object] = OrderedDict()


# Parameters that do not change the fine-tuned model: left out of the cache key.
NOT_IN_KEY = ("n_jobs", "verbose")


def fine_tuned(start: SavedLanguageModel, spec, texts: list[str], params: dict, memory=None) -> SavedLanguageModel:
    """``start`` fine-tuned on ``texts`` by ``ULMFiTLanguageModel(**params)``, cached.

    ``spec`` is what the user passed as ``pretrained``; with ``params`` and ``texts`` it
    forms the cache key. ``memory`` (``None``, a folder or a ``joblib.Memory``) adds the
    on-disk cache.
    """
    fingerprint = _fingerprint(spec)
    settings = sorted((name, value) for name, value in params.items() if name not in NOT_IN_KEY)
    key = joblib.hash((fingerprint, texts, settings))
    if key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    memory = check_memory(memory)
    run = _fine_tune if memory.location is None else memory.cache(_fine_tune, ignore=["start", "params"])
    model = run(fingerprint, texts, settings, start, params)
    _cache[key] = model
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return model


def _fine_tune(fingerprint, texts: list[str], settings: list, start: SavedLanguageModel,
               params: dict) -> SavedLanguageModel:
    """Stage 2 itself; ``fingerprint`` and ``settings`` only key the on-disk cache."""
    return ULMFiTLanguageModel(**params)._fit_from(start, texts)._saved()


def clear() -> None:
    """Forget every cached language model."""
    _cache.clear()


def _fingerprint(spec):
    """What identifies a starting model: file paths by name, size and modification time."""
    spec = spec.estimator if isinstance(spec, FrozenEstimator) else spec
    if isinstance(spec, (str, os.PathLike)) and Path(spec).exists():
        stat = Path(spec).stat()
        return str(spec), stat.st_size, stat.st_mtime_ns
    if isinstance(spec, (tuple, list)):
        return tuple(_fingerprint(part) for part in spec)
    if isinstance(spec, Mapping):  # one model per reading direction
        return tuple(sorted((direction, _fingerprint(part)) for direction, part in spec.items()))
    if hasattr(spec, "model_"):  # a fitted ULMFiTLanguageModel: by its content
        return spec.direction, spec.vocab_.itos, spec.config_.to_dict(), _numpy_weights(spec.model_)
    if hasattr(spec, "directions_"):  # a fitted ULMFiTClassifier
        return [(trained.direction, trained.vocab.itos, _numpy_weights(trained.network))
                for trained in spec.directions_]
    return spec  # a shipped model's name


def _numpy_weights(network) -> dict:
    """torch tensors do not hash reproducibly with joblib; numpy arrays do."""
    return {name: tensor.detach().cpu().numpy() for name, tensor in network.state_dict().items()}
