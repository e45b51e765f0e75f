"""Batches in the layout fastai's SentenceEncoder needs, checked against fastai itself."""

from functools import partial

import numpy as np
import pytest
import torch
from fastai.text.data import SortedDL, TensorText, pad_input_chunk

from sk_ulmfit._nn.awd_lstm import ClassifierConfig, build_classifier
from sk_ulmfit._text import batching
from sk_ulmfit._text.batching import collate, training_batches
from sk_ulmfit._text.tokenizer import PAD_ID, FastaiTokenizer, Vocabulary
from sk_ulmfit.datasets import fetch_imdb_sample

from .fastai_reference import logits_head, predict_outputs

BPTT = 16
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def review_ids(data_home):
    """Real IMDb reviews as token ids: most span several bptt chunks."""
    texts = fetch_imdb_sample("valid", data_home=data_home).data[:48]
    tokens = FastaiTokenizer()(texts)
    vocab = Vocabulary.build(tokens, min_freq=2, max_vocab=60000)
    return [vocab.numericalize(t) for t in tokens], len(vocab)


def _network(vocab_size, max_len=100_000):
    torch.manual_seed(0)
    config = ClassifierConfig(vocab_size, 3, emb_size=8, hidden_size=16, n_layers=2,
                              drop_mult=0.5, bptt=BPTT, max_len=max_len)
    return build_classifier(config).eval()


def _one_at_a_time_in_fastai(model, sequences):
    """fastai's SentenceEncoder on a batch of one text has no padding to get wrong."""
    with torch.no_grad():
        return np.stack([model(torch.from_numpy(s)[None])[0][0].numpy() for s in sequences])


def test_batched_predictions_equal_fastai_on_each_text_alone(review_ids):
    sequences, vocab_size = review_ids
    model = _network(vocab_size)
    assert max(len(s) for s in sequences) > 4 * BPTT
    batched = predict_outputs(model, sequences, 8, CPU, BPTT, logits_head)
    np.testing.assert_allclose(batched, _one_at_a_time_in_fastai(model, sequences), atol=1e-5)


def test_predictions_do_not_depend_on_batch_company_with_max_len(review_ids):
    sequences, vocab_size = review_ids
    model = _network(vocab_size, max_len=3 * BPTT)
    batched = predict_outputs(model, sequences, 16, CPU, BPTT, logits_head)
    alone = np.concatenate([predict_outputs(model, [s], 1, CPU, BPTT, logits_head) for s in sequences])
    np.testing.assert_allclose(batched, alone, atol=1e-5)


def test_fastai_pad_input_chunk_alone_corrupts_some_rows(review_ids):
    """Upstream fastai issue #3379, which our collate avoids: if this starts failing,
    fastai fixed the bug and our rounding to a bptt multiple may be dropped."""
    sequences, vocab_size = review_ids
    model = _network(vocab_size)
    items = [(TensorText(torch.from_numpy(s)), i) for i, s in enumerate(sequences)]
    loader = SortedDL(items, bs=16, shuffle=False,
                      before_batch=partial(pad_input_chunk, seq_len=BPTT, pad_idx=PAD_ID))
    fastai_batched = np.zeros((len(sequences), 3), dtype=np.float32)
    with torch.no_grad():
        for tokens, index in loader:
            fastai_batched[index.numpy()] = model(tokens)[0].numpy()
    error = np.abs(fastai_batched - _one_at_a_time_in_fastai(model, sequences)).max(axis=1)
    assert (error > 1e-3).any()


def test_collate_layout():
    sequences = [np.arange(2, 7), np.arange(2, 30), np.arange(2, 4)]
    batch, order = collate(sequences, bptt=8, pad_id=PAD_ID)
    assert list(order) == [1, 0, 2]
    assert batch.shape == (3, 32)  # longest (28) rounded up to a multiple of bptt
    for row, index in zip(batch, order):
        text = row[row != PAD_ID].numpy()
        np.testing.assert_array_equal(text, sequences[index])
        start = int(np.flatnonzero(row.numpy() != PAD_ID)[0])
        assert start % 8 == 0  # every text starts on a chunk boundary


def test_training_batches_cover_every_text_once_longest_first():
    lengths = np.random.default_rng(1).integers(1, 500, size=1001)
    batches = training_batches(lengths, 10, np.random.default_rng(0))
    assert sorted(np.concatenate(batches)) == list(range(1001))
    assert lengths[batches[0]].max() == lengths.max()
    assert min(len(b) for b in batches) >= 2  # BatchNorm needs two rows
    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < np.ptp(lengths) / 4  # buckets hold texts of similar length


def test_training_batches_differ_between_epochs():
    lengths = np.arange(200)
    rng = np.random.default_rng(0)
    first, second = training_batches(lengths, 10, rng), training_batches(lengths, 10, rng)
    assert any(not np.array_equal(a, b) for a, b in zip(first, second))


def test_training_batches_give_every_process_a_text(monkeypatch):
    """Under ``torchrun`` with 4 processes: each batch has a row for each process (and
    BatchNorm's 2 rows); a ``batch_size`` below the number of processes says what to use."""
    monkeypatch.setattr(batching, "world", lambda: (0, 4))
    batches = training_batches(np.arange(1, 23), 5, np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == list(range(22))
    assert min(len(b) for b in batches) >= 4
    with pytest.raises(ValueError, match="batch_size >= 4"):
        training_batches(np.arange(1, 23), 3, np.random.default_rng(0))
