"""Loaders for the text datasets used with ULMFiT, in scikit-learn's ``fetch_*`` style.

Every loader reads ``{data_home}/{dataset}/...`` and returns a :class:`sklearn.utils.Bunch`
(or ``(data, target)`` with ``return_X_y=True``). A missing file is downloaded from the
original public source when ``download_if_missing=True``; each download is checked against
a checksum (see ``_REMOTES``) and moved into place atomically, so no partial file is left.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import json
import lzma
import os
import re
import shutil
import tarfile
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal
from urllib.parse import urlparse

import numpy as np
import pandas as pd
from sklearn.utils import Bunch

from ._common.atomic import atomic_target

_ENV_VAR = "SK_ULMFIT_DATA"
_HINT = (
    "Put the data there, pass data_home=<folder holding it>, "
    f"or set the {_ENV_VAR} environment variable."
)
_CHUNK = 1 << 20
_DOWNLOAD_ERRORS = (OSError, ValueError, EOFError, tarfile.TarError, zipfile.BadZipFile)


@dataclass(frozen=True)
class _Remote:
    """Original public location of a dataset file and its ``"algorithm:hexdigest"``."""

    url: str
    checksum: str


_TREC_URL = "https://cogcomp.seas.upenn.edu/Data/QA/QC/"
_AG_NEWS_URL = "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/"
_REMOTES: dict[str, _Remote] = {
    # sha256 of the original cogcomp files (also HuggingFace `trec` download_checksums).
    "trec_train": _Remote(
        _TREC_URL + "train_5500.label",
        "sha256:9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3",
    ),
    "trec_test": _Remote(
        _TREC_URL + "TREC_10.label",
        "sha256:033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e",
    ),
    # md5 of the archive as published by torchtext (datasets/imdb.py).
    "imdb": _Remote(
        "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
        "md5:7c2ac02c03563afcf9b574c7e56c153a",
    ),
    # md5 published by fastai (data/download_checks.py; the file is < 1 MiB, so it is whole-file).
    "imdb_sample": _Remote(
        "https://s3.amazonaws.com/fast-ai-sample/imdb_sample.tgz",
        "md5:0842e61a9867caa2e6fbdb14fa703d61",
    ),
    # sha256 of the official test.csv (its md5 d52ea96a97a2d943681189a97654912d is torchtext's).
    "ag_news_test": _Remote(
        _AG_NEWS_URL + "test.csv",
        "sha256:521465c2428ed7f02f8d6db6ffdd4b5447c1c701962353eb2c40d548c3c85699",
    ),
    # sha256 of the UCI KDD archive's tarball (the 22 SGML files of Distribution 1.0), as published
    # by HuggingFace datasets (datasets/reuters21578/dataset_infos.json, 8,150,596 bytes).
    "reuters21578": _Remote(
        "https://kdd.ics.uci.edu/databases/reuters21578/reuters21578.tar.gz",
        "sha256:3bae43c9b14e387f76a61b6d82bf98a4fb5d3ef99ef7e7075ff2ccbcf59f9d30",
    ),
    # md5 of the archive as published by torchtext (datasets/wikitext2.py).
    "wikitext2": _Remote(
        "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip",
        "md5:542ccefacc6c27f945fb54453812b3cd",
    ),
}

_AG_NEWS_CLASSES = ("World", "Sports", "Business", "Sci/Tech")
_IMDB_MEMBER = re.compile(r"(?:^|/)(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
_IMDB_COLUMNS = ["label", "text", "id", "rating"]
_REUTERS_STORY = re.compile(r"<REUTERS ([^>]*)>(.*?)</REUTERS>", re.DOTALL)
_REUTERS_ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')
_REUTERS_TOPICS = re.compile(r"<TOPICS>(.*?)</TOPICS>", re.DOTALL)
_REUTERS_TEXT = re.compile(r'<TEXT(?: TYPE="(\w+)")?>(.*?)</TEXT>', re.DOTALL)
_REUTERS_TITLE = re.compile(r"<TITLE>(.*?)</TITLE>", re.DOTALL)
_REUTERS_BODY = re.compile(r"<BODY>(.*?)</BODY>", re.DOTALL)
_REUTERS_TOPIC = re.compile(r"<D>(.*?)</D>")
_REUTERS_SGML_MEMBER = re.compile(r"(?:^|/)reut2-\d+\.sgm$")
_REUTERS_NUMERIC_REFERENCE = re.compile(r"&#(\d+);")
_REUTERS_SIGN_OFF = re.compile(r"\s*\breuter\s*$", re.IGNORECASE)

_DESCR = {
    "trec": "TREC question classification (Li & Roth, 2002): 5,452 train / 500 test questions, "
    "6 coarse and 50 fine labels. Source: cogcomp.seas.upenn.edu/Data/QA/QC (original files). "
    "Reference: ULMFiT 96.4 % accuracy on TREC-6; Kim (2014) CNN 93.6 %.",
    "imdb": "IMDb Large Movie Review Dataset v1.0 (Maas et al., 2011): 25,000 train / 25,000 test "
    "reviews, balanced negative/positive, text unchanged (with <br /> tags). Source: "
    "ai.stanford.edu/~amaas/data/sentiment. Licence: research use, cite Maas et al. (2011). "
    "Reference: ULMFiT 95.4 % test accuracy.",
    "imdb_sample": "fastai IMDB_SAMPLE: 1,000 IMDb reviews, 800 train / 200 valid (is_valid). "
    "Source: fastai imdb_sample.tgz. No published reference; for fast tests and demos.",
    "ag_news": "AG's News topic classification (Zhang et al., 2015), test split: 7,600 articles, "
    "1,900 per class (World, Sports, Business, Sci/Tech); text is title + ' ' + description. "
    "Licence: academic, non-commercial use. Reference: ULMFiT 94.99 % accuracy (trained on 120k).",
    "reuters21578": "Reuters-21578 Distribution 1.0 (Lewis, 1997), ModApte split with the 90 topics "
    "that have a training and a test story (Yang & Liu, 1999): 7,770 train / 3,019 test newswire stories, "
    "1.24 topics per story. Multi-label; micro-F1 is the usual measure.",
    "wikitext2": "WikiText-2 v1 (Merity et al., 2016), tokenized, for language-model pretraining: "
    "non-empty lines of wiki.{train,valid,test}.tokens. Licence: CC BY-SA 3.0. Reference: "
    "AWD-LSTM valid/test perplexity 68.6 / 65.8.",
}


def get_data_home(data_home: str | os.PathLike | None = None) -> Path:
    """Return the folder that holds the datasets.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder to use. If None, the ``SK_ULMFIT_DATA`` environment variable, else
        ``~/sk_ulmfit_data``. ``~`` is expanded. Nothing is created.

    Returns
    -------
    pathlib.Path
        The data folder.
    """
    if data_home is None:
        data_home = os.environ.get(_ENV_VAR) or Path("~") / "sk_ulmfit_data"
    return Path(data_home).expanduser()


# ----------------------------------------------------------------------------- download
def _download(url: str, dest: Path, checksum: str) -> Path:
    """Stream ``url`` to ``dest``, verifying ``checksum`` (``"sha256:..."`` or ``"md5:..."``)."""
    algorithm, _, expected = checksum.partition(":")
    digest = hashlib.new(algorithm)
    with atomic_target(dest) as tmp:
        with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
            for chunk in iter(lambda: response.read(_CHUNK), b""):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != expected.lower():
            raise OSError(
                f"checksum mismatch for {url}: expected {algorithm} {expected}, "
                f"got {digest.hexdigest()}; the download was discarded"
            )
    return dest


@contextlib.contextmanager
def _downloaded(remote: _Remote, folder: Path) -> Iterator[Path]:
    """Download ``remote`` to a hidden file in ``folder`` and delete it afterwards."""
    archive = folder / f".{Path(urlparse(remote.url).path).name}"
    try:
        yield _download(remote.url, archive, remote.checksum)
    finally:
        archive.unlink(missing_ok=True)


def _gzip_stream(src: IO[bytes], dest: Path) -> None:
    """Write the bytes of ``src`` gzip-compressed to ``dest``, atomically."""
    with (
        atomic_target(dest) as tmp,
        open(tmp, "wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as out,
    ):
        shutil.copyfileobj(src, out, _CHUNK)


def _member(names: list[str], suffix: str, archive: Path) -> str:
    """Return the archive member whose name ends with ``suffix``."""
    for name in names:
        if name.endswith(suffix):
            return name
    raise OSError(f"{archive.name} has no member ending in {suffix!r}")


def _convert_imdb_archive(archive: Path, folder: Path) -> None:
    """Convert an ``aclImdb`` tarball into ``folder/{train,test}.csv.xz``."""
    rows: dict[str, list[tuple[str, str, int, int]]] = {"train": [], "test": []}
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            match = _IMDB_MEMBER.search(member.name)
            if match and member.isfile():
                split, polarity, idx, rating = match.groups()
                text = tar.extractfile(member).read().decode("utf-8")
                label = "positive" if polarity == "pos" else "negative"
                rows[split].append((label, text, int(idx), int(rating)))
    for split, records in rows.items():
        if not records:
            raise OSError(f"{archive.name} has no labelled {split} reviews")
        frame = pd.DataFrame(records, columns=_IMDB_COLUMNS).sort_values(["label", "id"])
        with (
            atomic_target(folder / f"{split}.csv.xz") as tmp,
            lzma.open(tmp, "wt", encoding="utf-8", newline="") as out,
        ):
            frame.to_csv(out, index=False, lineterminator="\n")


def _reuters_text(markup: str) -> str:
    """Plain text of SGML markup: entities undone, references to control characters (wire noise) dropped."""
    def character(match: re.Match) -> str:
        code = int(match.group(1))
        return "" if code < 32 or code == 127 else chr(code)

    text = _REUTERS_NUMERIC_REFERENCE.sub(character, markup)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _reuters_body(markup: str) -> str:
    """A story's body: the "Reuter" sign-off (twice where it was signed twice) and outer blank lines removed."""
    body = _reuters_text(markup)
    for _ in range(2):
        body = _REUTERS_SIGN_OFF.sub("", body)
    return body.rstrip().lstrip("\n")


def _reuters_story(attributes: str, element: str) -> dict:
    """One ``<REUTERS>`` element as ``id``, ``split``, ``topics_flag``, ``topics`` and ``text``.

    The text is the title (whitespace collapsed: long titles wrap on the wire), a line break and the
    body; a ``BRIEF`` story is its title alone, an ``UNPROC`` story (no markup) its whole text.
    """
    attribute = dict(_REUTERS_ATTRIBUTE.findall(attributes))
    topics = _REUTERS_TOPICS.search(element)
    text_element = _REUTERS_TEXT.search(element)
    kind, content = text_element.groups() if text_element else (None, "")
    if kind == "UNPROC":
        text = _reuters_body(content)
    else:
        title = _REUTERS_TITLE.search(content)
        body = _REUTERS_BODY.search(content) if kind != "BRIEF" else None
        parts = [" ".join(_reuters_text(title.group(1)).split()) if title else "",
                 _reuters_body(body.group(1)) if body else ""]
        text = "\n".join(part for part in parts if part)
    return {"id": int(attribute["NEWID"]), "split": attribute["LEWISSPLIT"], "topics_flag": attribute["TOPICS"],
            "topics": _REUTERS_TOPIC.findall(topics.group(1)) if topics else [], "text": text}


def _modapte(stories: list[dict]) -> dict[str, list[dict]]:
    """The ModApte split with the 90 topics that have a training and a test story (Yang & Liu, 1999).

    Train: ``LEWISSPLIT="TRAIN"``, test: ``"TEST"``, both with ``TOPICS="YES"`` and a topic; topics
    are kept if both parts have them, and a story left with none of them is dropped.
    """
    parts = {
        split: [s for s in stories if s["split"] == split.upper() and s["topics_flag"] == "YES" and s["topics"]]
        for split in ("train", "test")
    }
    kept = set.intersection(*({t for s in part for t in s["topics"]} for part in parts.values()))
    records = {}
    for split, part in parts.items():
        rows = ({"id": s["id"], "text": s["text"], "labels": sorted(set(s["topics"]) & kept)} for s in part)
        records[split] = sorted((row for row in rows if row["labels"]), key=lambda row: row["id"])
    return records


def _convert_reuters_archive(archive: Path, folder: Path) -> None:
    """Convert the Reuters-21578 tarball (``reut2-*.sgm``) into ``folder/{train,test}.jsonl.xz``."""
    stories = []
    with tarfile.open(archive, "r:*") as tar:
        for member in tar:
            if member.isfile() and _REUTERS_SGML_MEMBER.search(member.name):
                markup = tar.extractfile(member).read().decode("latin-1")
                stories.extend(_reuters_story(*match.groups()) for match in _REUTERS_STORY.finditer(markup))
    for split, rows in _modapte(stories).items():
        if not rows:
            raise OSError(f"{archive.name} has no {split} story with a topic")
        with atomic_target(folder / f"{split}.jsonl.xz") as tmp, lzma.open(tmp, "wt", encoding="utf-8") as out:
            out.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _fetch_trec(folder: Path, key: str, filename: str) -> None:
    """Download one raw TREC ``.label`` file into ``folder``."""
    _download(_REMOTES[key].url, folder / filename, _REMOTES[key].checksum)


def _fetch_imdb(folder: Path) -> None:
    """Download the aclImdb tarball and convert it into ``folder/{train,test}.csv.xz``."""
    with _downloaded(_REMOTES["imdb"], folder) as archive:
        _convert_imdb_archive(archive, folder)


def _fetch_imdb_sample(folder: Path) -> None:
    """Download fastai's imdb_sample.tgz and store its texts.csv as ``texts.csv.gz``."""
    with _downloaded(_REMOTES["imdb_sample"], folder) as archive, tarfile.open(archive) as tar:
        name = _member(tar.getnames(), "texts.csv", archive)
        _gzip_stream(tar.extractfile(name), folder / "texts.csv.gz")


def _fetch_ag_news(folder: Path) -> None:
    """Download AG News test.csv and store it as ``test.csv.gz``."""
    with _downloaded(_REMOTES["ag_news_test"], folder) as csv_path, open(csv_path, "rb") as src:
        _gzip_stream(src, folder / "test.csv.gz")


def _fetch_reuters21578(folder: Path) -> None:
    """Download the Reuters-21578 SGML tarball and convert it into ``folder/{train,test}.jsonl.xz``."""
    with _downloaded(_REMOTES["reuters21578"], folder) as archive:
        _convert_reuters_archive(archive, folder)


def _fetch_wikitext2(folder: Path) -> None:
    """Download wikitext-2-v1.zip and store each ``wiki.{split}.tokens`` as ``{split}.txt.gz``."""
    with _downloaded(_REMOTES["wikitext2"], folder) as archive, zipfile.ZipFile(archive) as zf:
        for split in ("train", "valid", "test"):
            name = _member(zf.namelist(), f"wiki.{split}.tokens", archive)
            with zf.open(name) as src:
                _gzip_stream(src, folder / f"{split}.txt.gz")


def _ensure(path: Path, download_if_missing: bool, fetch: Callable[[Path], None]) -> Path:
    """Return ``path``, downloading it with ``fetch(folder)`` if it is missing and allowed."""
    if path.is_file():
        return path
    if not download_if_missing:
        raise FileNotFoundError(f"{path} does not exist and download_if_missing=False. {_HINT}")
    created = [p for p in path.parents if not p.exists()]
    try:
        fetch(path.parent)
    except _DOWNLOAD_ERRORS as exc:
        for folder in created:  # deepest first; only empty folders we made
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise OSError(f"could not download the data for {path}: {exc}. {_HINT}") from exc
    return path


# ----------------------------------------------------------------------------- loading
def _check_subset(subset: str, choices: tuple[str, ...]) -> None:
    """Raise ValueError naming ``choices`` if ``subset`` is not one of them."""
    if subset not in choices:
        raise ValueError(f"subset must be one of {choices}, got {subset!r}")


def _result(
    data: list[str], target: list[str] | None, descr: str, files: list[Path], return_X_y: bool
) -> Bunch | tuple[list[str], np.ndarray | None]:
    """Package loaded texts and labels the way scikit-learn's fetchers do."""
    y = None if target is None else np.asarray(target, dtype=object)
    if return_X_y:
        return data, y
    names = [] if target is None else sorted(set(target))
    return Bunch(
        data=data, target=y, target_names=names, DESCR=descr, filenames=[str(f) for f in files]
    )


def _read_trec(path: Path, fine_grained: bool) -> tuple[list[str], list[str]]:
    """Parse ``LABEL:fine question ...`` lines into questions and labels."""
    texts, labels = [], []
    with open(path, encoding="latin-1") as fh:
        for line in fh:
            label, _, text = line.rstrip("\r\n").partition(" ")
            if label:
                texts.append(text)
                labels.append(label if fine_grained else label.split(":", 1)[0])
    return texts, labels


def fetch_trec(
    subset: Literal["train", "test"] = "train",
    *,
    data_home: str | os.PathLike | None = None,
    fine_grained: bool = False,
    download_if_missing: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[list[str], np.ndarray]:
    """Load the TREC question classification dataset (TREC-6 / TREC-50).

    Parameters
    ----------
    subset : {"train", "test"}, default="train"
        ``"train"``: ``train_5500.label`` (5,452 questions); ``"test"``: ``TREC_10.label`` (500).
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`. Files are read from ``{data_home}/trec/``.
    fine_grained : bool, default=False
        If True, labels are ``"COARSE:fine"`` (e.g. ``"DESC:manner"``), else the coarse label.
    download_if_missing : bool, default=True
        Download the original cogcomp file if it is not present.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    sklearn.utils.Bunch or tuple
        ``data`` (list of questions), ``target`` (object array of labels), ``target_names``,
        ``DESCR``, ``filenames``.

    See Also
    --------
    fetch_ag_news, fetch_imdb

    Examples
    --------
    ::

        from sk_ulmfit.datasets import fetch_trec
        X, y = fetch_trec("train", data_home="../shared/data", return_X_y=True)
    """
    _check_subset(subset, ("train", "test"))
    filename = {"train": "train_5500.label", "test": "TREC_10.label"}[subset]
    path = get_data_home(data_home) / "trec" / filename
    fetch = functools.partial(_fetch_trec, key=f"trec_{subset}", filename=filename)
    texts, labels = _read_trec(_ensure(path, download_if_missing, fetch), fine_grained)
    return _result(texts, labels, _DESCR["trec"], [path], return_X_y)


def _read_csv(path: Path, **kwargs) -> pd.DataFrame:
    """Read a CSV keeping every field as text (no "NA" -> NaN conversion)."""
    return pd.read_csv(path, keep_default_na=False, **kwargs)


def fetch_imdb(
    subset: Literal["train", "test"] = "train",
    *,
    data_home: str | os.PathLike | None = None,
    download_if_missing: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[list[str], np.ndarray]:
    """Load the IMDb Large Movie Review sentiment dataset (Maas et al., 2011).

    Parameters
    ----------
    subset : {"train", "test"}, default="train"
        25,000 labelled reviews each, read from ``{data_home}/imdb/{subset}.csv.xz``.
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        Download Stanford's ``aclImdb_v1.tar.gz`` (84 MB) and convert it if the file is missing.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    sklearn.utils.Bunch or tuple
        ``data`` (review texts), ``target`` (``"negative"``/``"positive"``), ``target_names``,
        ``DESCR``, ``filenames``.

    See Also
    --------
    fetch_imdb_sample, fetch_trec

    Examples
    --------
    ::

        from sk_ulmfit.datasets import fetch_imdb
        X, y = fetch_imdb("train", data_home="../shared/data", return_X_y=True)
    """
    _check_subset(subset, ("train", "test"))
    path = get_data_home(data_home) / "imdb" / f"{subset}.csv.xz"
    frame = _read_csv(_ensure(path, download_if_missing, _fetch_imdb), dtype={"text": str})
    return _result(
        frame["text"].tolist(), frame["label"].tolist(), _DESCR["imdb"], [path], return_X_y
    )


def fetch_imdb_sample(
    subset: Literal["train", "valid", "all"] = "train",
    *,
    data_home: str | os.PathLike | None = None,
    download_if_missing: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[list[str], np.ndarray]:
    """Load fastai's 1,000-review IMDB_SAMPLE.

    Parameters
    ----------
    subset : {"train", "valid", "all"}, default="train"
        ``"train"``: the 800 rows with ``is_valid`` False; ``"valid"``: the 200 with True.
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`. Reads ``{data_home}/imdb_sample/texts.csv.gz``.
    download_if_missing : bool, default=True
        Download fastai's ``imdb_sample.tgz`` if the file is missing.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    sklearn.utils.Bunch or tuple
        ``data``, ``target`` (``"negative"``/``"positive"``), ``target_names``, ``DESCR``,
        ``filenames``.

    See Also
    --------
    fetch_imdb

    Examples
    --------
    ::

        from sk_ulmfit.datasets import fetch_imdb_sample
        X, y = fetch_imdb_sample("train", data_home="../shared/data", return_X_y=True)
    """
    _check_subset(subset, ("train", "valid", "all"))
    path = get_data_home(data_home) / "imdb_sample" / "texts.csv.gz"
    source = _ensure(path, download_if_missing, _fetch_imdb_sample)
    frame = _read_csv(source, dtype={"text": str})
    if subset != "all":
        frame = frame[frame["is_valid"].astype(bool) == (subset == "valid")]
    return _result(
        frame["text"].tolist(), frame["label"].tolist(), _DESCR["imdb_sample"], [path], return_X_y
    )


def fetch_ag_news(
    subset: Literal["test"] = "test",
    *,
    data_home: str | os.PathLike | None = None,
    download_if_missing: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[list[str], np.ndarray]:
    """Load the test split of AG's News topic classification dataset (Zhang et al., 2015).

    Parameters
    ----------
    subset : {"test"}, default="test"
        Only the 7,600-row test split is supported; ``"train"`` raises ValueError.
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`. Reads ``{data_home}/ag_news/test.csv.gz``.
    download_if_missing : bool, default=True
        Download the official ``test.csv`` if the file is missing.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    sklearn.utils.Bunch or tuple
        ``data`` (title + " " + description, otherwise unchanged), ``target`` (World, Sports,
        Business, Sci/Tech), ``target_names``, ``DESCR``, ``filenames``.

    See Also
    --------
    fetch_trec, fetch_reuters21578

    Examples
    --------
    ::

        from sk_ulmfit.datasets import fetch_ag_news
        X, y = fetch_ag_news("test", data_home="../shared/data", return_X_y=True)
    """
    if subset == "train":
        raise ValueError(
            "AG News: only the 'test' split (7,600 rows) is available; "
            "the 120,000-row train split is not supported by this loader"
        )
    _check_subset(subset, ("test",))
    path = get_data_home(data_home) / "ag_news" / "test.csv.gz"
    frame = _read_csv(
        _ensure(path, download_if_missing, _fetch_ag_news),
        header=None,
        names=["class", "title", "description"],
        dtype={"title": str, "description": str},
    )
    texts = (frame["title"] + " " + frame["description"]).tolist()
    labels = [_AG_NEWS_CLASSES[i - 1] for i in frame["class"]]
    return _result(texts, labels, _DESCR["ag_news"], [path], return_X_y)


def fetch_reuters21578(
    subset: Literal["train", "test"] = "train",
    *,
    data_home: str | os.PathLike | None = None,
    download_if_missing: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[list[str], np.ndarray]:
    """Load Reuters-21578 (ModApte split, 90 topics): multi-label newswire classification.

    Parameters
    ----------
    subset : {"train", "test"}, default="train"
        7,770 training and 3,019 test stories (split by date).
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`. Reads
        ``{data_home}/reuters21578/{subset}.jsonl.xz`` (JSON Lines: ``id``, ``text``,
        ``labels``).
    download_if_missing : bool, default=True
        Download the SGML distribution (``reuters21578.tar.gz``, 8 MB, from the UCI KDD
        archive) if the files are missing, and make both files from it: ModApte's stories
        with the 90 topics that have a training and a test story; the text is the title, a
        line break and the body, without the "Reuter" sign-off.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    sklearn.utils.Bunch or tuple
        ``data`` (story texts), ``target`` (an int8 indicator matrix of shape
        ``(n_stories, 90)``: scikit-learn's multi-label convention, as ``fetch_rcv1``),
        ``target_names`` (the 90 topics, the columns of ``target``, the same for both
        subsets), ``labels`` (each story's topic names), ``DESCR``, ``filenames``.

    See Also
    --------
    fetch_ag_news

    Examples
    --------
    ::

        from sk_ulmfit.datasets import fetch_reuters21578
        X, y = fetch_reuters21578("train", data_home="../shared/data", return_X_y=True)
    """
    _check_subset(subset, ("train", "test"))
    folder = get_data_home(data_home) / "reuters21578"
    path = _ensure(folder / f"{subset}.jsonl.xz", download_if_missing, _fetch_reuters21578)
    train = _ensure(folder / "train.jsonl.xz", download_if_missing, _fetch_reuters21578)  # its topics: the columns
    records = pd.read_json(path, lines=True, compression="xz")
    topics = sorted({topic for labels in pd.read_json(train, lines=True, compression="xz")["labels"]
                     for topic in labels})
    column = {topic: i for i, topic in enumerate(topics)}
    target = np.zeros((len(records), len(topics)), dtype=np.int8)
    for row, labels in enumerate(records["labels"]):
        target[row, [column[topic] for topic in labels]] = 1
    texts = records["text"].tolist()
    if return_X_y:
        return texts, target
    return Bunch(data=texts, target=target, target_names=topics, labels=[list(x) for x in records["labels"]],
                 DESCR=_DESCR["reuters21578"], filenames=[str(path)])


def fetch_wikitext2(
    subset: Literal["train", "valid", "test"] = "train",
    *,
    data_home: str | os.PathLike | None = None,
    download_if_missing: bool = True,
    return_X_y: bool = False,
) -> Bunch | tuple[list[str], None]:
    """Load WikiText-2 (v1, tokenized) for language-model pretraining.

    Parameters
    ----------
    subset : {"train", "valid", "test"}, default="train"
        Reads ``{data_home}/wikitext-2/{subset}.txt.gz``.
    data_home : str or path-like, default=None
        Data folder; see :func:`get_data_home`.
    download_if_missing : bool, default=True
        Download ``wikitext-2-v1.zip`` if the file is missing.
    return_X_y : bool, default=False
        If True, return ``(data, None)`` instead of a Bunch.

    Returns
    -------
    sklearn.utils.Bunch or tuple
        ``data`` (the non-blank lines, trailing newline removed, text otherwise as is),
        ``target`` None, ``target_names`` [], ``DESCR``, ``filenames``.

    See Also
    --------
    wikitext_articles

    Examples
    --------
    ::

        from sk_ulmfit.datasets import fetch_wikitext2
        bunch = fetch_wikitext2("train", data_home="../shared/data")
    """
    _check_subset(subset, ("train", "valid", "test"))
    path = get_data_home(data_home) / "wikitext-2" / f"{subset}.txt.gz"
    source = _ensure(path, download_if_missing, _fetch_wikitext2)
    with gzip.open(source, "rt", encoding="utf-8", newline="\n") as fh:
        lines = [line.rstrip("\n") for line in fh if line.strip()]
    return _result(lines, None, _DESCR["wikitext2"], [path], return_X_y)


_WIKITEXT_TITLE = re.compile(r"^ = [^=].* = $")
_WIKITEXT_JOINERS = {" @-@ ": "-", " @,@ ": ",", " @.@ ": "."}


def wikitext_articles(lines: list[str]) -> list[str]:
    """Group WikiText lines into articles, as plain text for fastai's tokeniser.

    A `` = Title = `` line starts an article; ``@-@``-style joiners are undone and
    ``<unk>`` becomes fastai's ``xxunk``.

    Parameters
    ----------
    lines : list of str
        ``fetch_wikitext2(...).data``.

    Returns
    -------
    list of str
        One text per article.
    """
    documents: list[list[str]] = []
    for line in lines:
        if _WIKITEXT_TITLE.match(line) or not documents:
            documents.append([])
        for marked, plain in _WIKITEXT_JOINERS.items():
            line = line.replace(marked, plain)
        documents[-1].append(line.replace("<unk>", "xxunk").strip())
    return ["\n".join(document) for document in documents]
