"""Everything the package writes and reads back: one file format family, one atomic write,
one device fallback, and pickling built on the same payloads.

A saved model is one file written by ``torch.save`` and read with ``weights_only=True``,
so loading it runs no pickled code. It holds a dict with a ``format`` marker::

    {"format": "sk_ulmfit.language_model", "version": 1 | 2,
     "direction": "forward" | "backward",
     "config": {"vocab_size", "emb_size", "hidden_size", "n_layers", "drop_mult"},
     "itos": [token, ...],                  # the vocabulary, id order
     "weights": {name: tensor, ...},        # fastai get_language_model's state dict
     "params": {name: value, ...}}          # plain estimator parameters (bptt, ...)

Weights are float32 or float16 tensors (version 1). A language model stored in int8
(``precision="int8"``, version 2, for shipping) holds each matrix as
``{"int8": q, "scale": s}``: int8 rows ``q`` and one float32 scale per row, the matrix
being ``q * s`` (the row's largest magnitude maps to 127); vectors stay float16.
Version 2 exists so that an older sk_ulmfit refuses such a file with a clear error.

    {"format": "sk_ulmfit.classifier", "version": 1 | 2,
     "params": {name: value, ...},          # the estimator's plain settings (no extra_texts)
     "classes": [label, ...],               # classes_ as str / int / float / bool
     "classes_dtype": "<U8" | "int64" | "object" | ...,
     "directions": [{"direction", "itos", "config", "weights": {name: tensor}}, ...],
     "history": [{...}, ...]}               # history_ records

A classifier whose head pools every LSTM layer (``pool_layers="all"``) has
``"pool_layers": "all"`` in each direction's config and is version 2, which older
versions refuse clearly; one that pools the last layer is written as before (version 1,
no such key).

The same payloads (less the markers) are what ``pickle`` stores for a fitted estimator,
and what a fitted estimator given as ``pretrained=`` hands over. fastai's pretrained
files are read too: a state dict (``.pth``, possibly inside ``{"model": ...}``) and a
pickled list of tokens (``.pkl``), read with an unpickler that accepts built-in lists and
strings only.
"""

from __future__ import annotations

import abc
import hashlib
import pickle
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from fastai.text.learner import clean_raw_keys

from .._common.atomic import atomic_target
from .._common.distributed import is_writer
from .._nn.awd_lstm import (
    ClassifierConfig,
    LanguageModelConfig,
    TrainedDirection,
    build_classifier,
)
from .._text.tokenizer import Vocabulary

LANGUAGE_MODEL = "sk_ulmfit.language_model"
CLASSIFIER = "sk_ulmfit.classifier"
VERSION = 1
INT8_VERSION = 2  # a language model with int8 weights; see the module docstring
ALL_LAYERS_VERSION = 2  # a classifier that pools every LSTM layer; see the module docstring
STORAGE_PRECISIONS = ("float32", "float16", "int8")  # how weights are stored in a file
# Copies of the embedding inside fastai's language model (embedding dropout's module and
# the weight-tied decoder): stored once, restored on reading.
EMBEDDING = "0.encoder.weight"
TIED_COPIES = ("0.encoder_dp.emb.weight", "1.decoder.weight")
PLAIN_TYPES = (str, int, float, bool, type(None))
# Parameters that hand an estimator data, not settings: a file keeps settings only (the
# unlabelled texts of stage 2 would make a classifier's file as large as its corpus).
DATA_PARAMS = ("extra_texts",)
CHECKSUM = "sha256"


# ------------------------------------------------------------------------ files
class PayloadSource(abc.ABC):
    """A fitted estimator that hands over what its ``save`` writes: how a fitted model given
    as ``pretrained=`` is read, and how checkpoints fingerprint one, without this layer
    importing the estimators (which derive from it)."""

    @abc.abstractmethod
    def _payload(self) -> dict:
        """The dict ``save`` writes (raises ``NotFittedError`` before ``fit``)."""


def write_payload(path, payload: dict) -> Path:
    """``torch.save`` the payload to ``path`` atomically (never a half-written model), with
    a checksum of its content that :func:`read_payload` verifies. Under ``torchrun`` only
    rank 0 writes (every process holds the same model)."""
    if not is_writer():
        return Path(path)
    with atomic_target(path) as partial:
        torch.save({**payload, CHECKSUM: payload_digest(payload)}, partial)
    return Path(path)


def payload_digest(payload) -> str:
    """SHA-256 of a payload's content: every tensor's bytes and every plain value, in key
    order (a damaged byte inside a tensor changes no structure, only this)."""
    digest = hashlib.sha256()

    def walk(value) -> None:
        if isinstance(value, torch.Tensor):
            digest.update(f"tensor{value.dtype}{tuple(value.shape)}".encode())
            digest.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(value, dict):
            for key in sorted(value, key=str):
                if key != CHECKSUM:
                    digest.update(f"key{key!r}".encode())
                    walk(value[key])
        elif isinstance(value, (list, tuple)):
            digest.update(f"seq{len(value)}".encode())
            for item in value:
                walk(item)
        else:
            digest.update(repr(value).encode("utf-8", "surrogatepass"))

    walk(payload)
    return digest.hexdigest()


def read_payload(path, kind: str = "model") -> dict:
    """The dict inside a file written by :func:`write_payload`: plain data and tensors only."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {kind} file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - arbitrary bytes fail anywhere in torch's reader
        # (IndexError, KeyError, struct errors, ... besides its UnpicklingError and RuntimeError)
        raise ValueError(
            f"{path} is not a readable sk_ulmfit {kind} ({error.__class__.__name__}: "
            f"{str(error)[:200]}); it may be truncated or corrupt: save it again, or for "
            "fastai files pass (weights.pth, vocab.pkl)"
        ) from error
    if not isinstance(payload, dict) or "format" not in payload:
        raise ValueError(
            f"{path} is not an sk_ulmfit {kind} file (no format marker); "
            "for fastai's WT103-style files pass (weights.pth, vocab.pkl)"
        )
    checksum = payload.pop(CHECKSUM, None)  # files written before checksums have none
    if checksum is not None and checksum != payload_digest(payload):
        raise ValueError(f"{path} is corrupt: its content does not match the checksum written with it "
                         "(a damaged copy or disk); copy or save it again")
    return payload


def check_format(payload: dict, expected: str, source) -> None:
    """Raise if ``payload`` is not ``expected`` in a version this package reads."""
    if payload.get("format") != expected:
        kind = {LANGUAGE_MODEL: "language model", CLASSIFIER: "classifier"}[expected]
        raise ValueError(f"{source} holds a {payload.get('format')!r}, not an sk_ulmfit {kind}")
    readable = (VERSION, INT8_VERSION) if expected == LANGUAGE_MODEL else (VERSION, ALL_LAYERS_VERSION)
    if payload.get("version") not in readable:
        raise ValueError(
            f"{source} has format version {payload.get('version')!r}; this sk_ulmfit reads "
            f"version {' or '.join(map(str, readable))}: load it with the sk_ulmfit that wrote it "
            "(a newer one: pip install -U sk-ulmfit), or train and save the model again")


def loadable_device(device: torch.device) -> torch.device:
    """``device``, or the CPU (with a warning) for a GPU model loaded where there is none."""
    if device.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(
            "this model was trained on a GPU and is loaded on the CPU because no GPU is "
            "available here; set device and refit to train on another device",
            UserWarning,
            stacklevel=4,
        )
        return torch.device("cpu")
    return device


def plain_params(params: dict, names=None) -> dict:
    """The settings a file can hold: str, int, float, bool, None and tuples of them; never a
    data parameter (``DATA_PARAMS``, also nested: ``language_model__extra_texts``)."""
    return {name: value for name, value in params.items()
            if (names is None or name in names) and name.rpartition("__")[2] not in DATA_PARAMS
            and _is_plain(value)}


def _is_plain(value) -> bool:
    if isinstance(value, (tuple, list)):
        return all(_is_plain(item) for item in value)
    return isinstance(value, PLAIN_TYPES)


# --------------------------------------------------------------- language models
@dataclass
class SavedLanguageModel:
    """A language model as plain data: float32 CPU weights, vocabulary, size, direction."""

    weights: dict[str, torch.Tensor]
    itos: list[str]
    config: LanguageModelConfig
    direction: str
    params: dict = field(default_factory=dict)


def check_precision(precision: str) -> str:
    """``precision`` if it is a storage precision this package writes, else a clear error."""
    if precision not in STORAGE_PRECISIONS:
        raise ValueError(f"precision must be one of {STORAGE_PRECISIONS}; got {precision!r}")
    return precision


def language_model_payload(saved: SavedLanguageModel, precision: str = "float32") -> dict:
    """The file payload of a language model, its weights stored in ``precision``
    (``"float32"``, ``"float16"`` or ``"int8"``: see the module docstring)."""
    check_precision(precision)
    weights = {k: v for k, v in saved.weights.items() if k not in TIED_COPIES}
    if precision == "float16":
        weights = {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}
    elif precision == "int8":
        weights = {k: quantize_int8(v) for k, v in weights.items()}
    return {"format": LANGUAGE_MODEL, "version": INT8_VERSION if precision == "int8" else VERSION,
            "direction": saved.direction, "config": saved.config.to_dict(), "itos": list(saved.itos),
            "weights": weights, "params": dict(saved.params)}


def quantize_int8(tensor: torch.Tensor):
    """A float matrix as int8 rows with a float32 scale each; vectors as float16."""
    if not tensor.is_floating_point():
        return tensor
    if tensor.dim() != 2:
        return tensor.half()
    tensor = tensor.float()
    scale = (tensor.abs().amax(dim=1, keepdim=True) / 127).clamp_min(torch.finfo(torch.float32).tiny)
    return {"int8": torch.round(tensor / scale).clamp(-127, 127).to(torch.int8), "scale": scale}


def dequantize(stored) -> torch.Tensor:
    """Inverse of :func:`quantize_int8` (float32); float tensors are made float32."""
    if isinstance(stored, dict):
        return stored["int8"].float() * stored["scale"].float()
    return stored.float()


def language_model_from_payload(payload: dict, source) -> SavedLanguageModel:
    """Inverse of :func:`language_model_payload` (float32 weights, tied copies restored)."""
    check_format(payload, LANGUAGE_MODEL, source)
    weights = {name: dequantize(stored) for name, stored in payload["weights"].items()}
    weights.update({name: weights[EMBEDDING] for name in TIED_COPIES})
    return SavedLanguageModel(weights, list(payload["itos"]), LanguageModelConfig(**payload["config"]),
                              payload["direction"], dict(payload.get("params", {})))


def read_language_model(path) -> SavedLanguageModel:
    """A language model file, with clear errors."""
    return language_model_from_payload(read_payload(path, "language model"), path)


# ------------------------------------------------------------------- classifiers
@dataclass
class SavedClassifier:
    """A fitted classifier as plain data (directions still as payloads)."""

    params: dict
    classes: np.ndarray
    directions: list[dict]
    history: list[dict]
    multilabel: bool = False


def direction_payload(trained: TrainedDirection) -> dict:
    """One trained direction as plain data and CPU tensors."""
    weights = {name: tensor.detach().to("cpu", copy=True) for name, tensor in trained.network.state_dict().items()}
    config = trained.config.to_dict()
    if config["pool_layers"] == "last":  # as written before pool_layers existed: older versions read it
        del config["pool_layers"]
    return {"direction": trained.direction, "itos": list(trained.vocab.itos), "config": config, "weights": weights}


def trained_direction(saved: dict, device: torch.device) -> TrainedDirection:
    """Inverse of :func:`direction_payload`: the network rebuilt on ``device``."""
    config = ClassifierConfig(**saved["config"])
    network = build_classifier(config)
    try:
        network.load_state_dict(saved["weights"])
    except (RuntimeError, KeyError, TypeError) as error:
        raise ValueError(
            f"the saved {saved['direction']} model's weights are corrupt or do not match its "
            f"configuration ({error.__class__.__name__}: {str(error)[:160]}); load an intact copy "
            "or fit the model again"
        ) from error
    return TrainedDirection(saved["direction"], Vocabulary(saved["itos"]), config, network.to(device).eval())


def classifier_payload(params: dict, classes: np.ndarray, directions: list[TrainedDirection],
                       history: list[dict], multilabel: bool = False) -> dict:
    """The file payload of a fitted classifier; labels must be plain str, int, float or bool."""
    labels = [label.item() if isinstance(label, np.generic) else label for label in classes]
    if not all(isinstance(label, PLAIN_TYPES) for label in labels):
        raise TypeError(
            "save() stores labels of type str, int, float or bool; these classes are "
            f"{sorted({type(label).__name__ for label in labels})}: use joblib.dump(clf, path) instead"
        )
    return {
        "format": CLASSIFIER, "params": plain_params(params),
        "version": ALL_LAYERS_VERSION if any(d.config.pool_layers == "all" for d in directions) else VERSION,
        "classes": labels, "classes_dtype": classes.dtype.str if classes.dtype != object else "object",
        "directions": [direction_payload(trained) for trained in directions],
        "history": [dict(record) for record in history], "multilabel": bool(multilabel),
    }


def classifier_from_payload(payload: dict, source) -> SavedClassifier:
    """The classifier in a payload (directions left as payloads: see :func:`trained_direction`)."""
    check_format(payload, CLASSIFIER, source)
    classes = np.asarray(payload["classes"], dtype=object if payload["classes_dtype"] == "object"
                         else np.dtype(payload["classes_dtype"]))
    return SavedClassifier(dict(payload["params"]), classes, list(payload["directions"]),
                           list(payload["history"]), bool(payload.get("multilabel", False)))


# ------------------------------------------------------------------ fastai files
class _TokenListUnpickler(pickle.Unpickler):
    """Unpickles built-in containers and strings only: a vocabulary, never code."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a vocabulary file")


def read_fastai_vocab(path) -> list[str]:
    """The token list of a fastai ``itos_*.pkl`` file."""
    with open(path, "rb") as file:
        try:
            itos = _TokenListUnpickler(file).load()
        except (pickle.UnpicklingError, EOFError, ValueError) as error:
            raise ValueError(f"{path} is not a fastai vocabulary (a pickled list of str): {error}") from error
    if not isinstance(itos, list) or not all(isinstance(token, str) for token in itos):
        raise ValueError(f"{path} is not a fastai vocabulary: expected a list of str")
    return itos


def read_fastai_language_model(weights_path, vocab_path, direction: str = "forward") -> SavedLanguageModel:
    """fastai WT103-style files (``lstm_fwd.pth``-like weights, ``itos``-like vocabulary).

    The files carry no direction: they are taken to be ``direction``.
    """
    itos = read_fastai_vocab(vocab_path)
    try:
        weights = torch.load(weights_path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{weights_path} is not a readable fastai weights file: {error}") from error
    if isinstance(weights, dict) and "model" in weights:
        weights = weights["model"]
    weights = clean_raw_keys(dict(weights))
    config = _infer_config(weights, len(itos), weights_path)
    return SavedLanguageModel(_our_names(weights), itos, config, direction)


def _infer_config(weights: dict, vocab_size: int, path) -> LanguageModelConfig:
    try:
        embedding = weights["0.encoder.weight"]
        n_layers = len({key.split(".")[2] for key in weights if key.startswith("0.rnns.")})
        hidden = weights["0.rnns.0.weight_hh_l0_raw"].shape[1]
    except KeyError as error:
        raise ValueError(f"{path} does not hold AWD-LSTM language-model weights (missing {error})") from error
    if embedding.shape[0] != vocab_size:
        raise ValueError(
            f"{path} has {embedding.shape[0]} embedding rows but the vocabulary has {vocab_size} "
            "tokens: the weights and vocabulary files do not belong together"
        )
    hidden_size = hidden if n_layers > 1 else embedding.shape[1]
    return LanguageModelConfig(vocab_size, embedding.shape[1], hidden_size, n_layers, drop_mult=1.0)


def _our_names(weights: dict) -> dict[str, torch.Tensor]:
    """Float32 weights with the embedding copies that some fastai files leave out."""
    named = {name: tensor.float() for name, tensor in weights.items()}
    for name in TIED_COPIES:
        named.setdefault(name, named[EMBEDDING])
    return named
