"""ULMFiTClassifier started from language models: alignment, stage 2, caching, directions."""

import pickle
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV

from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit._estimators import stage2 as lm_cache
from sk_ulmfit._estimators.language_model import ULMFiTLanguageModel
from sk_ulmfit._io.pretrained import SHIPPED, _shipped_path
from sk_ulmfit._nn.awd_lstm import (
    ClassifierConfig,
    build_classifier,
    classifier_encoder,
    compact_config,
    compact_encoder_weights,
    encoder_part,
    load_encoder,
    renumber,
    used_rows,
    widen_vocabulary,
)
from sk_ulmfit._text import tokenizer as text
from sk_ulmfit._text.tokenizer import tokenize

from .conftest import TINY, TINY_LM

HEAD_ONLY = ((1, 2, 2e-2),)


def _params(**overrides):
    params = {k: v for k, v in TINY.items() if k not in ("pretrained", "emb_size", "hidden_size", "n_layers")}
    return {**params, "random_state": 0, **overrides}


def test_encoder_starts_from_the_language_model(tiny_pretrained, trec):
    X_train, y_train, _, _ = trec
    clf = ULMFiTClassifier(pretrained=tiny_pretrained, language_model=None,
                           **_params(schedule=HEAD_ONLY)).fit(X_train, y_train)
    trained = clf.directions_[0]
    assert trained.config.emb_size == tiny_pretrained.config_.emb_size
    assert trained.config.n_layers == tiny_pretrained.config_.n_layers
    # Only the head trained, so every encoder weight is still the language model's.
    expected = tiny_pretrained.aligned_weights(trained.vocab)
    for name, tensor in trained.network[0].module.state_dict().items():
        torch.testing.assert_close(tensor.cpu(), expected["0." + name])
    # Tokens the language model knows stay in the vocabulary, however rare in TREC.
    known = [t for t in tiny_pretrained.vocab_.itos if t != "xxfake"]
    assert trained.vocab.itos[: len(known)] == known


def test_only_the_embedding_rows_of_the_training_tokens_train(tiny_pretrained, trec):
    X_train, y_train, _, _ = trec
    clf = ULMFiTClassifier(pretrained=tiny_pretrained, language_model=None,
                           **_params(schedule=(("all", 1, 1e-2),))).fit(X_train, y_train)
    trained = clf.directions_[0]
    embedding = classifier_encoder(trained.network).encoder.weight.detach().cpu()
    assert embedding.shape[0] == len(trained.vocab) == trained.config.vocab_size
    assert classifier_encoder(trained.network).encoder_dp.emb.weight is classifier_encoder(trained.network).encoder.weight
    start = encoder_part(tiny_pretrained.aligned_weights(trained.vocab))["encoder.weight"]
    used = used_rows([trained.vocab.numericalize(t) for t in tokenize(list(X_train))])
    unused = np.setdiff1d(np.arange(len(trained.vocab)), used)
    assert len(unused) > 0 and len(used) > 100
    torch.testing.assert_close(embedding[unused], start[unused], atol=0, rtol=0)
    changed = (embedding[used] - start[used]).abs().amax(dim=1) > 0
    assert changed.float().mean() > 0.9


def test_compact_embedding_round_trip_is_exact(tiny_pretrained):
    vocab = tiny_pretrained.vocab_
    config = ClassifierConfig(vocab_size=len(vocab), n_classes=3, emb_size=tiny_pretrained.config_.emb_size,
                              hidden_size=tiny_pretrained.config_.hidden_size,
                              n_layers=tiny_pretrained.config_.n_layers, drop_mult=0.5, bptt=72, max_len=1440)
    weights = encoder_part(tiny_pretrained.aligned_weights(vocab))
    sequences = [np.array([5, 9, 9, 40]), np.array([len(vocab) - 1, 3])]
    rows = used_rows(sequences)
    assert rows.tolist() == [0, 1, 3, 5, 9, 40, len(vocab) - 1]
    assert [s.tolist() for s in renumber(sequences, rows, len(vocab))] == [[3, 4, 4, 5], [6, 2]]
    torch.manual_seed(0)
    compact = build_classifier(compact_config(config, rows))
    load_encoder(compact, compact_encoder_weights(weights, rows))
    full = widen_vocabulary(compact, config, rows, weights["encoder.weight"])
    for name, tensor in classifier_encoder(full).state_dict().items():
        torch.testing.assert_close(tensor, weights[name], atol=0, rtol=0)
    for name, tensor in full[1].state_dict().items():
        torch.testing.assert_close(tensor, compact[1].state_dict()[name], atol=0, rtol=0)


def test_stage_two_runs_once_per_training_set(tiny_pretrained, trec, monkeypatch):
    X_train, y_train, _, _ = trec
    lm_cache.clear()
    calls = []
    original = ULMFiTLanguageModel._fit_from

    def counting_fit(self, start, texts):
        calls.append(len(texts))
        return original(self, start, texts)

    monkeypatch.setattr(ULMFiTLanguageModel, "_fit_from", counting_fit)
    for schedule in (HEAD_ONLY, (("all", 1, 1e-2),)):
        ULMFiTClassifier(pretrained=tiny_pretrained, language_model="auto", **_params(schedule=schedule)).fit(
            X_train[:200], y_train[:200])
    assert calls == [200]
    extra = ULMFiTLanguageModel(extra_texts=X_train[200:300], drop_mult=0.3)
    ULMFiTClassifier(pretrained=tiny_pretrained, language_model=extra, **_params()).fit(X_train[:200], y_train[:200])
    assert calls == [200, 200]  # other settings: fine-tuned again, on labelled + unlabelled


@pytest.mark.filterwarnings("ignore:The least populated class")
def test_stage_two_is_a_nested_estimator(tiny_pretrained, trec, monkeypatch):
    X_train, y_train, _, _ = trec
    unlabelled = list(X_train[200:400])  # as many as the labelled texts: a fit argument would be sliced per fold
    clf = ULMFiTClassifier(pretrained=FrozenEstimator(tiny_pretrained),
                           language_model=ULMFiTLanguageModel(epochs=1, extra_texts=unlabelled),
                           **_params(schedule=HEAD_ONLY))
    assert clf.get_params()["language_model__epochs"] == 1
    assert clone(clf).language_model is not clf.language_model  # cloned, never shared
    seen, original = [], ULMFiTLanguageModel._fit_from

    def recording_fit(self, start, texts):
        seen.append((self.epochs, self.lr_schedule, len(texts) + len(self._extra_texts())))
        return original(self, start, texts)

    monkeypatch.setattr(ULMFiTLanguageModel, "_fit_from", recording_fit)
    lm_cache.clear()
    search = GridSearchCV(clf, {"language_model__epochs": [1, 2],
                                "language_model__lr_schedule": ["slanted_triangular"]}, cv=2, refit=False)
    search.fit(X_train[:200], y_train[:200])
    assert sorted(seen) == [(1, "slanted_triangular", 100 + 200)] * 2 + [(2, "slanted_triangular", 100 + 200)] * 2
    assert clf.language_model.epochs == 1 and clf.language_model.lr_schedule == "one_cycle"  # untouched


def test_unlabeled_texts_extend_the_vocabulary_and_stay_out_of_the_file(tiny_pretrained, trec, tmp_path):
    X_train, y_train, _, _ = trec
    marker = "zyzzogeton"
    extra = [f"The {marker} is a word of unlabelled text ."] * 5
    stage2 = ULMFiTLanguageModel(extra_texts=extra, drop_mult=0.3)
    clf = ULMFiTClassifier(pretrained=tiny_pretrained, language_model=stage2, **_params(schedule=HEAD_ONLY))
    clf.fit(X_train[:100], y_train[:100])
    assert marker in clf.directions_[0].vocab.stoi
    clf.save(tmp_path / "clf.pt")  # settings, not data: a corpus of unlabelled texts would be saved with it
    assert extra[0].encode() not in (tmp_path / "clf.pt").read_bytes()
    assert ULMFiTClassifier.load(tmp_path / "clf.pt").predict(X_train[:5]).shape == (5,)


def test_both_directions_average_their_probabilities(tiny_pretrained, wiki_articles, trec, tmp_path):
    X_train, y_train, X_test, _ = trec
    backward = ULMFiTLanguageModel(direction="backward", epochs=1, lr=1e-2, random_state=0,
                                   emb_size=16, hidden_size=32, n_layers=2, batch_size=16,
                                   min_freq=2).fit(wiki_articles[:20])
    tiny_pretrained.save(tmp_path / "fwd.pt")
    backward.save(tmp_path / "bwd.pt")
    clf = ULMFiTClassifier(pretrained=tiny_pretrained, language_model=None, **_params(direction="both"))
    with pytest.raises(ValueError, match="forward language model but a backward one"):
        clf.fit(X_train, y_train)  # one forward model cannot serve both directions

    clf.set_params(pretrained={"forward": str(tmp_path / "fwd.pt"), "backward": str(tmp_path / "bwd.pt")})
    clf.fit(X_train, y_train)
    assert [d.direction for d in clf.directions_] == ["forward", "backward"]
    assert {r["direction"] for r in clf.history_} == {"forward", "backward"}
    proba = clf.predict_proba(X_test)
    tokens = text.tokenize(X_test)
    each = [torch.softmax(torch.from_numpy(clf._logits(index, tokens)).double(), 1).numpy()
            for index in range(2)]
    np.testing.assert_allclose(proba, (each[0] + each[1]) / 2, rtol=1e-9)
    assert not np.allclose(each[0], each[1])
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X_test), proba)


def test_one_language_model_per_direction(tiny_pretrained, wiki_articles, trec, tmp_path):
    X_train, y_train, _, _ = trec
    backward = ULMFiTLanguageModel(direction="backward", epochs=1, lr=1e-2, random_state=0,
                                   **TINY_LM).fit(wiki_articles[:20])
    pair = {"forward": tiny_pretrained, "backward": str(backward.save(tmp_path / "bwd.pt"))}
    clf = ULMFiTClassifier(pretrained=pair, language_model=None, **_params(direction="both", schedule=HEAD_ONLY))
    clf.fit(X_train[:200], y_train[:200])
    assert clone(clf).get_params()["pretrained"].keys() == pair.keys()
    # each direction's encoder is its own language model's (frozen: the head alone trained)
    for trained, language_model in zip(clf.directions_, (tiny_pretrained, backward)):
        expected = language_model.aligned_weights(trained.vocab)
        rnn_weights = {name: tensor for name, tensor in trained.network[0].module.state_dict().items()
                       if "rnns" in name}
        assert rnn_weights
        for name, tensor in rnn_weights.items():
            torch.testing.assert_close(tensor.cpu(), expected["0." + name])
    # stage 2 fine-tunes each direction from its own model
    staged = ULMFiTClassifier(pretrained=pair, **_params(direction="both", schedule=HEAD_ONLY))
    staged.fit(X_train[:100], y_train[:100])
    assert [trained.direction for trained in staged.directions_] == ["forward", "backward"]
    # one direction of the pair is enough for a one-way classifier
    one_way = ULMFiTClassifier(pretrained={"backward": pair["backward"]}, language_model=None,
                               **_params(direction="backward", schedule=HEAD_ONLY)).fit(X_train[:100], y_train[:100])
    assert [trained.direction for trained in one_way.directions_] == ["backward"]


@pytest.mark.parametrize("pretrained, message", [
    ({"forward": "english"}, "pretrained has no 'backward' model: add one under that key, or set direction='forward'"),
    ({"forward": "english", "backwards": "english"},
     "keys are reading directions, 'forward' and 'backward'; got 'backwards'"),
    ({"forward": "english", "backward": None}, r"pretrained\['backward'\] should name one model"),
    ({}, "pretrained has no 'forward' model: add one under that key$"),
])
def test_a_bad_pair_of_language_models_says_how_to_fix_it(pretrained, message, trec):
    X_train, y_train, _, _ = trec
    with pytest.raises(ValueError, match=message):
        ULMFiTClassifier(pretrained=pretrained, **_params(direction="both")).fit(X_train[:50], y_train[:50])


def test_a_language_model_of_the_other_direction_is_refused(tiny_pretrained, trec):
    X_train, y_train, _, _ = trec
    clf = ULMFiTClassifier(pretrained={"forward": "english", "backward": tiny_pretrained}, language_model=None,
                           **_params(direction="both"))
    with pytest.raises(ValueError, match=r"forward language model but a backward one is needed: give one per "
                                         r"direction, pretrained=\{'forward': \.\.\., 'backward': \.\.\.\}"):
        clf.fit(X_train[:50], y_train[:50])


def test_pretrained_from_a_saved_file(tiny_pretrained, trec, tmp_path):
    X_train, y_train, X_test, _ = trec
    path = tiny_pretrained.save(tmp_path / "lm.pt")
    from_file = ULMFiTClassifier(pretrained=str(path), language_model=None, **_params()).fit(X_train, y_train)
    from_object = ULMFiTClassifier(pretrained=tiny_pretrained, language_model=None, **_params()).fit(X_train, y_train)
    np.testing.assert_allclose(from_file.predict_proba(X_test), from_object.predict_proba(X_test), atol=1e-6)


def test_unfitted_language_model_is_refused(trec):
    X_train, y_train, _, _ = trec
    with pytest.raises(ValueError, match="unfitted"):
        ULMFiTClassifier(pretrained=ULMFiTLanguageModel(), **_params()).fit(X_train, y_train)


def test_stage_two_settings_that_cannot_apply_are_refused_or_warned(tiny_pretrained, trec):
    X_train, y_train, _, _ = trec
    with pytest.raises(ValueError, match="but pretrained=None"):
        ULMFiTClassifier(pretrained=None, language_model=ULMFiTLanguageModel(extra_texts=["more text"]),
                         **_params()).fit(X_train[:50], y_train[:50])
    with pytest.raises(ValueError, match="leave language_model's pretrained as None"):
        ULMFiTClassifier(pretrained=tiny_pretrained, language_model=ULMFiTLanguageModel(pretrained="english"),
                         **_params()).fit(X_train[:50], y_train[:50])
    with pytest.warns(UserWarning, match=r"hidden_size=7 not used: a pretrained encoder brings its own size") as caught:
        ULMFiTClassifier(pretrained=tiny_pretrained, hidden_size=7, language_model=None,
                         **_params(schedule=HEAD_ONLY)).fit(X_train[:50], y_train[:50])
    with pytest.warns(UserWarning, match=r"emb_size=8, n_layers=1 not used: a pretrained model"):
        ULMFiTClassifier(pretrained=tiny_pretrained, language_model=ULMFiTLanguageModel(emb_size=8, n_layers=1),
                         **_params(schedule=HEAD_ONLY)).fit(X_train[:50], y_train[:50])
    assert caught[0].filename == __file__  # the warning points at the user's fit call
    with pytest.warns(UserWarning, match=r"emb_size=8 not used") as caught_lm:
        ULMFiTLanguageModel(pretrained=tiny_pretrained, emb_size=8, epochs=1, batch_size=4, bptt=8).fit(X_train[:20])
    assert caught_lm[0].filename == __file__
    with pytest.raises(ValueError, match="not understood"):  # a bad name is an error, with no warning first
        ULMFiTClassifier(pretrained="no-such-model", hidden_size=7).fit(X_train[:50], y_train[:50])


def test_default_starts_from_the_shipped_model(trec, wiki_articles):
    from sk_ulmfit import available_models

    assert ULMFiTClassifier().pretrained == "english"
    assert {"english", "wikitext-2"} <= set(available_models())  # the 0.2 default stays loadable
    for name, uniform in (("english", 30_008), ("wikitext-2", 24_000)):
        for direction in ("forward", "backward"):
            language_model = ULMFiTLanguageModel.from_pretrained(name, direction=direction)
            assert language_model.direction == direction
            assert language_model.perplexity(wiki_articles[:2]) < uniform / 100  # a real language model
    shipped = ULMFiTLanguageModel.from_pretrained("english", direction="forward")
    X_train, y_train, _, _ = trec
    clf = ULMFiTClassifier(language_model=None, schedule=HEAD_ONLY, batch_size=32, random_state=0)
    clf.fit(X_train[:200], y_train[:200])
    assert [trained.direction for trained in clf.directions_] == ["forward", "backward"]  # the default reads both
    trained = clf.directions_[0]
    assert trained.config.emb_size == shipped.config_.emb_size
    expected = shipped.aligned_weights(trained.vocab)
    for name, tensor in trained.network[0].module.state_dict().items():
        if "rnns" in name:
            torch.testing.assert_close(tensor.cpu(), expected["0." + name])


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_english_model_is_shipped_and_beats_wikitext2(wiki_articles, direction):
    """The model pretrained on Wikipedia + Wikinews + Gutenberg (WikiText-2's validation
    and test articles removed from its corpus) reads WikiText-2 validation articles better
    than the model trained on WikiText-2 itself, in each direction."""
    import json
    from importlib import resources

    from sk_ulmfit._io.pretrained import SHIPPED

    english = ULMFiTLanguageModel.from_pretrained("english", direction=direction)
    metadata_file = Path(SHIPPED["english"][direction]).with_suffix(".json").name
    metadata = json.loads((resources.files("sk_ulmfit") / "pretrained_models" / metadata_file).read_text())
    assert metadata["tokens_seen"] >= 10_000_000 and metadata["direction"] == direction
    assert english.config_.to_dict() == metadata["config"]
    wikitext2 = ULMFiTLanguageModel.from_pretrained("wikitext-2", direction=direction)
    assert english.perplexity(wiki_articles[:3]) < wikitext2.perplexity(wiki_articles[:3])


def test_shipped_models_stay_within_the_wheel_budget():
    """An offline ``pip install`` carries every shipped model: the default pair at most 60 MB
    as files, and everything shipped (the ``"wikitext-2"`` pair, stored int8) at most 60 MB
    as the wheel holds it, deflated."""
    files = {name: [_shipped_path(f) for f in pair.values()] for name, pair in SHIPPED.items()}
    assert sum(path.stat().st_size for path in files["english"]) <= 60e6
    deflated = sum(len(zlib.compress(path.read_bytes(), 6)) for pair in files.values() for path in pair)
    assert deflated <= 60e6, f"{deflated / 1e6:.1f} MB"


@pytest.mark.filterwarnings("ignore:The least populated class")
def test_memory_tokenises_and_fine_tunes_each_training_set_once_across_processes(tiny_pretrained, trec, tmp_path,
                                                                                 monkeypatch):
    X_train, y_train, _, _ = trec
    tiny_pretrained.save(tmp_path / "lm.pt")
    cache = tmp_path / "cache"
    clf = ULMFiTClassifier(pretrained=str(tmp_path / "lm.pt"), memory=str(cache), **_params(schedule=HEAD_ONLY))
    grid = {"lr_decay": [2.0, 2.6]}
    GridSearchCV(clf, grid, cv=2, n_jobs=2, refit=False).fit(X_train[:200], y_train[:200])  # 4 fits, 2 processes
    assert len(list(cache.rglob("_fine_tune/*/output.pkl"))) == 2  # one per training fold
    assert len(list(cache.rglob("_tokenize_new/*/output.pkl"))) == 2

    lm_cache.clear(), text.clear_token_cache()  # this process has seen nothing: stage 2 comes from disk
    calls = []
    monkeypatch.setattr(ULMFiTLanguageModel, "_fit_from", lambda *args: calls.append("stage 2"))
    search = GridSearchCV(clf, grid, cv=2, refit=False).fit(X_train[:200], y_train[:200])
    assert calls == [] and np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert len(list(cache.rglob("*/output.pkl"))) == 4  # nothing new was computed
