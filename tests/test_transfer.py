"""Starting a classifier from a fitted one: same, extra, fewer and different classes."""

import pickle
import warnings

import numpy as np
import pytest
import torch

from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit._nn.awd_lstm import classifier_encoder, output_layer

from .conftest import TINY

# Only the head trains, at a negligible rate: what the new model starts from stays visible.
FROZEN = ((1, 1, 1e-9),)


def _params(**overrides):
    params = {k: v for k, v in TINY.items() if k not in ("pretrained", "emb_size", "hidden_size", "n_layers")}
    return {**params, "random_state": 0, "language_model": None, "schedule": FROZEN, **overrides}


@pytest.fixture(scope="module")
def source(trec):
    X_train, y_train, _, _ = trec
    return ULMFiTClassifier(random_state=0, **TINY).fit(X_train, y_train)


def _rows(clf) -> dict:
    weight = output_layer(clf.directions_[0].network).weight.detach().cpu()
    return dict(zip(clf.classes_.tolist(), weight, strict=True))


def _encoder(clf) -> dict:
    return classifier_encoder(clf.directions_[0].network).state_dict()


def _assert_encoder_transferred(new, source):
    """Every token the source knew keeps its embedding row; LSTM weights are the source's."""
    old_vocab, new_vocab = source.directions_[0].vocab, new.directions_[0].vocab
    assert new_vocab.itos[: len(old_vocab)] == old_vocab.itos
    old, fresh = _encoder(source), _encoder(new)
    real = [i for i, token in enumerate(old_vocab.itos) if token != "xxfake"]  # fastai's padding rows
    for name, tensor in old.items():
        if name.endswith("encoder.weight") or name.endswith("emb.weight"):
            torch.testing.assert_close(fresh[name][real], tensor[real])
        else:
            torch.testing.assert_close(fresh[name], tensor)


def test_same_classes_start_from_the_whole_model(source, trec):
    X_train, y_train, X_test, _ = trec
    new = ULMFiTClassifier(pretrained=source, **_params()).fit(X_train, y_train)
    _assert_encoder_transferred(new, source)
    for label, row in _rows(source).items():
        torch.testing.assert_close(_rows(new)[label], row, atol=1e-6, rtol=0)
    agreement = np.mean(new.predict(X_test) == source.predict(X_test))
    assert agreement > 0.9


def test_saved_classifier_file_is_the_same_start(source, trec, tmp_path):
    X_train, y_train, X_test, _ = trec
    path = source.save(tmp_path / "source.pt")
    from_file = ULMFiTClassifier(pretrained=path, **_params()).fit(X_train, y_train)
    from_object = ULMFiTClassifier(pretrained=source, **_params()).fit(X_train, y_train)
    np.testing.assert_allclose(from_file.predict_proba(X_test), from_object.predict_proba(X_test), atol=1e-6)


def test_extra_classes_keep_the_old_rows_and_grow_new_ones(trec):
    X_train, y_train, _, _ = trec
    old = y_train != "LOC"
    source = ULMFiTClassifier(random_state=0, **TINY).fit(np.asarray(X_train)[old], y_train[old])
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*forgotten.*")
        new = ULMFiTClassifier(pretrained=source, **_params()).fit(X_train, y_train)
    assert "LOC" in new.classes_ and new.n_classes_ == source.n_classes_ + 1
    old_rows, new_rows = _rows(source), _rows(new)
    for label, row in old_rows.items():
        torch.testing.assert_close(new_rows[label], row, atol=1e-6, rtol=0)
    assert all(not torch.allclose(new_rows["LOC"], row) for row in old_rows.values())
    head = "1.layers.0.2.weight"  # the head's hidden layer is shared by all classes: kept
    torch.testing.assert_close(new.directions_[0].network.state_dict()[head].cpu(),
                               source.directions_[0].network.state_dict()[head].cpu(), atol=1e-6, rtol=0)


def test_different_classes_get_a_new_head_on_the_old_encoder(source, trec):
    X_train, y_train, _, _ = trec
    about_people = np.where(y_train == "HUM", "person", "other")
    new = ULMFiTClassifier(pretrained=source, **_params()).fit(X_train, about_people)
    assert list(new.classes_) == ["other", "person"]
    _assert_encoder_transferred(new, source)
    head = "1.layers.0.2.weight"
    assert not torch.allclose(new.directions_[0].network.state_dict()[head].cpu(),
                              source.directions_[0].network.state_dict()[head].cpu())


def test_other_pooling_keeps_the_encoder_and_starts_a_new_head(source, trec):
    X_train, y_train, X_test, _ = trec
    with pytest.warns(UserWarning, match="pooled pool_layers='last'.*set pool_layers='last' to keep the head"):
        new = ULMFiTClassifier(pretrained=source, **_params(pool_layers="all")).fit(X_train, y_train)
    _assert_encoder_transferred(new, source)
    width = (TINY["n_layers"] - 1) * TINY["hidden_size"] + TINY["emb_size"]
    assert new.transform(X_test[:3]).shape == (3, 3 * width)


def test_old_classes_missing_from_the_new_labels_are_warned_about(source, trec):
    X_train, y_train, _, _ = trec
    keep = np.isin(y_train, ["DESC", "ENTY", "HUM"])
    with pytest.warns(UserWarning, match=r"classes \['ABBR', 'LOC', 'NUM'\] are not in y.*forgotten"):
        new = ULMFiTClassifier(pretrained=source, **_params()).fit(np.asarray(X_train)[keep], y_train[keep])
    assert list(new.classes_) == ["DESC", "ENTY", "HUM"]
    for label in new.classes_:
        torch.testing.assert_close(_rows(new)[label], _rows(source)[label], atol=1e-6, rtol=0)


def test_new_tokens_start_from_the_mean_embedding(source, data_home):
    from sk_ulmfit.datasets import fetch_imdb_sample

    reviews = fetch_imdb_sample(data_home=data_home)
    X, y = list(reviews.data[:120]), np.asarray(reviews.target[:120])
    new = ULMFiTClassifier(pretrained=source, **_params()).fit(X, y)
    old_vocab, new_vocab = source.directions_[0].vocab, new.directions_[0].vocab
    assert len(new_vocab) > len(old_vocab)  # movie reviews bring words TREC questions lack
    embedding = _encoder(new)["encoder.weight"]
    mean = _encoder(source)["encoder.weight"].mean(0)
    new_tokens = [i for i in range(len(old_vocab), len(new_vocab)) if new_vocab.itos[i] != "xxfake"]
    assert new_tokens
    for row in embedding[new_tokens]:
        torch.testing.assert_close(row, mean)


def test_language_model_fine_tuning_before_transfer(source, trec):
    X_train, y_train, _, _ = trec
    new = ULMFiTClassifier(pretrained=source, **_params(language_model="auto")).fit(X_train, y_train)
    old, fresh = _encoder(source), _encoder(new)
    assert not torch.allclose(fresh["rnns.0.weight_hh_l0_raw"], old["rnns.0.weight_hh_l0_raw"])
    for label, row in _rows(source).items():  # the head still starts from the source's
        torch.testing.assert_close(_rows(new)[label], row, atol=1e-6, rtol=0)


def test_transfer_needs_the_reading_direction_and_a_fitted_source(source, trec):
    X_train, y_train, _, _ = trec
    with pytest.raises(ValueError, match=r"reads \['forward'\] only"):
        ULMFiTClassifier(pretrained=source, **_params(direction="backward")).fit(X_train, y_train)
    with pytest.raises(ValueError, match="unfitted ULMFiTClassifier"):
        ULMFiTClassifier(pretrained=ULMFiTClassifier(), **_params()).fit(X_train, y_train)


# ------------------------------------------------------------------- save / load
def test_save_load_round_trip_is_exact(source, trec, tmp_path):
    _, _, X_test, _ = trec
    loaded = ULMFiTClassifier.load(source.save(tmp_path / "clf.pt"))
    np.testing.assert_array_equal(loaded.predict_proba(X_test), source.predict_proba(X_test))
    np.testing.assert_array_equal(loaded.classes_, source.classes_)
    assert loaded.classes_.dtype == source.classes_.dtype
    assert loaded.history_ == source.history_
    assert loaded.get_params()["schedule"] == source.get_params()["schedule"]


def test_pooling_every_layer_saves_and_loads_and_old_files_pool_the_last(source, trec, tmp_path):
    from sk_ulmfit._io.persistence import read_payload, write_payload

    X_train, y_train, X_test, _ = trec
    every = ULMFiTClassifier(**{**TINY, "pool_layers": "all"}, random_state=0).fit(X_train[:200], y_train[:200])
    path = every.save(tmp_path / "all.pt")
    assert read_payload(path)["version"] == 2  # older versions refuse it clearly
    loaded = ULMFiTClassifier.load(path)
    assert loaded.get_params()["pool_layers"] == "all"
    np.testing.assert_array_equal(loaded.predict_proba(X_test), every.predict_proba(X_test))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(every)).transform(X_test[:5]), every.transform(X_test[:5]))
    # a file written before the parameter: no pool_layers in its params or configs
    payload = read_payload(source.save(tmp_path / "last.pt"))
    assert payload["version"] == 1 and "pool_layers" not in payload["directions"][0]["config"]
    del payload["params"]["pool_layers"]
    write_payload(tmp_path / "old.pt", payload)
    old = ULMFiTClassifier.load(tmp_path / "old.pt")
    assert old.get_params()["pool_layers"] == "last"
    np.testing.assert_array_equal(old.predict_proba(X_test), source.predict_proba(X_test))


@pytest.mark.parametrize("labels", [
    lambda y: (y == "HUM").astype(int),
    lambda y: np.asarray(y, dtype=object),
    lambda y: np.where(y == "HUM", 2.0, -1.0),
])
def test_saved_labels_keep_their_type(trec, tmp_path, labels):
    X_train, y_train, _, _ = trec
    y = labels(y_train)
    clf = ULMFiTClassifier(**_params(schedule=FROZEN)).fit(X_train[:100], y[:100])
    loaded = ULMFiTClassifier.load(clf.save(tmp_path / "clf.pt"))
    assert loaded.classes_.dtype == clf.classes_.dtype
    assert list(loaded.predict(X_train[:20])) == list(clf.predict(X_train[:20]))


def test_save_refuses_labels_it_cannot_store_safely(source, tmp_path):
    odd = pickle.loads(pickle.dumps(source))
    odd.classes_ = np.asarray([frozenset([label]) for label in source.classes_], dtype=object)
    with pytest.raises(TypeError, match="joblib.dump"):
        odd.save(tmp_path / "clf.pt")
    assert not (tmp_path / "clf.pt").exists()


def test_corrupt_or_foreign_files_fail_clearly(source, tmp_path):
    good = source.save(tmp_path / "clf.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        ULMFiTClassifier.load(tmp_path / "cut.pt")
    with pytest.raises(FileNotFoundError, match="no classifier file"):
        ULMFiTClassifier.load(tmp_path / "missing.pt")
    from sk_ulmfit._estimators.language_model import ULMFiTLanguageModel

    language_model = ULMFiTLanguageModel(epochs=1, emb_size=8, hidden_size=8, n_layers=1, min_freq=1)
    language_model.fit(["a small text", "another small text"]).save(tmp_path / "lm.pt")
    with pytest.raises(ValueError, match="not an sk_ulmfit classifier"):
        ULMFiTClassifier.load(tmp_path / "lm.pt")
    assert (tmp_path / "clf.pt").read_bytes() == good


def test_cross_validation_with_a_frozen_or_saved_source(source, trec, tmp_path):
    from sklearn.base import clone
    from sklearn.frozen import FrozenEstimator
    from sklearn.model_selection import cross_val_score

    X_train, y_train, _, _ = trec
    # clone() (used by every model-selection tool) unfits estimator parameters...
    with pytest.raises(ValueError, match="FrozenEstimator"):
        clone(ULMFiTClassifier(pretrained=source, **_params())).fit(X_train, y_train)
    # ...so a fitted source goes in frozen, or as a saved file.
    for start in (FrozenEstimator(source), str(source.save(tmp_path / "source.pt"))):
        scores = cross_val_score(ULMFiTClassifier(pretrained=start, **_params()), X_train, y_train, cv=2)
        assert scores.shape == (2,) and np.all(scores > 0)


def test_a_saved_classifier_is_read_once_for_both_directions(trec, tmp_path, monkeypatch):
    from sk_ulmfit._io import pretrained

    X_train, y_train, X_test, _ = trec
    both = ULMFiTClassifier(**{**TINY, "direction": "both"}, random_state=0).fit(X_train[:200], y_train[:200])
    path = both.save(tmp_path / "both.skulm")
    reads, original = [], pretrained.read_payload
    monkeypatch.setattr(pretrained, "read_payload",
                        lambda *args, **kwargs: reads.append(args[0]) or original(*args, **kwargs))
    new = ULMFiTClassifier(pretrained=str(path), **_params(direction="both")).fit(X_train[200:400], y_train[200:400])
    assert len(reads) == 1
    recurrent = "rnns.0.weight_hh_l0_raw"
    for index in range(2):  # each direction starts from its own encoder
        torch.testing.assert_close(classifier_encoder(new.directions_[index].network).state_dict()[recurrent],
                                   classifier_encoder(both.directions_[index].network).state_dict()[recurrent])
