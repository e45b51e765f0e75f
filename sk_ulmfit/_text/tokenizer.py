"""Tokenisation and vocabulary: raw strings to token ids, with fastai's rules.

fastai owns the rules (``xxbos``, ``xxmaj``, ``xxup``, ``xxrep`` ...), the spaCy word
tokeniser and the vocabulary order; this module only composes them and handles
documents that are longer than spaCy accepts in one piece.
"""

from __future__ import annotations

import sys
from collections import Counter, OrderedDict
from typing import Iterable, Sequence

import numpy as np
from fastai.text.core import (
    PAD,
    UNK,
    SpacyTokenizer,
    defaults,
)
from fastai.text.data import make_vocab
from fastprogress.fastprogress import progress_bar
from joblib import Parallel, delayed, effective_n_jobs, parallel_config
from sklearn.utils.validation import check_memory

# spaCy refuses texts over ``nlp.max_length`` (1,000,000 characters); longer documents
# are cut at a space into pieces of at most this many characters, which gives the
# same tokens because spaCy splits on whitespace first.
SPACY_PIECE_CHARS = 100_000

PAD_ID = 1  # fastai's vocabulary always starts with xxunk, xxpad
FAKE = "xxfake"  # fastai pads vocabularies to a multiple of 8 with this token


class FastaiTokenizer:
    """fastai's default text rules followed by its spaCy word tokeniser.

    Picklable: the spaCy pipeline is built lazily and not stored in the pickle.
    """

    def __init__(self, lang: str = "en"):
        self.lang = lang
        self._spacy = None

    def __getstate__(self):
        return {"lang": self.lang, "_spacy": None}

    def __call__(self, texts: Iterable[str]) -> list[list[str]]:
        """Tokenise each text; returns one list of tokens per text."""
        if self._spacy is None:
            self._spacy = SpacyTokenizer(self.lang)
        pieces, owners = [], []
        for owner, text in enumerate(texts):
            for rule in defaults.text_proc_rules:
                text = rule(text)
            for piece in split_at_spaces(text, SPACY_PIECE_CHARS):
                pieces.append(piece)
                owners.append(owner)
        token_lists = [[] for _ in range(owners[-1] + 1 if owners else 0)]
        post_rule = _compose(defaults.text_postproc_rules)
        for owner, piece_tokens in zip(owners, self._spacy(pieces), strict=True):
            token_lists[owner].extend(post_rule(token) for token in piece_tokens)
        return token_lists


def _compose(rules):
    def apply_all(token):
        for rule in rules:
            token = rule(token)
        return token

    return apply_all


def split_at_spaces(text: str, max_chars: int) -> list[str]:
    """Cut ``text`` at spaces into pieces of at most ``max_chars`` characters.

    The space at each cut is dropped (spaCy makes no token of a single space between
    words); a run without a space longer than ``max_chars`` is cut where it must be.
    """
    pieces = []
    while len(text) > max_chars:
        cut = text.rfind(" ", 0, max_chars + 1)
        if cut <= 0:
            pieces.append(text[:max_chars])
            text = text[max_chars:]
        else:
            pieces.append(text[:cut])
            text = text[cut + 1 :]
    pieces.append(text)
    return pieces


class Vocabulary:
    """Token ↔ id mapping in fastai's layout (special tokens first, size a multiple of 8).

    Parameters
    ----------
    itos : sequence of str
        Tokens in id order; ``itos[0]`` must be ``xxunk`` and ``itos[1]`` ``xxpad``.
    """

    def __init__(self, itos: Sequence[str]):
        itos = list(itos)
        if itos[:2] != [UNK, PAD]:
            raise ValueError(f"a vocabulary must start with {UNK!r}, {PAD!r}; got {itos[:2]}")
        self.itos = itos
        self.stoi = {token: i for i, token in enumerate(itos)}

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], min_freq: int, max_vocab: int):
        """Count tokens and keep those seen ``min_freq`` times, at most ``max_vocab``."""
        return cls.from_counts(count_tokens(token_lists), min_freq, max_vocab)

    @classmethod
    def for_training(cls, counts: Counter, start: Sequence[str] | None, min_freq: int, max_vocab: int):
        """A training run's vocabulary: from the corpus' token ``counts`` alone, or, for a run
        that starts from a pretrained model, that model's ``start`` tokens extended by them."""
        if start is None:
            return cls.from_counts(counts, min_freq, max_vocab)
        return cls(start).extend_counts(counts, min_freq, max_vocab)

    @classmethod
    def from_counts(cls, counts: Counter, min_freq: int, max_vocab: int):
        """The tokens counted ``min_freq`` times, most frequent first, at most ``max_vocab``
        (fastai's ``make_vocab``: special tokens first, size a multiple of 8)."""
        return cls(make_vocab(counts, min_freq=min_freq, max_vocab=max_vocab))

    def extend(self, token_lists: Iterable[Sequence[str]], min_freq: int, max_vocab: int):
        """This vocabulary plus the corpus tokens seen ``min_freq`` times that it lacks.

        Every token already known keeps its place, however rare it is in the new corpus;
        new tokens (most frequent first) are added while the size stays within
        ``max_vocab``. The size is rounded up to a multiple of 8 as fastai does.
        """
        return self.extend_counts(count_tokens(token_lists), min_freq, max_vocab)

    def extend_counts(self, counts: Counter, min_freq: int, max_vocab: int):
        """:meth:`extend` from tokens already counted."""
        known = [token for token in self.itos if token != FAKE]
        seen = set(known)
        room = max(0, max_vocab - len(known))
        new = [t for t, c in counts.most_common() if c >= min_freq and t not in seen][:room]
        itos = known + new
        return Vocabulary(itos + [FAKE] * (-len(itos) % 8))

    def __len__(self) -> int:
        return len(self.itos)

    def numericalize(self, tokens: Sequence[str]) -> np.ndarray:
        """Token ids of ``tokens``; unknown tokens map to ``xxunk`` (id 0)."""
        lookup = self.stoi.get
        return np.fromiter((lookup(token, 0) for token in tokens), dtype=np.int64, count=len(tokens))

    def __eq__(self, other) -> bool:
        return isinstance(other, Vocabulary) and self.itos == other.itos

    def __getstate__(self):
        return {"itos": self.itos}

    def __setstate__(self, state):
        self.__init__(state["itos"])


def in_reading_order(sequence, direction: str):
    """``sequence`` (a text's tokens or ids, or a token stream) in the order a ``direction``
    model reads it: as it is forwards, reversed backwards (ULMFiT's backward model)."""
    return sequence[::-1] if direction == "backward" else sequence


def count_tokens(token_lists: Iterable[Sequence[str]]) -> Counter:
    """How often each token occurs in ``token_lists``."""
    counts = Counter()
    for tokens in token_lists:
        counts.update(tokens)
    return counts


_SHARED_TOKENIZER = FastaiTokenizer()
# Tokens of recently seen texts: a grid search fits the same texts many times, and the
# language-model fine-tuning and the classifier read the same training texts.
CACHED_TEXTS = 100_000
_cache: OrderedDict[str, tuple[str, ...]] = OrderedDict()


# Below this many characters to tokenise (about 250 IMDb reviews), starting worker
# processes costs more than it saves (measured on 2 cores: 500 reviews, 1.2x; 6,000, 1.7x).
PARALLEL_MIN_CHARS = 300_000
# With verbose, texts are tokenised in pieces of this many, one progress-bar step each.
PROGRESS_CHUNK = 1_000


def tokenize(texts: Iterable[str], n_jobs: int | None = None, memory=None,
             show_progress: bool = False) -> list[list[str]]:
    """fastai tokens of each text (one spaCy pipeline per process, built on first use).

    Texts tokenised recently in this process are not tokenised again. ``n_jobs``
    (joblib's meaning: ``None`` is 1 unless in a ``joblib.parallel_config`` context, -1
    is every core) spreads a large batch of new texts over worker processes. ``memory``
    (a folder or ``joblib.Memory``) also keeps the tokens of each batch of texts on disk,
    for other processes and later runs.
    """
    texts = list(texts)
    missing = list(dict.fromkeys(text for text in texts if text not in _cache))
    if missing:
        memory = check_memory(memory)
        new = _tokenize_new(missing, n_jobs, show_progress) if memory.location is None else \
            memory.cache(_tokenize_new, ignore=["n_jobs", "show_progress"])(missing, n_jobs, show_progress)
        for text, tokens in zip(missing, new, strict=True):
            _cache[text] = tuple(sys.intern(token) for token in tokens)  # shared strings: less memory
    result = []
    for text in texts:
        _cache.move_to_end(text)
        result.append(list(_cache[text]))
    while len(_cache) > CACHED_TEXTS:
        _cache.popitem(last=False)
    return result


def _tokenize_new(texts: list[str], n_jobs: int | None, show_progress: bool = False) -> list[list[str]]:
    workers = min(effective_n_jobs(n_jobs), len(texts))
    use_workers = workers > 1 and sum(map(len, texts)) >= PARALLEL_MIN_CHARS
    show_progress = show_progress and len(texts) > PROGRESS_CHUNK
    if not use_workers and not show_progress:
        return _SHARED_TOKENIZER(texts)
    # with a progress bar: pieces of PROGRESS_CHUNK texts (the same tokens as one call)
    pieces = max(workers if use_workers else 1, -(-len(texts) // PROGRESS_CHUNK) if show_progress else 1)
    chunks = np.array_split(np.arange(len(texts)), pieces)
    if not use_workers:
        parts = (_SHARED_TOKENIZER([texts[i] for i in chunk]) for chunk in chunks)
        return [t for part in _with_bar(parts, len(chunks), show_progress, "tokenising") for t in part]
    _SHARED_TOKENIZER([])  # load spaCy here, once, rather than in each worker
    # Where processes start by fork (Linux), workers inherit the loaded modules and spaCy.
    waves = [chunks[i:i + workers] for i in range(0, len(chunks), workers)]  # one bar step per wave
    tokens: list[list[str]] = []
    with parallel_config(backend="multiprocessing"), Parallel(n_jobs=workers) as parallel:  # one pool
        for wave in _with_bar(waves, len(waves), show_progress, "tokenising"):
            parts = parallel(delayed(_tokenize_in_worker)([texts[i] for i in chunk]) for chunk in wave)
            tokens.extend(t for part in parts for t in part)
    return tokens


def _with_bar(items, total: int, show: bool, comment: str):
    """``items``, under a fastprogress bar when ``show``."""
    if not show:
        return items
    bar = progress_bar(items, total=total, leave=False)
    bar.comment = comment
    return bar


def _tokenize_in_worker(texts: list[str]) -> list[list[str]]:
    return _SHARED_TOKENIZER(texts)


def clear_token_cache() -> None:
    """Forget the tokens of every text seen so far."""
    _cache.clear()
