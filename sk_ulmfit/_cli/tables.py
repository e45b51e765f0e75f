"""Tables and models for the shell commands: reading and writing the formats they take,
the one-line errors they print, and how a command's texts are graded."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from .._estimators.classifier import ULMFiTClassifier
from ..inspection import out_of_fold_proba

READERS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
COMPRESSIONS = {".gz", ".bz2", ".xz", ".zip", ".zst"}


class CommandError(Exception):
    """A problem with the command's input that the user can fix; printed as ``error: ...``."""


def read_table(path: str | Path) -> pd.DataFrame:
    """The rows of a CSV, TSV, JSON Lines or Parquet file (format from the suffix)."""
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"no file at {path}")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSIONS:
        suffixes = suffixes[:-1]
    kind = READERS.get(suffixes[-1] if suffixes else "")
    if kind is None:
        raise CommandError(f"{path}: unknown table format; use .csv, .tsv, .jsonl or .parquet "
                           "(optionally compressed, e.g. .csv.gz)")
    try:
        if kind == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        elif kind == "tsv":
            frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3)
        elif kind == "jsonl":
            frame = pd.read_json(path, lines=True, dtype=False)
        else:
            frame = pd.read_parquet(path)
    except pd.errors.EmptyDataError as error:
        raise CommandError(f"{path} is empty: it needs a header row and at least one row") from error
    except ImportError as error:
        raise CommandError(f"reading {path} needs a Parquet engine: pip install pyarrow ({error})") from error
    except ValueError as error:
        raise CommandError(f"{path} could not be read as {kind}: {error}") from error
    if frame.empty:
        raise CommandError(f"{path} has no rows")
    return frame


def column(frame: pd.DataFrame, name: str, path) -> pd.Series:
    if name not in frame.columns:
        raise CommandError(f"{path} has no column {name!r}; its columns are: "
                           + ", ".join(map(str, frame.columns)) + " (use --text-column/--label-column)")
    return frame[name]


def texts_of(frame: pd.DataFrame, name: str, path) -> list[str]:
    values = column(frame, name, path)
    missing = np.flatnonzero(values.isna().to_numpy())
    if missing.size:
        raise CommandError(f"{path}: column {name!r} is empty in {missing.size} rows (the first: row "
                           f"{missing[0] + 1}); fill or drop them")
    return values.astype(str).tolist()


def writable(path: str | Path, force: bool) -> Path:
    path = Path(path)
    if path.exists() and not force:
        raise CommandError(f"{path} exists; pass --force to replace it (nothing is overwritten otherwise)")
    return path


HTML_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#222}} table{{border-collapse:collapse}}
td,th{{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}}
th{{background:#f4f4f4}} td{{max-width:48em}} p.note{{color:#555}}</style></head>
<body><h1>{title}</h1><p class="note">{note}</p>{table}</body></html>
"""


def write_table(frame: pd.DataFrame, path: Path, *, title: str = "", note: str = "") -> None:
    """``frame`` in the format of ``path``'s suffix; ``.html`` is a whole page headed by
    ``title`` and ``note``."""
    suffix = path.suffix.lower()
    if suffix == ".html":
        path.write_text(HTML_PAGE.format(title=html.escape(title or path.stem), note=html.escape(note),
                                         table=frame.to_html(index=False, float_format="{:.3f}".format)),
                        encoding="utf-8")
    elif suffix == ".tsv":
        frame.to_csv(path, sep="\t", index=False)
    elif suffix in (".jsonl", ".json"):
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)


def load_model(path) -> ULMFiTClassifier:
    try:
        return ULMFiTClassifier.load(path, device="auto")
    except (FileNotFoundError, ValueError) as error:
        raise CommandError(str(error)) from error


def graded(model: ULMFiTClassifier, X: list[str], y: np.ndarray, scores: str,
           cv: int = 5) -> tuple[np.ndarray, np.ndarray, str]:
    """Class probabilities of the texts, the class of each column, and a line saying what
    graded them: out of fold (models that never saw a text's label) unless ``scores ==
    "training"``, which grades them with ``model`` itself."""
    if scores == "training":
        return (np.asarray(model.predict_proba(X)), np.asarray(model.classes_),
                "graded by the model that was trained on these texts: it is sure of every label it memorised, "
                "wrong ones included")
    print(f"grading {len(X)} texts out of fold ({cv} folds on the encoder's features; labels unseen) ...",
          flush=True)
    try:
        proba = np.asarray(out_of_fold_proba(model, X, y, cv=cv, random_state=0))
    except ValueError as error:
        raise CommandError(f"out-of-fold scores: {error} (or pass --scores training)") from error
    return proba, np.unique(y), f"graded out of fold: each text by a model that never saw its label ({cv} folds)"
