"""Tables and models for the shell commands: reading and writing the formats they take,
the one-line errors they print, and how a command's texts are graded."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from .._common.atomic import atomic_target
from .._estimators.classifier import ULMFiTClassifier
from ..inspection import out_of_fold_proba

READERS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}
TABLE_WRITERS = (".csv", ".tsv", ".jsonl", ".json", ".parquet")  # what write_table writes, by suffix
COMPRESSIONS = {".gz", ".bz2", ".xz", ".zip", ".zst"}


class CommandError(Exception):
    """A problem with the command's input that the user can fix; printed as ``error: ...``."""


def read_table(path: str | Path, encoding: str = "utf-8") -> pd.DataFrame:
    """The rows of a CSV, TSV, JSON Lines or Parquet file (format from the suffix; text
    formats in ``encoding``)."""
    path = Path(path)
    if not path.is_file():
        raise CommandError(f"no file at {path}")
    kind = READERS.get(table_suffix(path))
    if kind is None:
        raise CommandError(f"{path}: unknown table format; use .csv, .tsv, .jsonl or .parquet "
                           "(optionally compressed, e.g. .csv.gz)")
    try:
        if kind == "csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
        elif kind == "tsv":
            frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3, encoding=encoding)
        elif kind == "jsonl":
            frame = pd.read_json(path, lines=True, dtype=False, encoding=encoding)
        else:
            frame = pd.read_parquet(path)
    except UnicodeDecodeError as error:
        raise CommandError(f"{path} is not {encoding} text (byte 0x{error.object[error.start]:02x} at position "
                           f"{error.start}): pass its encoding, e.g. --encoding latin-1 or --encoding cp1252") from error
    except LookupError as error:
        raise CommandError(f"--encoding {encoding!r} is not an encoding Python knows (e.g. utf-8, latin-1, "
                           "cp1252)") from error
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


def table_suffix(path: Path) -> str:
    """The suffix that names a table's format: ``.csv`` for ``x.csv`` and ``x.csv.gz``."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSIONS:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def labels_of(frame: pd.DataFrame, name: str, path, blank_is_empty_set: bool = False) -> pd.Series:
    """The label column, refused when a cell is blank (a label named "" is a typo, not a
    class); for multi-label tables (``blank_is_empty_set``) a blank cell is a text with no
    label."""
    values = column(frame, name, path)
    if blank_is_empty_set:
        return values.fillna("")
    blank = np.flatnonzero((values.isna() | (values.astype(str).str.strip() == "")).to_numpy())
    if blank.size:
        lines = ", ".join(str(i + 2) for i in blank[:5]) + (" ..." if blank.size > 5 else "")
        rows, them = ("rows", "them") if blank.size > 1 else ("row", "it")
        raise CommandError(f"{path}: column {name!r} has no label in {blank.size} {rows} ({'lines' if blank.size > 1 else 'line'} "
                           f"{lines}, counting the header as line 1); label {them} or drop {them}")
    return values


def writable(path: str | Path, force: bool, suffixes: tuple[str, ...] | None = None) -> Path:
    """``path`` if a command may write it: not there yet (or ``force``) and, for a table, a
    format it writes (``suffixes``); its folder is created."""
    path = Path(path)
    if suffixes is not None and table_suffix(path) not in suffixes:
        raise CommandError(f"{path}: cannot write a {path.suffix or 'suffix-less'} file; use "
                           + ", ".join(suffixes))
    if path.exists() and not force:
        raise CommandError(f"{path} exists; pass --force to replace it (nothing is overwritten otherwise)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise CommandError(f"cannot make the folder {path.parent} for {path.name}: {error.strerror}") from error
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
    suffix = table_suffix(path)
    with atomic_target(path) as partial:  # compressed by pandas when the name ends in .gz, .xz, ...
        if suffix == ".html":
            partial.write_text(HTML_PAGE.format(title=html.escape(title or path.stem), note=html.escape(note),
                                                table=frame.to_html(index=False, float_format="{:.3f}".format)),
                               encoding="utf-8")
        elif suffix == ".tsv":
            frame.to_csv(partial, sep="\t", index=False)
        elif suffix in (".jsonl", ".json"):
            frame.to_json(partial, orient="records", lines=True, force_ascii=False)
        elif suffix == ".parquet":
            frame.to_parquet(partial, index=False)
        else:
            frame.to_csv(partial, index=False)


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
