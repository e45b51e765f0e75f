"""The ``sk-ulmfit`` command line, end to end on real data (TREC-6 as CSV, TSV, JSON Lines)."""

import subprocess
import sys

import pandas as pd
import pytest

from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit._cli.parser import main

from .conftest import REPO_ROOT

TINY_SETTINGS = ["--set", "pretrained=None", "--set", "emb_size=16", "--set", "hidden_size=32", "--set", "n_layers=2",
                 "--set", "batch_size=32", "--set", "min_freq=1", "--set", "random_state=0",
                 "--set", "schedule=[(1, 1, 2e-2), ('all', 2, 1e-2)]"]


@pytest.fixture(scope="module")
def tables(trec, tmp_path_factory):
    X_train, y_train, X_test, y_test = trec
    folder = tmp_path_factory.mktemp("tables")
    pd.DataFrame({"question": X_train, "kind": y_train}).to_csv(folder / "train.csv", index=False)
    pd.DataFrame({"question": X_test, "kind": y_test}).to_csv(folder / "test.tsv", sep="\t", index=False)
    pd.DataFrame({"question": X_test}).to_json(folder / "new.jsonl.gz", orient="records", lines=True)
    return folder


def test_fit_predict_evaluate_inspect(tables, trec, capsys):
    model = tables / "model.skulm"
    assert main(["fit", str(tables / "train.csv"), "--text-column", "question", "--label-column", "kind",
                 "--output", str(model), *TINY_SETTINGS]) == 0
    clf = ULMFiTClassifier.load(model)
    assert clf.hidden_size == 32 and list(clf.classes_) == sorted(set(trec[1]))

    assert main(["predict", str(model), str(tables / "new.jsonl.gz"), "--text-column", "question",
                 "--output", str(tables / "new folder" / "predicted.csv"), "--proba"]) == 0
    predicted = pd.read_csv(tables / "new folder" / "predicted.csv")  # the folder was made
    assert list(predicted["predicted"]) == list(clf.predict(trec[2]))
    assert {f"proba_{label}" for label in clf.classes_} <= set(predicted.columns)

    capsys.readouterr()
    assert main(["evaluate", str(model), str(tables / "test.tsv"), "--text-column", "question",
                 "--label-column", "kind"]) == 0
    report = capsys.readouterr().out
    assert f"accuracy {clf.score(trec[2], trec[3]):.4f}" in report and "macro avg" in report

    assert main(["inspect", str(model), str(tables / "test.tsv"), "--text-column", "question",
                 "--label-column", "kind", "--k", "7", "--cv", "2", "--output", str(tables / "worst.html")]) == 0
    html = (tables / "worst.html").read_text()
    assert html.count("<tr>") == 7 and "<th>loss</th>" in html  # 7 rows (the header row has a style)
    assert html.startswith("<!DOCTYPE html>") and "graded out of fold" in html
    assert main(["inspect", str(model), str(tables / "test.tsv"), "--text-column", "question",
                 "--label-column", "kind", "--scores", "training", "--output", str(tables / "trained.csv")]) == 0
    assert "trained on these texts" in capsys.readouterr().out
    memorised = pd.read_csv(tables / "trained.csv")
    assert len(memorised) == 50 and memorised["loss"].is_monotonic_decreasing


def test_clear_errors_and_nothing_overwritten(tables, capsys):
    model = tables / "exists.skulm"
    model.write_bytes(b"keep me")
    cases = [
        (["fit", str(tables / "train.csv"), "--output", str(model)], "exists; pass --force"),
        (["fit", str(tables / "train.csv"), "--output", str(tables / "m.skulm")], "no column 'text'; its columns are: question, kind"),
        (["fit", str(tables / "missing.csv"), "--output", str(tables / "m.skulm")], "no file at"),
        (["fit", str(tables / "train.csv"), "--text-column", "question", "--label-column", "kind",
          "--output", str(tables / "m.skulm"), "--set", "epochz=2"], "unknown parameters ['epochz']"),
        (["predict", str(model), str(tables / "new.jsonl.gz"), "--output", str(tables / "p.csv")], "not a readable"),
        (["predict", str(tables / "train.csv"), str(tables / "train.xlsx"), "--output", str(tables / "p.csv")],
         "not a readable"),
    ]
    (tables / "latin.csv").write_bytes("question,kind\nQu'est-ce qu'un caf\u00e9 ?,DESC\n".encode("latin-1"))
    cases.append((["fit", str(tables / "latin.csv"), "--output", str(tables / "m.skulm")],
                  "is not utf-8 text (byte 0xe9"))
    cases.append((["fit", str(tables / "latin.csv"), "--encoding", "klingon", "--output", str(tables / "m.skulm")],
                  "not an encoding Python knows"))
    (tables / "blank.csv").write_text("text,label\nWhat is a cat ?,DESC\nWho is he ?,\nWhere ?,  \n")
    cases.append((["fit", str(tables / "blank.csv"), "--output", str(tables / "m.skulm")],
                  "column 'label' has no label in 2 rows (lines 3, 4"))
    cases.append((["predict", str(model), str(tables / "new.jsonl.gz"), "--output", str(tables / "p.xlsx")],
                  "cannot write a .xlsx file; use .csv, .tsv, .jsonl, .json, .parquet"))
    cases.append((["inspect", str(model), str(tables / "test.tsv"), "--output", str(tables / "w.txt")],
                  "cannot write a .txt file"))
    cases.append((["predict", str(model), str(tables / "new.jsonl.gz"), "--output", str(model / "p.csv")],
                  "cannot make the folder"))  # one line, not a traceback
    (tables / "empty.csv").write_text("")
    cases.append((["fit", str(tables / "empty.csv"), "--output", str(tables / "m.skulm")], "is empty"))
    (tables / "header.csv").write_text("text,label\n")
    cases.append((["fit", str(tables / "header.csv"), "--output", str(tables / "m.skulm")], "has no rows"))
    for argv, message in cases:
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err, (argv, err)
    assert model.read_bytes() == b"keep me"
    assert not (tables / "m.skulm").exists()


def test_help_imports_no_torch_and_documents_every_argument():
    code = ("import sys, contextlib, io\nfrom sk_ulmfit._cli.parser import build_parser, main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    try:\n        main(['--help'])\n"
            "    except SystemExit:\n        pass\nprint(sorted(m for m in ('torch', 'fastai', 'pandas') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    assert result.stdout.strip() == "[]"
    from sk_ulmfit._cli.parser import build_parser

    commands = next(a for a in build_parser()._actions if a.dest == "command")
    for name, command in commands.choices.items():
        if name == "pretrain":  # its own parser: sk_ulmfit.pretrain
            continue
        for action in command._actions:
            assert action.help, f"{name}: {action.dest} has no help"
    assert "``" not in build_parser().format_help()  # plain text, not reStructuredText


def test_read_table_takes_an_encoding(tmp_path):
    from sk_ulmfit._cli.tables import read_table

    (tmp_path / "latin.csv").write_bytes("text,label\ncaf\u00e9,b\n".encode("latin-1"))
    assert read_table(tmp_path / "latin.csv", "latin-1")["text"].tolist() == ["caf\u00e9"]


def test_console_entry_and_pretrain_delegation(tmp_path):
    result = subprocess.run([sys.executable, "-m", "sk_ulmfit", "pretrain", "--help"], capture_output=True,
                            text=True, cwd=REPO_ROOT)
    assert result.returncode == 0 and "--checkpoint-dir" in result.stdout
    result = subprocess.run([sys.executable, "-m", "sk_ulmfit", "--help"], capture_output=True, text=True,
                            cwd=REPO_ROOT)
    assert result.returncode == 0 and all(c in result.stdout for c in ("fit", "predict", "evaluate", "inspect"))


def test_unlabelled_tables_feed_stage_two(trec, tiny_pretrained, tmp_path, capsys):
    X_train, y_train, _, _ = trec
    pd.DataFrame({"question": X_train[:300], "kind": y_train[:300]}).to_csv(tmp_path / "train.csv", index=False)
    marker = "zyzzogeton"
    pd.DataFrame({"question": [f"What is a {marker} ?"] * 5}).to_csv(tmp_path / "more.csv", index=False)
    tiny_pretrained.save(tmp_path / "lm.pt")
    fit = ["fit", str(tmp_path / "train.csv"), "--text-column", "question", "--label-column", "kind",
           "--unlabelled", str(tmp_path / "more.csv"), "--set", "direction='forward'", "--set", "min_freq=1",
           "--set", "batch_size=32", "--set", "random_state=0", "--set", "schedule=[(1, 1, 2e-2)]"]
    assert main([*fit, "--output", str(tmp_path / "m.skulm"), "--set", f"pretrained={str(tmp_path / 'lm.pt')!r}"]) == 0
    assert "stage 2 reads 5 unlabelled texts" in capsys.readouterr().out
    assert marker in ULMFiTClassifier.load(tmp_path / "m.skulm").directions_[0].vocab.stoi  # only they hold it

    assert main([*fit, "--output", str(tmp_path / "n.skulm"), "--set", "pretrained=None"]) == 2
    assert "--unlabelled texts feed stage 2" in capsys.readouterr().err
    assert not (tmp_path / "n.skulm").exists()


def test_multi_label_tables(reuters_table, capsys):
    folder, names = reuters_table
    model = folder / "topics.skulm"
    assert main(["fit", str(folder / "train.csv"), "--label-column", "topics", "--label-separator", ";",
                 "--output", str(model), *TINY_SETTINGS]) == 0
    assert ULMFiTClassifier.load(model).multilabel_
    assert main(["predict", str(model), str(folder / "test.csv"), "--output", str(folder / "p.csv"), "--proba"]) == 0
    predicted = pd.read_csv(folder / "p.csv", keep_default_na=False)
    assert {f"proba_{name}" for name in names} <= set(predicted.columns)
    assert all(set(filter(None, cell.split(";"))) <= set(names) for cell in predicted["predicted"])
    capsys.readouterr()
    assert main(["evaluate", str(model), str(folder / "test.csv"), "--label-column", "topics"]) == 0
    assert "micro-F1" in capsys.readouterr().out
    assert main(["inspect", str(model), str(folder / "test.csv"), "--label-column", "topics",
                 "--output", str(folder / "w.csv")]) == 2
    assert "one label at a time" in capsys.readouterr().err


@pytest.fixture(scope="module")
def reuters_table(data_home, tmp_path_factory):
    from sk_ulmfit.datasets import fetch_reuters21578

    folder = tmp_path_factory.mktemp("reuters")
    train, test = (fetch_reuters21578(subset, data_home=data_home) for subset in ("train", "test"))
    keep = ["earn", "acq", "grain", "wheat"]  # wheat stories are grain stories too
    for bunch, name, n in ((train, "train.csv", 400), (test, "test.csv", 100)):
        topics = [";".join(t for t in labels if t in keep) for labels in bunch.labels[:n]]
        pd.DataFrame({"text": bunch.data[:n], "topics": topics}).to_csv(folder / name, index=False)
    return folder, keep
