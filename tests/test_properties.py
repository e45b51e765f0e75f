"""Generated inputs (Hypothesis): each works, or raises a ValueError/TypeError that says
what to change, and a failed fit never changes a model fitted before.

Texts are arbitrary unicode: lone surrogates, NUL, combining marks, right-to-left scripts,
emoji, whitespace only, empty, and long. Labels are of odd types and shapes.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sk_ulmfit import ULMFiTClassifier

# every code point, surrogates included
ANY_CHARACTER = st.characters(exclude_categories=())
TEXTS = st.one_of(
    st.text(ANY_CHARACTER, max_size=40),
    st.sampled_from(["", " ", "\t\n", "\x00", "e\u0301\u0301", "שלום עולם", "مرحبا", "👍🏽 ok", "\ud800",
                     "word " * 400]),
)
LABELS = st.one_of(st.integers(-3, 3), st.sampled_from(["a", "b", "ç"]), st.booleans(),
                   st.sampled_from([0.5, 1.5]), st.none(), st.lists(st.integers(0, 2), max_size=2))
FAST = {"pretrained": None, "direction": "forward",
        "emb_size": 4, "hidden_size": 8, "n_layers": 1, "batch_size": 4, "min_freq": 1,
        "bptt": 16, "max_len": 32, "schedule": (("all", 1, 1e-2),), "random_state": 0}
CASES = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def fitted():
    return ULMFiTClassifier(**FAST).fit(["good text", "bad text", "fine words", "poor words"], [1, 0, 1, 0])


def _explained(error: Exception) -> bool:
    """A ValueError/TypeError with a message of some length (not a bare numpy/torch error)."""
    return isinstance(error, (ValueError, TypeError)) and len(str(error)) > 20


@CASES
@given(texts=st.lists(TEXTS, min_size=1, max_size=6))
def test_any_texts_predict_or_are_refused_clearly(fitted, texts):
    try:
        proba = fitted.predict_proba(texts)
    except (ValueError, TypeError) as error:
        assert _explained(error), repr(error)
        assert any("\ud800" <= c <= "\udfff" for text in texts for c in text)  # the only text refused
        return
    assert proba.shape == (len(texts), 2) and np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert fitted.transform(texts).shape == (len(texts), 3 * FAST["emb_size"])


@CASES
@given(data=st.lists(st.tuples(TEXTS, LABELS), min_size=1, max_size=8))
def test_a_failed_fit_leaves_the_fitted_model_as_it_was(fitted, tmp_path_factory, data):
    texts, labels = [text for text, _ in data], [label for _, label in data]
    probe = ["good words", "poor text"]
    before = fitted.predict_proba(probe)
    clf = ULMFiTClassifier(**FAST).fit(["good text", "bad text", "fine words", "poor words"], [1, 0, 1, 0])
    try:
        clf.fit(texts, labels)
    except (ValueError, TypeError) as error:
        assert _explained(error), repr(error)
        np.testing.assert_array_equal(clf.predict_proba(probe), before)  # untouched by the failed fit
        return
    path = tmp_path_factory.mktemp("model") / "clf.pt"
    proba = clf.predict_proba(texts)
    assert proba.shape == (len(texts), len(clf.classes_))
    if all(isinstance(label, (str, int, float, bool)) for label in clf.classes_.tolist()):
        restored = ULMFiTClassifier.load(clf.save(path))
        np.testing.assert_array_equal(restored.predict_proba(texts), proba)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(documents=st.lists(TEXTS, max_size=8), kind=st.sampled_from(["jsonl", "txt"]),
       valid_permille=st.sampled_from(["0", "500", "999"]))
def test_the_pretraining_command_trains_or_says_what_is_wrong(tmp_path_factory, capsys, documents, kind,
                                                              valid_permille):
    """Any corpus: the command exits 0 with a loadable model, or 2 with an ``error:`` line."""
    import json

    from sk_ulmfit import ULMFiTLanguageModel
    from sk_ulmfit.pretrain import main

    folder = tmp_path_factory.mktemp("corpus")
    corpus = folder / f"docs-00.{kind}"
    if kind == "jsonl":
        corpus.write_text("".join(json.dumps({"text": d}) + "\n" for d in documents), encoding="utf-8")
    else:  # a lone surrogate cannot be written as UTF-8 text: it becomes "?"
        corpus.write_text("\n".join(documents), encoding="utf-8", errors="replace")
    capsys.readouterr()
    code = main([str(corpus), "--output", str(folder / "lm.pt"), "--checkpoint-dir", str(folder / "run"),
                 "--emb-size", "4", "--hidden-size", "8", "--n-layers", "1", "--batch-size", "2", "--bptt", "8",
                 "--min-freq", "1", "--max-tokens", "400", "--valid-permille", valid_permille, "--quiet"])
    err = capsys.readouterr().err
    event(f"exit {code}" + ("" if code == 0 else ": " + err.split(";")[0].split(":")[1][:40]))
    if code == 0:
        assert np.isfinite(ULMFiTLanguageModel.load(folder / "lm.pt").perplexity(["a few words"]))
    else:
        assert code == 2 and err.startswith("error: ") and len(err) > 30, err
