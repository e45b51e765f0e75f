"""``lr_find``: fastai's learning-rate range test on a clone; the estimator is untouched."""

import matplotlib
import numpy as np
import pytest

from sk_ulmfit import ULMFiTClassifier, lr_find

from .conftest import TINY

matplotlib.use("Agg")


def test_range_test_on_a_clone(trec):
    X_train, y_train, _, _ = trec
    clf = ULMFiTClassifier(**TINY, random_state=0)
    before = clf.get_params()
    result = lr_find(clf, X_train, y_train, num_it=40, end_lr=1.0, suggest_funcs=("valley", "minimum", "steep"))
    assert clf.get_params() == before and not hasattr(clf, "classes_")
    curve = result.curve
    assert list(curve.columns) == ["lr", "loss", "smoothed_loss"] and 10 <= len(curve) <= 40
    assert np.all(np.diff(curve["lr"]) > 0) and curve["lr"].iloc[0] == pytest.approx(1e-7)
    assert np.isfinite(curve["smoothed_loss"]).all()
    assert set(result.suggestions) == {"valley", "minimum", "steep"}
    assert all(1e-7 <= lr <= 1.0 for lr in result.suggestions.values())
    ax = result.plot()
    assert ax.get_xscale() == "log" and len(ax.get_lines()) == 4


def test_stops_when_the_loss_diverges(trec):
    X_train, y_train, _, _ = trec
    result = lr_find(ULMFiTClassifier(**TINY, random_state=0), X_train, y_train, start_lr=1e-3, end_lr=1e4,
                     num_it=100, show_plot=False)
    assert len(result.curve) < 100
    assert result.curve["smoothed_loss"].iloc[-1] > 4 * result.curve["smoothed_loss"].min()


def test_later_stages_train_more_layers(trec, monkeypatch):
    import sk_ulmfit._estimators.lr_find as module

    trained = []
    real = module.set_trainable
    monkeypatch.setattr(module, "set_trainable", lambda groups, n: (trained.append(n), real(groups, n)))
    X_train, y_train, _, _ = trec
    lr_find(ULMFiTClassifier(**TINY, random_state=0), X_train, y_train, stage=2, num_it=10, show_plot=False)
    assert trained == [4]  # TINY's stage 2 trains "all" groups (2 LSTMs + embedding + head)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"stage": 5}, ValueError, "stage must be between 1 and 2"),
    ({"suggest_funcs": ("best",)}, ValueError, "suggest_funcs"),
    ({"start_lr": 1.0, "end_lr": 0.1}, ValueError, "start_lr < end_lr"),
    ({"num_it": 3}, ValueError, "num_it"),
])
def test_bad_settings(trec, kwargs, error, message):
    X_train, y_train, _, _ = trec
    with pytest.raises(error, match=message):
        lr_find(ULMFiTClassifier(**TINY), X_train, y_train, show_plot=False, **kwargs)
    with pytest.raises(TypeError, match="ULMFiTClassifier"):
        lr_find(object(), X_train, y_train)


def test_rates_are_in_the_schedules_terms_when_auto_grows_the_batch(data_home, monkeypatch):
    """On 3,000 texts batch_size="auto" trains 24 a batch with rates times sqrt(24/16): the
    range test trains at those rates and reports the schedule's, as fit would use them."""
    import sk_ulmfit._estimators.lr_find as module
    from sk_ulmfit.datasets import fetch_trec

    applied = []
    real = module.train_epoch

    def recording(model, train, targets, batches, optimizer, *args, **kwargs):
        applied.append((len(batches[0]), optimizer.param_groups[0]["lr"]))
        return real(model, train, targets, batches, optimizer, *args, **kwargs)

    monkeypatch.setattr(module, "train_epoch", recording)
    X, y = fetch_trec("train", data_home=data_home, return_X_y=True)
    params = {key: value for key, value in TINY.items() if key != "batch_size"}
    result = lr_find(ULMFiTClassifier(**params, random_state=0), X[:3000], y[:3000], num_it=10, show_plot=False)
    assert {size for size, _ in applied} == {24}
    reported = result.curve["lr"].to_numpy()
    assert np.allclose([lr for _, lr in applied][: len(reported)], reported * 1.5**0.5)
