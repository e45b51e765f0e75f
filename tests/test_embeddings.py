"""Document embeddings: ``transform`` gives the pooled features the head reads."""

import numpy as np
import pytest
import torch
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit._nn.awd_lstm import output_layer

from .conftest import TINY

# Small, but it learns TREC-6 (about 65 % on the test questions), so its features carry signal.
LEARNS = {**TINY, "emb_size": 32, "hidden_size": 64, "n_layers": 1, "drop_mult": 0.1,
          "schedule": (("all", 8, 3e-2),)}


@pytest.fixture(scope="module")
def fitted(trec):
    X_train, y_train, _, _ = trec
    return ULMFiTClassifier(random_state=0, **LEARNS).fit(X_train, y_train)


def test_shape_names_and_type(fitted, trec):
    _, _, X_test, _ = trec
    features = fitted.transform(X_test)
    assert features.shape == (len(X_test), 3 * LEARNS["emb_size"])
    assert features.dtype == np.float32
    names = fitted.get_feature_names_out()
    assert len(names) == features.shape[1]
    assert list(names[:2]) == ["forward_last0", "forward_last1"] and names[-1] == f"forward_mean{LEARNS['emb_size'] - 1}"


def test_deterministic_and_independent_of_the_other_texts(fitted, trec):
    _, _, X_test, _ = trec
    features = fitted.transform(X_test)
    np.testing.assert_array_equal(fitted.transform(X_test), features)
    alone = np.vstack([fitted.transform([text]) for text in X_test[:25]])
    np.testing.assert_allclose(alone, features[:25], atol=1e-5)
    reversed_order = fitted.transform(X_test[::-1])[::-1]
    np.testing.assert_allclose(reversed_order, features, atol=1e-5)


def test_the_head_maps_the_features_to_the_predicted_logits(fitted, trec):
    _, _, X_test, _ = trec
    features = torch.from_numpy(fitted.transform(X_test))
    head = fitted.directions_[0].network[1].eval()
    with torch.no_grad():
        logits = head.layers(features)
    np.testing.assert_allclose(torch.log_softmax(logits.double(), 1).numpy(), fitted.predict_log_proba(X_test),
                               atol=1e-4)
    assert output_layer(fitted.directions_[0].network).in_features == 50


def test_pooling_every_layer_widens_the_features_the_head_reads(trec):
    X_train, y_train, X_test, _ = trec
    clf = ULMFiTClassifier(random_state=0, **{**TINY, "pool_layers": "all"}).fit(X_train, y_train)
    width = (TINY["n_layers"] - 1) * TINY["hidden_size"] + TINY["emb_size"]
    features = clf.transform(X_test[:20])
    assert features.shape == (20, 3 * width) and len(clf.get_feature_names_out()) == 3 * width
    head = clf.directions_[0].network[1].eval()
    with torch.no_grad():
        logits = head.layers(torch.from_numpy(features))
    np.testing.assert_allclose(torch.log_softmax(logits.double(), 1).numpy(), clf.predict_log_proba(X_test[:20]),
                               atol=1e-4)


def test_max_and_mean_parts_are_what_their_names_say(fitted):
    text = "What is the capital of France ?"
    features = fitted.transform([text])[0]
    size = LEARNS["emb_size"]
    last, maximum, mean = features[:size], features[size:2 * size], features[2 * size:]
    assert np.all(maximum >= mean - 1e-6) and np.all(maximum >= last - 1e-6)


def test_both_directions_concatenate(trec):
    X_train, y_train, X_test, _ = trec
    clf = ULMFiTClassifier(random_state=0, **{**TINY, "direction": "both"}).fit(X_train, y_train)
    features = clf.transform(X_test[:10])
    assert features.shape == (10, 2 * 3 * TINY["emb_size"])
    names = clf.get_feature_names_out()
    assert names[0] == "forward_last0" and names[3 * TINY["emb_size"]] == "backward_last0"


def test_features_feed_other_estimators(fitted, trec):
    X_train, y_train, X_test, y_test = trec
    on_features = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    on_features.fit(fitted.transform(X_train), y_train)
    majority = max(np.mean(y_test == label) for label in np.unique(y_test))
    assert on_features.score(fitted.transform(X_test), y_test) > majority + 0.2


def test_in_pipeline_and_feature_union(trec):
    X_train, y_train, X_test, y_test = trec
    # As a step the classifier is fitted like any transformer (fit_transform), then read.
    union = make_pipeline(
        FeatureUnion([("ulmfit", ULMFiTClassifier(random_state=0, **TINY)), ("tfidf", TfidfVectorizer())]),
        LogisticRegression(max_iter=2000),
    ).fit(X_train, y_train)
    n_tfidf = len(union[0].transformer_list[1][1].vocabulary_)
    assert union[0].transform(X_test[:3]).shape == (3, 3 * TINY["emb_size"] + n_tfidf)
    assert union.predict(X_test).shape == (len(X_test),)
    assert hasattr(union[0].transformer_list[0][1], "directions_")


def test_transform_needs_a_fitted_model():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        ULMFiTClassifier().transform(["a text"])
