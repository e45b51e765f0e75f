"""Early stopping, scikit-learn style: ``early_stopping``, ``validation_fraction``, ``n_iter_no_change``."""

import numpy as np
import pytest
import torch

from sk_ulmfit import ULMFiTClassifier

from .conftest import TINY

LONG_LAST_STAGE = {**TINY, "schedule": ((1, 1, 2e-2), ("all", 6, 1e-2)), "random_state": 0}


def test_stops_the_last_stage_and_keeps_its_best_epoch(trec, monkeypatch):
    X_train, y_train, _, _ = trec
    scripted = iter([5.0, 3.0, 2.0, 2.5, 2.6, 2.7, 2.8])  # stage 1, then the last stage's epochs
    weights_seen = []
    real = ULMFiTClassifier._validation_scores

    def validation_scores(self, model, *args):
        scores = real(self, model, *args)
        weights_seen.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return {**scores, "valid_loss": next(scripted)}

    monkeypatch.setattr(ULMFiTClassifier, "_validation_scores", validation_scores)
    clf = ULMFiTClassifier(**LONG_LAST_STAGE, early_stopping=True, n_iter_no_change=2).fit(X_train, y_train)
    # best at the last stage's 2nd epoch; its 3rd and 4th do not improve: it stops before the 5th
    assert [(r["stage"], r["epoch"]) for r in clf.history_] == [(1, 1), (2, 1), (2, 2), (2, 3), (2, 4)]
    assert clf.history_[-1]["restored_epoch"] == 2
    final = clf.directions_[0].network.state_dict()
    best = weights_seen[2]
    assert all(torch.equal(final[k], best[k]) for k in best)
    assert not all(torch.equal(final[k], weights_seen[-1][k]) for k in best)


def test_holds_out_a_tenth_when_no_fraction_is_given(trec):
    X_train, y_train, X_test, _ = trec
    clf = ULMFiTClassifier(**LONG_LAST_STAGE, early_stopping=True, n_iter_no_change=1).fit(X_train, y_train)
    assert all("valid_loss" in record for record in clf.history_)
    assert len(clf.history_) <= 7
    best = min(r["valid_loss"] for r in clf.history_ if r["stage"] == 2)
    assert best <= clf.history_[-1]["valid_loss"]
    assert clf.predict_proba(X_test).shape == (len(X_test), len(clf.classes_))
    without = ULMFiTClassifier(**LONG_LAST_STAGE).fit(X_train, y_train)
    assert len(without.history_) == 7 and "valid_loss" not in without.history_[0]


@pytest.mark.parametrize("params, error, message", [
    ({"early_stopping": "yes"}, TypeError, "early_stopping must be True or False"),
    ({"n_iter_no_change": 0}, ValueError, "n_iter_no_change"),
    ({"early_stopping": True, "validation_fraction": 1.5}, ValueError, "validation_fraction"),
])
def test_bad_settings_are_refused(trec, params, error, message):
    X_train, y_train, _, _ = trec
    with pytest.raises(error, match=message):
        ULMFiTClassifier(**TINY, **params).fit(X_train, y_train)


def test_resumes_with_its_best_epoch(trec, tmp_path, monkeypatch):
    """With ``checkpoint_dir``, the best epoch so far is part of the saved progress."""
    import sk_ulmfit._estimators.classifier as classifier_module

    X_train, y_train, X_test, _ = trec
    params = {**LONG_LAST_STAGE, "early_stopping": True, "n_iter_no_change": 1}
    uninterrupted = ULMFiTClassifier(**params).fit(X_train, y_train)
    original, calls = classifier_module.train_epoch, {"n": 0}

    def train_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(classifier_module, "train_epoch", train_epoch)
    with pytest.raises(KeyboardInterrupt):
        ULMFiTClassifier(**params, checkpoint_dir=tmp_path).fit(X_train, y_train)
    monkeypatch.undo()
    resumed = ULMFiTClassifier(**params, checkpoint_dir=tmp_path).fit(X_train, y_train)
    assert [r["valid_loss"] for r in resumed.history_] == [r["valid_loss"] for r in uninterrupted.history_]
    np.testing.assert_allclose(resumed.predict_proba(X_test), uninterrupted.predict_proba(X_test), atol=1e-6)


def test_plot_history_draws_every_stage_and_the_kept_epoch(trec):
    import matplotlib

    matplotlib.use("Agg")
    from sk_ulmfit import plot_history

    X_train, y_train, _, _ = trec
    clf = ULMFiTClassifier(**{**LONG_LAST_STAGE, "direction": "both"}, early_stopping=True,
                           n_iter_no_change=1).fit(X_train, y_train)
    ax = plot_history(clf)
    labels = [line.get_label() for line in ax.get_lines()]
    assert {"train loss (forward)", "validation loss (backward)"} <= set(labels)
    forward = [r for r in clf.history_ if r["direction"] == "forward"]
    assert len(ax.get_lines()[0].get_xdata()) == len(forward)
    notes = [text.get_text() for text in ax.texts]
    assert notes[0].startswith("stage 1: unfreeze 1") and notes[1].startswith("stage 2: unfreeze")
    with pytest.raises(Exception, match="not fitted"):
        plot_history(ULMFiTClassifier())


def test_verbose_shows_progress_for_tokenising_training_and_predicting(trec, capsys):
    from sk_ulmfit._text.tokenizer import clear_token_cache

    X_train, y_train, X_test, _ = trec
    texts = [f"{text} (copy {i})" for i in range(2) for text in X_train]  # 1,200 new texts: two pieces
    clear_token_cache()
    clf = ULMFiTClassifier(**TINY, random_state=0, verbose=1).fit(texts, np.concatenate([y_train, y_train]))
    shown = capsys.readouterr().out
    assert "tokenising" in shown and "stage 2/2 epoch 2/2" in shown
    quiet = ULMFiTClassifier(**TINY, random_state=0).fit(texts, np.concatenate([y_train, y_train]))
    assert capsys.readouterr().out == ""
    np.testing.assert_array_equal(quiet.predict(X_test), clf.set_params(verbose=0).predict(X_test))
    clf.set_params(verbose=1, predict_batch_size=16).predict_proba(X_test)
    assert "100.00%" in capsys.readouterr().out
