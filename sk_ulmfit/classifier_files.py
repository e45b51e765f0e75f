"""Classifier files: a fitted ``ULMFiTClassifier`` without pickled code.

One file written by ``torch.save`` and read with ``weights_only=True`` (see
:func:`sk_ulmfit.lm_files.read_payload`). It holds a dict::

    {"format": "sk_ulmfit.classifier", "version": 1,
     "params": {name: value, ...},          # the estimator's plain parameters
     "classes": [label, ...],               # classes_ as str / int / float / bool
     "classes_dtype": "<U8" | "int64" | "object" | ...,
     "directions": [{"direction", "itos", "config", "weights": {name: tensor}}, ...],
     "history": [{...}, ...]}               # history_ records

``pickle``/``joblib`` also work for any fitted classifier; this format is for sharing
models with people who should not have to trust pickled code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .lm_files import read_payload
from .model import TrainedDirection

FORMAT = "sk_ulmfit.classifier"
VERSION = 1
PLAIN_TYPES = (str, int, float, bool, type(None))


@dataclass
class SavedClassifier:
    params: dict
    classes: np.ndarray
    directions: list[dict]
    history: list[dict]


def write_classifier(path, params: dict, classes: np.ndarray, directions: list[TrainedDirection],
                     history: list[dict]) -> Path:
    """Write a fitted classifier's state; labels must be plain str, int, float or bool."""
    labels = [label.item() if isinstance(label, np.generic) else label for label in classes]
    if not all(isinstance(label, PLAIN_TYPES) for label in labels):
        raise TypeError(
            "save() stores labels of type str, int, float or bool; these classes are "
            f"{sorted({type(label).__name__ for label in labels})}: use joblib.dump(clf, path) instead"
        )
    payload = {
        "format": FORMAT, "version": VERSION,
        "params": {name: value for name, value in params.items() if _is_plain(value)},
        "classes": labels, "classes_dtype": classes.dtype.str if classes.dtype != object else "object",
        "directions": [trained.to_payload() for trained in directions],
        "history": [dict(record) for record in history],
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    partial.replace(path)  # never leave a half-written model under the real name
    return path


def classifier_from_payload(payload: dict, path) -> SavedClassifier:
    """The classifier in a payload that :func:`sk_ulmfit.lm_files.read_payload` returned."""
    if payload.get("format") != FORMAT:
        raise ValueError(f"{path} holds a {payload.get('format')!r}, not an sk_ulmfit classifier")
    if payload.get("version") != VERSION:
        raise ValueError(f"{path} has format version {payload.get('version')}; this sk_ulmfit reads {VERSION}")
    classes = np.asarray(payload["classes"], dtype=object if payload["classes_dtype"] == "object"
                         else np.dtype(payload["classes_dtype"]))
    return SavedClassifier(dict(payload["params"]), classes, list(payload["directions"]),
                           list(payload["history"]))


def read_classifier(path) -> SavedClassifier:
    """Read a file written by :func:`write_classifier`, with clear errors."""
    return classifier_from_payload(read_payload(path, "classifier"), path)


def _is_plain(value) -> bool:
    if isinstance(value, (tuple, list)):
        return all(_is_plain(item) for item in value)
    return isinstance(value, PLAIN_TYPES)
