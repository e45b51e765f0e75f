"""Reviewing a labelled dataset text by text: keep, delete or relabel, then get it back clean.

:class:`DatasetCleaner` is plain state: the texts, their labels, out-of-fold
probabilities, the rankings of :mod:`sk_ulmfit.inspection` and one decision per text,
keyed by the text's position in the input (so a decision stays with its text whatever
ranking, filter or page shows it)::

    proba = out_of_fold_proba(ULMFiTClassifier(), X, y)
    cleaner = DatasetCleaner(X, y, proba, decisions_path="decisions.json")
    cleaner.page("top_losses", page_size=10).rows   # the ten most doubtful labels
    cleaner.relabel(17, "sports")
    cleaner.delete(42)
    cleaner.changes()                                # what will change
    X_clean, y_clean = cleaner.cleaned()

With ``decisions_path`` every decision is on disk as soon as it is made, and a new
cleaner on the same data and path resumes them. :meth:`DatasetCleaner.widget` shows the
same state in a notebook (``pip install 'sk_ulmfit[widgets]'``); ``sk-ulmfit clean``
serves it as a local web page.
"""

from __future__ import annotations

import hashlib
import html
import importlib.util
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ._common.atomic import atomic_target
from .inspection import (
    _checked,
    _columns_of,
    label_issues,
    most_similar,
    most_unsure,
    top_losses,
)

__all__ = ["DatasetCleaner", "CleanerWidget", "Page", "RANKINGS", "ACTIONS"]

RANKINGS = ("top_losses", "most_unsure", "label_issues", "near_duplicates")
ACTIONS = ("keep", "delete", "relabel")
# What each ranking's ``score`` column holds, and a title for menus.
SCORE_NAMES = {"top_losses": "loss", "most_unsure": "margin", "label_issues": "loss",
               "near_duplicates": "similarity"}
RANKING_TITLES = {"top_losses": "Top losses (most likely mislabelled)",
                  "most_unsure": "Most unsure (closest calls)",
                  "label_issues": "Label issues (cleanlab)",
                  "near_duplicates": "Near-duplicate pairs"}
DECISIONS_FORMAT = "sk_ulmfit.cleaning.decisions"
DECISIONS_VERSION = 1
ROW_COLUMNS = ["position", "text", "label", "predicted", "p_label", "p_predicted", "runner_up", "p_runner_up",
               "score", "pair", "other_position", "decision", "new_label"]
CHANGE_COLUMNS = ["position", "text", "old_label", "new_label", "deleted"]


@dataclass(frozen=True)
class Page:
    """One page of a ranking.

    Attributes
    ----------
    rows : DataFrame
        The page's rows, the columns of :meth:`DatasetCleaner.ranked` (``pair`` and
        ``other_position`` only for ``"near_duplicates"``, else missing values).
    number : int
        The page shown, from 0 (a page past the end shows the last page).
    n_pages : int
        Pages in the ranking with this filter and page size (at least 1).
    n_rows : int
        Rows in the ranking with this filter.
    page_size : int
        Rows per page.
    """

    rows: pd.DataFrame
    number: int
    n_pages: int
    n_rows: int
    page_size: int


class DatasetCleaner:
    """Texts ranked by how much a model doubts their labels, with a decision per text.

    Parameters
    ----------
    X : sequence of str
        The texts.
    y : array-like of shape (n_texts,)
        Their given labels, one per text.
    proba : array-like of shape (n_texts, n_classes)
        Class probabilities, preferably out of fold
        (:func:`sk_ulmfit.inspection.out_of_fold_proba`): a model trained on a text is
        sure of the label it memorised, wrong or not.
    classes : array-like of shape (n_classes,), optional
        The label of each column of ``proba``; default: the sorted distinct labels of
        ``y``. These are also the labels a text can be relabelled to.
    embeddings : array-like or sparse matrix of shape (n_texts, n_features), optional
        One row per text (``clf.transform(X)``, TF-IDF rows, ...): enables the
        ``"near_duplicates"`` ranking.
    decisions_path : str or path-like, optional
        A JSON file that holds the decisions: written atomically after each one, and
        read back when it exists (it must belong to the same texts and labels).
    n_pairs : int, default=100
        Near-duplicate pairs the ``"near_duplicates"`` ranking holds.

    Attributes
    ----------
    texts : list of str
        The texts, in input order.
    labels : ndarray of shape (n_texts,)
        The given labels.
    proba : ndarray of shape (n_texts, n_classes)
        The probabilities.
    classes : ndarray of shape (n_classes,)
        The label of each column of ``proba``.
    fingerprint : str
        SHA-256 of the texts and labels; a decisions file records it.
    rankings : tuple of str
        The rankings available: ``"label_issues"`` needs cleanlab installed,
        ``"near_duplicates"`` needs ``embeddings``.

    Raises
    ------
    ValueError
        If the inputs do not fit together, or ``decisions_path`` holds decisions about
        other data.

    See Also
    --------
    sk_ulmfit.inspection.top_losses, sk_ulmfit.inspection.most_unsure,
    sk_ulmfit.inspection.label_issues, sk_ulmfit.inspection.most_similar

    Examples
    --------
    >>> import numpy as np
    >>> from sk_ulmfit.cleaning import DatasetCleaner
    >>> X = ["good film", "bad film", "great acting", "dull plot"]
    >>> y = ["pos", "neg", "neg", "neg"]
    >>> proba = np.array([[0.1, 0.9], [0.8, 0.2], [0.2, 0.8], [0.7, 0.3]])
    >>> cleaner = DatasetCleaner(X, y, proba)
    >>> int(cleaner.page("top_losses").rows["position"][0])
    2
    >>> cleaner.relabel(2, "pos")
    >>> cleaner.delete(3)
    >>> cleaner.cleaned()
    (['good film', 'bad film', 'great acting'], array(['pos', 'neg', 'pos'], dtype='<U3'))
    """

    def __init__(self, X: Sequence[str], y, proba, *, classes=None, embeddings=None,
                 decisions_path: str | os.PathLike | None = None, n_pairs: int = 100) -> None:
        self.texts, self.labels, self.proba, self.classes = _checked(X, y, proba, classes)
        if self.labels is None:
            raise ValueError("DatasetCleaner needs the given labels y, one per text")
        if not isinstance(n_pairs, (int, np.integer)) or n_pairs < 1:
            raise ValueError(f"n_pairs must be a positive int; got {n_pairs!r}")
        self._label_columns = _columns_of(self.labels, self.classes)
        self.embeddings = embeddings
        self.n_pairs = int(n_pairs)
        self.fingerprint = fingerprint(self.texts, self.labels)
        self.decisions_path = None if decisions_path is None else Path(decisions_path)
        self._decisions: dict[int, tuple[str, object]] = {}
        self._rankings: dict[str, pd.DataFrame] = {}
        self._base = self._base_columns()
        if self.decisions_path is not None and self.decisions_path.exists():
            self._decisions = self._read_decisions(self.decisions_path)

    # ------------------------------------------------------------------ rankings
    @property
    def rankings(self) -> tuple[str, ...]:
        """The rankings this cleaner can show."""
        available = ["top_losses", "most_unsure"]
        if importlib.util.find_spec("cleanlab") is not None:
            available.append("label_issues")
        if self.embeddings is not None:
            available.append("near_duplicates")
        return tuple(available)

    def ranked(self, ranking: str = "top_losses", *, given_label=None, predicted_label=None) -> pd.DataFrame:
        """All rows of a ranking, worst first, optionally filtered by label.

        Parameters
        ----------
        ranking : {"top_losses", "most_unsure", "label_issues", "near_duplicates"}, default="top_losses"
            ``"top_losses"``: lowest probability of the given label first;
            ``"most_unsure"``: smallest gap between the two likeliest classes first;
            ``"label_issues"``: cleanlab's confident learning, least self-confident
            first; ``"near_duplicates"``: the most similar pairs of texts, each pair as
            two consecutive rows that share ``pair``.
        given_label : label, optional
            Keep only texts with this given label (for near-duplicates: pairs with a
            text that has it).
        predicted_label : label, optional
            Keep only texts the model predicts as this class (for near-duplicates:
            pairs with such a text).

        Returns
        -------
        DataFrame
            Columns ``position, text, label, predicted, p_label, p_predicted,
            runner_up, p_runner_up, score, pair, other_position, decision, new_label``
            (``runner_up``: the second likeliest class). ``score`` is the ranking's
            measure (loss, margin or similarity); ``decision`` is ``"keep"``,
            ``"delete"``, ``"relabel"`` or None (undecided), and ``new_label`` the label
            a relabel gives.
        """
        frame = self._ranking(ranking)
        keep = np.ones(len(frame), dtype=bool)
        if given_label is not None:
            keep &= frame["label"].to_numpy() == self._class_of(given_label)
        if predicted_label is not None:
            keep &= frame["predicted"].to_numpy() == self._class_of(predicted_label)
        if ranking == "near_duplicates":  # a pair stays whole when either of its texts matches
            keep = frame["pair"].isin(frame.loc[keep, "pair"]).to_numpy()
        return self._with_decisions(frame[keep].reset_index(drop=True))

    def page(self, ranking: str = "top_losses", *, given_label=None, predicted_label=None, page: int = 0,
             page_size: int = 20) -> Page:
        """One page of :meth:`ranked`.

        Parameters
        ----------
        ranking, given_label, predicted_label
            As in :meth:`ranked`.
        page : int, default=0
            Page number, from 0; a number past the end gives the last page.
        page_size : int, default=20
            Rows per page.

        Returns
        -------
        Page
        """
        for name, value, least in (("page", page, 0), ("page_size", page_size, 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
                raise ValueError(f"{name} must be an int of at least {least}; got {value!r}")
        frame = self.ranked(ranking, given_label=given_label, predicted_label=predicted_label)
        n_pages = max(1, math.ceil(len(frame) / page_size))
        number = min(int(page), n_pages - 1)
        rows = frame.iloc[number * page_size:(number + 1) * page_size].reset_index(drop=True)
        return Page(rows=rows, number=number, n_pages=n_pages, n_rows=len(frame), page_size=int(page_size))

    # ------------------------------------------------------------------ decisions
    def keep(self, position: int) -> None:
        """Keep the text at ``position`` with its given label (undoes a delete or relabel)."""
        self._decide(position, "keep", None)

    def delete(self, position: int) -> None:
        """Leave the text at ``position`` out of :meth:`cleaned`."""
        self._decide(position, "delete", None)

    def relabel(self, position: int, label) -> None:
        """Give the text at ``position`` the label ``label`` (one of :attr:`classes`).

        Relabelling a text to its given label keeps it.

        Raises
        ------
        ValueError
            If ``label`` is not one of the classes.
        """
        label = self._class_of(label)
        if label == self.labels[self._position(position)]:
            self._decide(position, "keep", None)
        else:
            self._decide(position, "relabel", label)

    def decide(self, position: int, action: str, label=None) -> None:
        """Record ``action`` (``"keep"``, ``"delete"`` or ``"relabel"`` to ``label``) for a text.

        The one entry point for user interfaces: it calls :meth:`keep`, :meth:`delete`
        or :meth:`relabel`. A later decision on the same text replaces the earlier one.
        """
        if action == "relabel":
            if label is None:
                raise ValueError("a relabel needs the new label")
            self.relabel(position, label)
        elif action in ("keep", "delete"):
            getattr(self, action)(position)
        else:
            raise ValueError(f"action must be one of {ACTIONS}; got {action!r}")

    def decision(self, position: int) -> tuple[str | None, object]:
        """The decision on the text at ``position``: ``(action, new_label)``.

        ``action`` is ``"keep"``, ``"delete"``, ``"relabel"`` or None (undecided);
        ``new_label`` is the new label of a relabel, else None.
        """
        return self._decisions.get(self._position(position), (None, None))

    @property
    def decisions(self) -> dict[int, tuple[str, object]]:
        """Every decision so far: ``{position: (action, new_label)}``, by position."""
        return dict(sorted(self._decisions.items()))

    def summary(self) -> dict[str, int]:
        """Counts of texts by decision: ``kept``, ``deleted``, ``relabelled``, ``undecided``, ``total``."""
        actions = [action for action, _ in self._decisions.values()]
        return {"kept": actions.count("keep"), "deleted": actions.count("delete"),
                "relabelled": actions.count("relabel"), "undecided": len(self.texts) - len(actions),
                "total": len(self.texts)}

    def changes(self) -> pd.DataFrame:
        """The texts that :meth:`cleaned` changes: deleted or relabelled.

        Returns
        -------
        DataFrame
            Columns ``position, text, old_label, new_label, deleted``, sorted by
            position; ``new_label`` is missing (None) for a deleted text.
        """
        changed = [(position, action, label) for position, (action, label) in sorted(self._decisions.items())
                   if action != "keep"]
        return pd.DataFrame({
            "position": np.array([position for position, _, _ in changed], dtype=int),
            "text": [self.texts[position] for position, _, _ in changed],
            "old_label": pd.Series([self.labels[position] for position, _, _ in changed], dtype=object),
            "new_label": pd.Series([label for _, _, label in changed], dtype=object),
            "deleted": np.array([action == "delete" for _, action, _ in changed], dtype=bool),
        }, columns=CHANGE_COLUMNS)

    def cleaned(self) -> tuple[list[str], np.ndarray]:
        """The dataset with the decisions applied: deleted texts out, relabels in, order kept.

        Returns
        -------
        X_clean : list of str
        y_clean : ndarray
        """
        labels = self.labels.astype(object)
        kept = np.ones(len(self.texts), dtype=bool)
        for position, (action, label) in self._decisions.items():
            if action == "delete":
                kept[position] = False
            elif action == "relabel":
                labels[position] = label
        positions = np.flatnonzero(kept)
        values = labels[positions].tolist()
        y_clean = (np.asarray(values, dtype=object if self.labels.dtype == object else None) if values
                   else np.empty(0, dtype=self.labels.dtype))
        return [self.texts[position] for position in positions], y_clean

    # ------------------------------------------------------------------ notebook
    def widget(self, *, page_size: int = 10, fold_at: int = 300) -> CleanerWidget:
        """This cleaner as a notebook widget (needs ``pip install 'sk_ulmfit[widgets]'``).

        See :class:`CleanerWidget`.
        """
        return CleanerWidget(self, page_size=page_size, fold_at=fold_at)

    # ------------------------------------------------------------------ helpers
    def _base_columns(self) -> pd.DataFrame:
        """Per text, in input order: given and predicted label and their probabilities."""
        rows = np.arange(len(self.texts))
        order = np.argsort(-self.proba, axis=1, kind="stable")
        predicted, runner_up = order[:, 0], order[:, min(1, order.shape[1] - 1)]
        return pd.DataFrame({
            "position": rows, "text": self.texts, "label": self.labels, "predicted": self.classes[predicted],
            "p_label": self.proba[rows, self._label_columns], "p_predicted": self.proba[rows, predicted],
            "runner_up": self.classes[runner_up], "p_runner_up": self.proba[rows, runner_up],
        })

    def _ranking(self, ranking: str) -> pd.DataFrame:
        """The rows of ``ranking`` without decisions, computed once."""
        if ranking not in RANKINGS:
            raise ValueError(f"ranking must be one of {RANKINGS}; got {ranking!r}")
        if ranking not in self.rankings:
            need = ("cleanlab: pip install 'sk_ulmfit[cleanlab]'" if ranking == "label_issues"
                    else "embeddings: pass DatasetCleaner(..., embeddings=clf.transform(X))")
            raise ValueError(f"the {ranking!r} ranking needs {need}")
        if ranking not in self._rankings:
            self._rankings[ranking] = self._compute_ranking(ranking)
        return self._rankings[ranking]

    def _compute_ranking(self, ranking: str) -> pd.DataFrame:
        args = (self.texts, self.labels, self.proba)
        if ranking == "near_duplicates":
            pairs = most_similar(self.embeddings, self.texts, k=min(self.n_pairs, len(self.texts)))
            order = np.column_stack([pairs["position"], pairs["other_position"]]).ravel()
            other = np.column_stack([pairs["other_position"], pairs["position"]]).ravel()
            frame = self._base.iloc[order].reset_index(drop=True)
            frame["score"] = np.repeat(pairs["similarity"].to_numpy(), 2)
            frame["pair"] = np.repeat(np.arange(len(pairs)), 2)
            frame["other_position"] = other
            return frame
        if ranking == "most_unsure":
            scored = most_unsure(*args, classes=self.classes)
        elif ranking == "label_issues":
            scored = label_issues(*args, classes=self.classes)
        else:
            scored = top_losses(*args, classes=self.classes)
        frame = self._base.iloc[scored["position"].to_numpy()].reset_index(drop=True)
        frame["score"] = scored[SCORE_NAMES[ranking]].to_numpy()
        frame["pair"] = pd.array([pd.NA] * len(frame), dtype="Int64")
        frame["other_position"] = pd.array([pd.NA] * len(frame), dtype="Int64")
        return frame

    def _with_decisions(self, frame: pd.DataFrame) -> pd.DataFrame:
        decided = [self._decisions.get(int(position), (None, None)) for position in frame["position"]]
        frame = frame.copy()
        frame["decision"] = pd.Series([action for action, _ in decided], dtype=object)
        frame["new_label"] = pd.Series([label for _, label in decided], dtype=object)
        return frame[ROW_COLUMNS]

    def _position(self, position) -> int:
        if isinstance(position, bool) or not isinstance(position, (int, np.integer)) \
                or not 0 <= position < len(self.texts):
            raise ValueError(f"position must be an int from 0 to {len(self.texts) - 1} (a row of X); "
                             f"got {position!r}")
        return int(position)

    def _class_of(self, label):
        """``label`` as one of :attr:`classes` (matched exactly, else by its text)."""
        classes = self.classes.tolist()
        if label in classes:
            return self.classes[classes.index(label)]
        as_text = [str(name) for name in classes]
        if str(label) in as_text and as_text.count(str(label)) == 1:
            return self.classes[as_text.index(str(label))]
        raise ValueError(f"{label!r} is not one of the classes {classes} (the columns of proba; "
                         "DatasetCleaner(..., classes=...) names them)")

    def _decide(self, position, action: str, label) -> None:
        self._decisions[self._position(position)] = (action, label)
        if self.decisions_path is not None:
            self._write_decisions(self.decisions_path)

    def _write_decisions(self, path: Path) -> None:
        content = {
            "format": DECISIONS_FORMAT, "version": DECISIONS_VERSION, "n_texts": len(self.texts),
            "fingerprint": self.fingerprint,
            "decisions": [{"position": position, "action": action,
                           **({} if label is None else {"label": _plain(label)})}
                          for position, (action, label) in sorted(self._decisions.items())],
        }
        with atomic_target(path) as tmp:
            tmp.write_text(json.dumps(content, indent=1, ensure_ascii=False), encoding="utf-8")

    def _read_decisions(self, path: Path) -> dict[int, tuple[str, object]]:
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path} is not a decisions file ({error}); move it away or pass another "
                             "decisions_path") from error
        if not isinstance(content, dict) or content.get("format") != DECISIONS_FORMAT:
            raise ValueError(f"{path} is not a decisions file of sk_ulmfit.cleaning; move it away or pass "
                             "another decisions_path")
        if content.get("fingerprint") != self.fingerprint:
            raise ValueError(
                f"{path} holds decisions about other data ({content.get('n_texts')} texts, fingerprint "
                f"{str(content.get('fingerprint'))[:19]}...) than these {len(self.texts)} texts and labels "
                f"({self.fingerprint[:19]}...): pass another decisions_path to start afresh, or the data "
                "those decisions were made on to resume them")
        decisions = {}
        for entry in content.get("decisions", []):
            action, label = entry["action"], entry.get("label")
            if action not in ACTIONS:
                raise ValueError(f"{path}: unknown action {action!r} at position {entry['position']}")
            decisions[self._position(entry["position"])] = (
                action, self._class_of(label) if action == "relabel" else None)
        return decisions


def fingerprint(texts: Sequence[str], labels) -> str:
    """``"sha256:..."`` of the texts and labels, in order (each length-prefixed)."""
    digest = hashlib.sha256()
    for value in [*texts, *map(str, np.asarray(labels).tolist())]:
        data = value.encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return "sha256:" + digest.hexdigest()


def _plain(value):
    """A numpy scalar as the Python value JSON can hold."""
    return value.item() if isinstance(value, np.generic) else value


# ---------------------------------------------------------------------- widget
def _ipywidgets():
    try:
        import ipywidgets
    except ImportError as error:
        raise ImportError("the notebook cleaner needs ipywidgets: pip install 'sk_ulmfit[widgets]' "
                          "(or pip install ipywidgets)") from error
    return ipywidgets


FOLD_STYLE = ("<style>.skulm-fold[open] .skulm-preview{display:none}"
              ".skulm-fold summary{cursor:pointer;color:#1f5fa8}</style>")
DECISION_BADGES = {None: ("undecided", "#666"), "keep": ("kept", "#1a7f37"),
                   "delete": ("deleted", "#b42318"), "relabel": ("relabelled", "#1f5fa8")}


def folded_html(text: str, fold_at: int = 300) -> str:
    """``text`` as HTML, escaped; a text longer than ``fold_at`` characters shows its start
    and expands to the whole in a ``<details>`` element."""
    if len(text) <= fold_at:
        return f'<div style="white-space:pre-wrap">{html.escape(text)}</div>'
    preview = html.escape(text[:fold_at].rstrip())
    return (f'{FOLD_STYLE}<details class="skulm-fold"><summary><span class="skulm-preview" '
            f'style="white-space:pre-wrap;color:inherit">{preview}… </span>show all {len(text):,} characters'
            f'</summary><div style="white-space:pre-wrap">{html.escape(text)}</div></details>')


class _RowControls:
    """One text of a page: its header, its (folded) text and keep/delete/relabel controls."""

    NO_RELABEL = "relabel to…"

    def __init__(self, widgets, cleaner: DatasetCleaner, row, score_name: str, fold_at: int,
                 on_change) -> None:
        self.cleaner = cleaner
        self._on_change = on_change
        self.position = int(row.position)
        self._setting = False
        extra = "" if pd.isna(row.pair) else f" · pair {int(row.pair) + 1} with #{int(row.other_position)}"
        if score_name == "margin":
            extra = f" · runner-up <b>{html.escape(str(row.runner_up))}</b> ({row.p_runner_up:.0%})"
        self.header = widgets.HTML(
            f"<b>#{self.position}</b> · given <b>{html.escape(str(row.label))}</b> "
            f"({row.p_label:.0%}) · predicted <b>{html.escape(str(row.predicted))}</b> ({row.p_predicted:.0%}) "
            f"· {score_name} {row.score:.3f}{extra}")
        self.text = widgets.HTML(folded_html(row.text, fold_at), layout=widgets.Layout(width="100%"))
        self.keep_button = widgets.Button(description="Keep", icon="check", layout=widgets.Layout(width="90px"))
        self.delete_button = widgets.Button(description="Delete", icon="trash",
                                            layout=widgets.Layout(width="90px"))
        self.relabel = widgets.Dropdown(options=[self.NO_RELABEL, *map(str, cleaner.classes.tolist())],
                                        layout=widgets.Layout(width="180px"))
        self.status = widgets.HTML()
        self.keep_button.on_click(lambda _: self._act("keep"))
        self.delete_button.on_click(lambda _: self._act("delete"))
        self.relabel.observe(self._relabelled, names="index")
        controls = widgets.HBox([self.keep_button, self.delete_button, self.relabel, self.status])
        self.box = widgets.VBox([self.header, self.text, controls], layout=widgets.Layout(
            border="1px solid #d0d7de", padding="6px 10px", margin="0 0 6px 0"))
        self.show()

    def _act(self, action: str) -> None:
        self.cleaner.decide(self.position, action)
        self.show()
        self._on_change()

    def _relabelled(self, change) -> None:
        if self._setting or not change["new"]:
            return
        self.cleaner.relabel(self.position, self.cleaner.classes[change["new"] - 1])
        self.show()
        self._on_change()

    def show(self) -> None:
        """Show the text's current decision on its controls."""
        action, label = self.cleaner.decision(self.position)
        self.keep_button.button_style = "success" if action == "keep" else ""
        self.delete_button.button_style = "danger" if action == "delete" else ""
        self._setting = True
        try:
            self.relabel.index = (0 if action != "relabel"
                                  else self.cleaner.classes.tolist().index(_plain(label)) + 1)
        finally:
            self._setting = False
        badge, colour = DECISION_BADGES[action]
        if action == "relabel":
            badge = f"relabelled → {html.escape(str(label))}"
        self.status.value = f'<span style="color:{colour};font-weight:600;padding-left:8px">{badge}</span>'


class CleanerWidget:
    """A notebook view of a :class:`DatasetCleaner` (ipywidgets).

    A ranking menu, filters by given and predicted label, a pager and one box per text
    with Keep / Delete buttons and a "relabel to" menu. Every control acts on the
    cleaner at once (so with a ``decisions_path`` every click is on disk). Display it as
    the last expression of a cell, or with ``IPython.display.display``.

    Parameters
    ----------
    cleaner : DatasetCleaner
    page_size : int, default=10
        Texts per page.
    fold_at : int, default=300
        Texts longer than this many characters show folded, expandable.

    Attributes
    ----------
    ranking, given, predicted, page_size : ipywidgets.Dropdown
        The ranking, the filters (None: any label) and the page size.
    previous_button, next_button : ipywidgets.Button
        The pager.
    rows : list
        One entry per text shown, with ``position`` and its controls ``keep_button``,
        ``delete_button``, ``relabel`` (a Dropdown: its first option relabels nothing)
        and ``text``.
    box : ipywidgets.VBox
        The whole view.
    """

    def __init__(self, cleaner: DatasetCleaner, *, page_size: int = 10, fold_at: int = 300) -> None:
        widgets = _ipywidgets()
        self._widgets = widgets
        self.cleaner = cleaner
        self.fold_at = fold_at
        self.page_number = 0
        label_options = [("any", None), *((str(name), name) for name in cleaner.classes.tolist())]
        self.ranking = widgets.Dropdown(options=[(RANKING_TITLES[name], name) for name in cleaner.rankings],
                                        description="Ranking", layout=widgets.Layout(width="380px"))
        self.given = widgets.Dropdown(options=label_options, description="Given", value=None,
                                      layout=widgets.Layout(width="200px"))
        self.predicted = widgets.Dropdown(options=label_options, description="Predicted", value=None,
                                          layout=widgets.Layout(width="200px"))
        sizes = sorted({10, 20, 50, int(page_size)})
        self.page_size = widgets.Dropdown(options=sizes, value=int(page_size), description="Per page",
                                          layout=widgets.Layout(width="160px"))
        self.previous_button = widgets.Button(description="Previous", icon="arrow-left")
        self.next_button = widgets.Button(description="Next", icon="arrow-right")
        self.page_label = widgets.HTML()
        self.summary = widgets.HTML()
        self.list_box = widgets.VBox()
        self.rows: list[_RowControls] = []
        for control in (self.ranking, self.given, self.predicted, self.page_size):
            control.observe(self._filter_changed, names="value")
        self.previous_button.on_click(lambda _: self.go_to(self.page_number - 1))
        self.next_button.on_click(lambda _: self.go_to(self.page_number + 1))
        self.box = widgets.VBox([
            widgets.HBox([self.ranking, self.given, self.predicted, self.page_size]),
            widgets.HBox([self.previous_button, self.page_label, self.next_button, self.summary]),
            self.list_box,
        ])
        self.refresh()

    def go_to(self, number: int) -> None:
        """Show page ``number`` (from 0; clamped to the pages there are)."""
        self.page_number = max(0, number)
        self.refresh()

    def refresh(self) -> None:
        """Show the current page of the current ranking and filter."""
        page = self.cleaner.page(self.ranking.value, given_label=self.given.value,
                                 predicted_label=self.predicted.value, page=self.page_number,
                                 page_size=self.page_size.value)
        self.page_number = page.number
        score_name = SCORE_NAMES[self.ranking.value]
        self.rows = [_RowControls(self._widgets, self.cleaner, row, score_name, self.fold_at,
                                  self._show_summary) for row in page.rows.itertuples(index=False)]
        self.list_box.children = [row.box for row in self.rows]
        self.previous_button.disabled = page.number == 0
        self.next_button.disabled = page.number >= page.n_pages - 1
        self.page_label.value = (f"<span style='padding:0 8px'>page {page.number + 1} of {page.n_pages} "
                                 f"({page.n_rows} texts)</span>")
        self._show_summary()

    def _show_summary(self) -> None:
        counts = self.cleaner.summary()
        self.summary.value = (f"<span style='padding-left:16px;color:#555'>{counts['deleted']} deleted · "
                              f"{counts['relabelled']} relabelled · {counts['kept']} kept · "
                              f"{counts['undecided']} undecided</span>")

    def _filter_changed(self, _change) -> None:
        self.page_number = 0
        self.refresh()

    def _repr_mimebundle_(self, **kwargs):
        return self.box._repr_mimebundle_(**kwargs)
