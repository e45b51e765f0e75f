"""Checks of user input: texts and labels, with errors that say how to fix them."""

from __future__ import annotations

import inspect
import numbers
import warnings
from collections.abc import Iterator

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import column_or_1d


def check_texts(X) -> list[str]:
    """Return ``X`` as a list of str, or raise a clear error.

    Accepts a list, tuple, 1-D numpy array or pandas Series of strings. Empty strings
    are valid texts.
    """
    if isinstance(X, (str, bytes)):
        raise ValueError(
            "X must be a sequence of texts, not a single string: wrap it in a list, "
            "e.g. clf.predict([text])"
        )
    if sparse.issparse(X):
        raise TypeError(
            f"X is a sparse matrix ({type(X).__name__}): this estimator reads raw texts, not "
            "features; pass the texts themselves (list, numpy array or pandas Series of str)"
        )
    if isinstance(X, Iterator):
        raise TypeError(
            f"X is an iterator ({type(X).__name__}), which can be read only once: pass a list, "
            "e.g. list(X)"
        )
    if isinstance(X, pd.DataFrame):
        raise ValueError(
            f"X must be 1-D (one text per row), got a DataFrame with columns {list(X.columns)}: "
            "pass the text column, e.g. df['text']"
        )
    if isinstance(X, pd.Series):
        values = X.to_list()
    else:
        array = np.asarray(X, dtype=object) if not isinstance(X, np.ndarray) else X
        if array.ndim != 1:
            raise ValueError(
                f"X must be 1-D (one text per row); got an array of shape {array.shape}. "
                "For a single column use X.ravel() or select the text column"
            )
        values = list(X) if not isinstance(X, np.ndarray) else X.tolist()
    if len(values) == 0:
        raise ValueError("X is empty: at least one text is needed")
    for index, text in enumerate(values):
        if not isinstance(text, str):
            _raise_bad_text(index, text)
        if not text.isascii():
            _check_encodable(index, text)
    return [str(text) for text in values]


def _check_encodable(index: int, text: str) -> None:
    """A lone surrogate (half of a UTF-16 pair, e.g. from a bad decode) is not text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(
            f"X[{index}] holds a lone surrogate ({text[error.start]!r} at character {error.start}), "
            "which is not valid Unicode text (usually bytes decoded with errors='surrogateescape'): "
            "repair it, e.g. text.encode('utf-8', 'replace').decode('utf-8')"
        ) from None


def _raise_bad_text(index: int, text) -> None:
    if text is None or (isinstance(text, numbers.Real) and np.isnan(text)):
        raise ValueError(
            f"X[{index}] is missing ({text!r}): drop rows without text or fill them, "
            "e.g. X.fillna('') for a pandas Series"
        )
    raise TypeError(
        f"X[{index}] is a {type(text).__name__} ({text!r:.60}), expected str: "
        "convert the texts first, e.g. [str(x) for x in X]"
    )


def check_indicator(y, n_samples: int) -> np.ndarray | None:
    """``y`` as a float32 ``(n_samples, n_labels)`` matrix when it is a multi-label indicator
    (scikit-learn's convention: 2-D, two or more columns of 0/1, dense, sparse or a
    DataFrame, as ``MultiLabelBinarizer`` makes), else ``None`` (one label per text)."""
    if sparse.issparse(y):
        matrix = y.toarray()
    elif isinstance(y, pd.DataFrame):
        matrix = y.to_numpy()
    elif isinstance(y, np.ndarray):
        matrix = y
    elif isinstance(y, (list, tuple)) and y and all(isinstance(row, (list, tuple, np.ndarray)) for row in y):
        try:
            matrix = np.asarray(y)
        except ValueError:  # ragged: check_labels explains
            return None
    else:
        return None
    if matrix.ndim != 2 or matrix.shape[1] < 2 or not (matrix.dtype.kind in "biuf"):
        return None
    if len(matrix) != n_samples:
        raise ValueError(f"X and y have different lengths: {n_samples} texts but {len(matrix)} rows of labels")
    if not np.isin(matrix, (0, 1)).all():
        raise ValueError(
            f"y has shape {matrix.shape}, so it is read as multi-label indicators (a column per label, "
            "1 where the text has it, 0 where not, as MultiLabelBinarizer makes), but it holds other values "
            f"(e.g. {matrix[~np.isin(matrix, (0, 1))][0]!r}): give 0/1 columns, or a 1-D y for one label per text")
    return matrix.astype(np.float32)


def check_labels(y, n_samples: int, estimator_name: str = "ULMFiTClassifier") -> np.ndarray:
    """Return ``y`` as a 1-D array of ``n_samples`` labels of one sortable type."""
    if y is None:  # scikit-learn's own wording
        raise ValueError(f"This {estimator_name} estimator requires y to be passed, but the target y is None.")
    if isinstance(y, (pd.Series, pd.Index)):
        labels = y.to_numpy()
    elif isinstance(y, pd.DataFrame):
        labels = y.to_numpy(dtype=object)
    elif isinstance(y, np.ndarray):
        labels = y
    else:  # keep Python objects until checked: numpy would quietly turn 1 into "1"
        labels = _object_array(y)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = column_or_1d(labels, warn=True)  # DataConversionWarning, as scikit-learn's estimators
    if labels.ndim != 1:
        raise ValueError(
            f"y must be 1-D (one label per text); got shape {labels.shape}. Use y.ravel() "
            "for a single column; for several labels per text give a binary indicator matrix "
            "(sklearn.preprocessing.MultiLabelBinarizer().fit_transform(label_sets))"
        )
    if len(labels) != n_samples:
        raise ValueError(f"X and y have different lengths: {n_samples} texts but {len(labels)} labels")
    missing = np.flatnonzero(pd.isna(labels))
    if missing.size:
        raise ValueError(
            f"y has {missing.size} missing labels (None/NaN), the first at position "
            f"{missing[0]}: drop those rows or give them a label"
        )
    if labels.dtype == object:
        if len({isinstance(label, str) for label in labels}) > 1:
            _raise_mixed(labels)
        labels = np.asarray(labels.tolist())
    check_classification_targets(labels)
    try:
        np.unique(labels)
    except TypeError as error:
        _raise_mixed(labels, error)
    return labels


def _object_array(y) -> np.ndarray:
    """``y`` as an object array, refusing labels that are themselves sequences."""
    values = list(y)
    nested = [i for i, label in enumerate(values) if isinstance(label, (list, tuple, set, dict, np.ndarray))]
    if nested and not all(isinstance(label, (list, tuple, np.ndarray)) and len(label) == 1 for label in values):
        first = values[nested[0]]
        raise ValueError(
            f"y[{nested[0]}] is a {type(first).__name__} ({first!r:.60}): y must hold one label per "
            "text; lists of labels (multi-label targets) are not supported"
        )
    array = np.empty((len(values), 1) if nested else len(values), dtype=object)
    for i, label in enumerate(values):
        array[i] = label[0] if nested else label
    return array


def _raise_mixed(labels: np.ndarray, cause: Exception | None = None) -> None:
    kinds = sorted({type(label).__name__ for label in labels})
    raise ValueError(
        f"labels must be of one sortable type; y mixes {kinds}: convert them, "
        "e.g. [str(label) for label in y]"
    ) from cause


def warn_unused(estimator, names, reason: str, stacklevel: int = 4) -> None:
    """Warn that the parameters ``names`` set away from their defaults do nothing here
    (``stacklevel``: as :func:`warnings.warn`'s, counted from this function)."""
    defaults = inspect.signature(type(estimator).__init__).parameters
    changed = [name for name in names if getattr(estimator, name) != defaults[name].default]
    if changed:
        settings = ", ".join(f"{name}={getattr(estimator, name)!r}" for name in changed)
        warnings.warn(f"{settings} not used: {reason}; leave {'it' if len(changed) == 1 else 'them'} "
                      "at the default, or start from random weights (pretrained=None)", UserWarning,
                      stacklevel=stacklevel)
