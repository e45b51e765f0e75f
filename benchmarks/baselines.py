"""The non-neural baselines of the benchmarks: TF-IDF + LR, TF-IDF + linear SVM, NB-SVM."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC
from sklearn.utils.validation import check_is_fitted


def tfidf_logistic_regression():
    return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                         LogisticRegression(C=10, max_iter=2000))


def tfidf_linear_svm():
    return make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True), LinearSVC(C=0.5))


class NBSVMClassifier(ClassifierMixin, BaseEstimator):
    """NB-SVM (Wang & Manning, 2012): a linear SVM on binarised n-grams scaled by
    naive-Bayes log-count ratios, one-vs-rest for more than two classes, with the paper's
    interpolation ``w = (1 - beta) * mean|w| + beta * w``.

    Parameters
    ----------
    ngram_range : tuple, default=(1, 2)
    alpha : float, default=1.0
        Smoothing of the counts.
    C : float, default=1.0
        SVM regularisation.
    beta : float, default=0.25
        Interpolation weight (the paper's 0.25).
    """

    def __init__(self, ngram_range=(1, 2), alpha: float = 1.0, C: float = 1.0, beta: float = 0.25):
        self.ngram_range = ngram_range
        self.alpha = alpha
        self.C = C
        self.beta = beta

    def fit(self, X, y):
        self.vectorizer_ = CountVectorizer(ngram_range=self.ngram_range, binary=True,
                                           token_pattern=r"(?u)\b\w+\b|[^\w\s]")
        features = self.vectorizer_.fit_transform(X)
        self.classes_, targets = np.unique(np.asarray(y), return_inverse=True)
        columns = [targets == index for index in range(len(self.classes_))]
        if len(self.classes_) == 2:
            columns = columns[1:]
        self.ratios_, self.coefs_, self.intercepts_ = [], [], []
        for positive in columns:
            p = self.alpha + np.asarray(features[positive].sum(axis=0)).ravel()
            q = self.alpha + np.asarray(features[~positive].sum(axis=0)).ravel()
            ratio = np.log((p / p.sum()) / (q / q.sum()))
            svm = LinearSVC(C=self.C, max_iter=5000).fit(features @ sparse.diags(ratio), positive)
            w = svm.coef_.ravel()
            self.ratios_.append(ratio)
            self.coefs_.append((1 - self.beta) * np.abs(w).mean() + self.beta * w)
            self.intercepts_.append(svm.intercept_[0])
        return self

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self)
        features = self.vectorizer_.transform(X)
        scores = np.column_stack([(features @ sparse.diags(r)) @ w + b for r, w, b in
                                  zip(self.ratios_, self.coefs_, self.intercepts_, strict=True)])
        return scores.ravel() if len(self.classes_) == 2 else scores

    def predict(self, X) -> np.ndarray:
        scores = self.decision_function(X)
        best = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[best]
