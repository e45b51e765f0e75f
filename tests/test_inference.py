"""The inference network (packed sequences, no chunks) against fastai's own network."""

import pickle

import numpy as np
import pytest
import torch

from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit._nn.awd_lstm import ClassifierConfig, build_classifier, output_layer
from sk_ulmfit._nn.inference import inference_network, predict_outputs, right_padded
from sk_ulmfit._text.tokenizer import PAD_ID, FastaiTokenizer, Vocabulary
from sk_ulmfit.datasets import fetch_imdb_sample

from .fastai_reference import logits_head, pooled_head
from .fastai_reference import predict_outputs as fastai_outputs

BPTT = 16
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def review_ids(data_home):
    """Real IMDb reviews as token ids, from 2 to many bptt chunks long."""
    texts = fetch_imdb_sample("valid", data_home=data_home).data[:40]
    tokens = FastaiTokenizer()(texts)
    vocab = Vocabulary.build(tokens, min_freq=2, max_vocab=60000)
    short = [np.array([2, 5, 9]), np.array([2])]  # shorter than one chunk, and xxbos alone
    return [vocab.numericalize(t) for t in tokens] + short, len(vocab)


def _trained_looking_network(vocab_size, max_len, pool_layers="last"):
    """A random network whose BatchNorm statistics are not the identity (as after training)."""
    torch.manual_seed(0)
    config = ClassifierConfig(vocab_size, 3, emb_size=8, hidden_size=16, n_layers=3,
                              drop_mult=0.5, bptt=BPTT, max_len=max_len, pool_layers=pool_layers)
    network = build_classifier(config)
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return network.eval(), config


@pytest.mark.parametrize("max_len, pool_layers", [(100_000, "last"), (3 * BPTT, "last"), (3 * BPTT + 5, "last"),
                                                 (3 * BPTT + 5, "all")])
def test_same_features_and_scores_as_fastai(review_ids, max_len, pool_layers):
    """fastai's chunked ``SentenceEncoder`` around the training network (with ``"all"``, our
    encoder that returns every layer) against the one-call inference network."""
    sequences, vocab_size = review_ids
    network, config = _trained_looking_network(vocab_size, max_len, pool_layers)
    assert max(len(s) for s in sequences) > 5 * BPTT  # max_len cuts the long ones
    fast = inference_network(network, config, CPU)
    for pooled, head in ((True, pooled_head), (False, logits_head)):
        expected = fastai_outputs(network, sequences, 8, CPU, BPTT, head)
        got = predict_outputs(fast, sequences, 8, CPU, pooled=pooled)
        assert got.shape == expected.shape and got.dtype == np.float32
        if pooled:
            assert got.shape[1] == 3 * config.pooled_width == 3 * (8 if pool_layers == "last" else 16 + 16 + 8)
        np.testing.assert_allclose(got, expected, atol=1e-5)


def test_pooling_every_layer_keeps_the_last_layer_and_the_weights(review_ids):
    """The same weights load into both encoders; the last layer's outputs are the last
    ``emb_size`` columns of every layer's, and the lower layers' are really there."""
    sequences, vocab_size = review_ids
    last, _ = _trained_looking_network(vocab_size, 1440, "last")
    every, _ = _trained_looking_network(vocab_size, 1440, "all")
    every[0].module.load_state_dict(last[0].module.state_dict())
    batch = torch.from_numpy(sequences[0][None, : 2 * BPTT])
    with torch.no_grad():
        last[0].module.reset(), every[0].module.reset()
        one, many = last[0].module(batch), every[0].module(batch)
    assert many.shape == (1, 2 * BPTT, 16 + 16 + 8)
    torch.testing.assert_close(many[..., -8:], one)
    assert many[..., :32].abs().sum() > 0


@pytest.mark.parametrize("drop_mult", [0.5, 0.0])
def test_output_layer_is_the_class_layer(drop_mult):
    """Without dropout fastai's head blocks hold no Dropout module: the lookup does not rely on positions."""
    config = ClassifierConfig(50, 4, emb_size=8, hidden_size=16, n_layers=2, drop_mult=drop_mult, bptt=BPTT,
                              max_len=1440, pool_layers="all")
    layer = output_layer(build_classifier(config))
    assert isinstance(layer, torch.nn.Linear) and layer.out_features == 4 and layer.in_features == 50
    first = build_classifier(config)[1].layers[0]
    assert [part for part in first if isinstance(part, torch.nn.Linear)][0].in_features == 3 * (16 + 8)


def test_batch_size_does_not_change_outputs(review_ids):
    sequences, vocab_size = review_ids
    network, config = _trained_looking_network(vocab_size, 1440)
    fast = inference_network(network, config, CPU)
    np.testing.assert_allclose(predict_outputs(fast, sequences, 1, CPU),
                               predict_outputs(fast, sequences, 64, CPU), atol=1e-5)


def test_right_padded_layout():
    batch, lengths, order = right_padded([np.array([4, 5]), np.array([6, 7, 8]), np.array([9])])
    assert order.tolist() == [1, 0, 2] and lengths.tolist() == [3, 2, 1]
    assert batch.tolist() == [[6, 7, 8], [4, 5, PAD_ID], [9, PAD_ID, PAD_ID]]


@pytest.mark.parametrize("pool_layers", ["last", "all"])
def test_int8_is_close_and_leaves_the_model_alone(review_ids, pool_layers):
    sequences, vocab_size = review_ids
    network, config = _trained_looking_network(vocab_size, 1440, pool_layers)
    before = {name: tensor.clone() for name, tensor in network.state_dict().items()}
    exact = predict_outputs(inference_network(network, config, CPU), sequences, 8, CPU, pooled=True)
    int8 = predict_outputs(inference_network(network, config, CPU, "int8"), sequences, 8, CPU, pooled=True)
    assert not np.array_equal(exact, int8)  # really quantised
    assert type(inference_network(network, config, CPU, "int8").lstms[0]) is not torch.nn.LSTM
    assert np.abs(exact - int8).max() < 0.05 * np.abs(exact).max()
    assert all(torch.equal(before[name], tensor) for name, tensor in network.state_dict().items())


@pytest.mark.parametrize("precision", ["bfloat16", "int8"])
def test_lower_precision_predicts_nearly_the_same(trec, precision):
    X, y = trec[0][:200], trec[1][:200]
    clf = ULMFiTClassifier(pretrained=None, emb_size=16, hidden_size=32, n_layers=1,
                           schedule=(("all", 1, 1e-2),), language_model=None, random_state=0).fit(X, y)
    exact = clf.predict_proba(X)
    clf.set_params(predict_precision=precision)
    approximate = clf.predict_proba(X)
    assert approximate.dtype == np.float64
    np.testing.assert_allclose(approximate.sum(axis=1), 1.0)
    assert not np.array_equal(exact, approximate)
    assert np.abs(exact - approximate).max() < 0.05
    assert (exact.argmax(1) == approximate.argmax(1)).mean() > 0.95
    assert clf.transform(X[:5]).dtype == np.float32


def test_bad_prediction_settings_are_explained():
    with pytest.raises(ValueError, match="max_len"):
        ULMFiTClassifier(pretrained=None, bptt=72, max_len=50).fit(["a b", "c d"], [0, 1])
    with pytest.raises(ValueError, match="predict_batch_size"):
        ULMFiTClassifier(pretrained=None, predict_batch_size=0).fit(["a b", "c d"], [0, 1])
    with pytest.raises(ValueError, match="predict_precision must be one of"):
        ULMFiTClassifier(pretrained=None, predict_precision="fp8").fit(["a b", "c d"], [0, 1])


@pytest.mark.parametrize("native", [True, False])
def test_bfloat16_warns_only_on_cpus_without_native_support(review_ids, monkeypatch, native):
    import warnings

    from sk_ulmfit._nn import inference

    ids, vocab_size = review_ids
    network, config = _trained_looking_network(vocab_size, max_len=4 * BPTT)
    monkeypatch.setattr(inference, "native_bfloat16_cpu", lambda: native)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inference_network(network, config, CPU, "bfloat16")
    slow = [w for w in caught if "no native bfloat16" in str(w.message)]
    assert len(slow) == (0 if native else 1)
    if slow:
        assert "'int8'" in str(slow[0].message)  # the message names the fix


def test_native_bfloat16_check_answers_a_bool():
    from sk_ulmfit._nn.inference import native_bfloat16_cpu

    assert isinstance(native_bfloat16_cpu(), bool)


def test_the_inference_network_is_built_once_per_fitted_model_and_precision(trec, monkeypatch):
    from sklearn.base import clone

    from sk_ulmfit._nn import inference

    from .conftest import TINY

    X, y = trec[0][:200], trec[1][:200]
    clf = ULMFiTClassifier(**TINY, random_state=0).fit(X, y)
    built, original = [], inference.inference_network

    def counting(network, config, device, precision="float32"):
        built.append(precision)
        return original(network, config, device, precision)

    monkeypatch.setattr(inference, "inference_network", counting)
    proba = clf.predict_proba(X[:20])
    clf.predict(X[:1]), clf.transform(X[:2]), clf.predict_proba(X[:20])
    assert built == ["float32"]
    clf.set_params(predict_precision="int8").predict_proba(X[:3])
    assert built == ["float32", "int8"]
    restored = pickle.loads(pickle.dumps(clf.set_params(predict_precision="float32")))
    assert "_inference_networks" not in restored.__dict__  # not pickled: rebuilt on first use
    np.testing.assert_array_equal(restored.predict_proba(X[:20]), proba)
    clf.set_params(random_state=1).fit(X, y)  # a refit never predicts with the old network
    np.testing.assert_array_equal(clf.predict_proba(X[:20]), clone(clf).fit(X, y).predict_proba(X[:20]))
    assert not np.array_equal(clf.predict_proba(X[:20]), proba)


def test_building_the_inference_network_draws_no_random_numbers(review_ids):
    """Validation during training builds it between epochs: it must not shift dropout masks."""
    _, vocab_size = review_ids
    network, config = _trained_looking_network(vocab_size, 1440)
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    inference_network(network, config, CPU)
    assert torch.equal(torch.rand(3), expected)
