"""scikit-learn's own estimator checks, run on both estimators through a text adapter.

``check_estimator`` skips every check for an estimator that takes strings, so each
estimator is wrapped: the adapter takes the numeric ``X`` the checks generate and writes
each row as a text (one token per feature, ``f{column}_{floor(value)}``), then fits the
real estimator on those texts. The contract checked is scikit-learn's definition
(cloning, parameters, fitting twice, pickling, shapes, errors, sample weights, ...).
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.estimator_checks import parametrize_with_checks
from sklearn.utils.validation import check_is_fitted, validate_data

from sk_ulmfit import ULMFiTClassifier, ULMFiTLanguageModel

TINY_CLASSIFIER = ULMFiTClassifier(pretrained=None, emb_size=8, hidden_size=16, n_layers=1, batch_size=16,
                                   min_freq=1, schedule=(("all", 6, 3e-2),), random_state=0)
TINY_LANGUAGE_MODEL = ULMFiTLanguageModel(emb_size=8, hidden_size=16, n_layers=1, batch_size=2, bptt=4,
                                          min_freq=1, random_state=0)
# Mini-batch training with dropout is not the same fit on repeated rows as on weighted
# rows: the weighted loss matches in expectation only, never to 1e-7.
CANNOT_APPLY = {"check_sample_weight_equivalence_on_dense_data":
                "mini-batch SGD with dropout: weights equal repeated rows in expectation only"}


def as_texts(X) -> list[str]:
    """One text per row: a token per feature, its value's integer part clipped to [-9, 9]."""
    values = np.clip(np.floor(np.asarray(X, dtype=float)), -9, 9).astype(int)
    return [" ".join(f"f{column}_{value}" for column, value in enumerate(row)) for row in values]


class ClassifierOnRows(ClassifierMixin, BaseEstimator):
    """``ULMFiTClassifier`` fitted on the rows of a numeric ``X`` written as texts."""

    def __init__(self, classifier=None):
        self.classifier = classifier

    def fit(self, X, y, sample_weight=None):
        X, y = validate_data(self, X, y, multi_output=True)  # a 2-D y: multi-label indicators
        self.classifier_ = clone(self.classifier or TINY_CLASSIFIER).fit(as_texts(X), y, sample_weight=sample_weight)
        self.classes_ = self.classifier_.classes_
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def predict_proba(self, X):
        check_is_fitted(self)
        return self.classifier_.predict_proba(as_texts(validate_data(self, X, reset=False)))

    def predict(self, X):
        check_is_fitted(self)
        return self.classifier_.predict(as_texts(validate_data(self, X, reset=False)))


class LanguageModelOnRows(BaseEstimator):
    """``ULMFiTLanguageModel`` fitted on the rows of a numeric ``X`` written as texts."""

    def __init__(self, language_model=None):
        self.language_model = language_model

    def fit(self, X, y=None):
        X = validate_data(self, X)
        self.language_model_ = clone(self.language_model or TINY_LANGUAGE_MODEL).fit(as_texts(X))
        return self

    def score(self, X, y=None):
        check_is_fitted(self)
        return self.language_model_.score(as_texts(validate_data(self, X, reset=False)))


@parametrize_with_checks([ClassifierOnRows(), LanguageModelOnRows()],
                         expected_failed_checks=lambda estimator: CANNOT_APPLY)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
