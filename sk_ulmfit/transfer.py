"""Starting a classifier from a fitted one: its encoder always, its head where classes match.

Rules (per reading direction):

- the encoder and its vocabulary become a language model (decoder tied to the embedding),
  so the new classifier's vocabulary is aligned exactly as with a pretrained language
  model, and the new domain's texts can fine-tune it first (``lm_epochs``);
- the head's layers below the output layer are kept whenever some classes are shared;
- the output layer keeps the row of every class the two label sets share; new classes
  get freshly initialised rows. No shared class: the whole head is new.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .model import (
    LanguageModelConfig,
    TrainedDirection,
    classifier_encoder,
    output_layer,
    state_dict_on_cpu,
)
from .pretrained import UNFITTED_HINT, unfrozen


@dataclass
class ClassifierStart:
    """One direction of a fitted classifier, and that classifier's classes."""

    trained: TrainedDirection
    classes: np.ndarray

    def language_model(self, device="auto"):
        """The encoder as a fitted ``ULMFiTLanguageModel`` (tied decoder, zero output bias)."""
        from .language_model import ULMFiTLanguageModel

        encoder = {f"0.{name}": tensor for name, tensor in
                   state_dict_on_cpu(classifier_encoder(self.trained.network)).items()}
        embedding = encoder["0.encoder.weight"]
        weights = {**encoder, "1.decoder.weight": embedding,
                   "1.decoder.bias": torch.zeros(embedding.shape[0])}
        config = self.trained.config
        lm_config = LanguageModelConfig(config.vocab_size, config.emb_size, config.hidden_size,
                                        config.n_layers, drop_mult=config.drop_mult)
        return ULMFiTLanguageModel._from_weights(weights, self.trained.vocab.itos, lm_config,
                                                 self.trained.direction, device)


def is_classifier_spec(spec) -> bool:
    """Whether ``pretrained=spec`` names a fitted classifier (object or saved file)."""
    from .classifier import ULMFiTClassifier
    from .classifier_files import FORMAT
    from .lm_files import read_payload

    spec = unfrozen(spec)
    if isinstance(spec, ULMFiTClassifier):
        return True
    if isinstance(spec, (str, Path)) and Path(spec).is_file() and Path(spec).suffix != ".pth":
        try:
            return read_payload(spec).get("format") == FORMAT
        except ValueError:
            return False
    return False


def classifier_start(spec, direction: str) -> ClassifierStart:
    """The ``direction`` part of a fitted classifier given as an object or a saved file."""
    from .classifier import ULMFiTClassifier

    spec = unfrozen(spec)
    source = spec if isinstance(spec, ULMFiTClassifier) else ULMFiTClassifier.load(spec, device="cpu")
    if not hasattr(source, "directions_"):
        raise ValueError("pretrained is an unfitted ULMFiTClassifier: fit it first" + UNFITTED_HINT)
    for trained in source.directions_:
        if trained.direction == direction:
            return ClassifierStart(trained, source.classes_)
    have = [trained.direction for trained in source.directions_]
    raise ValueError(
        f"the pretrained classifier reads {have} only, not {direction}: use direction={have[0]!r} "
        "or start from a classifier fitted with direction='both'"
    )


def transfer_head(network: nn.Module, start: ClassifierStart, classes: np.ndarray) -> list:
    """Copy the head of ``start`` into ``network`` (whose output rows follow ``classes``).

    Returns the shared classes. With none shared, ``network`` keeps its new head.
    """
    shared = [label for label in classes if label in set(start.classes.tolist())]
    if not shared:
        return shared
    source_head = start.trained.network[1]
    target_head = network[1]
    source_out, target_out = output_layer(start.trained.network), output_layer(network)
    output_weight = _relative_name(source_head, source_out) + ".weight"
    kept = {name: tensor for name, tensor in source_head.state_dict().items() if name != output_weight}
    target_head.load_state_dict({**target_head.state_dict(), **kept})
    source_rows = {label: row for row, label in enumerate(start.classes.tolist())}
    with torch.no_grad():
        for row, label in enumerate(classes.tolist()):
            if label in source_rows:
                target_out.weight[row] = source_out.weight[source_rows[label]].to(target_out.weight.device)
    return shared


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
