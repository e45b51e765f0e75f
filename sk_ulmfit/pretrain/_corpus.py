"""A pretraining corpus: documents streamed from shard files, tokenised once into a
token-id cache on disk.

Shards are JSON Lines (one document per line, its text in a field, ``"text"`` by
default) or plain text (one document per non-blank line), optionally compressed
(``.xz``, ``.gz``, ``.bz2``). Each shard is read as a stream and tokenised once with
fastai's rules; the cache keeps, per shard, memory-mapped arrays of token ids (in the
shard's own numbering), document boundaries and a hash per document, so a corpus of any
size never has to fit in memory as text. A vocabulary is built from the counts of the
training documents, and each shard's ids are renumbered for it once (also cached): later
runs, other model sizes and the backward direction reuse all of it.

Every document is held back for validation or used for training by a hash of its source
and id (``valid_permille`` per thousand), so the split does not depend on shard order and
holds a slice of every source.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import json
import lzma
import re
import shutil
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Iterator, Sequence

import fastai
import numpy as np
import spacy
from joblib import Parallel, delayed, effective_n_jobs

from .._common.atomic import atomic_target
from .._text.tokenizer import FastaiTokenizer, Vocabulary

_OPENERS: dict[str, Callable[..., IO]] = {".xz": lzma.open, ".gz": gzip.open, ".bz2": bz2.open}
FORMATS = (".jsonl", ".txt")
# Cached tokens are valid for this tokenizer; another fastai or spaCy version tokenises anew.
TOKENIZER_ID = f"fastai-{fastai.__version__}-spacy-{spacy.__version__}"
CACHE_VERSION = 1
# Documents are tokenised in chunks of about this many characters (one chunk per task).
CHUNK_CHARS = 4_000_000


def shard_format(path: Path) -> str:
    """``".jsonl"`` or ``".txt"``: the shard's format, read from its file name."""
    suffixes = [s for s in path.suffixes if s not in _OPENERS]
    if not suffixes or suffixes[-1] not in FORMATS:
        raise ValueError(
            f"{path.name}: a corpus file must be JSON Lines (.jsonl) or text (.txt), optionally "
            "compressed (.xz, .gz, .bz2)"
        )
    return suffixes[-1]


def source_name(path: Path) -> str:
    """The source a shard belongs to: its name without suffixes and shard number
    (``enwiki2014-03.jsonl.xz`` → ``enwiki2014``)."""
    stem = path.name.split(".")[0]
    return re.sub(r"[-_]\d+$", "", stem) or stem


def _open_text(path: Path) -> IO[str]:
    opener = _OPENERS.get(path.suffix)
    if opener is None:
        return open(path, encoding="utf-8")
    return io.TextIOWrapper(opener(path, "rb"), encoding="utf-8")


def iter_documents(path: Path, text_field: str = "text") -> Iterator[tuple[str, str]]:
    """``(document id, text)`` of each document in a shard, streamed."""
    kind = shard_format(path)
    with _open_text(path) as file:
        for number, line in enumerate(file, start=1):
            if kind == ".txt":
                if line.strip():
                    yield str(number), line.rstrip("\n")
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                text = record[text_field]
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{number} is not a JSON object ({error})") from error
            except (KeyError, TypeError) as error:
                raise ValueError(
                    f"{path}:{number} has no {text_field!r} field; pass text_field= (--text-field) "
                    "to name the field that holds the text"
                ) from error
            if not isinstance(text, str):
                raise ValueError(f"{path}:{number}: {text_field!r} is a {type(text).__name__}, not a string")
            yield str(record.get("id", number)), _valid_unicode(text)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid_unicode(text: str) -> str:
    """``text`` with lone surrogates (invalid Unicode that a JSON ``\\ud800`` escape can
    carry, and no tokenizer accepts) replaced by U+FFFD, as a UTF-8 decoder would."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def document_hash(source: str, doc_id: str) -> int:
    """A stable 32-bit hash of a document's source and id (sets its validation split)."""
    return zlib.crc32(f"{source}\0{doc_id}".encode())


@dataclass
class Shard:
    """One shard's cached tokens (memory-mapped)."""

    name: str
    source: str
    ids: np.ndarray  # token ids, the shard's own numbering (int32)
    starts: np.ndarray  # document d is ids[starts[d]:starts[d + 1]]
    hashes: np.ndarray  # document_hash per document (uint32)
    itos: list[str]  # the shard's own numbering

    def held_out(self, valid_permille: int) -> np.ndarray:
        """Per document: True if it is held back for validation."""
        return self.hashes % 1000 < valid_permille

    @property
    def n_documents(self) -> int:
        return len(self.starts) - 1


def _tokenize_chunk(texts: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Tokens of ``texts`` as (chunk vocabulary, ids, tokens per text)."""
    stoi: dict[str, int] = {}
    ids, lengths = [], []
    for tokens in _TOKENIZER(texts):
        ids.extend(stoi.setdefault(token, len(stoi)) for token in tokens)
        lengths.append(len(tokens))
    return list(stoi), np.asarray(ids, dtype=np.int32), np.asarray(lengths, dtype=np.int64)


_TOKENIZER = FastaiTokenizer()


def _chunks(documents: Iterator[tuple[str, str]], source: str, hashes: list[int]) -> Iterator[list[str]]:
    chunk, size = [], 0
    for doc_id, text in documents:
        hashes.append(document_hash(source, doc_id))
        chunk.append(text)
        size += len(text)
        if size >= CHUNK_CHARS:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


class TokenCache:
    """Token ids of corpus shards, cached in ``folder`` (see the module docstring).

    Parameters
    ----------
    folder : path
        Where the cache lives; created if missing, shared by all runs on the same shards.
    n_jobs : int or None
        Worker processes for tokenising (joblib's meaning; -1: every core).
    log : callable
        Receives one line of progress per shard.
    """

    def __init__(self, folder, n_jobs: int | None = None, log: Callable[[str], None] = print):
        self.folder = Path(folder)
        self.n_jobs = n_jobs
        self.log = log

    def shard(self, path, text_field: str = "text") -> Shard:
        """The cached tokens of the shard at ``path``, tokenising it first if needed."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"no corpus file at {path}")
        folder = self.folder / "shards" / self._key(path, text_field)
        if not (folder / "itos.json").is_file():
            self._tokenize(path, text_field, folder)
        return Shard(
            name=path.name, source=source_name(path),
            ids=np.load(folder / "ids.npy", mmap_mode="r"),
            starts=np.load(folder / "starts.npy"), hashes=np.load(folder / "hashes.npy"),
            itos=json.loads((folder / "itos.json").read_text(encoding="utf-8")),
        )

    @staticmethod
    def _key(path: Path, text_field: str) -> str:
        identity = f"{path.name}|{path.stat().st_size}|{text_field}|{TOKENIZER_ID}|{CACHE_VERSION}"
        return f"{path.name.split('.')[0]}-{hashlib.sha1(identity.encode()).hexdigest()[:12]}"

    def _tokenize(self, path: Path, text_field: str, folder: Path) -> None:
        partial = folder.with_name(folder.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        hashes: list[int] = []
        chunks = _chunks(iter_documents(path, text_field), source_name(path), hashes)
        stoi: dict[str, int] = {}
        # Chunks stream through the workers (joblib's loky processes) in order.
        results = Parallel(n_jobs=effective_n_jobs(self.n_jobs), return_as="generator")(
            delayed(_tokenize_chunk)(chunk) for chunk in chunks)
        parts, lengths = [], []
        for chunk_itos, chunk_ids, chunk_lengths in results:
            remap = np.fromiter((stoi.setdefault(t, len(stoi)) for t in chunk_itos),
                                dtype=np.int32, count=len(chunk_itos))
            parts.append(remap[chunk_ids])
            lengths.append(chunk_lengths)
        raw = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int32)
        lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
        np.save(partial / "ids.npy", raw)
        np.save(partial / "starts.npy", np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
        np.save(partial / "hashes.npy", np.asarray(hashes, dtype=np.uint32))
        (partial / "itos.json").write_text(json.dumps(list(stoi)), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        partial.replace(folder)  # complete or absent, never half-written
        self.log(f"tokenised {path.name}: {len(hashes):,} documents, {len(raw):,} tokens")

    def global_ids(self, shard: Shard, vocab: Vocabulary, vocab_key: str) -> np.ndarray:
        """``shard``'s token ids in ``vocab``'s numbering (memory-mapped, cached)."""
        path = self.folder / f"ids-{vocab_key}" / f"{shard.name}.npy"
        if not path.is_file():
            remap = np.fromiter((vocab.stoi.get(t, 0) for t in shard.itos), dtype=np.int64,
                                count=len(shard.itos))
            dtype = np.uint16 if len(vocab) <= np.iinfo(np.uint16).max + 1 else np.int32
            with atomic_target(path) as partial, open(partial, "wb") as file:
                np.save(file, remap[shard.ids].astype(dtype))
        return np.load(path, mmap_mode="r")


def training_counts(shards: Sequence[Shard], valid_permille: int) -> Counter:
    """How often each token occurs in the training (not held-back) documents."""
    counts: Counter = Counter()
    for shard in shards:
        token_held_out = np.repeat(shard.held_out(valid_permille), np.diff(shard.starts))
        shard_counts = np.bincount(np.asarray(shard.ids)[~token_held_out], minlength=len(shard.itos))
        for index in np.flatnonzero(shard_counts):
            counts[shard.itos[index]] += int(shard_counts[index])
    return counts


@dataclass
class Corpus:
    """A tokenised corpus in one vocabulary: training and held-back documents per source."""

    vocab: Vocabulary
    shards: list[Shard]
    ids: list[np.ndarray]  # per shard, in vocab's numbering
    valid_permille: int

    @classmethod
    def prepare(cls, paths: Sequence, cache: TokenCache, *, min_freq: int, max_vocab: int,
                valid_permille: int, text_field: str = "text", vocab: Vocabulary | None = None,
                extend: Vocabulary | None = None) -> "Corpus":
        """Tokenise (or read from ``cache``) every shard and number them in one vocabulary:
        ``vocab`` when given, else ``extend`` plus the training documents' frequent tokens it
        lacks (:meth:`Vocabulary.extend`), else one built from the training documents' counts."""
        paths = [Path(p) for p in paths]
        if not paths:
            raise ValueError("the corpus is empty: give at least one .jsonl or .txt file")
        for path in paths:
            shard_format(path)
        names = [p.name for p in paths]
        if len(set(names)) != len(names):
            raise ValueError(f"corpus files must have distinct names; got {sorted(names)}")
        shards = [cache.shard(path, text_field) for path in paths]
        if vocab is None:
            vocab = Vocabulary.for_training(training_counts(shards, valid_permille),
                                            None if extend is None else extend.itos, min_freq, max_vocab)
        vocab_key = hashlib.sha1("\n".join(vocab.itos).encode()).hexdigest()[:12]
        ids = [cache.global_ids(shard, vocab, vocab_key) for shard in shards]
        return cls(vocab, shards, ids, valid_permille)

    def _documents(self, held_out: bool) -> tuple[np.ndarray, np.ndarray]:
        """(shard index, document index) of each training or held-back document."""
        pairs = [(s, np.flatnonzero(shard.held_out(self.valid_permille) == held_out))
                 for s, shard in enumerate(self.shards)]
        return (np.concatenate([np.full(len(d), s) for s, d in pairs]).astype(np.int64),
                np.concatenate([d for _, d in pairs]).astype(np.int64))

    def _concatenate(self, shard_index: np.ndarray, doc_index: np.ndarray) -> np.ndarray:
        parts = []
        for s, d in zip(shard_index.tolist(), doc_index.tolist()):
            starts = self.shards[s].starts
            parts.append(self.ids[s][starts[d]:starts[d + 1]])
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def training_stream(self, seed: int, epoch: int) -> np.ndarray:
        """All training documents, in an order set by ``(seed, epoch)``, as one stream."""
        shard_index, doc_index = self._documents(held_out=False)
        order = np.random.default_rng([seed, epoch]).permutation(len(doc_index))
        return self._concatenate(shard_index[order], doc_index[order])

    def validation_streams(self, max_tokens: int) -> dict[str, np.ndarray]:
        """Per source, the held-back documents (in corpus order), at most ``max_tokens``."""
        shard_index, doc_index = self._documents(held_out=True)
        streams = {}
        for source in dict.fromkeys(shard.source for shard in self.shards):
            mine = np.array([self.shards[s].source == source for s in shard_index.tolist()], dtype=bool)
            stream = self._concatenate(shard_index[mine], doc_index[mine])[:max_tokens]
            if len(stream) > 1:
                streams[source] = stream
        return streams

    def token_counts(self) -> np.ndarray:
        """Occurrences of each vocabulary id in the training documents."""
        counts = np.zeros(len(self.vocab), dtype=np.int64)
        for shard, ids in zip(self.shards, self.ids):
            token_held_out = np.repeat(shard.held_out(self.valid_permille), np.diff(shard.starts))
            counts += np.bincount(np.asarray(ids)[~token_held_out], minlength=len(self.vocab))
        return counts

    def describe(self) -> dict:
        """Documents and tokens per source, training and held back."""
        summary: dict[str, dict] = {}
        for shard in self.shards:
            held = shard.held_out(self.valid_permille)
            lengths = np.diff(shard.starts)
            entry = summary.setdefault(shard.source, {"files": [], "documents": 0, "tokens": 0,
                                                      "valid_documents": 0, "valid_tokens": 0})
            entry["files"].append(shard.name)
            entry["documents"] += int((~held).sum())
            entry["tokens"] += int(lengths[~held].sum())
            entry["valid_documents"] += int(held.sum())
            entry["valid_tokens"] += int(lengths[held].sum())
        return summary
