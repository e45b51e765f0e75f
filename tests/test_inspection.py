"""Finding flipped labels and planted duplicates in real data with ``sk_ulmfit.inspection``."""

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline

from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit.inspection import (
    _label_blind_features,
    label_issues,
    most_similar,
    most_unsure,
    out_of_fold_proba,
    plot_confusion_matrix,
    styled,
    top_losses,
)

from .conftest import TINY

matplotlib.use("Agg")
FLIP_FRACTION = 0.05


@pytest.fixture(scope="module")
def noisy_trec(data_home):
    """All 5,452 TREC-6 training questions with 5 % of the labels flipped to another class,
    and out-of-fold probabilities of a fast text classifier (the functions take any)."""
    from sk_ulmfit.datasets import fetch_trec

    X, y = fetch_trec("train", data_home=data_home, return_X_y=True)
    X, y = list(X), np.asarray(y, dtype=object)
    rng = np.random.default_rng(0)
    flipped = rng.choice(len(y), size=int(FLIP_FRACTION * len(y)), replace=False)
    classes = np.unique(y)
    noisy = y.copy()
    for i in flipped:
        noisy[i] = rng.choice(classes[classes != y[i]])
    model = make_pipeline(TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2)),
                          LogisticRegression(C=10, max_iter=2000))
    proba = cross_val_predict(model, X, noisy, cv=5, method="predict_proba")
    return X, noisy, proba, set(flipped.tolist())


def _precision(frame: pd.DataFrame, flipped: set) -> float:
    return float(np.mean([position in flipped for position in frame["position"]]))


def test_top_losses_find_flipped_labels(noisy_trec):
    X, y, proba, flipped = noisy_trec
    frame = top_losses(X, y, proba, k=100)
    assert _precision(frame, flipped) > 6 * FLIP_FRACTION  # random picking finds 5 %
    assert frame["loss"].is_monotonic_decreasing
    first = frame.iloc[0]
    assert first["text"] == X[first["position"]] and first["label"] == y[first["position"]]
    np.testing.assert_allclose(first["loss"], -np.log(first["p_label"]))


def test_misclassified_only_keeps_wrong_predictions(noisy_trec):
    X, y, proba, _ = noisy_trec
    frame = top_losses(X, y, proba, misclassified_only=True)
    assert len(frame) == int(np.sum(np.unique(y)[proba.argmax(1)] != y))
    assert (frame["label"] != frame["predicted"]).all()


def test_most_unsure_ranks_by_the_margin_of_the_top_two(noisy_trec):
    X, y, proba, flipped = noisy_trec
    frame = most_unsure(X, y, proba, k=50)
    assert frame["margin"].is_monotonic_increasing
    np.testing.assert_allclose(frame["margin"], frame["p_predicted"] - frame["p_runner_up"])
    row = proba[frame["position"][0]]
    assert frame["margin"][0] == pytest.approx(np.sort(row)[-1] - np.sort(row)[-2])
    unlabelled = most_unsure(X, None, proba, classes=np.unique(y), k=5)
    assert "label" not in unlabelled and list(unlabelled["position"]) == list(frame["position"][:5])
    wrong_and_unsure = most_unsure(X, y, proba, k=100, misclassified_only=True)
    assert (wrong_and_unsure["label"] != wrong_and_unsure["predicted"]).all()
    assert _precision(wrong_and_unsure, flipped) > FLIP_FRACTION


def test_cleanlab_finds_flipped_labels(noisy_trec):
    X, y, proba, flipped = noisy_trec
    issues = label_issues(X, y, proba)
    assert 0 < len(issues) < len(X) // 4
    assert _precision(issues.head(100), flipped) > 6 * FLIP_FRACTION
    found = set(issues["position"])
    assert len(found & flipped) / len(flipped) > 0.5  # recall


def test_out_of_fold_probabilities_from_ulmfit_feed_the_same_functions(trec):
    X_train, y_train, _, _ = trec
    proba = cross_val_predict(ULMFiTClassifier(random_state=0, **TINY), X_train, y_train, cv=2,
                              method="predict_proba")
    frame = top_losses(X_train, y_train, proba, k=10)
    assert len(frame) == 10 and frame["loss"].is_monotonic_decreasing


def test_bad_input_says_how_to_fix_it(noisy_trec):
    X, y, proba, _ = noisy_trec
    with pytest.raises(ValueError, match="shape"):
        top_losses(X, y, proba[:10])
    with pytest.raises(ValueError, match="classes=clf.classes_"):
        top_losses(X, y, proba[:, :3])
    with pytest.raises(ValueError, match="not among the classes"):
        top_losses(X, np.where(np.arange(len(y)) == 0, "NEW", y), proba, classes=np.unique(y))
    with pytest.raises(ValueError, match="k must be"):
        most_unsure(X, y, proba, k=0)


# ----------------------------------------------------------------- duplicates
@pytest.fixture(scope="module")
def embedder(trec):
    """A small model that learns TREC-6, so different questions get different embeddings."""
    X_train, y_train, _, _ = trec
    learns = {**TINY, "emb_size": 32, "hidden_size": 64, "n_layers": 1, "drop_mult": 0.1,
              "schedule": (("all", 8, 3e-2),)}
    return ULMFiTClassifier(random_state=0, **learns).fit(X_train, y_train)


def test_planted_duplicates_are_found(embedder, trec):
    X_train, _, _, _ = trec
    texts = list(X_train[:150])  # words the model knows: unknown ones all read as xxunk
    planted = {(3, 150), (40, 151), (77, 152), (120, 153)}
    texts += [texts[3], "  " + texts[40], texts[77] + "  ", texts[120].replace(" ", "  ")]
    frame = most_similar(embedder.transform(texts), texts, k=6)
    pairs = set(zip(frame["position"], frame["other_position"], strict=True))
    assert planted <= pairs
    assert frame["similarity"][3] > 0.99
    assert (frame["position"] < frame["other_position"]).all()
    assert frame["similarity"].is_monotonic_decreasing


def test_train_test_leaks_are_found_across_two_sets(embedder, trec):
    X_train, y_train, X_test, y_test = trec
    train = list(X_train[:200]) + [X_test[5], X_test[60]]
    relabelled = next(label for label in np.unique(y_test) if label != y_test[60])
    labels = np.concatenate([y_train[:200], [y_test[5], relabelled]])
    train_features, test_features = embedder.transform(train), embedder.transform(X_test)
    frame = most_similar(train_features, train, test_features, X_test, y=labels, other_y=y_test, k=5)
    leaks = set(zip(frame["position"][:2], frame["other_position"][:2], strict=True))
    assert leaks == {(200, 5), (201, 60)}
    conflicting = most_similar(train_features, train, test_features, X_test, y=labels, other_y=y_test,
                               k=5, different_labels_only=True)
    assert (conflicting["label"] != conflicting["other_label"]).all()
    assert (conflicting["position"][0], conflicting["other_position"][0]) == (201, 60)


def test_near_duplicates_with_tfidf_features(data_home):
    from sk_ulmfit.datasets import fetch_ag_news

    news = fetch_ag_news(data_home=data_home)
    texts = list(news.data[:500])
    edited = texts[10].replace(".", "!", 1) + " (Reuters)"
    texts.append(edited)
    frame = most_similar(TfidfVectorizer().fit_transform(texts), texts, k=3)
    assert (frame["position"][0], frame["other_position"][0]) == (10, 500)
    assert frame["similarity"][0] > 0.9


# ------------------------------------------------------------------- display
def test_confusion_matrix_plot_and_styled_table(noisy_trec):
    X, y, proba, _ = noisy_trec
    predicted = np.unique(y)[proba.argmax(1)]
    display = plot_confusion_matrix(y, predicted)
    np.testing.assert_array_equal(display.confusion_matrix, confusion_matrix(y, predicted))
    html = styled(top_losses(X, y, proba, k=5)).to_html()
    assert "pre-wrap" in html and X[top_losses(X, y, proba, k=1)["position"][0]].split()[0] in html


# ----------------------------------------------------------- out-of-fold scores
def _from_tiny_pretrained(language_model) -> dict:
    sizes = ("emb_size", "hidden_size", "n_layers")
    return {**{k: v for k, v in TINY.items() if k not in sizes}, "pretrained": FrozenEstimator(language_model)}


def test_out_of_fold_features_never_depend_on_the_labels(trec, tiny_pretrained):
    X_train, y_train, _, _ = trec
    model = ULMFiTClassifier(**_from_tiny_pretrained(tiny_pretrained), random_state=0)
    shuffled = np.random.default_rng(0).permutation(y_train)
    given = _label_blind_features(model, X_train[:200], y_train[:200])
    other = _label_blind_features(model, X_train[:200], shuffled[:200])
    np.testing.assert_array_equal(given, other)


def test_out_of_fold_proba_from_features_feeds_the_rankings(trec, tiny_pretrained):
    X_train, y_train, _, _ = trec
    model = ULMFiTClassifier(**_from_tiny_pretrained(tiny_pretrained), random_state=0)
    proba = out_of_fold_proba(model, X_train, y_train, cv=3, random_state=0)
    assert proba.shape == (len(X_train), len(np.unique(y_train)))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    # better than guessing the class shares on labels it never saw
    assert np.mean(np.unique(y_train)[proba.argmax(axis=1)] == y_train) > np.mean(y_train == "ENTY") + 0.05
    assert top_losses(X_train, y_train, proba, k=5)["loss"].is_monotonic_decreasing


def test_out_of_fold_proba_refit_is_cross_val_predict_on_the_same_folds(noisy_trec):
    X, y, _, _ = noisy_trec
    model = make_pipeline(TfidfVectorizer(sublinear_tf=True), LogisticRegression(max_iter=2000))
    proba = out_of_fold_proba(model, X[:1000], y[:1000], method="refit", cv=3, random_state=0)
    expected = cross_val_predict(model, X[:1000], y[:1000], method="predict_proba",
                                 cv=StratifiedKFold(3, shuffle=True, random_state=0))
    np.testing.assert_allclose(proba, expected)


def test_out_of_fold_proba_bad_input_says_how_to_fix_it(noisy_trec):
    X, y, _, _ = noisy_trec
    tfidf = make_pipeline(TfidfVectorizer(), LogisticRegression())
    with pytest.raises(ValueError, match="method='refit'"):
        out_of_fold_proba(tfidf, X[:100], y[:100])
    with pytest.raises(ValueError, match="method must be one of"):
        out_of_fold_proba(tfidf, X[:100], y[:100], method="fast")
    with pytest.raises(ValueError, match="one label per text"):
        out_of_fold_proba(tfidf, X[:100], np.zeros((100, 3)))


def test_out_of_fold_features_skip_the_automatic_stage_2(monkeypatch, trec):
    X_train, y_train, _, _ = trec
    seen = {}

    class Stop(Exception):
        pass

    def fit(self, X, y):
        seen.update(language_model=self.language_model, schedule=self.schedule)
        raise Stop

    monkeypatch.setattr(ULMFiTClassifier, "fit", fit)
    with pytest.raises(Stop):
        _label_blind_features(ULMFiTClassifier(), X_train, y_train)
    assert seen == {"language_model": None, "schedule": ((1, 1, 1e-3),)}
