"""``sk-ulmfit clean``'s server: the JSON API over HTTP (urllib), the files Save writes, the command.

No model trains: a fake model stands in for ``load_model`` and a fake ``out_of_fold_proba``
for the out-of-fold scores.
"""

import argparse
import csv
import json
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sk_ulmfit._cli.clean_server as clean_server
import sk_ulmfit._cli.tables as tables
from sk_ulmfit._cli.clean_server import (
    CleanSession,
    make_server,
    run_clean,
)
from sk_ulmfit._cli.parser import add_clean_parser
from sk_ulmfit._cli.tables import CommandError, read_table
from sk_ulmfit.cleaning import DatasetCleaner

CLASSES = np.array(["politics", "sport", "tech"])
N_TEXTS = 30


def fake_table(n_texts: int = N_TEXTS) -> pd.DataFrame:
    """A table as ``read_table`` gives it: strings, an id column besides text and label."""
    rng = np.random.default_rng(1)
    return pd.DataFrame({
        "id": [f"r{i:03d}" for i in range(n_texts)],
        "text": [f"headline {i}: " + "many words " * (i % 4) for i in range(n_texts)],
        "label": CLASSES[rng.integers(0, 3, n_texts)],
        "source": ["wire"] * n_texts,
    })


def fake_proba(n_texts: int = N_TEXTS, seed: int = 2) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet([0.5, 0.5, 0.5], n_texts)


def other_label(label):
    return next(name for name in CLASSES if name != label)


def start(session: CleanSession):
    """Serve ``session`` on a free port in a thread; the base URL and the server."""
    server = make_server(session, 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}", server


def get(url: str):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def post(url: str, body: dict, content_type: str = "application/json"):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def http_error(call, *args) -> tuple[int, str]:
    with pytest.raises(urllib.error.HTTPError) as caught:
        call(*args)
    return caught.value.code, json.loads(caught.value.read())["error"]


@pytest.fixture
def served(tmp_path):
    """A session on a CSV table, served; yields (base URL, session, input path)."""
    table = fake_table()
    data = tmp_path / "news.csv"
    table.to_csv(data, index=False)
    output = tmp_path / "cleaned.csv"
    cleaner = DatasetCleaner(table["text"], table["label"].to_numpy(), fake_proba(),
                             embeddings=np.random.default_rng(3).normal(size=(N_TEXTS, 4)),
                             decisions_path=clean_server.decisions_file(output))
    session = CleanSession(cleaner, table, label_column="label", output=output, data_name=data.name)
    url, server = start(session)
    yield url, session, data
    server.shutdown()
    server.server_close()


def test_state_and_pages(served):
    url, session, _ = served
    state = get(url + "/api/state")
    assert state["classes"] == list(CLASSES) and state["scores"] == "out-of-fold"
    assert [r["name"] for r in state["rankings"]] == ["top_losses", "most_unsure", "label_issues",
                                                       "near_duplicates"]
    page = get(url + "/api/page?ranking=top_losses&page=1&page_size=7")
    expected = session.cleaner.page("top_losses", page=1, page_size=7)
    assert [row["position"] for row in page["rows"]] == list(expected.rows["position"])
    assert page["n_rows"] == N_TEXTS and page["n_pages"] == 5 and page["page"] == 1
    sport = get(url + "/api/page?ranking=most_unsure&given=sport&page_size=50")
    assert sport["rows"] and {row["label"] for row in sport["rows"]} == {"sport"}


def test_a_decision_is_on_disk_when_the_answer_comes(served):
    url, session, _ = served
    answer = post(url + "/api/decision", {"position": 4, "action": "relabel", "label": other_label(
        session.cleaner.labels[4])})
    assert answer["decision"] == "relabel" and answer["summary"]["relabelled"] == 1
    saved = json.loads(session.cleaner.decisions_path.read_text(encoding="utf-8"))
    assert saved["decisions"] == [{"position": 4, "action": "relabel", "label": answer["new_label"]}]
    post(url + "/api/decision", {"position": 4, "action": "keep"})
    rows = get(url + "/api/page?page_size=50")["rows"]
    assert next(row for row in rows if row["position"] == 4)["decision"] == "keep"


def test_bad_requests_get_a_clear_error(served):
    url, _, _ = served
    code, message = http_error(post, url + "/api/decision", {"position": 1, "action": "relabel",
                                                            "label": "finance"})
    assert code == 400 and "'finance' is not one of the classes" in message
    code, message = http_error(post, url + "/api/decision", {"position": 1000, "action": "delete"})
    assert code == 400 and "position must be an int" in message
    code, message = http_error(get, url + "/api/page?page=first")
    assert code == 400 and "page must be an integer" in message
    code, _ = http_error(post, url + "/api/decision", {"position": 1, "action": "delete"}, "text/plain")
    assert code == 415  # a form on another site cannot post here without a preflight
    code, _ = http_error(get, url + "/api/nothing")
    assert code == 404


def test_requests_for_another_host_are_refused(served):
    url, _, _ = served
    request = urllib.request.Request(url + "/api/state", headers={"Host": "attacker.example:80"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 403


def test_the_page_is_served_and_fetches_nothing_from_outside(served):
    url, _, _ = served
    for path, kind in (("/", "text/html"), ("/cleaner.js", "text/javascript"), ("/cleaner.css", "text/css")):
        with urllib.request.urlopen(url + path, timeout=10) as response:
            body = response.read().decode()
            assert response.headers.get_content_type() == kind
        assert "http://" not in body and "https://" not in body and "//cdn" not in body
    with urllib.request.urlopen(url + "/", timeout=10) as response:
        page = response.read().decode()
    assert 'src="/cleaner.js"' in page and 'id="save"' in page


def test_save_writes_the_cleaned_table_and_the_change_log(served):
    url, session, data = served
    table = pd.read_csv(data, dtype=str, keep_default_na=False)
    before = data.read_bytes()
    relabels = {6: other_label(table["label"][6]), 17: other_label(table["label"][17])}
    for position, label in relabels.items():
        post(url + "/api/decision", {"position": position, "action": "relabel", "label": label})
    post(url + "/api/decision", {"position": 11, "action": "delete"})
    post(url + "/api/decision", {"position": 12, "action": "keep"})
    answer = post(url + "/api/save", {})
    assert answer["n_rows"] == N_TEXTS - 1 and answer["n_deleted"] == 1 and answer["n_relabelled"] == 2

    cleaned = pd.read_csv(session.output, dtype=str, keep_default_na=False)
    expected = table.drop(index=11)
    for position, label in relabels.items():
        expected.loc[position, "label"] = label
    pd.testing.assert_frame_equal(cleaned, expected.reset_index(drop=True))
    log = pd.read_csv(answer["changes"], keep_default_na=False)
    assert Path(answer["changes"]) == Path(str(session.output) + ".changes.csv")
    assert list(log.columns) == ["position", "text", "old_label", "new_label", "deleted"]
    assert list(log["position"]) == [6, 11, 17] and list(log["deleted"]) == [False, True, False]
    assert list(log["new_label"]) == [relabels[6], "", relabels[17]]
    assert data.read_bytes() == before  # the input is never written
    assert not [p for p in data.parent.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_a_tsv_table_comes_back_as_read_table_reads_it(tmp_path):
    table = fake_table()
    table.loc[1, "text"] = 'the "quoted" word and a lone " mark'
    data = tmp_path / "news.tsv"
    table.to_csv(data, sep="\t", index=False, quoting=csv.QUOTE_NONE)
    frame = read_table(data)
    cleaner = DatasetCleaner(frame["text"], frame["label"].to_numpy(), fake_proba())
    session = CleanSession(cleaner, frame, label_column="label", output=tmp_path / "cleaned.tsv")
    cleaner.relabel(1, other_label(frame["label"][1]))
    session.save()
    cleaned = read_table(tmp_path / "cleaned.tsv")
    assert cleaned["text"][1] == table["text"][1] and cleaned["label"][1] == other_label(frame["label"][1])
    pd.testing.assert_frame_equal(cleaned.drop(columns="label"), frame.drop(columns="label"))


def test_a_busy_port_is_a_clear_error():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(CommandError, match=f"port {port} on 127.0.0.1 is in use; pass another --port"):
            make_server(None, port)


# ---------------------------------------------------------------------- the command
class FakeModel:
    """What ``clean`` uses of a fitted classifier."""

    classes_ = CLASSES
    multilabel_ = False

    def predict_proba(self, X):
        return fake_proba(len(X), seed=5)

    def transform(self, X):
        return np.random.default_rng(6).normal(size=(len(X), 4))


def parse(argv):
    parser = argparse.ArgumentParser(prog="sk-ulmfit")
    add_clean_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["clean", *argv])


@pytest.fixture
def command(tmp_path, monkeypatch):
    """A CSV table, a fake model and fake out-of-fold scores; yields (data path, calls)."""
    data = tmp_path / "news.csv"
    fake_table().to_csv(data, index=False)
    calls = []

    def out_of_fold(estimator, X, y, **options):
        calls.append((estimator, list(X), np.asarray(y)))
        return fake_proba(len(X), seed=7)

    monkeypatch.setattr(clean_server, "load_model", lambda path: FakeModel())
    monkeypatch.setattr(tables, "out_of_fold_proba", out_of_fold)
    return data, calls


def serve_command(argv, monkeypatch):
    """Run ``clean`` in a thread; yields the server once it serves, stops it afterwards."""
    started = {}
    real_make_server = clean_server.make_server

    def recording(session, port=0, host=clean_server.HOST):
        started["server"] = real_make_server(session, port, host)
        return started["server"]

    monkeypatch.setattr(clean_server, "make_server", recording)
    thread = threading.Thread(target=run_clean, args=(parse(argv),), daemon=True)
    thread.start()
    for _ in range(200):
        if "server" in started and started["server"].session is not None:
            break
        thread.join(0.05)
    return started["server"], thread


def test_clean_command_serves_out_of_fold_scores_and_resumes(command, tmp_path, monkeypatch, capsys):
    data, calls = command
    output = tmp_path / "out" / "cleaned.csv"
    argv = [str(tmp_path / "model.skulm"), str(data), "--output", str(output), "--no-browser"]
    server, thread = serve_command(argv, monkeypatch)
    url = f"http://127.0.0.1:{server.server_port}"
    assert get(url + "/api/state")["scores"] == "out-of-fold"
    assert len(calls) == 1 and calls[0][1] == list(fake_table()["text"])
    expected = DatasetCleaner(calls[0][1], calls[0][2], fake_proba(N_TEXTS, seed=7)).ranked("top_losses")
    rows = get(url + "/api/page?page_size=50")["rows"]
    assert [row["position"] for row in rows] == list(expected["position"])
    post(url + "/api/decision", {"position": 3, "action": "delete"})
    post(url + "/api/save", {})
    server.shutdown()
    thread.join(10)
    assert f"cleaner at {url}/" in capsys.readouterr().out
    assert Path(str(output) + ".decisions.json").is_file()

    # the same command, no --force: its own saved output may be replaced, its decisions come back
    server, thread = serve_command(argv, monkeypatch)
    url = f"http://127.0.0.1:{server.server_port}"
    assert get(url + "/api/state")["summary"]["deleted"] == 1
    server.shutdown()
    thread.join(10)
    assert "resumed 1 decisions" in capsys.readouterr().out


def test_training_scores_use_the_model_itself(command, tmp_path, monkeypatch):
    data, calls = command
    argv = [str(tmp_path / "model.skulm"), str(data), "--output", str(tmp_path / "cleaned.csv"), "--no-browser",
            "--scores", "training"]
    server, thread = serve_command(argv, monkeypatch)
    state = get(f"http://127.0.0.1:{server.server_port}/api/state")
    server.shutdown()
    thread.join(10)
    assert state["scores"] == "training" and calls == []
    assert np.allclose(server.session.cleaner.proba, FakeModel().predict_proba(list(fake_table()["text"])))


@pytest.mark.parametrize("options, message", [
    (["--text-column", "body"], "has no column 'body'"),
    (["--label-column", "topic"], "has no column 'topic'"),
    (["--output", "{data}"], "is the input table"),
    (["--output", "{tmp}/cleaned.tsv"], "must be a csv file like news.csv"),
    (["--output", "{tmp}/exists.csv"], "exists; pass --force"),
    (["--output", "{tmp}/cleaned.tsv.gz"], "must be a csv file like news.csv"),
])
def test_input_problems_are_one_clear_error(command, tmp_path, options, message):
    data, _ = command
    (tmp_path / "exists.csv").write_text("x\n1\n")
    options = [option.format(data=data, tmp=tmp_path) for option in options]
    argv = [str(tmp_path / "model.skulm"), str(data), "--output", str(tmp_path / "cleaned.csv"), "--no-browser",
            *options]
    with pytest.raises(CommandError, match=message):
        run_clean(parse(argv))


def test_labels_the_model_does_not_know_are_refused(command, tmp_path):
    data, _ = command
    table = fake_table()
    table.loc[2, "label"] = "finance"
    table.to_csv(data, index=False)
    with pytest.raises(CommandError, match=r"labels \['finance'\] .* not among the model's classes"):
        run_clean(parse([str(tmp_path / "m"), str(data), "--output", str(tmp_path / "c.csv"), "--no-browser"]))


def test_decisions_of_another_table_are_refused(command, tmp_path):
    data, _ = command
    output = tmp_path / "cleaned.csv"
    other = fake_table()
    other.loc[0, "text"] = "a different headline"
    DatasetCleaner(other["text"], other["label"].to_numpy(), fake_proba(),
                   decisions_path=clean_server.decisions_file(output)).delete(0)
    with pytest.raises(CommandError, match="holds decisions about other data"):
        run_clean(parse([str(tmp_path / "m"), str(data), "--output", str(output), "--no-browser"]))


def test_the_parser_documents_every_argument():
    parser = argparse.ArgumentParser(prog="sk-ulmfit")
    commands = parser.add_subparsers(dest="command")
    clean = add_clean_parser(commands)
    for action in clean._actions:
        assert action.help, f"{action.dest} has no help"
    args = parse(["model.skulm", "data.csv", "--output", "cleaned.csv"])
    assert (args.text_column, args.label_column, args.port, args.no_browser, args.scores, args.force) == \
        ("text", "label", 0, False, "out-of-fold", False)
    assert args.command == "clean"
    with pytest.raises(SystemExit):
        parse(["model.skulm", "data.csv", "--output", "c.csv", "--port", "70000"])
