"""Finding bad labels and near-duplicates: what fastai v1's ``DatasetFormatter`` did.

Every function takes plain arrays, so it works with any scikit-learn classifier. Give
it **out-of-fold** probabilities, so that no text is graded by a model that was trained
on it (a model that memorised a wrong label would be sure of it). :func:`out_of_fold_proba`
gives them for a ``ULMFiTClassifier`` in the time of about two passes over the texts::

    proba = out_of_fold_proba(ULMFiTClassifier(), X, y)
    top_losses(X, y, proba).head(20)          # most likely mislabelled
    most_unsure(X, y, proba).head(20)         # closest calls
    label_issues(X, y, proba)                 # cleanlab's confident learning (optional extra)
    most_similar(clf.transform(X), X).head()  # near-duplicate pairs

The columns of ``proba`` follow ``classes`` (default: the sorted distinct labels of
``y``, which is what ``cross_val_predict`` uses). Each function returns a pandas
DataFrame sorted worst first, with ``position`` (the row in the input) and ``text``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import ConfusionMatrixDisplay, pairwise_distances_chunked
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ._common.validation import check_texts

EPSILON = 1e-12
OUT_OF_FOLD_METHODS = ("features", "refit")
# A schedule that trains the head only: the encoder a fit with it leaves is the one it
# started from (the pretrained model, fine-tuned as a language model on the texts alone).
HEAD_ONLY = ((1, 1, 1e-3),)
# Regularisation strengths the linear head on the frozen features chooses from, by an
# inner cross-validation on each training part.
HEAD_CS = (1e-3, 1e-2, 1e-1, 1.0)


def out_of_fold_proba(estimator, X: Sequence[str], y, *, method: str = "features", cv: int = 5,
                      random_state=None) -> np.ndarray:
    """Class probabilities of every text from models that never saw its label.

    Parameters
    ----------
    estimator : ULMFiTClassifier or any scikit-learn classifier
        Its parameters are used, never its fitted state (a model trained on ``X`` would be
        sure of every label it memorised). With ``method="features"`` it must be a
        ``ULMFiTClassifier``.
    X : sequence of str
        The texts.
    y : array-like of shape (n_texts,)
        Their labels, one per text.
    method : {"features", "refit"}, default="features"
        ``"features"``: the estimator's encoder before any label is seen (its
        ``pretrained`` model as it is, or the fitted language model its
        ``language_model`` names; ``"auto"``'s fine-tuning is skipped), pooled features of
        every text once, then a standardised logistic regression cross-validated on them,
        its C chosen inside each training part. Costs about two passes over the texts.
        ``"refit"``: ``cross_val_predict`` of a clone of the estimator, one full fit per
        fold (exact, ``cv`` times the cost of a fit).
    cv : int, default=5
        Folds (stratified, shuffled).
    random_state : int, RandomState or None
        Seeds the folds.

    Returns
    -------
    ndarray of shape (n_texts, n_classes)
        Columns follow the sorted distinct labels of ``y`` (the ``classes_`` a fit would
        have), ready for :func:`top_losses`, :func:`most_unsure` and :func:`label_issues`.

    See Also
    --------
    top_losses, most_unsure, label_issues
    sklearn.model_selection.cross_val_predict : What ``method="refit"`` runs.

    Examples
    --------
    Any scikit-learn classifier of texts grades them with ``method="refit"``:

    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sk_ulmfit.inspection import out_of_fold_proba, top_losses
    >>> texts = ["good film", "great film", "fine film", "bad film", "awful film", "poor film"] * 2
    >>> labels = ["pos", "pos", "pos", "neg", "neg", "neg"] * 2
    >>> tfidf = make_pipeline(TfidfVectorizer(), LogisticRegression())
    >>> proba = out_of_fold_proba(tfidf, texts, labels, method="refit", cv=2, random_state=0)
    >>> proba.shape
    (12, 2)
    >>> len(top_losses(texts, labels, proba, k=3))
    3
    """
    if method not in OUT_OF_FOLD_METHODS:
        raise ValueError(f"method must be one of {OUT_OF_FOLD_METHODS}; got {method!r}")
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError("out_of_fold_proba needs one label per text (a 1-D y); for multi-label data rank "
                         "one label at a time")
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
    if method == "refit":
        return cross_val_predict(clone(estimator), X, labels, cv=folds, method="predict_proba")
    features = _label_blind_features(estimator, X, labels)
    head = make_pipeline(StandardScaler(), LogisticRegressionCV(
        Cs=list(HEAD_CS), cv=3, max_iter=3000, l1_ratios=(0.0,), scoring="neg_log_loss",
        use_legacy_attributes=False))
    return cross_val_predict(head, features, labels, cv=folds, method="predict_proba")


def _label_blind_features(estimator, X: Sequence[str], labels: np.ndarray) -> np.ndarray:
    """Pooled features of ``X`` from the encoder ``estimator`` would start its training from:
    a head-only fit leaves the encoder as it was before any label was seen."""
    if "schedule" not in estimator.get_params() or not hasattr(estimator, "transform"):
        raise ValueError(f"method='features' needs a ULMFiTClassifier; got {type(estimator).__name__}: "
                         "pass method='refit' for any other classifier")
    blind = clone(estimator).set_params(schedule=HEAD_ONLY)
    if blind.get_params()["language_model"] == "auto":
        # the shipped encoder as it is: fine-tuning it on the texts first (stage 2) took 15
        # times as long for the same precision (benchmarks/RESULTS.md, "Finding flipped labels")
        blind.set_params(language_model=None)
    return blind.fit(X, labels).transform(X)


def top_losses(X: Sequence[str], y, proba, *, classes=None, k: int | None = None,
               misclassified_only: bool = False) -> pd.DataFrame:
    """Texts whose given label the model finds least likely (highest cross-entropy).

    Parameters
    ----------
    X : sequence of str
        The texts.
    y : array-like of shape (n_texts,)
        The given labels.
    proba : array-like of shape (n_texts, n_classes)
        Predicted probabilities, preferably out of fold (``cross_val_predict``).
    classes : array-like of shape (n_classes,), optional
        The label of each column of ``proba``; default: sorted distinct labels of ``y``.
    k : int, optional
        Return only the first ``k`` rows.
    misclassified_only : bool, default=False
        Keep only texts whose most probable class is not the given label.

    Returns
    -------
    DataFrame
        Columns ``position, text, label, predicted, loss, p_label, p_predicted``, highest
        ``loss`` first.

    See Also
    --------
    out_of_fold_proba : Probabilities from models that never saw a text's label.
    most_unsure : The texts the model is least decided about.
    label_issues : cleanlab's confident learning on the same probabilities.

    Examples
    --------
    >>> from sk_ulmfit.inspection import top_losses
    >>> texts = ["a great film", "a dull film", "a fine film"]
    >>> proba = [[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]   # columns: "neg", "pos"
    >>> top_losses(texts, ["pos", "pos", "pos"], proba, classes=["neg", "pos"], k=1)[["text", "label", "predicted"]]
              text label predicted
    0  a dull film   pos       neg
    """
    texts, labels, proba, classes = _checked(X, y, proba, classes)
    label_columns = _columns_of(labels, classes)
    rows = np.arange(len(texts))
    p_label = proba[rows, label_columns]
    predicted = proba.argmax(axis=1)
    frame = pd.DataFrame({
        "position": rows, "text": texts, "label": labels, "predicted": classes[predicted],
        "loss": -np.log(np.clip(p_label, EPSILON, None)), "p_label": p_label,
        "p_predicted": proba[rows, predicted],
    })
    if misclassified_only:
        frame = frame[predicted != label_columns]
    return _ranked(frame, "loss", ascending=False, k=k)


def most_unsure(X: Sequence[str], y, proba, *, classes=None, k: int | None = None,
                misclassified_only: bool = False) -> pd.DataFrame:
    """Texts with the smallest gap between the two most probable classes.

    Parameters are those of :func:`top_losses`; ``y`` may be ``None`` for unlabelled
    texts (then ``classes`` names the columns, default ``0 .. n_classes - 1``, and
    ``misclassified_only`` is not available).

    Returns
    -------
    DataFrame
        Columns ``position``, ``text``, [``label``,] ``predicted``, ``runner_up``,
        ``margin``, ``p_predicted``, ``p_runner_up``, smallest ``margin`` first.

    See Also
    --------
    top_losses : The texts whose given label is least likely.

    Examples
    --------
    >>> from sk_ulmfit.inspection import most_unsure
    >>> texts = ["a great film", "a film", "a dull film"]
    >>> proba = [[0.1, 0.9], [0.45, 0.55], [0.8, 0.2]]
    >>> most_unsure(texts, None, proba, classes=["neg", "pos"], k=1)[["text", "predicted", "runner_up"]]
         text predicted runner_up
    0  a film       pos       neg
    """
    texts, labels, proba, classes = _checked(X, y, proba, classes)
    if proba.shape[1] < 2:
        raise ValueError("most_unsure needs probabilities of at least 2 classes")
    order = np.argsort(-proba, axis=1, kind="stable")
    rows = np.arange(len(texts))
    first, second = proba[rows, order[:, 0]], proba[rows, order[:, 1]]
    columns = {"position": rows, "text": texts}
    if labels is not None:
        columns["label"] = labels
    frame = pd.DataFrame({
        **columns, "predicted": classes[order[:, 0]], "runner_up": classes[order[:, 1]],
        "margin": first - second, "p_predicted": first, "p_runner_up": second,
    })
    if misclassified_only:
        if labels is None:
            raise ValueError("misclassified_only needs the labels y")
        frame = frame[order[:, 0] != _columns_of(labels, classes)]
    return _ranked(frame, "margin", ascending=True, k=k)


def most_similar(embeddings, X: Sequence[str], other_embeddings=None, other_X: Sequence[str] | None = None,
                 *, y=None, other_y=None, k: int = 20, min_similarity: float | None = None,
                 different_labels_only: bool = False) -> pd.DataFrame:
    """The most similar pairs of texts by cosine similarity of their embeddings.

    Within one set (``other_embeddings=None``) each pair appears once and a text is
    never paired with itself; across two sets (e.g. train and test, to find leaks) every
    text of the first is compared with every text of the second. Memory stays bounded:
    distances are computed in chunks (``sklearn.metrics.pairwise_distances_chunked``).

    Parameters
    ----------
    embeddings : array-like or sparse matrix of shape (n_texts, n_features)
        One row per text of ``X``: ``clf.transform(X)``, or TF-IDF rows, or any features.
    X : sequence of str
        The texts.
    other_embeddings, other_X : optional
        A second set to compare against (same number of features).
    y, other_y : array-like, optional
        Labels, shown in the result; needed for ``different_labels_only``.
    k : int, default=20
        Number of pairs returned.
    min_similarity : float, optional
        Drop pairs less similar than this.
    different_labels_only : bool, default=False
        Keep only pairs whose labels differ: near-duplicates with conflicting labels.

    Returns
    -------
    DataFrame
        Columns ``position``, ``text``, [``label``,] ``other_position``, ``other_text``,
        [``other_label``,] ``similarity``, most similar first.

    See Also
    --------
    sk_ulmfit.ULMFiTClassifier.transform : The encoder's features of each text.

    Examples
    --------
    >>> from sk_ulmfit.inspection import most_similar
    >>> texts = ["the cat sat", "the cat sat down", "stock prices fell"]
    >>> embeddings = [[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]]
    >>> most_similar(embeddings, texts, k=1)[["text", "other_text"]]
              text        other_text
    0  the cat sat  the cat sat down
    """
    texts = check_texts(X)
    embeddings = _as_matrix(embeddings)
    other_embeddings = None if other_embeddings is None else _as_matrix(other_embeddings)
    within = other_embeddings is None
    other_texts = texts if within else check_texts(other_X)
    labels = None if y is None else np.asarray(y)
    other_labels = labels if within else (None if other_y is None else np.asarray(other_y))
    _check_rows(embeddings, texts, "embeddings", "X")
    if not within:
        _check_rows(other_embeddings, other_texts, "other_embeddings", "other_X")
    if different_labels_only and (labels is None or other_labels is None):
        raise ValueError("different_labels_only needs the labels: pass y (and other_y for a second set)")
    check_k(k)

    def best_of_chunk(distances, start):
        return _best_per_row(distances, start, k, within, labels, other_labels, different_labels_only)

    chunks = list(pairwise_distances_chunked(embeddings, None if within else other_embeddings,
                                             metric="cosine", reduce_func=best_of_chunk))
    columns_per_row = np.concatenate([chunk[0] for chunk in chunks])
    similarity = np.concatenate([chunk[1] for chunk in chunks]).ravel()
    first = np.repeat(np.arange(len(texts)), columns_per_row.shape[1])
    second = columns_per_row.ravel()
    best = np.argsort(-similarity, kind="stable")[:k]
    best = best[np.isfinite(similarity[best])]
    first, second, similarity = first[best], second[best], similarity[best]
    columns = {"position": first, "text": [texts[i] for i in first]}
    if labels is not None:
        columns["label"] = labels[first]
    columns.update({"other_position": second, "other_text": [other_texts[j] for j in second]})
    if other_labels is not None:
        columns["other_label"] = other_labels[second]
    frame = pd.DataFrame({**columns, "similarity": similarity})
    if min_similarity is not None:
        frame = frame[frame["similarity"] >= min_similarity]
    return frame.reset_index(drop=True)


def label_issues(X: Sequence[str], y, proba, *, classes=None, **cleanlab_options) -> pd.DataFrame:
    """Likely label errors found by cleanlab's confident learning (``pip install cleanlab``).

    Calls ``cleanlab.filter.find_label_issues`` on out-of-fold ``proba`` and returns the
    flagged texts as :func:`top_losses` rows, ranked by cleanlab's self-confidence
    (least confident first).

    Parameters
    ----------
    X : sequence of str
        The texts.
    y : array-like of shape (n_texts,)
        The given labels.
    proba : array-like of shape (n_texts, n_classes)
        Out-of-fold probabilities (:func:`out_of_fold_proba`); cleanlab's estimate of
        the label noise needs probabilities from models that did not see the labels.
    classes : array-like of shape (n_classes,), optional
        The label of each column of ``proba``; default: sorted distinct labels of ``y``.
    **cleanlab_options
        Passed to ``cleanlab.filter.find_label_issues`` (e.g. ``filter_by``).

    Returns
    -------
    DataFrame
        The flagged texts as rows of :func:`top_losses`, least self-confident first.

    See Also
    --------
    top_losses : Every text ranked by its loss, flagged or not.
    """
    try:
        from cleanlab.filter import find_label_issues
    except ImportError as error:
        raise ImportError(
            "label_issues needs cleanlab: pip install 'sk_ulmfit[cleanlab]' (or pip install cleanlab)"
        ) from error
    texts, labels, proba, classes = _checked(X, y, proba, classes)
    options = {"return_indices_ranked_by": "self_confidence", **cleanlab_options}
    flagged = find_label_issues(_columns_of(labels, classes), proba, **options)
    if flagged.dtype == bool:
        flagged = np.flatnonzero(flagged)
    losses = top_losses(texts, labels, proba, classes=classes).set_index("position", drop=False)
    return losses.loc[flagged].reset_index(drop=True)


# ------------------------------------------------------------------ display
def plot_confusion_matrix(y_true, y_pred, *, labels=None, normalize: str | None = None, ax=None):
    """A confusion matrix plot (scikit-learn's ``ConfusionMatrixDisplay``), labels readable.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_texts,)
        The given and the predicted labels.
    labels : array-like, optional
        The labels to show, in order; default: those that occur.
    normalize : {None, "true", "pred", "all"}, default=None
        Counts, or fractions of each true class, each predicted class or all texts.
    ax : matplotlib Axes, optional
        Where to draw; default: a new figure. Needs matplotlib.

    Returns
    -------
    sklearn.metrics.ConfusionMatrixDisplay
        Its ``figure_`` shows in a notebook.

    See Also
    --------
    sklearn.metrics.ConfusionMatrixDisplay.from_predictions : What draws it.
    """
    display = ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=labels, normalize=normalize, ax=ax, xticks_rotation=45,
        values_format=".2f" if normalize else "d", colorbar=False)
    display.figure_.tight_layout()
    return display


def styled(frame: pd.DataFrame, *, text_width: int = 60):
    """A notebook-friendly view of a table from this module (a pandas ``Styler``).

    Parameters
    ----------
    frame : DataFrame
        A table returned by :func:`top_losses`, :func:`most_unsure`, :func:`most_similar`
        or :func:`label_issues`.
    text_width : int, default=60
        Texts wrap at about this many characters.

    Returns
    -------
    pandas.io.formats.style.Styler
        Probabilities as percentages, with bars for the loss, margin or similarity column.

    Examples
    --------
    >>> from sk_ulmfit.inspection import styled, top_losses
    >>> table = top_losses(["a dull film"], ["pos"], [[0.8, 0.2]], classes=["neg", "pos"])
    >>> html = styled(table).to_html()   # what a notebook shows
    """
    percent = [c for c in frame.columns if c.startswith("p_") or c in ("margin", "similarity")]
    bars = [c for c in ("loss", "margin", "similarity") if c in frame.columns]
    wrapped = [c for c in ("text", "other_text") if c in frame.columns]
    formats = {column: "{:.1%}" for column in percent}
    if "loss" in frame.columns:
        formats["loss"] = "{:.2f}"
    return (frame.style.hide(axis="index")
            .format(formats)
            .bar(subset=bars, color="#f4a582")
            .set_properties(subset=wrapped, **{"white-space": "pre-wrap", "max-width": f"{text_width}ch",
                                               "text-align": "left"}))


# ------------------------------------------------------------------ helpers
def check_k(k) -> None:
    if k is not None and (not isinstance(k, (int, np.integer)) or k < 1):
        raise ValueError(f"k must be a positive int or None; got {k!r}")


def _checked(X, y, proba, classes):
    texts = check_texts(X)
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2 or proba.shape[0] != len(texts):
        raise ValueError(
            f"proba must have shape (n_texts, n_classes) = ({len(texts)}, n_classes); got {proba.shape}. "
            "Use cross_val_predict(clf, X, y, method='predict_proba') or clf.predict_proba(X)"
        )
    labels = None if y is None else np.asarray(y)
    if labels is not None and labels.ndim == 2 and labels.shape[1] > 1:
        raise ValueError(
            "top_losses, most_unsure and label_issues rank texts with one label each; for a multi-label "
            "y, look at one label j at a time: y[:, j] with proba np.column_stack([1 - proba[:, j], "
            "proba[:, j]]) and classes=[0, 1] (most_similar works on any model's embeddings)")
    if labels is not None and labels.shape != (len(texts),):
        raise ValueError(f"y must have one label per text ({len(texts)}); got shape {labels.shape}")
    if classes is None:
        classes = np.arange(proba.shape[1]) if labels is None else np.unique(labels)
    classes = np.asarray(classes)
    if len(classes) != proba.shape[1]:
        raise ValueError(
            f"proba has {proba.shape[1]} columns but there are {len(classes)} classes; pass "
            "classes=clf.classes_ (the column order of proba)"
        )
    return texts, labels, proba, classes


def _columns_of(labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """The column of ``proba`` for each label."""
    index = {label: column for column, label in enumerate(classes.tolist())}
    unknown = sorted({str(label) for label in labels.tolist() if label not in index})
    if unknown:
        raise ValueError(f"labels {unknown[:5]} are not among the classes {classes.tolist()[:10]}")
    return np.asarray([index[label] for label in labels.tolist()])


def _ranked(frame: pd.DataFrame, column: str, *, ascending: bool, k: int | None) -> pd.DataFrame:
    check_k(k)
    frame = frame.sort_values(column, ascending=ascending, kind="stable").reset_index(drop=True)
    return frame if k is None else frame.head(k)


def _best_per_row(distances, start, k, within, labels, other_labels, different_labels_only):
    """Per row of a chunk of cosine distances: its ``k`` most similar columns and their
    similarities (``-inf`` where a row has fewer than ``k`` admissible partners)."""
    similarity = 1.0 - np.asarray(distances, dtype=float)
    rows = np.arange(start, start + similarity.shape[0])
    columns = np.arange(similarity.shape[1])
    if within:  # each unordered pair once, never a text with itself
        similarity[columns[None, :] <= rows[:, None]] = -np.inf
    if different_labels_only:
        similarity[labels[rows][:, None] == other_labels[None, :]] = -np.inf
    keep = min(k, similarity.shape[1])
    best = np.argpartition(-similarity, keep - 1, axis=1)[:, :keep]
    return best, np.take_along_axis(similarity, best, axis=1)


def _as_matrix(embeddings):
    """Embeddings as a dense or sparse matrix (lists of rows become an array)."""
    return embeddings if hasattr(embeddings, "shape") else np.asarray(embeddings, dtype=float)


def _check_rows(embeddings, texts, name: str, texts_name: str) -> None:
    shape = getattr(embeddings, "shape", None)
    if shape is None or len(shape) != 2 or shape[0] != len(texts):
        raise ValueError(
            f"{name} must have one row per text of {texts_name} ({len(texts)} rows); got shape {shape}. "
            "Use clf.transform(texts)"
        )
