"""ULMFiTClassifier on real text: it learns, and it keeps scikit-learn's contract."""

import collections
import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import torch
from scipy import sparse
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import (
    GridSearchCV,
    cross_val_predict,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit._nn.awd_lstm import ClassifierConfig, build_classifier
from sk_ulmfit.datasets import fetch_ag_news, fetch_imdb_sample

from .conftest import TINY


@pytest.fixture(scope="module")
def fitted(trec):
    X_train, y_train, _, _ = trec
    return ULMFiTClassifier(random_state=0, validation_fraction=0.2, **TINY).fit(X_train, y_train)


def lowercase(texts):
    return [text.lower() for text in texts]


# ----------------------------------------------------------------- learning
def test_learns_trec_well_above_chance(data_home):
    from sk_ulmfit.datasets import fetch_trec

    X, y = fetch_trec("train", data_home=data_home, return_X_y=True)
    X_test, y_test = fetch_trec("test", data_home=data_home, return_X_y=True)
    clf = ULMFiTClassifier(pretrained=None, direction="forward", emb_size=32, hidden_size=64, n_layers=1,
                           drop_mult=0.1, schedule=(("all", 10, 3e-2),), random_state=0)
    clf.fit(X[:1000], y[:1000])
    majority = pd.Series(y_test).value_counts(normalize=True).max()
    assert majority < 0.3
    assert clf.score(X_test, y_test) > 0.6
    losses = [record["train_loss"] for record in clf.history_]
    assert losses[-1] < 0.75 * losses[0]


@pytest.mark.parametrize("lr_schedule", ["one_cycle", "slanted_triangular"])
def test_training_lowers_the_loss_with_either_rate_shape(trec, lr_schedule):
    X_train, y_train, _, _ = trec
    clf = ULMFiTClassifier(lr_schedule=lr_schedule, random_state=0,
                           **{**TINY, "schedule": (("all", 4, 2e-2),)}).fit(X_train, y_train)
    assert clf.history_[-1]["train_loss"] < clf.history_[0]["train_loss"]


# ------------------------------------------------------ fitted attributes
def test_fitted_attributes_and_history(fitted, trec):
    _, y_train, _, _ = trec
    assert list(fitted.classes_) == sorted(set(y_train))
    assert fitted.n_classes_ == 6
    assert [(r["direction"], r["stage"], r["epoch"], r["unfreeze"]) for r in fitted.history_] == [
        ("forward", 1, 1, 1), ("forward", 2, 1, 4), ("forward", 2, 2, 4)]
    for record in fitted.history_:
        assert record["train_loss"] > 0 and record["seconds"] > 0
        assert record["valid_loss"] > 0 and 0 <= record["valid_accuracy"] <= 1
    assert [d.direction for d in fitted.directions_] == ["forward"]
    assert len(fitted.directions_[0].vocab) > 100


def test_ulmfit_schedule_lengthens_the_last_stage_for_few_training_texts(trec):
    """100 texts are 4 batches of 32 an epoch, so the last stage runs 64 epochs (256 steps)
    instead of 8; gradual unfreezing is unchanged."""
    X_train, y_train, _, _ = trec
    clf = ULMFiTClassifier(**{**TINY, "schedule": "ulmfit"}, random_state=0).fit(X_train[:100], y_train[:100])
    epochs = collections.Counter((r["stage"], r["unfreeze"]) for r in clf.history_)
    assert epochs == {(1, 1): 1, (2, 2): 1, (3, 3): 1, (4, 4): 64}


def test_probabilities_follow_classes_order(fitted, trec):
    _, _, X_test, y_test = trec
    proba = fitted.predict_proba(X_test)
    assert proba.shape == (len(X_test), 6)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_array_equal(fitted.classes_[proba.argmax(axis=1)], fitted.predict(X_test))
    np.testing.assert_allclose(np.exp(fitted.predict_log_proba(X_test)), proba, rtol=1e-6)
    assert fitted.score(X_test, y_test) == pytest.approx(np.mean(fitted.predict(X_test) == y_test))


def test_predictions_come_back_in_input_order(fitted, trec):
    _, _, X_test, _ = trec
    permutation = np.random.default_rng(0).permutation(len(X_test))
    proba = fitted.predict_proba(X_test)
    shuffled = fitted.predict_proba([X_test[i] for i in permutation])
    np.testing.assert_allclose(shuffled, proba[permutation], atol=1e-6)


def test_accepts_list_array_and_series(fitted, trec):
    _, _, X_test, _ = trec
    expected = fitted.predict_proba(X_test)
    for X in (np.array(X_test, dtype=object), np.array(X_test), pd.Series(X_test, index=range(5, 205))):
        np.testing.assert_allclose(fitted.predict_proba(X), expected, atol=1e-6)


def test_integer_labels_stay_integers(trec):
    X_train, y_train, X_test, _ = trec
    codes = {label: code for code, label in enumerate(sorted(set(y_train)), start=10)}
    y_int = np.array([codes[label] for label in y_train])
    clf = ULMFiTClassifier(random_state=0, **TINY).fit(X_train, y_int)
    assert list(clf.classes_) == list(range(10, 16))
    assert set(clf.predict(X_test)) <= set(range(10, 16))


def test_empty_strings_are_valid_texts(trec):
    X_train, y_train, _, _ = trec
    X = list(X_train)
    X[:5] = [""] * 5
    clf = ULMFiTClassifier(random_state=0, **TINY).fit(X, y_train)
    assert clf.predict_proba(["", "What is the capital of France ?"]).shape == (2, 6)


def test_huge_document_is_read_in_chunks(fitted):
    words = np.random.default_rng(0).choice(["who", "what", "city", "year", "river"], size=60_000)
    proba = fitted.predict_proba([" ".join(words), "Who wrote Hamlet ?"])
    assert proba.shape == (2, 6) and np.isfinite(proba).all()


@pytest.mark.parametrize("drop_mult, expected", [(0.5, [0.2, 0.1]), (0.0, [])])  # fastai leaves out a dropout of 0
def test_drop_mult_scales_the_head_input_dropout_and_zero_turns_all_off(drop_mult, expected):
    """fastai's head: its input dropout (0.4) scales with ``drop_mult``, the one before the
    last layer stays 0.1; ``drop_mult=0`` leaves no dropout anywhere."""
    config = ClassifierConfig(vocab_size=50, n_classes=3, emb_size=8, hidden_size=16, n_layers=2,
                              drop_mult=drop_mult, bptt=8, max_len=64)
    network = build_classifier(config)
    head = [m.p for m in network[1].modules() if isinstance(m, torch.nn.Dropout)]
    assert head == pytest.approx(expected)
    if drop_mult == 0:
        encoder = network[0].module
        assert encoder.input_dp.p == encoder.hidden_dps[0].p == encoder.encoder_dp.embed_p == 0
        assert all(rnn.weight_p == 0 for rnn in encoder.rnns)


def test_same_seed_same_predictions_other_seed_differs(trec):
    X_train, y_train, X_test, _ = trec
    first = ULMFiTClassifier(random_state=3, **TINY).fit(X_train, y_train).predict_proba(X_test)
    again = ULMFiTClassifier(random_state=3, **TINY).fit(X_train, y_train).predict_proba(X_test)
    other = ULMFiTClassifier(random_state=4, **TINY).fit(X_train, y_train).predict_proba(X_test)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_fit_leaves_the_global_torch_seed_alone(trec):
    X_train, y_train, _, _ = trec
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ULMFiTClassifier(random_state=0, **TINY).fit(X_train[:100], y_train[:100])
    torch.testing.assert_close(torch.rand(3), expected)


def test_verbose_prints_a_line_per_epoch(trec, capsys):
    X_train, y_train, _, _ = trec
    ULMFiTClassifier(random_state=0, **TINY).fit(X_train[:100], y_train[:100])
    assert capsys.readouterr().out == ""
    ULMFiTClassifier(random_state=0, verbose=1, **TINY).fit(X_train[:100], y_train[:100])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("training the classifier")]
    assert len(lines) == 3 and "train_loss=" in lines[0]
    assert lines[0].startswith("training the classifier (forward): stage 1/2 epoch 1/1")
    assert all(line.endswith(" left") for line in lines) and lines[-1].endswith("; about 0 s left")


def test_verbose_counts_the_other_direction_in_the_time_left(trec, capsys, monkeypatch):
    """While the forward network trains, the time left includes a whole backward run."""
    from sk_ulmfit._train import loop as _training

    runs_after, clock = [], _training._Clock

    def recording_clock(stages, runs):
        runs_after.append(runs)
        return clock(stages, runs)

    monkeypatch.setattr(_training, "_Clock", recording_clock)
    X_train, y_train, _, _ = trec
    ULMFiTClassifier(random_state=0, verbose=1, **{**TINY, "direction": "both"}).fit(X_train[:100], y_train[:100])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("training the classifier")]
    assert len(lines) == 6 and all(line.endswith(" left") for line in lines)
    assert [line.split(":")[0] for line in lines] == ["training the classifier (forward)"] * 3 + \
        ["training the classifier (backward)"] * 3
    assert runs_after[-2:] == [1, 0]  # forward, then backward (stage 2's language models: 0 each)


def test_auto_batch_size_follows_the_number_of_training_texts(data_home):
    """batch_size="auto" (the default): 16 texts a batch for a small set, larger batches for
    thousands of texts with rates scaled by sqrt(batch / 16), recorded in history_ with the
    optimiser steps each epoch took; an integer batch keeps the schedule's rates."""
    from sk_ulmfit._train.schedule import auto_batch_size
    from sk_ulmfit.datasets import fetch_trec

    assert ULMFiTClassifier().batch_size == "auto"
    X, y = fetch_trec("train", data_home=data_home, return_X_y=True)
    params = {key: value for key, value in TINY.items() if key != "batch_size"}
    for n, batch_size in ((300, "auto"), (3000, "auto"), (3000, 24)):
        clf = ULMFiTClassifier(random_state=0, **{**params, "schedule": ((1, 1, 2e-2),)})
        if batch_size != "auto":
            clf.set_params(batch_size=batch_size)
        clf.fit(X[:n], y[:n])
        (record,) = clf.history_
        assert record["batch_size"] == auto_batch_size(n) == (16 if n == 300 else 24)
        assert record["steps"] == -(-n // record["batch_size"])
        scaled = batch_size == "auto" and n == 3000
        assert record["lr"] == pytest.approx(2e-2 * (1.5**0.5 if scaled else 1.0))


# ----------------------------------------------------- scikit-learn contract
def test_params_round_trip_through_clone(fitted):
    params = fitted.get_params()
    twin = clone(fitted)
    assert twin.get_params() == params
    assert not hasattr(twin, "directions_")
    twin.set_params(schedule=((1, 2, 1e-2),), emb_size=8)
    assert twin.schedule == ((1, 2, 1e-2),) and twin.emb_size == 8


def test_in_a_pipeline(trec):
    X_train, y_train, X_test, y_test = trec
    pipe = Pipeline([("lower", FunctionTransformer(lowercase)),
                     ("clf", ULMFiTClassifier(random_state=0, **TINY))])
    pipe.set_params(clf__batch_size=16)
    pipe.fit(X_train, y_train)
    assert pipe.predict_proba(X_test).shape == (len(X_test), 6)
    assert 0 <= pipe.score(X_test, y_test) <= 1


def test_grid_search_over_the_schedule(trec):
    X_train, y_train, _, _ = trec
    candidates = [((1, 1, 2e-2), ("all", 1, 1e-2)), (("all", 2, 1e-2),)]
    search = GridSearchCV(ULMFiTClassifier(random_state=0, **TINY),
                          {"schedule": candidates, "lr_schedule": ["one_cycle", "slanted_triangular"]},
                          cv=2)
    search.fit(X_train[:300], y_train[:300])
    assert search.best_params_["schedule"] in candidates
    assert len(search.cv_results_["mean_test_score"]) == 4
    assert search.best_estimator_.schedule == search.best_params_["schedule"]


def test_cross_validation(trec):
    X_train, y_train, _, _ = trec
    X, y = X_train[:300], y_train[:300]
    scores = cross_val_score(ULMFiTClassifier(random_state=0, **TINY), X, y, cv=3)
    assert scores.shape == (3,) and ((0 <= scores) & (scores <= 1)).all()
    proba = cross_val_predict(ULMFiTClassifier(random_state=0, **TINY), X, y, cv=3,
                              method="predict_proba")
    assert proba.shape == (300, 6)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)


@pytest.mark.parametrize("dataset", ["ag_news", "imdb_sample"])
def test_contract_on_other_real_datasets(dataset, data_home):
    if dataset == "ag_news":
        X, y = fetch_ag_news(data_home=data_home, return_X_y=True)
    else:
        X, y = fetch_imdb_sample("all", data_home=data_home, return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, train_size=300, test_size=100, stratify=y, random_state=0)
    clf = ULMFiTClassifier(random_state=0, **TINY).fit(pd.Series(X_train), y_train)
    proba = clf.predict_proba(X_test)
    assert proba.shape == (100, len(set(y)))
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
    assert set(clf.predict(X_test)) <= set(y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X_test), proba)


# -------------------------------------------------------------- persistence
def test_pickle_round_trip_is_exact(fitted, trec):
    _, _, X_test, _ = trec
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(X_test), fitted.predict_proba(X_test))
    assert restored.get_params() == fitted.get_params()
    assert restored.history_ == fitted.history_


def test_joblib_round_trip_is_exact(fitted, trec, tmp_path):
    _, _, X_test, _ = trec
    joblib.dump(fitted, tmp_path / "model.joblib")
    restored = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(restored.predict_proba(X_test), fitted.predict_proba(X_test))


def test_unfitted_estimator_pickles(trec):
    restored = pickle.loads(pickle.dumps(ULMFiTClassifier(**TINY)))
    assert restored.get_params() == ULMFiTClassifier(**TINY).get_params()


def test_model_trained_on_gpu_loads_on_cpu_only_machine(fitted, trec, monkeypatch):
    _, _, X_test, _ = trec
    gpu_trained = pickle.loads(pickle.dumps(fitted))
    gpu_trained.device_ = torch.device("cuda", 0)  # as recorded by a fit on a GPU
    payload = pickle.dumps(gpu_trained)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.warns(UserWarning, match="trained on a GPU"):
        restored = pickle.loads(payload)
    assert restored.device_ == torch.device("cpu")
    np.testing.assert_array_equal(restored.predict_proba(X_test), fitted.predict_proba(X_test))


def test_pickle_holds_no_gpu_tensors_or_fastai_classes(fitted):
    payload = pickle.dumps(fitted)
    assert b"fastai.text.models" not in payload
    assert len(payload) < 2_000_000


def test_corrupt_weights_in_a_pickle_fail_with_a_clear_error(fitted):
    state = fitted.__getstate__()
    saved = state["directions_"][0]
    truncated = {name: tensor[: len(tensor) // 2] if tensor.ndim else tensor
                 for name, tensor in saved["weights"].items()}
    state["directions_"] = [{**saved, "weights": truncated}]
    with pytest.raises(ValueError, match="weights are corrupt"):
        ULMFiTClassifier.__new__(ULMFiTClassifier).__setstate__(state)
    assert fitted.predict_proba(["still works ?"]).shape == (1, 6)  # the original is untouched


# ---------------------------------------------------------------- bad input
BAD_FITS = [
    (["a", 3, "c"], ["x", "y", "x"], TypeError, r"X\[1\] is a int"),
    (["a", None, "c"], ["x", "y", "x"], ValueError, r"X\[1\] is missing"),
    (["a", float("nan"), "c"], ["x", "y", "x"], ValueError, r"X\[1\] is missing"),
    (["a", "b", "c"], ["x", None, "x"], ValueError, "missing labels"),
    (["a", "b", "c"], [1.0, np.nan, 2.0], ValueError, "missing labels"),
    ([], [], ValueError, "empty"),
    (["a", "b"], ["x", "x"], ValueError, "y has one class"),
    (["a", "b", "c"], ["x", "y"], ValueError, "different lengths"),
    (np.array([["a", "b"], ["c", "d"]]), ["x", "y"], ValueError, "1-D"),
    (pd.DataFrame({"text": ["a", "b"]}), ["x", "y"], ValueError, "text column"),
    ("a single string", ["x"], ValueError, "single string"),
    (["a", "b"], np.array([["x", "y"], ["y", "x"]]), ValueError, "y must be 1-D"),
    (["a", "b", "c"], None, ValueError, "requires y to be passed, but the target y is None"),
    (["a", "b", "c"], [["x", "y"], ["y"], ["x"]], ValueError, r"y\[0\] is a list .* one label per text"),
    (sparse.csr_matrix(np.eye(3)), ["x", "y", "x"], TypeError, "sparse matrix .* raw texts"),
    ((text for text in ["a", "b", "c"]), ["x", "y", "x"], TypeError, r"iterator .* list\(X\)"),
    (["a", "b \ud800 c", "d"], ["x", "y", "x"], ValueError, r"X\[1\] holds a lone surrogate"),
    (["a", "b", "c"], ["x", 1, "y"], ValueError, "one sortable type"),
    (["a", "b", "c"], [0.5, 1.5, 2.25], ValueError, "continuous"),
]


@pytest.mark.parametrize("X, y, error, message", BAD_FITS)
def test_bad_input_to_fit_says_what_is_wrong(X, y, error, message):
    with pytest.raises(error, match=message):
        ULMFiTClassifier(**TINY).fit(X, y)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"schedule": ((9, 1, 1e-2),)}, "layer groups"),
        ({"lr_schedule": "cosine"}, "lr_schedule"),
        ({"batch_size": 1}, "batch_size"),
        ({"batch_size": "large"}, "batch_size must be 'auto' or a number"),
        ({"n_jobs": "two"}, "n_jobs must be an instance of int"),
        ({"n_jobs": 0}, "n_jobs=0 has no meaning"),
        ({"random_state": "seed"}, "cannot be used to seed"),
        ({"predict_precision": "fp8"}, "predict_precision must be one of"),
        ({"pool_layers": "top"}, "pool_layers must be one of"),
        ({"validation_fraction": 1.5}, "validation_fraction"),
        ({"device": "tpu"}, "device"),
        ({"pretrained": "no-such-model"}, "not understood"),
        ({"direction": "sideways"}, "direction"),
        ({"language_model": "yes"}, "language_model must be"),
        ({"emb_size": 0}, "emb_size"),
        ({"lr_decay": 0}, "lr_decay"),
    ],
)
def test_bad_parameters_fail_at_fit(trec, params, message):
    X_train, y_train, _, _ = trec
    clf = ULMFiTClassifier(**{**TINY, **params})  # construction never fails
    with pytest.raises((ValueError, TypeError), match=message):
        clf.fit(X_train[:50], y_train[:50])


def test_a_column_vector_y_warns_and_is_raveled(trec):
    from sklearn.exceptions import DataConversionWarning

    X_train, y_train, X_test, _ = trec
    flat = ULMFiTClassifier(**TINY, random_state=0).fit(X_train[:100], y_train[:100])
    with pytest.warns(DataConversionWarning, match="column-vector y"):
        column = ULMFiTClassifier(**TINY, random_state=0).fit(X_train[:100], y_train[:100].reshape(-1, 1))
    np.testing.assert_array_equal(column.predict_proba(X_test[:20]), flat.predict_proba(X_test[:20]))


def test_the_transformer_tag_tells_the_output_dtype_truthfully(fitted, trec):
    assert fitted.__sklearn_tags__().transformer_tags.preserves_dtype == []  # text in, float32 out
    assert fitted.transform(trec[2][:3]).dtype == np.float32


def test_language_model_parameters_follow_the_same_table():
    from sk_ulmfit import ULMFiTLanguageModel

    for params, message in (({"batch_size": 1}, "batch_size == 1, must be >= 2"), ({"n_jobs": "two"}, "n_jobs"),
                            ({"direction": "both"}, "direction must be one of")):
        with pytest.raises((ValueError, TypeError), match=message):
            ULMFiTLanguageModel(**params).fit(["a b c d"] * 4)


def test_predict_before_fit():
    with pytest.raises(NotFittedError):
        ULMFiTClassifier().predict(["text"])


def test_bad_input_to_predict(fitted):
    with pytest.raises(ValueError, match="single string"):
        fitted.predict("What is love ?")
    with pytest.raises(ValueError, match="empty"):
        fitted.predict_proba([])
    with pytest.raises(TypeError, match=r"X\[0\]"):
        fitted.predict([b"bytes"])


def test_failed_refit_keeps_the_trained_model(fitted, trec):
    _, _, X_test, _ = trec
    model = pickle.loads(pickle.dumps(fitted))
    before = model.predict_proba(X_test)
    with pytest.raises(ValueError):
        model.set_params(schedule=((9, 1, 1e-2),)).fit(["a", "b", "c"], ["x", "y", "x"])
    with pytest.raises(ValueError):
        model.fit(["a", "b"], ["x", "x"])
    np.testing.assert_array_equal(model.predict_proba(X_test), before)


def test_unseen_labels_only_lower_the_score(fitted, trec):
    _, _, X_test, y_test = trec
    y_other = np.array(y_test, dtype=object)
    y_other[:10] = "NEVER_SEEN"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert fitted.score(X_test, y_other) <= fitted.score(X_test, y_test)


def test_same_seed_same_model_when_fits_run_in_threads(trec):
    from concurrent.futures import ThreadPoolExecutor

    X_train, y_train, X_test, _ = trec
    params = {**TINY, "random_state": 0, "validation_fraction": 0.2}
    sequential = ULMFiTClassifier(**params).fit(X_train[:200], y_train[:200]).predict_proba(X_test[:50])
    with ThreadPoolExecutor(2) as pool:
        fits = list(pool.map(lambda _: ULMFiTClassifier(**params).fit(X_train[:200], y_train[:200]), range(2)))
    for clf in fits:
        np.testing.assert_array_equal(clf.predict_proba(X_test[:50]), sequential)


# ------------------------------------------------------------------ weights
def _share_predicted(clf, X, label) -> float:
    """Mean predicted probability of ``label``."""
    return float(clf.predict_proba(X)[:, list(clf.classes_).index(label)].mean())


def test_class_and_sample_weights_move_predictions_toward_the_weighted_class(trec):
    X_train, y_train, X_test, _ = trec
    X, y = X_train[:200], y_train[:200]
    params = {**TINY, "random_state": 0}
    plain = ULMFiTClassifier(**params).fit(X, y)
    rare = "ABBR" if "ABBR" in set(y) else sorted(set(y), key=list(y).count)[0]
    weighted = ULMFiTClassifier(**params, class_weight={rare: 20.0}).fit(X, y)
    assert _share_predicted(weighted, X_test, rare) > _share_predicted(plain, X_test, rare)
    by_sample = ULMFiTClassifier(**params).fit(X, y, sample_weight=np.where(y == rare, 20.0, 1.0))
    np.testing.assert_allclose(by_sample.predict_proba(X_test), weighted.predict_proba(X_test), atol=1e-5)
    balanced = ULMFiTClassifier(**params, class_weight="balanced").fit(X, y)
    assert _share_predicted(balanced, X_test, rare) > _share_predicted(plain, X_test, rare)
    doubled = ULMFiTClassifier(**params).fit(X, y, sample_weight=np.full(len(y), 2.0))  # only ratios count
    np.testing.assert_allclose(doubled.predict_proba(X_test), plain.predict_proba(X_test), atol=1e-5)


def test_sample_weight_reaches_fit_through_searches_and_metadata_routing(trec):
    from sklearn import config_context
    from sklearn.model_selection import GridSearchCV, cross_val_score

    X_train, y_train, _, _ = trec
    X, y, w = X_train[:120], y_train[:120], np.linspace(0.5, 2.0, 120)
    search = GridSearchCV(ULMFiTClassifier(**TINY, random_state=0), {"lr_decay": [2.6]}, cv=2)
    assert search.fit(X, y, sample_weight=w).best_estimator_.n_classes_ == len(set(y))
    with config_context(enable_metadata_routing=True):
        clf = ULMFiTClassifier(**TINY, random_state=0).set_fit_request(sample_weight=True)
        clf.set_score_request(sample_weight=False)
        scores = cross_val_score(clf, X, y, cv=2, params={"sample_weight": w})
    assert scores.shape == (2,)


@pytest.mark.parametrize("sample_weight, class_weight, message", [
    (-np.ones(3), None, "Negative values"),
    (np.zeros(3), None, "at least one non-zero"),
    (None, {"x": 0.0, "y": 0.0}, "sums to 0"),
    (np.ones(2), None, "sample_weight.shape"),
    (None, "heavy", "class_weight must be"),
])
def test_bad_weights_say_what_is_wrong(sample_weight, class_weight, message):
    with pytest.raises(ValueError, match=message):
        ULMFiTClassifier(**TINY, class_weight=class_weight).fit(["a b", "c d", "e f"], ["x", "y", "x"],
                                                                 sample_weight=sample_weight)
