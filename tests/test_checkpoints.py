"""Interrupted fits: ``checkpoint_dir`` resumes from the last completed epoch; nothing is lost."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import sk_ulmfit._estimators.classifier as classifier_module
from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit._io.persistence import read_payload

from .conftest import REPO_ROOT, TINY

BOTH = {**TINY, "direction": "both", "random_state": 0, "schedule": ((1, 2, 2e-2), ("all", 2, 1e-2))}


def _interrupt_at(monkeypatch, call: int):
    """Make the ``call``-th training epoch of the classifier raise KeyboardInterrupt."""
    original, calls = classifier_module.train_epoch, {"n": 0}

    def train_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(classifier_module, "train_epoch", train_epoch)
    return calls


def test_an_interrupted_fit_resumes_to_the_same_model(trec, tmp_path, monkeypatch):
    X_train, y_train, X_test, _ = trec
    uninterrupted = ULMFiTClassifier(**BOTH).fit(X_train, y_train)
    # 4 epochs per direction: the 7th is the backward direction's third.
    _interrupt_at(monkeypatch, 7)
    with pytest.raises(KeyboardInterrupt):
        ULMFiTClassifier(**BOTH, checkpoint_dir=tmp_path).fit(X_train, y_train)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backward.pt", "forward.pt"]
    calls = _interrupt_at(monkeypatch, 0)
    resumed = ULMFiTClassifier(**BOTH, checkpoint_dir=tmp_path).fit(X_train, y_train)
    assert calls["n"] == 2  # only the backward direction's last two epochs were trained again
    assert [r["train_loss"] for r in resumed.history_] == [r["train_loss"] for r in uninterrupted.history_]
    np.testing.assert_allclose(resumed.predict_proba(X_test), uninterrupted.predict_proba(X_test), atol=1e-6)
    assert list(tmp_path.iterdir()) == []  # a completed fit removes its progress


def test_resuming_skips_stage_2_and_keeps_the_pretrained_vocabulary(trec, tiny_pretrained, tmp_path, monkeypatch):
    X_train, y_train, X_test, _ = trec
    sized = ("pretrained", "emb_size", "hidden_size", "n_layers")
    params = {**{k: v for k, v in TINY.items() if k not in sized}, "pretrained": tiny_pretrained, "random_state": 0,
              "schedule": ((1, 1, 2e-2), ("all", 2, 1e-2))}
    uninterrupted = ULMFiTClassifier(**params).fit(X_train[:200], y_train[:200])
    _interrupt_at(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        ULMFiTClassifier(**params, checkpoint_dir=tmp_path).fit(X_train[:200], y_train[:200])
    fine_tunings = []
    monkeypatch.setattr(classifier_module, "fine_tuned", lambda *a, **k: fine_tunings.append(1))
    resumed = ULMFiTClassifier(**params, checkpoint_dir=tmp_path).fit(X_train[:200], y_train[:200])
    assert fine_tunings == []
    assert resumed.directions_[0].vocab.itos == uninterrupted.directions_[0].vocab.itos
    np.testing.assert_allclose(resumed.predict_proba(X_test), uninterrupted.predict_proba(X_test), atol=1e-6)


def test_a_failed_refit_leaves_the_fitted_model_as_it_was(trec, monkeypatch):
    X_train, y_train, X_test, _ = trec
    clf = ULMFiTClassifier(**TINY, random_state=0).fit(X_train, y_train)
    before = clf.predict_proba(X_test)
    _interrupt_at(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        clf.fit(X_train[:100], np.where(y_train[:100] == y_train[0], "one", "other"))
    assert list(clf.classes_) == sorted(set(y_train))
    np.testing.assert_array_equal(clf.predict_proba(X_test), before)


def test_progress_of_another_fit_is_refused_and_kept(trec, tmp_path, monkeypatch):
    X_train, y_train, _, _ = trec
    _interrupt_at(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        ULMFiTClassifier(**TINY, random_state=0, checkpoint_dir=tmp_path).fit(X_train, y_train)
    saved = (tmp_path / "forward.pt").read_bytes()
    _interrupt_at(monkeypatch, 0)
    with pytest.raises(ValueError, match="progress of another fit"):
        ULMFiTClassifier(**TINY, random_state=1, checkpoint_dir=tmp_path).fit(X_train, y_train)
    with pytest.raises(ValueError, match="progress of another fit"):
        ULMFiTClassifier(**TINY, random_state=0, checkpoint_dir=tmp_path).fit(X_train[1:], y_train[1:])
    assert (tmp_path / "forward.pt").read_bytes() == saved
    # parameters that do not change the model may differ
    ULMFiTClassifier(**TINY, random_state=0, verbose=0, predict_batch_size=7,
                     checkpoint_dir=tmp_path).fit(X_train, y_train)


def test_a_damaged_checkpoint_gives_a_clear_error(trec, tmp_path, monkeypatch):
    X_train, y_train, _, _ = trec
    _interrupt_at(monkeypatch, 2)
    with pytest.raises(KeyboardInterrupt):
        ULMFiTClassifier(**TINY, random_state=0, checkpoint_dir=tmp_path).fit(X_train, y_train)
    path = tmp_path / "forward.pt"
    path.write_bytes(path.read_bytes()[:1000])
    _interrupt_at(monkeypatch, 0)
    with pytest.raises(ValueError, match="truncated or corrupt"):
        ULMFiTClassifier(**TINY, random_state=0, checkpoint_dir=tmp_path).fit(X_train, y_train)
    with pytest.raises(TypeError, match="checkpoint_dir must be None or a folder path"):
        ULMFiTClassifier(**TINY, checkpoint_dir=3).fit(X_train, y_train)
    with pytest.raises(ValueError, match="is a file"):
        ULMFiTClassifier(**TINY, checkpoint_dir=path).fit(X_train, y_train)


KILLED_PARAMS = dict(pretrained=None, direction="forward", emb_size=16, hidden_size=32, n_layers=2, batch_size=32,
                     min_freq=1, schedule=((1, 1, 2e-2), ("all", 12, 1e-2)), random_state=0)
KILLED_FIT = f"""
import sys
import numpy as np
from sklearn.model_selection import train_test_split
from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit._io.persistence import read_payload
from sk_ulmfit.datasets import fetch_trec
X, y = fetch_trec("train", data_home=sys.argv[1], return_X_y=True)
X, _, y, _ = train_test_split(X, y, train_size=600, stratify=y, random_state=0)
ULMFiTClassifier(**{KILLED_PARAMS!r}, checkpoint_dir=sys.argv[2]).fit(X, np.asarray(y))
"""


def test_a_killed_fit_resumes_from_its_last_epoch(trec, data_home, tmp_path, monkeypatch):
    """SIGKILL, the way an out-of-memory killer or a lost machine ends a fit."""
    process = subprocess.Popen([sys.executable, "-c", KILLED_FIT, str(data_home), str(tmp_path)],
                               env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    checkpoint = tmp_path / "forward.pt"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert checkpoint.exists(), "the fit ended before its first checkpoint"
    epochs_done = len(read_payload(checkpoint)["progress"]["history"])
    assert 1 <= epochs_done < 13
    X_train, y_train, X_test, _ = trec
    calls = _interrupt_at(monkeypatch, 0)
    resumed = ULMFiTClassifier(**KILLED_PARAMS, checkpoint_dir=tmp_path).fit(X_train, y_train)
    assert calls["n"] == 13 - epochs_done and len(resumed.history_) == 13
    monkeypatch.undo()
    uninterrupted = ULMFiTClassifier(**KILLED_PARAMS).fit(X_train, y_train)
    np.testing.assert_allclose(resumed.predict_proba(X_test), uninterrupted.predict_proba(X_test), atol=1e-6)


def test_a_language_model_fit_resumes_too(tiny_pretrained, wiki_articles, tmp_path, monkeypatch):
    import sk_ulmfit._estimators.language_model as language_model_module
    from sk_ulmfit import ULMFiTLanguageModel

    texts = wiki_articles[20:28]
    params = {"pretrained": tiny_pretrained, "epochs": 2, "lr": 1e-2, "batch_size": 16, "min_freq": 2,
              "random_state": 0}
    uninterrupted = ULMFiTLanguageModel(**params).fit(texts)
    original, calls = language_model_module.train_language_model_epoch, {"n": 0}

    def train_epoch(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # stage 1 (embeddings) is done, and one epoch of stage 2
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(language_model_module, "train_language_model_epoch", train_epoch)
    with pytest.raises(KeyboardInterrupt):
        ULMFiTLanguageModel(**params, checkpoint_dir=tmp_path).fit(texts)
    calls["n"] = -100
    resumed = ULMFiTLanguageModel(**params, checkpoint_dir=tmp_path).fit(texts)
    assert calls["n"] == -100 + 1  # the last epoch only
    assert resumed.perplexity(wiki_articles[:3]) == pytest.approx(uninterrupted.perplexity(wiki_articles[:3]),
                                                                 rel=1e-6)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(KeyboardInterrupt):
        calls["n"] = 0
        ULMFiTLanguageModel(**params, checkpoint_dir=tmp_path).fit(texts)
    with pytest.raises(ValueError, match="progress of another fit"):  # another start model
        ULMFiTLanguageModel(**{**params, "pretrained": None, "emb_size": 8, "hidden_size": 16},
                            checkpoint_dir=tmp_path).fit(texts)
