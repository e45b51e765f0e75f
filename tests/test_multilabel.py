"""Multi-label text classification on real data (Reuters-21578): y as an indicator matrix."""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.preprocessing import MultiLabelBinarizer

from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit.datasets import fetch_reuters21578
from sk_ulmfit.inspection import most_similar, top_losses

from .conftest import TINY

FAST = {**TINY, "random_state": 0, "schedule": ((1, 1, 3e-2), ("all", 2, 1e-2))}
# starting from a fitted classifier: its encoder brings the size
TRANSFER = {name: value for name, value in FAST.items() if name not in ("emb_size", "hidden_size", "n_layers")}


@pytest.fixture(scope="module")
def reuters(data_home):
    """The 600 first training and 200 first test stories, on the 4 most frequent topics."""
    train = fetch_reuters21578("train", data_home=data_home)
    test = fetch_reuters21578("test", data_home=data_home)
    top = np.argsort(-train.target.sum(0))[:4]
    return (train.data[:600], train.target[:600][:, top], test.data[:200], test.target[:200][:, top],
            [train.target_names[i] for i in top])


def test_indicator_y_trains_one_sigmoid_per_label(reuters):
    X_train, Y_train, X_test, Y_test, _ = reuters
    clf = ULMFiTClassifier(**{**FAST, "schedule": ((1, 1, 3e-2), ("all", 4, 2e-2))}).fit(X_train, Y_train)
    assert clf.multilabel_ and list(clf.classes_) == [0, 1, 2, 3] and clf.n_classes_ == 4
    proba = clf.predict_proba(X_test)
    assert proba.shape == (200, 4) and ((proba > 0) & (proba < 1)).all()
    assert not np.allclose(proba.sum(1), 1)  # independent labels, not a softmax
    predicted = clf.predict(X_test)
    np.testing.assert_array_equal(predicted, (proba > 0.5).astype(int))
    assert clf.score(X_test, Y_test) == np.mean((predicted == Y_test).all(1))
    # better than predicting each label's majority value, and ranks texts by label
    majority = np.mean(((Y_train.mean(0) > 0.5).astype(int) == Y_test).all(1))
    assert clf.score(X_test, Y_test) > majority + 0.1
    assert roc_auc_score(Y_test, proba, average="macro") > 0.65
    assert clf.__sklearn_tags__().classifier_tags.multi_label


def test_any_indicator_container_and_both_directions(reuters, tmp_path):
    X_train, Y_train, X_test, _, names = reuters
    dense = ULMFiTClassifier(**FAST).fit(X_train, Y_train).predict_proba(X_test)
    for Y in (sparse.csr_matrix(Y_train), pd.DataFrame(Y_train, columns=names), Y_train.tolist()):
        np.testing.assert_allclose(ULMFiTClassifier(**FAST).fit(X_train, Y).predict_proba(X_test), dense)
    both = ULMFiTClassifier(**{**FAST, "direction": "both"}).fit(X_train, Y_train)
    assert both.predict_proba(X_test).shape == (200, 4)
    loaded = ULMFiTClassifier.load(both.save(tmp_path / "ml.pt"))
    assert loaded.multilabel_
    np.testing.assert_array_equal(loaded.predict(X_test), both.predict(X_test))


def test_multilabel_binarizer_and_grid_search_with_multilabel_scorers(reuters):
    X_train, Y_train, _, _, names = reuters
    label_sets = [[names[j] for j in np.flatnonzero(row)] for row in Y_train]
    Y = MultiLabelBinarizer(classes=names).fit_transform(label_sets)
    search = GridSearchCV(ULMFiTClassifier(**FAST), {"drop_mult": [0.5, 1.0]}, cv=2,
                          scoring=["f1_samples", "jaccard_samples", "f1_micro"], refit="f1_micro")
    search.fit(X_train[:300], Y[:300])
    for name in ("f1_samples", "jaccard_samples", "f1_micro"):
        assert np.isfinite(search.cv_results_[f"mean_test_{name}"]).all()


def test_a_single_label_source_transfers_its_encoder_only(reuters, trec):
    X_train, Y_train, X_test, _, _ = reuters
    source = ULMFiTClassifier(**FAST).fit(trec[0], trec[1])
    clf = ULMFiTClassifier(**{**TRANSFER, "pretrained": source}).fit(X_train, Y_train)
    assert clf.predict_proba(X_test).shape == (200, 4)
    single = ULMFiTClassifier(**{**TRANSFER, "pretrained": clf}).fit(trec[0], trec[1])
    assert list(single.classes_) == sorted(set(trec[1]))


def test_clear_errors_and_inspection(reuters):
    X_train, Y_train, X_test, Y_test, _ = reuters
    with pytest.raises(ValueError, match="multi-label indicators.*other values"):
        ULMFiTClassifier(**FAST).fit(X_train, Y_train * 2)
    with pytest.raises(ValueError, match="class_weight.*multi-label"):
        ULMFiTClassifier(**FAST, class_weight="balanced").fit(X_train, Y_train)
    with pytest.raises(ValueError, match="different lengths"):
        ULMFiTClassifier(**FAST).fit(X_train, Y_train[:-1])
    clf = ULMFiTClassifier(**FAST).fit(X_train, Y_train, sample_weight=np.ones(len(X_train)))
    proba = clf.predict_proba(X_test)
    with pytest.raises(ValueError, match="one label j at a time"):
        top_losses(X_test, Y_test, proba)
    per_label = top_losses(X_test, Y_test[:, 0], np.column_stack([1 - proba[:, 0], proba[:, 0]]), classes=[0, 1],
                           k=5)
    assert len(per_label) == 5
    assert len(most_similar(clf.transform(X_test), X_test, k=3)) == 3
