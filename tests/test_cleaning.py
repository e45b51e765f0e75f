"""``sk_ulmfit.cleaning``: the dataset cleaner's state and its notebook widget, on small fake data."""

import json
import sys

import numpy as np
import pandas as pd
import pytest

import sk_ulmfit._common.atomic
from sk_ulmfit.cleaning import CHANGE_COLUMNS, DatasetCleaner, folded_html

CLASSES = np.array(["politics", "sport", "tech"])
N_TEXTS = 36


@pytest.fixture
def data():
    """36 texts, 3 labels, random probabilities; texts 4 and 9 have the same embedding."""
    rng = np.random.default_rng(0)
    X = [f"text number {i} about " + ("something " * (i % 5)) for i in range(N_TEXTS)]
    y = CLASSES[rng.integers(0, 3, N_TEXTS)]
    proba = rng.dirichlet([0.6, 0.6, 0.6], N_TEXTS)
    embeddings = rng.normal(size=(N_TEXTS, 8))
    embeddings[9] = embeddings[4]
    return X, y, proba, embeddings


def other_label(label):
    return next(name for name in CLASSES if name != label)


def test_rankings_are_ordered_by_their_scores(data):
    X, y, proba, embeddings = data
    cleaner = DatasetCleaner(X, y, proba, embeddings=embeddings)
    assert cleaner.rankings == ("top_losses", "most_unsure", "label_issues", "near_duplicates")

    losses = cleaner.ranked("top_losses")
    assert sorted(losses["position"]) == list(range(N_TEXTS))
    assert np.all(np.diff(losses["score"]) <= 0)
    assert np.allclose(losses["score"], -np.log(losses["p_label"]))
    first = losses.iloc[0]
    assert first["p_label"] == pytest.approx(proba[first["position"], list(CLASSES).index(first["label"])])

    margins = cleaner.ranked("most_unsure")["score"]
    assert np.all(np.diff(margins) >= 0)
    row = cleaner.ranked("most_unsure").iloc[0]
    assert row["score"] == pytest.approx(row["p_predicted"] - row["p_runner_up"])

    issues = cleaner.ranked("label_issues")
    assert set(issues["position"]) <= set(range(N_TEXTS)) and len(issues) < N_TEXTS


def test_near_duplicates_come_as_pairs_most_similar_first(data):
    X, y, proba, embeddings = data
    pairs = DatasetCleaner(X, y, proba, embeddings=embeddings, n_pairs=5).ranked("near_duplicates")
    assert len(pairs) == 10 and list(pairs["pair"]) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert set(pairs["position"][:2]) == {4, 9} and pairs["score"][0] == pytest.approx(1.0)
    assert list(pairs["other_position"][:2]) == list(pairs["position"][:2])[::-1]


def test_unavailable_ranking_says_what_it_needs(data):
    X, y, proba, _ = data
    with pytest.raises(ValueError, match="embeddings"):
        DatasetCleaner(X, y, proba).ranked("near_duplicates")
    with pytest.raises(ValueError, match="ranking must be one of"):
        DatasetCleaner(X, y, proba).ranked("worst")


def test_filters_by_given_and_predicted_label(data):
    X, y, proba, embeddings = data
    cleaner = DatasetCleaner(X, y, proba, embeddings=embeddings)
    given = cleaner.ranked("top_losses", given_label="sport")
    assert len(given) == (y == "sport").sum() and set(given["label"]) == {"sport"}
    predicted = CLASSES[proba.argmax(axis=1)]
    both = cleaner.ranked("most_unsure", given_label="sport", predicted_label="tech")
    assert set(both["position"]) == set(np.flatnonzero((y == "sport") & (predicted == "tech")))
    pairs = cleaner.ranked("near_duplicates", given_label="tech")
    for _, pair in pairs.groupby("pair"):  # a pair shows whole when one of its texts matches
        assert len(pair) == 2 and "tech" in set(pair["label"])


def test_pages_cover_the_ranking_once(data):
    X, y, proba, _ = data
    cleaner = DatasetCleaner(X, y, proba)
    pages = [cleaner.page("top_losses", page=number, page_size=10) for number in range(4)]
    assert [page.n_pages for page in pages] == [4] * 4 and [len(page.rows) for page in pages] == [10, 10, 10, 6]
    positions = np.concatenate([page.rows["position"] for page in pages])
    assert list(positions) == list(cleaner.ranked("top_losses")["position"])
    past_the_end = cleaner.page("top_losses", page=99, page_size=10)
    assert past_the_end.number == 3 and list(past_the_end.rows["position"]) == list(pages[3].rows["position"])
    with pytest.raises(ValueError, match="page_size"):
        cleaner.page(page_size=0)


def test_decisions_stay_with_their_text_across_rankings_and_filters(data):
    X, y, proba, embeddings = data
    cleaner = DatasetCleaner(X, y, proba, embeddings=embeddings)
    worst = int(cleaner.page("top_losses", page_size=5).rows["position"][0])
    cleaner.relabel(worst, other_label(y[worst]))
    for ranking in ("most_unsure", "top_losses"):
        frame = cleaner.ranked(ranking, given_label=y[worst])
        row = frame[frame["position"] == worst].iloc[0]
        assert row["decision"] == "relabel" and row["new_label"] == other_label(y[worst])
    undecided = cleaner.ranked("most_unsure")
    assert undecided[undecided["position"] != worst]["decision"].isna().all()


def test_changes_and_cleaned_apply_the_last_decision_per_text(data):
    X, y, proba, _ = data
    cleaner = DatasetCleaner(X, y, proba)
    cleaner.relabel(20, other_label(y[20]))
    cleaner.delete(3)
    cleaner.relabel(7, other_label(y[7]))
    cleaner.keep(7)  # undoes the relabel
    cleaner.decide(11, "relabel", other_label(y[11]))
    changes = cleaner.changes()
    assert list(changes.columns) == CHANGE_COLUMNS
    assert list(changes["position"]) == [3, 11, 20]
    assert list(changes["deleted"]) == [True, False, False]
    assert list(changes["old_label"]) == [y[3], y[11], y[20]]
    assert list(changes["new_label"]) == [None, other_label(y[11]), other_label(y[20])]
    assert changes["text"][0] == X[3]
    assert cleaner.summary() == {"kept": 1, "deleted": 1, "relabelled": 2, "undecided": 32, "total": N_TEXTS}

    X_clean, y_clean = cleaner.cleaned()
    expected_y = y.astype(object)
    expected_y[[11, 20]] = [other_label(y[11]), other_label(y[20])]
    assert X_clean == [text for i, text in enumerate(X) if i != 3]
    assert list(y_clean) == [label for i, label in enumerate(expected_y) if i != 3]


def test_relabel_checks_the_label_and_position(data):
    X, y, proba, _ = data
    cleaner = DatasetCleaner(X, y, proba)
    with pytest.raises(ValueError, match="'finance' is not one of the classes"):
        cleaner.relabel(0, "finance")
    with pytest.raises(ValueError, match="position must be an int from 0 to 35"):
        cleaner.delete(N_TEXTS)
    with pytest.raises(ValueError, match="action must be one of"):
        cleaner.decide(0, "archive")
    cleaner.relabel(5, y[5])  # to its own label: kept
    assert cleaner.decision(5) == ("keep", None) and cleaner.changes().empty


def test_integer_labels_relabel_by_name_and_come_back_as_integers(data, tmp_path):
    X, _, proba, _ = data
    y = np.arange(N_TEXTS) % 3
    path = tmp_path / "decisions.json"
    cleaner = DatasetCleaner(X, y, proba, decisions_path=path)
    cleaner.relabel(1, "2")  # a label as a page sends it: matched by its text
    assert cleaner.decision(1) == ("relabel", 2)
    resumed = DatasetCleaner(X, y, proba, decisions_path=path)
    assert resumed.decision(1) == ("relabel", 2)
    assert resumed.cleaned()[1].dtype.kind == "i" and resumed.cleaned()[1][1] == 2


def test_decisions_are_written_at_once_and_resumed(data, tmp_path, monkeypatch):
    X, y, proba, _ = data
    path = tmp_path / "run" / "decisions.json"
    replaced = []
    real_replace = sk_ulmfit._common.atomic.os.replace
    monkeypatch.setattr(sk_ulmfit._common.atomic.os, "replace",
                        lambda source, target: (replaced.append((source, target)), real_replace(source, target)))
    cleaner = DatasetCleaner(X, y, proba, decisions_path=path)
    cleaner.delete(2)
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["decisions"] == [{"position": 2, "action": "delete"}]
    assert saved["fingerprint"] == cleaner.fingerprint and saved["n_texts"] == N_TEXTS
    cleaner.relabel(30, other_label(y[30]))
    assert len(replaced) == 2  # one atomic replace per decision, from a file in the same folder
    assert all(source.parent == path.parent and target == path for source, target in replaced)
    assert sorted(p.name for p in path.parent.iterdir()) == ["decisions.json"]

    resumed = DatasetCleaner(X, y, proba[::-1], decisions_path=path)  # new scores, same data
    assert resumed.decisions == {2: ("delete", None), 30: ("relabel", other_label(y[30]))}
    pd.testing.assert_frame_equal(resumed.changes(), cleaner.changes())


def test_decisions_of_other_data_are_refused(data, tmp_path):
    X, y, proba, _ = data
    path = tmp_path / "decisions.json"
    DatasetCleaner(X, y, proba, decisions_path=path).delete(0)
    changed = y.copy()
    changed[4] = other_label(y[4])
    with pytest.raises(ValueError, match="holds decisions about other data.*pass another decisions_path"):
        DatasetCleaner(X, changed, proba, decisions_path=path)
    with pytest.raises(ValueError, match="other data"):
        DatasetCleaner(X[:-1], y[:-1], proba[:-1], decisions_path=path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="is not a decisions file"):
        DatasetCleaner(X, y, proba, decisions_path=path)


def test_long_texts_fold():
    assert "<details" not in folded_html("short <b>text</b>", fold_at=50)
    assert "&lt;b&gt;" in folded_html("short <b>text</b>", fold_at=50)
    folded = folded_html("word " * 100, fold_at=50)
    assert "<details" in folded and "show all 500 characters" in folded


# ---------------------------------------------------------------------- widget
def test_widget_acts_on_the_cleaner(data):
    pytest.importorskip("ipywidgets")
    X, y, proba, embeddings = data
    X = list(X)
    X[0] = "a long text " * 50
    cleaner = DatasetCleaner(X, y, proba, embeddings=embeddings)
    widget = cleaner.widget(page_size=5, fold_at=100)
    assert len(widget.rows) == 5 and widget.previous_button.disabled
    top = list(cleaner.page("top_losses", page_size=5).rows["position"])
    assert [row.position for row in widget.rows] == top

    widget.rows[0].delete_button.click()
    target = other_label(y[top[1]])
    widget.rows[1].relabel.value = target
    assert widget.rows[1].status.value.count(f"relabelled → {target}") == 1
    assert "1 deleted · 1 relabelled" in widget.summary.value

    widget.next_button.click()
    second = list(cleaner.page("top_losses", page=1, page_size=5).rows["position"])
    assert widget.page_number == 1 and [row.position for row in widget.rows] == second
    widget.rows[0].keep_button.click()

    widget.ranking.value = "most_unsure"
    widget.given.value = "sport"
    assert widget.page_number == 0
    assert all(y[row.position] == "sport" for row in widget.rows)
    decided = {top[0], top[1], second[0]}
    for row in widget.rows:  # decisions made in another ranking show here
        assert row.delete_button.button_style == ("danger" if row.position == top[0] else "")

    assert list(cleaner.changes()["position"]) == sorted(top[:2])
    assert set(cleaner.decisions) == decided

    widget.ranking.value = "top_losses"
    widget.given.value = None
    widget.page_size.value = 50
    folded = next(row for row in widget.rows if row.position == 0)
    assert "<details" in folded.text.value
    assert widget.rows[0].delete_button.button_style == "danger"


def test_widget_without_ipywidgets_names_the_extra(data, monkeypatch):
    X, y, proba, _ = data
    monkeypatch.setitem(sys.modules, "ipywidgets", None)
    with pytest.raises(ImportError, match=r"pip install 'sk_ulmfit\[widgets\]'"):
        DatasetCleaner(X, y, proba).widget()
