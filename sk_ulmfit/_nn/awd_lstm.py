"""fastai AWD-LSTM networks: the classifier and the language model, their configs and layer groups."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from fastai.text.learner import match_embeds
from fastai.text.models.awdlstm import (
    AWD_LSTM,
    EmbeddingDropout,
    WeightDropout,
    awd_lstm_clas_split,
    awd_lstm_lm_config,
    awd_lstm_lm_split,
    dropout_mask,
)
from fastai.text.models.core import (
    PoolingLinearClassifier,
    get_language_model,
    get_text_classifier,
)
from fastai.torch_core import to_detach
from torch import nn

from .._text.tokenizer import PAD_ID, Vocabulary

# The head between the pooled features and the output layer (ULMFiT: one layer of 50).
HEAD_HIDDEN = 50
# fastai's dropout before the head's last layer: fixed, not scaled by drop_mult (except 0: none)
HEAD_HIDDEN_DROPOUT = 0.1
# The embedding in an AWD-LSTM's state dict (one tensor, shared with its dropout wrapper),
# and where the encoder sits in a classifier's state dict.
EMBEDDING_NAMES = ("encoder.weight", "encoder_dp.emb.weight")
ENCODER_PREFIX = "0.module."
# Which LSTM layers the head pools: fastai's last layer, or every layer side by side.
POOL_LAYERS = ("last", "all")
# The parameters that size a network (a pretrained model brings its own)
SIZE_PARAMS = ("emb_size", "hidden_size", "n_layers")


@dataclass(frozen=True)
class ClassifierConfig:
    """Everything needed to rebuild a fitted classifier's network from its weights."""

    vocab_size: int
    n_classes: int
    emb_size: int
    hidden_size: int
    n_layers: int
    drop_mult: float
    bptt: int
    max_len: int
    pool_layers: str = "last"  # files written before pool_layers existed pooled the last layer

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def pooled_width(self) -> int:
        """Numbers per pooled part (``h_last``, ``max``, ``mean``): the last LSTM layer's
        width (``emb_size``), or with ``pool_layers="all"`` every layer's together."""
        if self.pool_layers == "all":
            return (self.n_layers - 1) * self.hidden_size + self.emb_size
        return self.emb_size


class _AllLayersAWD_LSTM(AWD_LSTM):
    """fastai's ``AWD_LSTM`` whose output is every LSTM layer's output side by side
    (``hidden_size`` per lower layer, then ``emb_size``), so that the classifier pools
    them all. The same weights and state dict; only ``forward`` differs."""

    def forward(self, inp: torch.Tensor, from_embeds: bool = False) -> torch.Tensor:
        batch_size = inp.shape[0]
        if batch_size != self.bs:
            self._change_hidden(batch_size)
        output = self.input_dp(inp if from_embeds else self.encoder_dp(inp))
        new_hidden, layers = [], []
        for index, (rnn, hidden_dropout) in enumerate(zip(self.rnns, self.hidden_dps)):
            output, new_h = rnn(output, self.hidden[index])
            new_hidden.append(new_h)
            layers.append(output)
            if index != self.n_layers - 1:
                output = hidden_dropout(output)
        self.hidden = to_detach(new_hidden, cpu=False, gather=False)
        return torch.cat(layers, dim=2)


def build_classifier(config: ClassifierConfig) -> nn.Module:
    """fastai's ``get_text_classifier`` for an AWD-LSTM of the configured size.

    The network maps a padded batch of token ids to ``(logits, raw_outputs, outputs)``:
    masked ``[h_last; max; mean]`` pooling of the last LSTM layer (with
    ``pool_layers="all"``, of every layer's outputs side by side), then
    BatchNorm+Dropout+Linear(50)+ReLU, BatchNorm+Dropout+Linear(n_classes).
    """
    encoder_config = {
        "emb_sz": config.emb_size,
        "n_hid": config.hidden_size,
        "n_layers": config.n_layers,
        "pad_token": PAD_ID,
    }
    network = get_text_classifier(
        AWD_LSTM,
        config.vocab_size,
        config.n_classes,
        seq_len=config.bptt,
        config=encoder_config,
        drop_mult=config.drop_mult,
        lin_ftrs=[HEAD_HIDDEN],
        ps=[HEAD_HIDDEN_DROPOUT if config.drop_mult > 0 else 0.0],
        pad_idx=PAD_ID,
        max_len=config.max_len,
    )
    if config.pool_layers == "all":
        # fastai builds for the last layer only: the encoder's forward and the head's width change
        network[0].module.__class__ = _AllLayersAWD_LSTM
        dropouts = [next((part.p for part in layer if isinstance(part, nn.Dropout)), 0.0)
                    for layer in network[1].layers]
        network[1] = PoolingLinearClassifier([3 * config.pooled_width, HEAD_HIDDEN, config.n_classes], dropouts,
                                             bptt=config.bptt)
    return _with_own_dropouts(network)


def layer_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """Parameters by layer group, bottom to top: embedding, each LSTM, head."""
    return [list(group) for group in awd_lstm_clas_split(model)]


def set_trainable(groups: list[list[nn.Parameter]], n_top: int) -> None:
    """Train the top ``n_top`` layer groups and freeze the rest."""
    first_trainable = len(groups) - n_top
    for index, group in enumerate(groups):
        for parameter in group:
            parameter.requires_grad_(index >= first_trainable)


def state_dict_on_cpu(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the weights on the CPU, loadable on a machine without a GPU."""
    return {name: tensor.detach().to("cpu", copy=True) for name, tensor in model.state_dict().items()}


def used_rows(sequences: Sequence[np.ndarray]) -> np.ndarray:
    """Sorted ids of the tokens that occur in ``sequences``, always with ``xxunk`` and
    ``xxpad`` (ids 0 and 1, so both keep their ids in the compact numbering)."""
    occurring = np.unique(np.concatenate([np.arange(PAD_ID + 1), *sequences]))
    return occurring.astype(np.int64)


def renumber(sequences: Sequence[np.ndarray], rows: np.ndarray, vocab_size: int) -> list[np.ndarray]:
    """``sequences`` in the compact numbering where ``rows[k]`` becomes ``k``."""
    compact_id = np.zeros(vocab_size, dtype=np.int64)
    compact_id[rows] = np.arange(len(rows))
    return [compact_id[s] for s in sequences]


def compact_config(config: ClassifierConfig, rows: np.ndarray) -> ClassifierConfig:
    """``config`` for an embedding of the ``rows`` only."""
    return replace(config, vocab_size=len(rows))


def compact_encoder_weights(weights: dict[str, torch.Tensor], rows: np.ndarray) -> dict[str, torch.Tensor]:
    """Encoder weights whose embedding keeps only ``rows``."""
    index = torch.from_numpy(rows)
    return {name: tensor[index] if name in EMBEDDING_NAMES else tensor for name, tensor in weights.items()}


def widen_vocabulary(trained: nn.Module, config: ClassifierConfig, rows: np.ndarray,
                     embedding: torch.Tensor) -> nn.Module:
    """A classifier for ``config``'s whole vocabulary: ``trained``'s weights, with its
    embedding rows put back at ``rows`` of ``embedding`` (the rows no training text used)."""
    state = state_dict_on_cpu(trained)
    full_embedding = embedding.detach().to("cpu", torch.float32, copy=True)
    full_embedding[torch.from_numpy(rows)] = state[f"{ENCODER_PREFIX}{EMBEDDING_NAMES[0]}"]
    for name in EMBEDDING_NAMES:
        state[f"{ENCODER_PREFIX}{name}"] = full_embedding
    network = build_classifier(config)
    network.load_state_dict(state)
    return network


@dataclass(frozen=True)
class LanguageModelConfig:
    """Size of an AWD-LSTM language model (its decoder is tied to the embedding)."""

    vocab_size: int
    emb_size: int
    hidden_size: int
    n_layers: int
    drop_mult: float

    def to_dict(self) -> dict:
        return asdict(self)


def build_language_model(config: LanguageModelConfig) -> nn.Module:
    """fastai's ``get_language_model``: AWD-LSTM encoder and a weight-tied linear decoder.

    The network maps a batch of token ids to ``(logits, raw_outputs, outputs)``.
    """
    encoder_config = dict(
        awd_lstm_lm_config,
        emb_sz=config.emb_size,
        n_hid=config.hidden_size,
        n_layers=config.n_layers,
        pad_token=PAD_ID,
    )
    return _with_own_dropouts(get_language_model(AWD_LSTM, config.vocab_size, config=encoder_config,
                                                      drop_mult=config.drop_mult))


class _WeightDropout(WeightDropout):
    """fastai's ``WeightDropout`` (DropConnect on the LSTM's hidden-to-hidden weights), with
    two changes.

    Without dropout (``weight_p=0``, e.g. ``drop_mult=0``) the LSTM gets a copy of the raw
    weight while training, as it does in eval mode. fastai hands it the parameter itself
    (``F.dropout`` with ``p=0`` returns its input), which torch then registers as an extra
    parameter: ``reset()`` fails at the next epoch and the state dict gains keys.

    On a CPU the mask comes from :func:`keep_mask`: torch's CPU ``bernoulli_`` draws one
    Mersenne-Twister number per weight (about 10 ns each), which made the three masks of a
    200/512/3 encoder a third of a training step at 16 texts a batch. On a GPU, ``F.dropout``.
    """

    def _setweights(self):
        if self.weight_p == 0:
            for layer in self.layer_names:
                setattr(self.module, layer, getattr(self, f"{layer}_raw").clone())
            return
        if not self.training:
            return super()._setweights()
        for layer in self.layer_names:
            raw = getattr(self, f"{layer}_raw")
            if raw.device.type == "cpu" and self.weight_p < 1:
                keep, rate = keep_mask(raw.shape, self.weight_p)
                setattr(self.module, layer, raw * (keep * (1 / rate)).to(raw.dtype))
            else:
                setattr(self.module, layer, F.dropout(raw, p=self.weight_p))


# keep_mask draws 16-bit lanes: dropout probabilities are rounded to multiples of 1/65536
MASK_LEVELS = 1 << 16


def keep_mask(shape: torch.Size | tuple[int, ...], p: float) -> tuple[torch.Tensor, float]:
    """A dropout mask on the CPU: a boolean tensor of ``shape`` whose entries are kept with
    probability ``rate`` (returned with it), ``p`` rounded to a multiple of 1/65536.

    Each draw of torch's generator (64 random bits) gives four independent 16-bit lanes,
    each compared with ``p``'s threshold: a quarter of the draws ``bernoulli_`` makes, and
    no conversion to floats. The draws come from torch's default generator, so seeding
    and restoring its state reproduce the masks.
    """
    n = math.prod(shape)
    dropped_levels = round(p * MASK_LEVELS)
    bits = torch.randint(-(2**63), 2**63 - 1, ((n + 3) // 4,), dtype=torch.int64)
    lanes = bits.view(torch.int16)[:n]
    return (lanes >= dropped_levels - MASK_LEVELS // 2).view(shape), 1 - dropped_levels / MASK_LEVELS


class _EmbeddingDropout(EmbeddingDropout):
    """fastai's ``EmbeddingDropout`` (whole embedding rows dropped, one mask per batch) with
    the rows looked up before they are masked: the same numbers, without multiplying the
    whole vocabulary's matrix by the mask in every step and again in its gradient (a language
    model's 30,000 rows are 6M numbers; a batch looks up a few thousand)."""

    def forward(self, words, scale=None):
        emb = self.emb
        if not self.training or self.embed_p == 0 or emb.max_norm is not None:
            return super().forward(words, scale)
        mask = dropout_mask(emb.weight.data, (emb.weight.size(0), 1), self.embed_p)
        padding = -1 if emb.padding_idx is None else emb.padding_idx
        looked_up = F.embedding(words, emb.weight, padding, None, emb.norm_type, emb.scale_grad_by_freq, emb.sparse)
        masked = looked_up * mask[words]
        return masked * scale if scale else masked


def _with_own_dropouts(model: nn.Module) -> nn.Module:
    """Give ``model``'s weight and embedding dropouts :class:`_WeightDropout`'s and
    :class:`_EmbeddingDropout`'s behaviour (the same weights and state dict)."""
    for module in model.modules():
        if type(module) is WeightDropout:
            module.__class__ = _WeightDropout
        elif type(module) is EmbeddingDropout:
            module.__class__ = _EmbeddingDropout
    return model


def language_model_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """Parameters by layer group, bottom to top: each LSTM, then embedding + decoder.

    The embedding is the top group (fastai's split), so ``unfreeze=1`` trains only the
    embedding and the tied decoder: what fine-tuning does first, for the new tokens.
    """
    return [list(group) for group in awd_lstm_lm_split(model)]


def aligned_weights(weights: dict[str, torch.Tensor], itos: Sequence[str],
                    new_itos: Sequence[str]) -> dict[str, torch.Tensor]:
    """Language-model ``weights`` for vocabulary ``itos`` with embedding and decoder rows
    rearranged for ``new_itos``: known tokens keep their rows, unknown ones get the mean
    row (fastai's ``match_embeds``)."""
    return match_embeds(dict(weights), list(itos), list(new_itos))


def encoder_part(language_model_weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The encoder's entries of a language model's state dict, named as in the encoder."""
    return {name[2:]: tensor for name, tensor in language_model_weights.items() if name.startswith("0.")}


def load_encoder(classifier: nn.Module, weights: dict[str, torch.Tensor]) -> None:
    """Put language-model encoder weights into a classifier's encoder."""
    classifier_encoder(classifier).load_state_dict(weights)


def classifier_encoder(classifier: nn.Module) -> nn.Module:
    """The AWD-LSTM inside a classifier (embedding and LSTMs)."""
    return classifier[0].module


def output_layer(classifier: nn.Module) -> nn.Linear:
    """The head's last linear layer: one weight row per class (no bias: BatchNorm precedes it)."""
    return [part for part in classifier[1].layers[-1] if isinstance(part, nn.Linear)][-1]


@dataclass
class TrainedDirection:
    """One trained classifier network and the vocabulary it reads (forward or backward)."""

    direction: str
    vocab: Vocabulary
    config: ClassifierConfig
    network: torch.nn.Module
