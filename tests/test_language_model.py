"""ULMFiTLanguageModel: training, fine-tuning, files, fastai's WT103 format, alignment."""

import pickle

import numpy as np
import pytest
import torch
from fastai.text.models.awdlstm import AWD_LSTM, awd_lstm_lm_config
from fastai.text.models.core import get_language_model

from sk_ulmfit._estimators.language_model import ULMFiTLanguageModel
from sk_ulmfit._io.persistence import write_payload
from sk_ulmfit._text.tokenizer import Vocabulary
from sk_ulmfit.datasets import fetch_imdb_sample

from .conftest import TINY_LM


@pytest.fixture(scope="module")
def reviews(data_home):
    train = fetch_imdb_sample("train", data_home=data_home).data
    valid = fetch_imdb_sample("valid", data_home=data_home).data
    return train[:300], valid[:60]


def test_fine_tuning_lowers_held_out_perplexity(tiny_pretrained, reviews):
    train, valid = reviews
    same_vocab = len([t for t in tiny_pretrained.vocab_.itos if t != "xxfake"])
    tuned = ULMFiTLanguageModel(pretrained=tiny_pretrained, epochs=1, lr=1e-2, random_state=0,
                                max_vocab=same_vocab, batch_size=16).fit(train)
    assert tuned.vocab_ == tiny_pretrained.vocab_  # no room for new tokens: comparable scores
    assert tuned.perplexity(valid) < 0.9 * tiny_pretrained.perplexity(valid)
    assert [(r["stage"], r["unfreeze"]) for r in tuned.history_] == [(1, 1), (2, 3)]


def test_score_is_mean_log_likelihood(tiny_pretrained, reviews):
    _, valid = reviews
    assert tiny_pretrained.score(valid) == pytest.approx(-np.log(tiny_pretrained.perplexity(valid)))
    assert tiny_pretrained.score(valid) < 0


def test_fine_tuning_keeps_known_tokens_and_adds_new_ones(tiny_pretrained, reviews):
    train, _ = reviews
    tuned = ULMFiTLanguageModel(pretrained=tiny_pretrained, epochs=1, random_state=0,
                                batch_size=16).fit(train)
    base = [t for t in tiny_pretrained.vocab_.itos if t != "xxfake"]
    assert tuned.vocab_.itos[: len(base)] == base  # even tokens rare in the reviews stay
    added = [t for t in tuned.vocab_.itos[len(base):] if t != "xxfake"]
    assert len(added) > 50 and not set(added) & set(base)
    assert tuned.config_.emb_size == tiny_pretrained.config_.emb_size


def test_alignment_keeps_rows_and_starts_new_tokens_at_the_mean(tiny_pretrained):
    old = tiny_pretrained.vocab_
    new = Vocabulary(["xxunk", "xxpad", "zebra-never-seen", "the", "xxbos", "of", "xxfake", "xxfake"])
    weights = tiny_pretrained.aligned_weights(new)
    old_embedding = tiny_pretrained.model_[0].encoder.weight.detach()
    embedding = weights["0.encoder.weight"]
    assert embedding.shape == (8, old_embedding.shape[1])
    torch.testing.assert_close(embedding[3], old_embedding[old.stoi["the"]])
    torch.testing.assert_close(embedding[2], old_embedding.mean(0))
    torch.testing.assert_close(weights["1.decoder.weight"], embedding)


def test_save_load_round_trip_is_exact(tiny_pretrained, reviews, tmp_path):
    _, valid = reviews
    path = tiny_pretrained.save(tmp_path / "lm.pt")
    loaded = ULMFiTLanguageModel.load(path)
    assert loaded.vocab_ == tiny_pretrained.vocab_ and loaded.config_ == tiny_pretrained.config_
    assert loaded.perplexity(valid) == tiny_pretrained.perplexity(valid)
    payload = torch.load(path, weights_only=True)  # no code is unpickled
    assert payload["format"] == "sk_ulmfit.language_model"
    assert "1.decoder.weight" not in payload["weights"]  # the tied copy is stored once


def test_half_precision_file_is_smaller_and_close(tiny_pretrained, reviews, tmp_path):
    _, valid = reviews
    full = tiny_pretrained.save(tmp_path / "full.pt")
    half = tiny_pretrained.save(tmp_path / "half.pt", precision="float16")
    assert half.stat().st_size < 0.7 * full.stat().st_size
    assert ULMFiTLanguageModel.load(half).perplexity(valid) == pytest.approx(
        tiny_pretrained.perplexity(valid), rel=1e-2)
    with pytest.warns(FutureWarning, match="precision='float16'"):
        old_spelling = tiny_pretrained.save(tmp_path / "old.pt", half=True)
    digest = torch.load(old_spelling, weights_only=True)["sha256"]  # of the content: the same file
    assert digest == torch.load(half, weights_only=True)["sha256"]


def test_int8_file_is_smaller_still_and_close(tiny_pretrained, reviews, tmp_path):
    _, valid = reviews
    half = tiny_pretrained.save(tmp_path / "half.pt", precision="float16")
    int8 = tiny_pretrained.save(tmp_path / "int8.pt", precision="int8")
    weights = torch.load(int8, weights_only=True)["weights"]
    embedding = weights["0.encoder.weight"]
    assert embedding["int8"].dtype == torch.int8 and embedding["scale"].shape == (embedding["int8"].shape[0], 1)
    # int8 values and a float32 scale per row: at this tiny width (16-32 values a row) the
    # scales weigh a quarter as much as the values; at a real model's 200-1152 little
    assert _bytes(weights) < 0.7 * _bytes(torch.load(half, weights_only=True)["weights"])
    loaded = ULMFiTLanguageModel.load(int8)
    for name, tensor in tiny_pretrained.model_.state_dict().items():
        reloaded = loaded.model_.state_dict()[name]
        assert reloaded.dtype == torch.float32
        if tensor.dim() == 2:  # each value within half a quantisation step of its row's scale
            step = tensor.abs().amax(dim=1, keepdim=True) / 127
            assert bool(((reloaded - tensor).abs() <= step / 2 + 1e-6).all()), name
    assert loaded.perplexity(valid) == pytest.approx(tiny_pretrained.perplexity(valid), rel=1e-2)
    torch.testing.assert_close(loaded.model_.state_dict()["1.decoder.weight"],
                               loaded.model_.state_dict()["0.encoder.weight"])  # still tied
    with pytest.raises(ValueError, match="precision must be one of"):
        tiny_pretrained.save(tmp_path / "bad.pt", precision="int4")
    assert not (tmp_path / "bad.pt").exists()


def _bytes(stored) -> int:
    if isinstance(stored, dict):
        return sum(_bytes(value) for value in stored.values())
    return stored.numel() * stored.element_size()


def test_a_newer_file_version_is_refused_clearly(tiny_pretrained, tmp_path):
    payload = torch.load(tiny_pretrained.save(tmp_path / "lm.pt", precision="int8"), weights_only=True)
    assert payload["version"] == 2  # int8 weights: an sk_ulmfit that reads version 1 only refuses it
    payload.pop("sha256")
    write_payload(tmp_path / "future.pt", {**payload, "version": 3})
    with pytest.raises(ValueError, match="format version 3; this sk_ulmfit reads version 1 or 2"):
        ULMFiTLanguageModel.load(tmp_path / "future.pt")


def test_bad_files_get_clear_errors(tiny_pretrained, tmp_path):
    with pytest.raises(FileNotFoundError, match="no language model file"):
        ULMFiTLanguageModel.load(tmp_path / "missing.pt")
    good = tiny_pretrained.save(tmp_path / "lm.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        ULMFiTLanguageModel.load(tmp_path / "cut.pt")
    torch.save([1, 2, 3], tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an sk_ulmfit language model"):
        ULMFiTLanguageModel.load(tmp_path / "other.pt")
    (tmp_path / "text.pt").write_bytes(b"keep me")  # not even a zip: torch's reader fails in odd ways
    with pytest.raises(ValueError, match="truncated or corrupt"):
        ULMFiTLanguageModel.load(tmp_path / "text.pt")
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0xFF  # one damaged byte inside the weights
    (tmp_path / "flipped.pt").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match="corrupt"):
        ULMFiTLanguageModel.load(tmp_path / "flipped.pt")
    from sk_ulmfit._io.persistence import read_payload, write_payload

    write_payload(tmp_path / "future.pt", {**read_payload(tmp_path / "lm.pt"), "version": 99})
    with pytest.raises(ValueError, match="format version 99.*pip install -U sk-ulmfit"):
        ULMFiTLanguageModel.load(tmp_path / "future.pt")


def _fastai_files(tmp_path, itos, wrap=False):
    torch.manual_seed(0)
    config = dict(awd_lstm_lm_config, emb_sz=16, n_hid=24, n_layers=2)
    model = get_language_model(AWD_LSTM, len(itos), config=config).eval()
    weights_path, vocab_path = tmp_path / "lstm_fwd.pth", tmp_path / "itos_wt103.pkl"
    state = model.state_dict()
    torch.save({"model": state, "opt": {}} if wrap else state, weights_path)
    with open(vocab_path, "wb") as file:
        pickle.dump(itos, file)
    return model, weights_path, vocab_path


@pytest.mark.parametrize("wrap", [False, True])
def test_loads_fastai_wt103_style_files(tmp_path, tiny_pretrained, wrap):
    itos = tiny_pretrained.vocab_.itos
    fastai_model, weights_path, vocab_path = _fastai_files(tmp_path, itos, wrap)
    loaded = ULMFiTLanguageModel.from_pretrained((weights_path, vocab_path))
    assert loaded.config_.emb_size == 16 and loaded.config_.hidden_size == 24 and loaded.config_.n_layers == 2
    assert loaded.vocab_.itos == itos
    tokens = torch.randint(2, len(itos), (3, 20))
    with torch.no_grad():
        fastai_model.reset()
        loaded.model_.reset()
        torch.testing.assert_close(loaded.model_(tokens)[0], fastai_model(tokens)[0])
    assert ULMFiTLanguageModel.from_pretrained(tmp_path).vocab_.itos == itos  # a folder holding the pair


def test_fastai_vocab_file_never_runs_code(tmp_path, tiny_pretrained):
    _, weights_path, vocab_path = _fastai_files(tmp_path, tiny_pretrained.vocab_.itos)

    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    with open(vocab_path, "wb") as file:
        pickle.dump([Exploit()], file)
    with pytest.raises(ValueError, match="not a fastai vocabulary"):
        ULMFiTLanguageModel.from_pretrained((weights_path, vocab_path))


def test_mismatched_fastai_files_are_refused(tmp_path, tiny_pretrained):
    _, weights_path, vocab_path = _fastai_files(tmp_path, tiny_pretrained.vocab_.itos)
    with open(vocab_path, "wb") as file:
        pickle.dump(tiny_pretrained.vocab_.itos[:-8], file)
    with pytest.raises(ValueError, match="do not belong together"):
        ULMFiTLanguageModel.from_pretrained((weights_path, vocab_path))


def test_backward_model_reads_right_to_left(wiki_articles, reviews):
    _, valid = reviews
    backward = ULMFiTLanguageModel(direction="backward", epochs=1, lr=1e-2, random_state=0,
                                   **TINY_LM).fit(wiki_articles[:10])
    assert np.isfinite(backward.perplexity(valid))
    with pytest.raises(ValueError, match="backward language model but a forward one"):
        ULMFiTLanguageModel.from_pretrained(backward, direction="forward")


def test_pickle_round_trip(tiny_pretrained, reviews):
    _, valid = reviews
    restored = pickle.loads(pickle.dumps(tiny_pretrained))
    assert restored.perplexity(valid) == tiny_pretrained.perplexity(valid)


@pytest.mark.parametrize("params, message", [({"direction": "up"}, "direction"),
                                             ({"epochs": 0}, "epochs"), ({"lr": 0}, "lr")])
def test_bad_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        ULMFiTLanguageModel(**params).fit(["some text here"])


def test_unknown_pretrained_spec_lists_the_options():
    with pytest.raises(ValueError, match="shipped model name"):
        ULMFiTLanguageModel.from_pretrained("no-such-model")


def test_no_dropout_trains_several_epochs_and_keeps_its_parameters(tiny_pretrained, reviews, tmp_path):
    """drop_mult=0: fastai's weight dropout would hand the LSTM its raw parameter, which
    torch registers as an extra one (reset() then failed at the second epoch)."""
    lm = ULMFiTLanguageModel(pretrained=tiny_pretrained, drop_mult=0.0, epochs=2, batch_size=8,
                             random_state=0).fit(reviews[0][:20])
    assert [r["epoch"] for r in lm.history_] == [1, 1, 2]
    assert lm.model_.state_dict().keys() == tiny_pretrained.model_.state_dict().keys()
    loaded = ULMFiTLanguageModel.load(lm.save(tmp_path / "lm.pt"), device="cpu")
    assert loaded.perplexity(reviews[1][:5]) == pytest.approx(lm.perplexity(reviews[1][:5]), rel=1e-6)
