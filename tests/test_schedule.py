"""The fit schedule: validation, discriminative rates and per-step rate shapes."""

import numpy as np
import pytest
import torch

from sk_ulmfit._train.schedule import (
    ULMFIT_MIN_LAST_STEPS,
    ULMFIT_SCHEDULE,
    Stage,
    StageRates,
    group_rates,
    make_optimizer,
    parse_schedule,
)


def test_ulmfit_is_the_papers_gradual_unfreezing():
    stages = parse_schedule("ulmfit", n_groups=5)
    assert stages == [Stage(1, 1, 2e-2), Stage(2, 1, 1e-2), Stage(3, 1, 5e-3), Stage(5, 8, 5e-3)]
    assert parse_schedule(ULMFIT_SCHEDULE, n_groups=5) == stages


def test_ulmfit_gives_few_texts_as_many_last_stage_steps_as_500():
    """Eight epochs of 32 steps (500 texts in batches of 16) are the least the last stage runs."""
    assert ULMFIT_MIN_LAST_STEPS == 8 * 32
    for steps_per_epoch, epochs in ((7, 37), (32, 8), (63, 8), (1, 256), (31, 9)):
        stages = parse_schedule("ulmfit", n_groups=5, steps_per_epoch=steps_per_epoch)
        assert stages[:-1] == parse_schedule("ulmfit", n_groups=5)[:-1]  # gradual unfreezing as the paper's
        assert stages[-1] == Stage(5, epochs, 5e-3)
        assert epochs * steps_per_epoch >= ULMFIT_MIN_LAST_STEPS
    # a schedule given as stages runs as given, however few the texts
    assert parse_schedule(ULMFIT_SCHEDULE, n_groups=5, steps_per_epoch=7)[-1] == Stage(5, 8, 5e-3)


@pytest.mark.parametrize(
    "schedule, message",
    [
        ("fast", "not known"),
        ((), "non-empty"),
        (((1, 1),), r"\(unfreeze, epochs, lr\)"),
        (((0, 1, 1e-3),), "unfreeze must be"),
        (((6, 1, 1e-3),), "5 layer groups"),
        ((("some", 1, 1e-3),), "unfreeze must be"),
        (((1, 0, 1e-3),), "epochs must be"),
        (((1, 1.5, 1e-3),), "epochs must be"),
        (((1, 1, -1e-3),), "lr must be"),
        (((1, 1, "big"),), "lr must be"),
        ((1, 1, 1e-3), "each schedule stage"),
    ],
)
def test_bad_schedules_say_what_is_wrong(schedule, message):
    with pytest.raises(ValueError, match=message):
        parse_schedule(schedule, n_groups=5)


def test_each_lower_group_gets_the_rate_above_divided_by_decay():
    rates = group_rates(1e-2, n_groups=4, lr_decay=2.6)
    assert rates[-1] == pytest.approx(1e-2)
    assert np.allclose(np.array(rates[1:]) / np.array(rates[:-1]), 2.6)


def _rates(lr_schedule, steps=100):
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = make_optimizer([[parameter]], lr_schedule, weight_decay=0.0)
    scheduler = StageRates(optimizer, [1.0], steps, lr_schedule)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return np.array(rates), optimizer


def test_slanted_triangular_rises_linearly_for_a_tenth_then_falls_linearly():
    rates, _ = _rates("slanted_triangular")
    peak = int(np.argmax(rates))
    assert rates[0] == pytest.approx(1 / 32)
    assert rates[peak] == pytest.approx(1.0)
    assert peak == 10
    assert np.allclose(np.diff(np.diff(rates[: peak + 1])), 0, atol=1e-6)  # linear rise
    assert np.allclose(np.diff(np.diff(rates[peak + 1 :])), 0, atol=1e-6)  # linear fall
    assert rates[-1] == pytest.approx(1 / 32 + (1 - 1 / 32) / 90)


def test_one_cycle_is_fastais_cosine_shape_with_momentum_cycle():
    rates, optimizer = _rates("one_cycle")
    peak = int(np.argmax(rates))
    assert rates[0] == pytest.approx(1 / 25)
    assert peak == 25
    assert rates[-1] < 1e-3
    assert not np.allclose(np.diff(np.diff(rates[:peak])), 0, atol=1e-6)  # curved, not linear
    assert optimizer.param_groups[0]["betas"][0] == pytest.approx(0.8, abs=1e-3)


def test_auto_batch_size_is_16_for_small_sets_and_grows_to_64_with_the_texts():
    from sk_ulmfit._train.schedule import AUTO_BATCH_STEPS, auto_batch_size

    assert [auto_batch_size(n) for n in (2, 100, 1000, 16 * AUTO_BATCH_STEPS)] == [16] * 4
    assert auto_batch_size(16 * AUTO_BATCH_STEPS + 1) == 24  # grows in steps of 8 texts
    sizes = [auto_batch_size(n) for n in range(1000, 20000, 50)]
    assert sizes == sorted(sizes) and max(sizes) == 64 and all(size % 8 == 0 for size in sizes)
    for n in range(16 * AUTO_BATCH_STEPS, 64 * AUTO_BATCH_STEPS, 97):  # epochs stay near AUTO_BATCH_STEPS steps
        assert AUTO_BATCH_STEPS * 2 / 3 <= n / auto_batch_size(n) <= AUTO_BATCH_STEPS


def test_auto_batch_scales_rates_by_the_square_root_of_the_batch_and_a_given_batch_keeps_them():
    from sk_ulmfit._train.schedule import Stage, batch_and_rate_factor, scaled

    assert batch_and_rate_factor("auto", 1000) == (16, 1.0)
    size, factor = batch_and_rate_factor("auto", 100_000)
    assert size == 64 and factor == pytest.approx(2.0)
    assert batch_and_rate_factor(64, 100_000) == (64, 1.0)
    stages = [Stage(1, 1, 2e-2), Stage(4, 8, 5e-3)]
    assert [stage.lr for stage in scaled(stages, 2.0)] == pytest.approx([4e-2, 1e-2])
    assert [(s.n_trainable, s.epochs) for s in scaled(stages, 2.0)] == [(1, 1), (4, 8)]
