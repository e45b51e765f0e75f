"""Language-model files: our own format, and fastai's WT103-style ``.pth`` + ``.pkl`` pair.

Our format is one file written by ``torch.save`` and read with ``weights_only=True``, so
loading it runs no pickled code. It holds a dict::

    {"format": "sk_ulmfit.language_model", "version": 1,
     "direction": "forward" | "backward",
     "config": {"vocab_size", "emb_size", "hidden_size", "n_layers", "drop_mult"},
     "itos": [token, ...],                 # the vocabulary, id order
     "weights": {name: tensor, ...},       # state dict of fastai's get_language_model
     "params": {name: value, ...}}         # the estimator's plain parameters (bptt, ...)

fastai's pretrained files are a state dict (``.pth``, possibly inside ``{"model": ...}``)
and a pickled list of tokens (``.pkl``); the list is read with an unpickler that accepts
nothing but built-in lists and strings.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .model import LanguageModelConfig

FORMAT = "sk_ulmfit.language_model"
VERSION = 1
# Copies of the embedding inside fastai's language model (embedding dropout's module and
# the weight-tied decoder): stored once, restored on reading.
EMBEDDING = "0.encoder.weight"
TIED_COPIES = ("0.encoder_dp.emb.weight", "1.decoder.weight")


@dataclass
class SavedLanguageModel:
    weights: dict[str, torch.Tensor]
    itos: list[str]
    config: LanguageModelConfig
    direction: str
    params: dict = field(default_factory=dict)


def write_language_model(path, weights, itos, config: LanguageModelConfig, direction: str,
                         params: dict | None = None, half: bool = False) -> Path:
    """Write a language model in our format; ``half`` stores float16 weights."""
    path = Path(path)
    weights = {k: v for k, v in weights.items() if k not in TIED_COPIES}
    if half:
        weights = {k: v.half() if v.is_floating_point() else v for k, v in weights.items()}
    payload = {"format": FORMAT, "version": VERSION, "direction": direction,
               "config": config.to_dict(), "itos": list(itos), "weights": weights,
               "params": dict(params or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    torch.save(payload, partial)
    partial.replace(path)  # never leave a half-written model under the real name
    return path


def read_payload(path, kind: str = "model") -> dict:
    """The dict inside a file written by sk_ulmfit (a language model or a classifier).

    Read with ``torch.load(weights_only=True)``: plain data and tensors only, no code.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {kind} file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as error:
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
    return payload


def read_language_model(path) -> SavedLanguageModel:
    """Read a file written by :func:`write_language_model`, with clear errors."""
    return language_model_from_payload(read_payload(path, "language model"), path)


def language_model_from_payload(payload: dict, path) -> SavedLanguageModel:
    """The language model in a payload that :func:`read_payload` returned."""
    if payload.get("format") != FORMAT:
        raise ValueError(f"{path} holds a {payload.get('format')!r}, not an sk_ulmfit language model")
    if payload.get("version") != VERSION:
        raise ValueError(f"{path} has format version {payload.get('version')}; this sk_ulmfit reads {VERSION}")
    weights = {name: tensor.float() for name, tensor in payload["weights"].items()}
    weights.update({name: weights[EMBEDDING] for name in TIED_COPIES})
    return SavedLanguageModel(weights, list(payload["itos"]), LanguageModelConfig(**payload["config"]),
                              payload["direction"], dict(payload.get("params", {})))


# --------------------------------------------------------------------- fastai files
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


def read_fastai_language_model(weights_path, vocab_path) -> SavedLanguageModel:
    """Read fastai WT103-style files: ``lstm_fwd.pth``-like weights and ``itos``-like vocab."""
    from fastai.text.learner import clean_raw_keys

    itos = read_fastai_vocab(vocab_path)
    try:
        weights = torch.load(weights_path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(f"{weights_path} is not a readable fastai weights file: {error}") from error
    if isinstance(weights, dict) and "model" in weights:
        weights = weights["model"]
    weights = clean_raw_keys(dict(weights))
    config = _infer_config(weights, len(itos), weights_path)
    return SavedLanguageModel(_our_names(weights), itos, config, "forward")


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
