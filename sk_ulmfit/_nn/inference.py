"""Inference for a trained classifier: the same maths as fastai's network, less overhead.

fastai's ``SentenceEncoder`` reads a batch in ``bptt`` chunks (the truncation that
training needs) and clones the LSTM weights at every chunk (``WeightDropout``). At
inference neither is needed. This module copies a trained network's weights into plain
``nn.LSTM`` layers and runs each batch through them in one call, then pools exactly as
``SentenceEncoder`` + ``masked_concat_pool`` do, including their ``max_len`` rule: a text
longer than ``max_len`` is read whole but pooled over its last chunks only. Texts are
padded after their end, so (the LSTMs being causal) padding never changes a text's
outputs, and batches hold texts of similar length, so little work goes to padding.

Precision: float32 (exact); bfloat16 (about 2x faster on CPUs with AVX-512 BF16 or AMX,
several times slower without them: a warning says so); int8 (torch dynamic quantisation
of the LSTM and linear layers, CPU only; run as packed sequences, which suits its kernels).
Both change the probabilities slightly; int8 quantises activations with one scale per
batch, so a text's int8 probabilities also depend slightly on the texts batched with it.
"""

from __future__ import annotations

import copy
import warnings
from typing import Sequence

import numpy as np
import torch
from fastprogress.fastprogress import progress_bar
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .._text.tokenizer import PAD_ID
from .awd_lstm import ClassifierConfig, classifier_encoder
from .device import autocast


class InferenceNetwork(nn.Module):
    """A trained fastai AWD-LSTM classifier rebuilt for inference (eval mode only).

    ``forward(tokens, lengths)`` takes right-padded token ids sorted longest-first and
    returns the class scores; ``pooled`` returns the features ``[h_last; max; mean]``.
    """

    packed = False  # run the LSTMs on packed sequences (no step for padding at all)

    def __init__(self, network: nn.Module, config: ClassifierConfig):
        super().__init__()
        encoder = classifier_encoder(network)
        self.embedding = nn.Embedding.from_pretrained(encoder.encoder.weight.detach().clone(), freeze=True)
        self.lstms = nn.ModuleList(_plain_lstm(wrapped) for wrapped in encoder.rnns)
        self.head = copy.deepcopy(network[1].layers)
        self.pooled_steps = (config.max_len // config.bptt) * config.bptt
        self.bptt = config.bptt
        self.all_layers = config.pool_layers == "all"
        self.eval()

    def pooled(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``[h_last; max; mean]`` over each text of the last LSTM layer's outputs (with
        ``pool_layers="all"``, of every layer's outputs side by side)."""
        output = self.embedding(tokens)
        if self.packed:
            output = pack_padded_sequence(output, lengths, batch_first=True)
        layers = []  # the lower layers' outputs, kept only when they are pooled
        for lstm in self.lstms:
            output, _ = lstm(output)
            if self.all_layers:
                layers.append(output)
        layers = layers or [output]
        if self.packed:
            layers = [pad_packed_sequence(layer, batch_first=True)[0] for layer in layers]
        output = torch.cat(layers, dim=2)
        keep = self._pooling_mask(lengths, output.shape[1]).to(output.device)
        last = output[torch.arange(len(lengths)), lengths.to(output.device) - 1]
        maximum = output.masked_fill(~keep[:, :, None], -float("inf")).max(dim=1)[0]
        mean = output.masked_fill(~keep[:, :, None], 0).sum(dim=1) / keep.sum(dim=1, keepdim=True)
        return torch.cat([last, maximum, mean], dim=1)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.pooled(tokens, lengths))

    def _pooling_mask(self, lengths: torch.Tensor, steps: int) -> torch.Tensor:
        """True where ``SentenceEncoder`` keeps a step: the text's last ``max_len // bptt``
        chunks, counted from the chunk where the text starts."""
        chunks = -(-lengths // self.bptt)
        first_kept = (chunks * self.bptt - self.pooled_steps).clamp(min=0)
        positions = torch.arange(steps)[None, :]
        return (positions >= first_kept[:, None]) & (positions < lengths[:, None])


def _plain_lstm(wrapped: nn.Module) -> nn.LSTM:
    """An ``nn.LSTM`` with the weights of fastai's ``WeightDropout(nn.LSTM)`` (its raw
    recurrent weights, as ``WeightDropout`` uses them in eval mode)."""
    source = wrapped.module
    # Its random initialisation is overwritten below; fork_rng keeps it from advancing torch's
    # generator, so building this network for validation during training changes no dropout.
    with torch.random.fork_rng(devices=[]):
        lstm = nn.LSTM(source.input_size, source.hidden_size, batch_first=True)
    weights = {
        "weight_ih_l0": source.weight_ih_l0,
        "weight_hh_l0": wrapped.weight_hh_l0_raw,
        "bias_ih_l0": source.bias_ih_l0,
        "bias_hh_l0": source.bias_hh_l0,
    }
    lstm.load_state_dict({name: tensor.detach() for name, tensor in weights.items()})
    return lstm.to(wrapped.weight_hh_l0_raw.device)


def quantized(network: InferenceNetwork) -> InferenceNetwork:
    """A copy with int8 LSTM and linear layers (torch dynamic quantisation, CPU)."""
    from torch.ao.quantization import quantize_dynamic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization announces its move to torchao
        int8 = quantize_dynamic(network.cpu(), {nn.LSTM, nn.Linear}, dtype=torch.qint8)
    int8.packed = True
    return int8


def right_padded(sequences: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Token ids padded after each text, longest first.

    Returns the ``(n, longest)`` batch, the lengths, and ``order``: ``batch[k]`` holds
    ``sequences[order[k]]``. An empty sequence is read as one padding token.
    """
    order = np.argsort([-len(s) for s in sequences], kind="stable")
    lengths = torch.tensor([max(len(sequences[i]), 1) for i in order])
    batch = torch.full((len(order), int(lengths[0])), PAD_ID, dtype=torch.long)
    for row, index in enumerate(order):
        batch[row, : len(sequences[index])] = torch.from_numpy(sequences[index])
    return batch, lengths, order


PREDICT_PRECISIONS = ("float32", "bfloat16", "int8")  # how predictions are computed
# A prediction batch holds at most this many token slots (texts × longest text): on
# 2 CPU cores 8192 predicted IMDb reviews 5-15 % faster than 4096 (float32 and int8),
# and larger batches were no faster.
BATCH_TOKENS = 8192


def inference_network(network: nn.Module, config: ClassifierConfig, device: torch.device,
                      precision: str = "float32") -> InferenceNetwork:
    """The inference copy of a trained classifier network in ``precision`` (see ``PREDICT_PRECISIONS``)."""
    fast = InferenceNetwork(network, config)
    if precision == "int8":
        if device.type != "cpu":
            raise ValueError("predict_precision='int8' is for CPU prediction; use 'float32' or "
                             "'bfloat16' on a GPU, or device='cpu'")
        return quantized(fast)
    if precision == "bfloat16" and device.type == "cpu":
        if not native_bfloat16_cpu():
            warnings.warn("predict_precision='bfloat16': this CPU has no native bfloat16 (AVX-512 BF16 or "
                          "AMX), so prediction is several times slower than float32; use 'int8' or "
                          "'float32' here", RuntimeWarning, stacklevel=4)
        return fast.to(torch.bfloat16)
    return fast.to(device)  # on a GPU, float32 and bfloat16 run under autocast (device.autocast)


def native_bfloat16_cpu() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX-512 BF16 or AMX)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def prediction_batches(lengths: Sequence[int], max_texts: int) -> list[np.ndarray]:
    """Batches of indices, longest first: at most ``max_texts`` texts and, past one
    text, at most ``BATCH_TOKENS`` token slots (so long texts come a few at a time)."""
    lengths = np.asarray(lengths)
    order = np.argsort(-lengths, kind="stable")
    batches, start = [], 0
    while start < len(order):
        size = max(1, min(max_texts, BATCH_TOKENS // max(int(lengths[order[start]]), 1)))
        batches.append(order[start : start + size])
        start += size
    return batches


@torch.inference_mode()
def predict_outputs(
    network: InferenceNetwork,
    sequences: Sequence[np.ndarray],
    max_texts: int,
    device: torch.device,
    pooled: bool = False,
    precision: str = "float32",
    show_progress: bool = False,
) -> np.ndarray:
    """Class scores (or, with ``pooled``, the pooled features) of each sequence, in input order."""
    run = network.pooled if pooled else network
    results = None
    batches = prediction_batches([len(s) for s in sequences], max_texts)
    for batch in progress_bar(batches, leave=False) if show_progress and len(batches) > 1 else batches:
        tokens, lengths, order = right_padded([sequences[i] for i in batch])
        with autocast(device, torch.bfloat16 if precision == "bfloat16" else torch.float16):
            values = run(tokens.to(device), lengths).float().cpu().numpy()
        if results is None:
            results = np.empty((len(sequences), values.shape[1]), dtype=np.float32)
        results[batch[order]] = values
    return results
