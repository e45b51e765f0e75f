"""Starting a classifier from a fitted one: its encoder always, its head where classes match.

Rules (per reading direction):

- the encoder and its vocabulary become a language model (decoder tied to the embedding),
  so the new classifier's vocabulary is aligned exactly as with a pretrained language
  model, and the new domain's texts can fine-tune it first (``language_model``);
- the head's layers below the output layer are kept whenever some classes are shared and
  the new classifier pools the same LSTM layers (``pool_layers``); otherwise the head's
  input means something else, and the whole head is new;
- the output layer keeps the row of every class the two label sets share; new classes
  get freshly initialised rows. No shared class: the whole head is new.

Everything here works on plain data (a classifier's saved payload), never on estimators.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .._nn.awd_lstm import (
    ENCODER_PREFIX,
    ClassifierConfig,
    LanguageModelConfig,
    output_layer,
)
from .persistence import SavedLanguageModel


@dataclass
class HeadStart:
    """A fitted classifier's head weights (names relative to the head) and its classes."""

    weights: dict[str, torch.Tensor]
    classes: np.ndarray
    pool_layers: str


def encoder_language_model(saved_direction: dict) -> SavedLanguageModel:
    """One saved classifier direction's encoder as a language model (tied decoder, zero bias)."""
    weights = {f"0.{name[len(ENCODER_PREFIX):]}": tensor for name, tensor in saved_direction["weights"].items()
               if name.startswith(ENCODER_PREFIX)}
    embedding = weights["0.encoder.weight"]
    weights.update({"1.decoder.weight": embedding, "1.decoder.bias": torch.zeros(embedding.shape[0])})
    config = ClassifierConfig(**saved_direction["config"])
    lm_config = LanguageModelConfig(config.vocab_size, config.emb_size, config.hidden_size, config.n_layers,
                                    drop_mult=config.drop_mult)
    return SavedLanguageModel(weights, list(saved_direction["itos"]), lm_config, saved_direction["direction"])


def head_start(saved_direction: dict, classes: np.ndarray) -> HeadStart:
    """One saved classifier direction's head, to start a new head from."""
    return HeadStart({name[2:]: tensor for name, tensor in saved_direction["weights"].items()
                      if name.startswith("1.")}, classes, ClassifierConfig(**saved_direction["config"]).pool_layers)


def transfer_head(network: nn.Module, start: HeadStart, classes: np.ndarray) -> list:
    """Copy the head of ``start`` into ``network`` (whose output rows follow ``classes``).

    Returns the shared classes. With none shared, ``network`` keeps its new head.
    """
    shared = [label for label in classes if label in set(start.classes.tolist())]
    if not shared:
        return shared
    head, out = network[1], output_layer(network)
    output_weight = _relative_name(head, out) + ".weight"
    kept = {name: tensor for name, tensor in start.weights.items() if name != output_weight}
    head.load_state_dict({**head.state_dict(), **kept})
    source_rows = {label: row for row, label in enumerate(start.classes.tolist())}
    with torch.no_grad():
        for row, label in enumerate(classes.tolist()):
            if label in source_rows:
                out.weight[row] = start.weights[output_weight][source_rows[label]].to(out.weight.device)
    return shared


def usable_head(start: HeadStart, pool_layers: str) -> HeadStart | None:
    """``start``, or ``None`` (with a warning) when it pooled other LSTM layers than
    ``pool_layers``: its first layer reads features of another width and meaning."""
    if start.pool_layers == pool_layers:
        return start
    warnings.warn(
        f"the pretrained classifier pooled pool_layers={start.pool_layers!r}, this one pools "
        f"{pool_layers!r}, so its head cannot be reused and starts afresh (the encoder is still "
        f"transferred); set pool_layers={start.pool_layers!r} to keep the head",
        UserWarning,
        stacklevel=3,
    )
    return None


def warn_forgotten(start_classes: np.ndarray, classes: np.ndarray) -> None:
    """Warn when classes the start model knew are missing from the new labels."""
    new = set(classes.tolist())
    shared = [label for label in start_classes.tolist() if label in new]
    missing = [label for label in start_classes.tolist() if label not in new]
    if shared and missing:
        warnings.warn(
            f"the pretrained classifier's classes {missing} are not in y, so the new model "
            "cannot predict them (they are forgotten); include examples of them in y to keep them",
            UserWarning,
            stacklevel=3,
        )


def _relative_name(parent: nn.Module, child: nn.Module) -> str:
    return next(name for name, module in parent.named_modules() if module is child)
