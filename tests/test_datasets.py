"""Tests for sk_ulmfit.datasets against the real files described in shared/data/SOURCES.md."""

import gzip
import hashlib
import io
import json
import lzma
import shutil
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import Bunch

from sk_ulmfit import datasets
from sk_ulmfit.datasets import (
    fetch_ag_news,
    fetch_imdb,
    fetch_imdb_sample,
    fetch_reuters21578,
    fetch_trec,
    fetch_wikitext2,
    get_data_home,
)

TREC_TRAIN_COUNTS = {"ABBR": 86, "DESC": 1162, "ENTY": 1250, "HUM": 1223, "LOC": 835, "NUM": 896}
TREC_TEST_COUNTS = {"ABBR": 9, "DESC": 138, "ENTY": 94, "HUM": 65, "LOC": 81, "NUM": 113}


@pytest.fixture(scope="module")
def imdb_train(data_home):
    """The IMDb train split, read once for the whole module (a few seconds)."""
    return fetch_imdb("train", data_home=data_home)


def _use_remote(monkeypatch, key: str, source: Path, checksum: str | None = None) -> None:
    """Point registry entry ``key`` at a local ``file://`` URL (keeping its checksum if None)."""
    checksum = checksum or datasets._REMOTES[key].checksum
    monkeypatch.setitem(datasets._REMOTES, key, datasets._Remote(source.as_uri(), checksum))


def _sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _md5(path: Path) -> str:
    return "md5:" + hashlib.md5(path.read_bytes()).hexdigest()


def _all_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- real data
def test_trec_train(data_home):
    bunch = fetch_trec("train", data_home=data_home)
    assert isinstance(bunch, Bunch)
    assert len(bunch.data) == len(bunch.target) == 5452
    assert dict(Counter(bunch.target)) == TREC_TRAIN_COUNTS
    assert bunch.target_names == sorted(TREC_TRAIN_COUNTS)
    assert bunch.data[0] == "How did serfdom develop in and then leave Russia ?"
    assert bunch.target[0] == "DESC"
    assert any("sister\xf0city" in text for text in bunch.data)  # latin-1 quirk of the original
    assert bunch.filenames == [str(data_home / "trec" / "train_5500.label")]
    assert "96.4" in bunch.DESCR


def test_trec_test_and_fine_grained(data_home):
    coarse = fetch_trec("test", data_home=data_home)
    assert dict(Counter(coarse.target)) == TREC_TEST_COUNTS
    fine = fetch_trec("test", data_home=data_home, fine_grained=True)
    assert fine.data == coarse.data
    assert [label.split(":")[0] for label in fine.target] == list(coarse.target)
    assert len(fine.target_names) == 42
    assert len(fetch_trec(data_home=data_home, fine_grained=True).target_names) == 50


def test_imdb_train(imdb_train):
    assert len(imdb_train.data) == 25000
    assert dict(Counter(imdb_train.target)) == {"negative": 12500, "positive": 12500}
    assert imdb_train.target_names == ["negative", "positive"]
    # Rows are sorted by label then id, so positive id 0 comes right after the negatives.
    assert imdb_train.target[12500] == "positive"
    assert imdb_train.data[12500].startswith("Bromwell High")
    assert "<br /><br />" in imdb_train.data[1]  # text kept unchanged


def test_imdb_test(data_home):
    X, y = fetch_imdb("test", data_home=data_home, return_X_y=True)
    assert len(X) == len(y) == 25000
    assert X[0].startswith("Once again Mr. Costner")
    assert y[0] == "negative"


@pytest.mark.parametrize(
    ("subset", "counts"),
    [
        ("train", {"negative": 417, "positive": 383}),
        ("valid", {"negative": 107, "positive": 93}),
        ("all", {"negative": 524, "positive": 476}),
    ],
)
def test_imdb_sample(data_home, subset, counts):
    bunch = fetch_imdb_sample(subset, data_home=data_home)
    assert dict(Counter(bunch.target)) == counts
    assert all(isinstance(text, str) and text for text in bunch.data)
    if subset != "valid":
        assert bunch.data[0].startswith("Un-bleeping-believable! Meg Ryan")


def test_ag_news(data_home):
    bunch = fetch_ag_news(data_home=data_home)
    assert len(bunch.data) == 7600
    assert dict(Counter(bunch.target)) == {
        name: 1900 for name in ("World", "Sports", "Business", "Sci/Tech")
    }
    assert bunch.target_names == ["Business", "Sci/Tech", "Sports", "World"]
    assert bunch.target[0] == "Business"
    assert bunch.data[0] == (
        "Fears for T N pension after talks Unions representing workers at Turner   Newall say "
        "they are 'disappointed' after talks with stricken parent firm Federal Mogul."
    )
    assert "A second\\team of rocketeers" in bunch.data[1]  # escapes kept as in the file


def test_ag_news_train_is_not_available(data_home):
    with pytest.raises(ValueError, match="only the 'test' split"):
        fetch_ag_news("train", data_home=data_home)


def test_wikitext2_valid(data_home):
    bunch = fetch_wikitext2("valid", data_home=data_home)
    assert bunch.target is None and bunch.target_names == []
    assert len(bunch.data) == 2461  # 3,760 lines, of which the blank ones are dropped
    assert bunch.data[0] == " = Homarus gammarus = "
    assert all(line.strip() and not line.endswith("\n") for line in bunch.data)
    # SOURCES.md: 217,646 tokens including one <eos> per line (blank lines too).
    assert sum(len(line.split()) for line in bunch.data) + 3760 == 217646


def test_return_X_y(data_home):
    X, y = fetch_trec("test", data_home=data_home, return_X_y=True)
    assert isinstance(X, list) and isinstance(y, np.ndarray) and len(X) == len(y) == 500
    X, y = fetch_imdb_sample("valid", data_home=data_home, return_X_y=True)
    assert len(X) == len(y) == 200
    X, y = fetch_wikitext2("test", data_home=data_home, return_X_y=True)
    assert y is None and len(X) == 2891


# --------------------------------------------------------------------------- arguments
def test_get_data_home_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SK_ULMFIT_DATA", raising=False)
    assert get_data_home() == tmp_path / "home" / "sk_ulmfit_data"
    monkeypatch.setenv("SK_ULMFIT_DATA", str(tmp_path / "env"))
    assert get_data_home() == tmp_path / "env"
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_home("~/x") == tmp_path / "home" / "x"
    assert not any(tmp_path.iterdir())  # creates nothing


@pytest.mark.parametrize(
    ("fetch", "choices"),
    [
        (fetch_trec, "'train', 'test'"),
        (fetch_imdb, "'train', 'test'"),
        (fetch_imdb_sample, "'train', 'valid', 'all'"),
        (fetch_ag_news, "'test'"),
        (fetch_wikitext2, "'train', 'valid', 'test'"),
    ],
)
def test_bad_subset(fetch, choices, tmp_path):
    with pytest.raises(ValueError, match=choices):
        fetch("dev", data_home=tmp_path)


def test_missing_file_without_download(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        fetch_trec("test", data_home=tmp_path, download_if_missing=False)
    message = str(info.value)
    assert str(tmp_path / "trec" / "TREC_10.label") in message
    assert "data_home" in message and "SK_ULMFIT_DATA" in message
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------------------- downloads
def test_registry_checksums_match_local_originals(data_home):
    remotes = datasets._REMOTES
    assert remotes["trec_train"].checksum == _sha256(data_home / "trec" / "train_5500.label")
    assert remotes["trec_test"].checksum == _sha256(data_home / "trec" / "TREC_10.label")
    ag_csv = gzip.decompress((data_home / "ag_news" / "test.csv.gz").read_bytes())
    assert hashlib.md5(ag_csv).hexdigest() == "d52ea96a97a2d943681189a97654912d"  # torchtext
    assert remotes["ag_news_test"].checksum == "sha256:" + hashlib.sha256(ag_csv).hexdigest()


def test_download_trec(data_home, tmp_path, monkeypatch):
    source = tmp_path / "src" / "TREC_10.label"
    source.parent.mkdir()
    shutil.copyfile(data_home / "trec" / "TREC_10.label", source)
    _use_remote(monkeypatch, "trec_test", source)  # real registry checksum
    home = tmp_path / "home"
    bunch = fetch_trec("test", data_home=home)
    expected = fetch_trec("test", data_home=data_home)
    assert bunch.data == expected.data and list(bunch.target) == list(expected.target)
    assert _all_files(home) == [home / "trec" / "TREC_10.label"]
    assert (home / "trec" / "TREC_10.label").read_bytes() == source.read_bytes()


def test_download_checksum_mismatch_leaves_nothing(data_home, tmp_path, monkeypatch):
    source = tmp_path / "corrupt.label"
    source.write_bytes((data_home / "trec" / "TREC_10.label").read_bytes()[:-10])
    _use_remote(monkeypatch, "trec_test", source)
    home = tmp_path / "home"
    with pytest.raises(OSError) as info:
        fetch_trec("test", data_home=home)
    message = str(info.value)
    actual = hashlib.sha256(source.read_bytes()).hexdigest()
    assert source.as_uri() in message and actual in message
    assert datasets._REMOTES["trec_test"].checksum.split(":")[1] in message
    assert "SK_ULMFIT_DATA" in message
    assert not home.exists()


def test_download_mismatch_keeps_existing_good_file(data_home, tmp_path):
    good = data_home / "trec" / "TREC_10.label"
    dest = tmp_path / "TREC_10.label"
    shutil.copyfile(good, dest)
    bad = tmp_path / "bad.label"
    bad.write_bytes(b"not the TREC file\n")
    with pytest.raises(OSError, match="checksum mismatch"):
        datasets._download(bad.as_uri(), dest, datasets._REMOTES["trec_test"].checksum)
    assert dest.read_bytes() == good.read_bytes()
    assert set(_all_files(tmp_path)) == {bad, dest}  # no temporary file left


def test_download_unreachable(tmp_path, monkeypatch):
    _use_remote(monkeypatch, "trec_train", tmp_path / "no-such-file.label")
    home = tmp_path / "home"
    with pytest.raises(OSError, match="could not download") as info:
        fetch_trec("train", data_home=home)
    assert "data_home" in str(info.value) and "SK_ULMFIT_DATA" in str(info.value)
    assert not home.exists()


def test_download_ag_news(data_home, tmp_path, monkeypatch):
    source = tmp_path / "test.csv"
    source.write_bytes(gzip.decompress((data_home / "ag_news" / "test.csv.gz").read_bytes()))
    _use_remote(monkeypatch, "ag_news_test", source)  # real registry checksum
    home = tmp_path / "home"
    assert fetch_ag_news(data_home=home).data == fetch_ag_news(data_home=data_home).data
    assert _all_files(home) == [home / "ag_news" / "test.csv.gz"]


def test_download_imdb_sample(data_home, tmp_path, monkeypatch):
    archive = tmp_path / "imdb_sample.tgz"
    with tarfile.open(archive, "w:gz") as tar:
        content = gzip.decompress((data_home / "imdb_sample" / "texts.csv.gz").read_bytes())
        member = tarfile.TarInfo("imdb_sample/texts.csv")
        member.size = len(content)
        tar.addfile(member, io.BytesIO(content))
    _use_remote(monkeypatch, "imdb_sample", archive, _md5(archive))
    home = tmp_path / "home"
    bunch = fetch_imdb_sample("all", data_home=home)
    assert bunch.data == fetch_imdb_sample("all", data_home=data_home).data
    assert _all_files(home) == [home / "imdb_sample" / "texts.csv.gz"]


def test_download_wikitext2(data_home, tmp_path, monkeypatch):
    archive = tmp_path / "wikitext-2-v1.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for split in ("train", "valid", "test"):
            content = gzip.decompress((data_home / "wikitext-2" / f"{split}.txt.gz").read_bytes())
            zf.writestr(f"wikitext-2/wiki.{split}.tokens", content)
    _use_remote(monkeypatch, "wikitext2", archive, _md5(archive))
    home = tmp_path / "home"
    assert (
        fetch_wikitext2("valid", data_home=home).data
        == fetch_wikitext2("valid", data_home=data_home).data
    )
    folder = home / "wikitext-2"
    assert _all_files(home) == [folder / f"{s}.txt.gz" for s in ("test", "train", "valid")]
    for split in ("train", "valid", "test"):
        assert gzip.decompress((folder / f"{split}.txt.gz").read_bytes()) == gzip.decompress(
            (data_home / "wikitext-2" / f"{split}.txt.gz").read_bytes()
        )


def _imdb_archive(path: Path, splits: dict[str, pd.DataFrame]) -> Path:
    """Write each split's rows as an aclImdb-layout tar.gz, plus files the converter ignores."""
    with tarfile.open(path, "w:gz") as tar:

        def add(name: str, text: str) -> None:
            data = text.encode("utf-8")
            member = tarfile.TarInfo(f"aclImdb/{name}")
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))

        add("README", "Large Movie Review Dataset v1.0")
        add("train/unsup/0_0.txt", "unlabelled review, not used")
        for split, rows in splits.items():
            for row in rows.iloc[::-1].itertuples():  # reverse order: the converter must sort
                polarity = "pos" if row.label == "positive" else "neg"
                add(f"{split}/{polarity}/{row.id}_{row.rating}.txt", row.text)
    return path


def test_download_imdb_converts_archive_to_local_layout(data_home, tmp_path, monkeypatch):
    # The first 12 rows of the real train file (negatives, ids 0..11: "10" sorts after "9").
    with lzma.open(data_home / "imdb" / "train.csv.xz", "rb") as fh:
        local = fh.read(60_000)
    rows = pd.read_csv(io.BytesIO(local), nrows=12, keep_default_na=False, dtype={"text": str})
    assert list(rows["id"]) == list(range(12))
    positives = pd.DataFrame(
        {
            "label": "positive",
            "text": ['A "great" film.', "Café, naïve."],
            "id": [3, 0],
            "rating": [10, 7],
        }
    )
    test_rows = pd.concat([positives, rows.head(2)], ignore_index=True)
    archive = _imdb_archive(tmp_path / "aclImdb_v1.tar.gz", {"train": rows, "test": test_rows})
    _use_remote(monkeypatch, "imdb", archive, _md5(archive))
    home = tmp_path / "home"
    bunch = fetch_imdb("train", data_home=home)
    assert bunch.data == list(rows["text"]) and list(bunch.target) == ["negative"] * 12
    assert _all_files(home) == [home / "imdb" / "test.csv.xz", home / "imdb" / "train.csv.xz"]
    converted = lzma.decompress((home / "imdb" / "train.csv.xz").read_bytes())
    assert local.startswith(converted)  # byte-identical to the stored file's first rows
    assert local[len(converted) : len(converted) + 9] == b"negative,"  # ...cut at a row boundary
    test = pd.read_csv(home / "imdb" / "test.csv.xz", keep_default_na=False)
    assert list(test.columns) == ["label", "text", "id", "rating"]
    assert list(test["label"]) == ["negative"] * 2 + ["positive"] * 2
    assert list(test["id"]) == [0, 1, 0, 3] and list(test["rating"]) == [3, 1, 7, 10]
    assert fetch_imdb("test", data_home=home).data[2:] == ["Café, naïve.", 'A "great" film.']


@pytest.mark.parametrize(
    ("convert", "message"),
    [(datasets._convert_imdb_archive, "no labelled train reviews"),
     (datasets._convert_reuters_archive, "no train story with a topic")],
)
def test_conversion_rejects_an_empty_archive(tmp_path, convert, message):
    archive = tmp_path / "empty.tar.gz"
    with tarfile.open(archive, "w:gz"):
        pass
    with pytest.raises(OSError, match=message):
        convert(archive, tmp_path)
    assert _all_files(tmp_path) == [archive]


def test_download_archive_mismatch_leaves_nothing(tmp_path, monkeypatch):
    archive = _imdb_archive(tmp_path / "aclImdb_v1.tar.gz", {})
    _use_remote(monkeypatch, "imdb", archive)  # real aclImdb md5: this tiny archive fails it
    home = tmp_path / "home"
    (home / "imdb").mkdir(parents=True)  # a folder the user made is kept
    with pytest.raises(OSError, match="7c2ac02c03563afcf9b574c7e56c153a"):
        fetch_imdb("test", data_home=home)
    assert list(home.rglob("*")) == [home / "imdb"]


def test_reuters21578_is_a_multilabel_indicator_matrix(data_home):
    train, test = (fetch_reuters21578(subset, data_home=data_home) for subset in ("train", "test"))
    assert train.target.shape == (7770, 90) and test.target.shape == (3019, 90)
    assert train.target_names == test.target_names and len(set(train.target_names)) == 90
    assert round(float(train.target.sum(1).mean()), 4) == 1.2336  # SOURCES.md's figure
    row = test.target[0]
    assert [train.target_names[j] for j in np.flatnonzero(row)] == test.labels[0]
    X, Y = fetch_reuters21578("test", data_home=data_home, return_X_y=True)
    assert X == test.data and (Y == test.target).all()
    with pytest.raises(ValueError, match="subset"):
        fetch_reuters21578("valid", data_home=data_home)


def _json_lines(path: Path) -> list[dict]:
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _reuters_story(newid: int, split: str, topics: list[str], text: str, kind: str = "", flag: str = "YES") -> str:
    """One ``<REUTERS>`` element as in ``reut2-*.sgm``: title, dateline, body and sign-off marked up,
    entities escaped, wire noise in ``<UNKNOWN>``; ``kind="BRIEF"`` has only a (wrapped) title."""
    def escape(s: str) -> str:
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    title, _, body = text.partition("\n")
    if kind == "BRIEF":
        content = f'<TEXT TYPE="BRIEF">&#2;\n******<TITLE>{escape(title)}\n</TITLE>Blah blah blah.\n&#3;\n\n</TEXT>'
    elif kind == "UNPROC":
        content = f'<TEXT TYPE="UNPROC">&#2;\n{escape(text)}\n Reuter\n&#3;</TEXT>'
    else:
        content = (f"<TEXT>&#2;\n<TITLE>{escape(title)}</TITLE>\n<DATELINE>    NEW YORK, March 2 - </DATELINE>"
                   f"<BODY>{escape(body)}\n Reuter\n&#3;</BODY></TEXT>")
    return (f'<REUTERS TOPICS="{flag}" LEWISSPLIT="{split}" CGISPLIT="TRAINING-SET" OLDID="{newid + 5000}" '
            f'NEWID="{newid}">\n<DATE> 2-MAR-1987 10:00:00.00</DATE>\n<TOPICS>{"".join(f"<D>{t}</D>" for t in topics)}'
            "</TOPICS>\n<PLACES><D>usa</D></PLACES>\n<PEOPLE></PEOPLE>\n<UNKNOWN> \n&#5;&#5;&#5;F \n"
            f"&#22;&#22;&#1;f0001&#31;reute\nu f BC-STORY   03-02 0100</UNKNOWN>\n{content}\n</REUTERS>\n")


def test_download_reuters21578_converts_the_sgml_distribution(data_home, tmp_path, monkeypatch):
    """Real stories written back as SGML (with stories ModApte leaves out) convert to the stored files' rows."""
    local = {split: _json_lines(data_home / "reuters21578" / f"{split}.jsonl.xz") for split in ("train", "test")}
    labels = [["earn"], ["acq"], ["crude", "ship"]]
    picked = {split: [next(r for r in rows if r["labels"] == want and "\n" in r["text"]) for want in labels]
              + [next(r for r in rows if r["labels"] == ["acq"] and "\n" not in r["text"])]  # a title-only story
              for split, rows in local.items()}
    assert any("<" in r["text"] or "&" in r["text"] for rows in picked.values() for r in rows)  # escaping is tested
    stories = [_reuters_story(r["id"], split.upper(), r["labels"], r["text"], "" if "\n" in r["text"] else "BRIEF")
               for split, rows in picked.items() for r in rows[::-1]]  # reverse order: the converter must sort
    stories += [
        _reuters_story(90001, "TRAIN", ["cocoa"], "COCOA ONLY IN TRAINING\nDropped: no topic of both parts."),
        _reuters_story(90002, "TRAIN", ["earn", "cocoa"], "EARN AND COCOA\nKept, as earn.\n Reuter"),  # signed twice
        _reuters_story(90003, "TEST", ["earn"], "NOT A TOPICS STORY\nDropped.", flag="NO"),
        _reuters_story(90004, "NOT-USED", ["earn"], "NOT USED BY LEWIS\nDropped."),
        _reuters_story(90005, "TRAIN", [], "NO TOPIC\nDropped."),
        _reuters_story(90006, "TEST", ["acq"], "an unprocessed story,  no title\n    a second line", "UNPROC"),
    ]
    archive = tmp_path / "reuters21578.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in [("README.txt", "Reuters-21578 text categorization test collection"),
                           ("reut2-000.sgm", '<!DOCTYPE lewis SYSTEM "lewis.dtd">\n' + "".join(stories[:5])),
                           ("reut2-001.sgm", '<!DOCTYPE lewis SYSTEM "lewis.dtd">\n' + "".join(stories[5:])),
                           ("all-topics-strings.lc.txt", "acq\ncocoa\ncrude\nearn\nship\n")]:
            payload = data.encode("latin-1")
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    _use_remote(monkeypatch, "reuters21578", archive, _sha256(archive))
    home = tmp_path / "home"
    train = fetch_reuters21578("train", data_home=home)
    assert _all_files(home) == [home / "reuters21578" / "test.jsonl.xz", home / "reuters21578" / "train.jsonl.xz"]
    rows = {split: _json_lines(home / "reuters21578" / f"{split}.jsonl.xz") for split in ("train", "test")}
    expected_train = sorted(picked["train"], key=lambda r: r["id"]) + [
        {"id": 90002, "text": "EARN AND COCOA\nKept, as earn.", "labels": ["earn"]}]
    assert rows["train"] == expected_train
    assert rows["test"] == sorted(picked["test"], key=lambda r: r["id"]) + [
        {"id": 90006, "text": "an unprocessed story,  no title\n    a second line", "labels": ["acq"]}]
    assert train.target_names == ["acq", "crude", "earn", "ship"] and train.target.shape == (len(expected_train), 4)
    assert train.data == [r["text"] for r in expected_train]


def test_reuters21578_without_download_says_where_the_files_go(tmp_path):
    with pytest.raises(FileNotFoundError, match="download_if_missing=False") as info:
        fetch_reuters21578("test", data_home=tmp_path, download_if_missing=False)
    assert str(tmp_path / "reuters21578" / "test.jsonl.xz") in str(info.value)
    assert not any(tmp_path.iterdir())
