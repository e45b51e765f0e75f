"""Tokeniser and vocabulary: fastai's tokens, any document length."""

import numpy as np
import pytest
from fastai.text.core import TokenizeWithRules, WordTokenizer

from sk_ulmfit._text.tokenizer import FastaiTokenizer, Vocabulary, split_at_spaces
from sk_ulmfit.datasets import fetch_trec


@pytest.fixture(scope="module")
def trec_questions(data_home):
    return fetch_trec("test", data_home=data_home).data


def test_tokens_are_fastais(trec_questions):
    ours = FastaiTokenizer()(trec_questions)
    theirs = [list(tokens) for tokens in TokenizeWithRules(WordTokenizer())(trec_questions)]
    assert ours == theirs
    assert ours[0][0] == "xxbos"


def test_empty_text_is_just_the_start_token():
    assert FastaiTokenizer()(["", "Hello"]) == [["xxbos"], ["xxbos", "xxmaj", "hello"]]


def test_documents_longer_than_spacy_accepts_keep_every_word():
    # No word twice in a row, so fastai's xxwrep rule leaves the words alone.
    choices = ["alpha", "beta", "gamma", "delta"]
    steps = np.random.default_rng(0).integers(1, len(choices), size=300_000)
    words = [choices[i] for i in np.cumsum(steps) % len(choices)]
    text = " ".join(words)
    assert len(text) > 1_000_000  # spaCy's own limit
    tokens = FastaiTokenizer()([text])[0]
    assert tokens == ["xxbos", *words]


def test_split_at_spaces_cuts_only_at_spaces():
    pieces = split_at_spaces("aa bb cc dd", 5)
    assert pieces == ["aa bb", "cc dd"]
    assert split_at_spaces("abcdefgh", 3) == ["abc", "def", "gh"]


def test_vocabulary_layout_and_unknown_tokens(trec_questions):
    tokens = FastaiTokenizer()(trec_questions)
    vocab = Vocabulary.build(tokens, min_freq=2, max_vocab=60000)
    assert vocab.itos[:2] == ["xxunk", "xxpad"]
    assert len(vocab) % 8 == 0
    ids = vocab.numericalize(["xxbos", "the", "a-token-never-seen"])
    assert ids[0] == vocab.stoi["xxbos"] and ids[1] == vocab.stoi["the"] and ids[2] == 0


def test_max_vocab_caps_size(trec_questions):
    tokens = FastaiTokenizer()(trec_questions)
    vocab = Vocabulary.build(tokens, min_freq=1, max_vocab=100)
    assert len(vocab) <= 100 + 8 + 9  # special tokens, rounded up to a multiple of 8


def test_vocabulary_rejects_wrong_layout():
    with pytest.raises(ValueError, match="xxunk"):
        Vocabulary(["the", "a"])


def test_repeated_texts_are_tokenised_once(trec_questions, monkeypatch):
    from sk_ulmfit._text import tokenizer as text

    text.clear_token_cache()
    seen = []
    real = text._SHARED_TOKENIZER

    def counting(texts):
        seen.append(len(texts))
        return real(texts)

    monkeypatch.setattr(text, "_SHARED_TOKENIZER", counting)
    questions = list(trec_questions[:100])
    first = text.tokenize(questions + questions[:10])  # duplicates within a call count once
    again = text.tokenize(questions[50:] + ["A new question ?"])
    assert seen == [100, 1]
    assert first[:100] == FastaiTokenizer()(questions) and first[100:] == first[:10]
    assert again[:50] == first[50:100]
    again[0].append("changed")  # callers get their own lists
    assert text.tokenize(questions[50:51])[0] == first[50]


def test_parallel_tokenisation_gives_the_same_tokens(data_home, monkeypatch):
    from sk_ulmfit._text import tokenizer as text
    from sk_ulmfit.datasets import fetch_imdb_sample

    reviews = fetch_imdb_sample("valid", data_home=data_home).data[:60]
    expected = FastaiTokenizer()(reviews)
    batches = []
    real_parallel = text.Parallel

    def recording(*args, **kwargs):
        batches.append(kwargs.get("n_jobs"))
        return real_parallel(*args, **kwargs)

    monkeypatch.setattr(text, "Parallel", recording)
    monkeypatch.setattr(text, "PARALLEL_MIN_CHARS", 0)
    text.clear_token_cache()
    assert text.tokenize(reviews, n_jobs=2) == expected
    assert batches == [2]  # the worker processes did the work
    text.clear_token_cache()
    monkeypatch.setattr(text, "PARALLEL_MIN_CHARS", 10**9)
    assert text.tokenize(reviews, n_jobs=2) == expected
    assert batches == [2]  # small inputs stay in this process
