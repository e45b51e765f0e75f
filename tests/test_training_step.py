"""The training step's fast paths: CPU dropout masks and the fused optimiser, each held to
what the slow path computes (in distribution where the masks are random)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sk_ulmfit._nn.awd_lstm import (
    MASK_LEVELS,
    ClassifierConfig,
    build_classifier,
    keep_mask,
)
from sk_ulmfit._train.schedule import make_optimizer


@pytest.mark.parametrize("p", [0.25, 0.06, 0.5, 0.9])
def test_keep_mask_keeps_each_entry_with_probability_one_minus_p(p):
    torch.manual_seed(0)
    keep, rate = keep_mask((1000, 1000), p)
    assert keep.shape == (1000, 1000) and keep.dtype == torch.bool
    assert rate == pytest.approx(1 - p, abs=1 / MASK_LEVELS)
    # a million Bernoulli(rate) draws: the mean is within 5 standard errors of rate
    assert abs(keep.double().mean().item() - rate) < 5 * np.sqrt(rate * (1 - rate) / 1e6)


def test_keep_mask_entries_are_independent_of_their_neighbours():
    """Four lanes share a 64-bit draw: neighbours (and every fourth entry) must not correlate."""
    torch.manual_seed(1)
    keep = keep_mask((1_000_003,), 0.5)[0].double()
    for lag in (1, 2, 3, 4, 5):
        correlation = torch.corrcoef(torch.stack([keep[:-lag], keep[lag:]]))[0, 1].item()
        assert abs(correlation) < 5 / np.sqrt(1e6), lag


def test_keep_mask_follows_torchs_seed():
    torch.manual_seed(3)
    first = keep_mask((64, 33), 0.3)[0]
    torch.manual_seed(3)
    assert torch.equal(keep_mask((64, 33), 0.3)[0], first)
    assert not torch.equal(keep_mask((64, 33), 0.3)[0], first)


def _network(drop_mult=0.5):
    config = ClassifierConfig(vocab_size=50, n_classes=3, emb_size=8, hidden_size=16, n_layers=2,
                              drop_mult=drop_mult, bptt=8, max_len=32)
    torch.manual_seed(0)
    return build_classifier(config)


def test_cpu_weight_dropout_is_fastais_dropconnect_in_distribution():
    """Each hidden-to-hidden weight is 0 with probability ``weight_p`` and otherwise the raw
    weight scaled by 1 / keep rate, as ``F.dropout`` makes it; gradients reach the raw weight
    through the same mask."""
    network = _network().train()
    wrapper = network[0].module.rnns[0]
    raw = wrapper.weight_hh_l0_raw
    torch.manual_seed(0)
    wrapper._setweights()
    dropped = wrapper.module.weight_hh_l0
    rate = keep_mask((1,), wrapper.weight_p)[1]
    kept = dropped != 0
    assert torch.allclose(dropped[kept], raw[kept] / rate)
    dropped.sum().backward()
    assert torch.allclose(raw.grad, kept.float() / rate)
    # over many masks each entry keeps its expected value (what F.dropout gives too)
    torch.manual_seed(1)
    with torch.no_grad():
        mean = torch.stack([(wrapper._setweights(), wrapper.module.weight_hh_l0)[1] for _ in range(4000)]).mean(0)
        reference = torch.stack([F.dropout(raw, wrapper.weight_p) for _ in range(4000)]).mean(0)
    spread = raw.abs() * np.sqrt(wrapper.weight_p / (1 - wrapper.weight_p) / 4000)
    assert ((mean - raw).abs() <= 5 * spread + 1e-7).all()
    assert ((reference - raw).abs() <= 5 * spread + 1e-7).all()


def test_weight_dropout_is_off_in_eval_mode_and_without_dropout():
    for network in (_network().eval(), _network(drop_mult=0.0).train()):
        wrapper = network[0].module.rnns[0]
        wrapper._setweights()
        assert torch.equal(wrapper.module.weight_hh_l0, wrapper.weight_hh_l0_raw)


def test_fused_adam_takes_the_steps_of_torchs_loop():
    """The fused kernel is the same AdamW: 20 steps with rates and momentum changed between
    steps (as one-cycle does) and a frozen group end at the same weights."""
    torch.manual_seed(0)
    start = [torch.randn(40, 30), torch.randn(30), torch.randn(7, 5)]
    gradients = [[torch.randn_like(p) for p in start] for _ in range(20)]
    results = []
    for fused in (True, False):
        parameters = [torch.nn.Parameter(p.clone()) for p in start]
        parameters[2].requires_grad_(False)
        groups = [parameters[:1], parameters[1:2], parameters[2:]]
        optimizer = make_optimizer(groups, "one_cycle", weight_decay=0.01)
        assert optimizer.defaults["fused"] is True
        if not fused:
            optimizer = torch.optim.AdamW([{"params": g} for g in groups], lr=1e-3, betas=(0.8, 0.99),
                                          eps=1e-5, weight_decay=0.01, foreach=False)
        for step, grads in enumerate(gradients):
            for group, lr in zip(optimizer.param_groups, (1e-3, 3e-3, 1e-2)):
                group["lr"], group["betas"] = lr * (1 + step / 10), (0.8 - step / 100, 0.99)
            for parameter, grad in zip(parameters[:2], grads):
                parameter.grad = grad.clone()
            optimizer.step()
        results.append([p.detach() for p in parameters])
    for fused_weight, loop_weight in zip(*results):
        assert torch.allclose(fused_weight, loop_weight, rtol=1e-5, atol=1e-6)
    assert torch.equal(results[0][2], start[2])  # the frozen group is untouched


def test_embedding_dropout_gives_fastais_outputs_and_gradients():
    """Rows looked up, then masked: the same outputs as fastai's mask over the whole
    vocabulary's matrix, from the same draw of the mask, and the same gradients."""
    from fastai.text.models.awdlstm import EmbeddingDropout

    network = _network().train()
    ours = network[0].module.encoder_dp
    assert type(ours) is not EmbeddingDropout and isinstance(ours, EmbeddingDropout)
    fastais = EmbeddingDropout(ours.emb, ours.embed_p).train()
    words = torch.randint(0, 50, (6, 9))
    outputs, gradients = [], []
    for module in (ours, fastais):
        torch.manual_seed(4)
        ours.emb.weight.grad = None
        output = module(words)
        (output * torch.arange(output.numel()).reshape(output.shape)).sum().backward()
        outputs.append(output.detach())
        gradients.append(ours.emb.weight.grad.clone())
    assert torch.equal(outputs[0], outputs[1])
    assert (outputs[0] == 0).any()  # some rows were dropped
    assert torch.allclose(gradients[0], gradients[1], rtol=1e-6, atol=1e-6)


def test_time_left_prices_the_steps_to_come_at_the_last_epochs_pace():
    from sk_ulmfit._train.loop import _Clock, format_duration
    from sk_ulmfit._train.schedule import Stage

    stages = [Stage(1, 1, 2e-2), Stage(5, 3, 5e-3)]
    record = {"steps": 10, "seconds": 2.0}
    assert _Clock(stages, runs_after=0).seconds_left(0, 1, record) == pytest.approx(6.0)
    assert _Clock(stages, runs_after=0).seconds_left(1, 3, record) == 0.0
    # one more run to come (the other direction): the whole of this run again, at least
    assert _Clock(stages, runs_after=1).seconds_left(1, 2, record) >= 2 * 2.0
    assert [format_duration(s) for s in (0.4, 40, 89, 600, 3900)] == [
        "about 0 s", "about 40 s", "about 89 s", "about 10 min", "about 1 h 5 min"]
