"""Pretraining on a corpus of shards: token cache, sampled softmax, checkpoints, resume, CLI."""

import bz2
import gzip
import itertools
import json
import lzma
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sk_ulmfit import ULMFiTClassifier, ULMFiTLanguageModel
from sk_ulmfit._io.pretrained import metadata_file
from sk_ulmfit._nn.sampled_softmax import SampledSoftmax, make_sampler
from sk_ulmfit._text.tokenizer import Vocabulary, tokenize
from sk_ulmfit.pretrain import (
    Recipe,
    build_parser,
    main,
    parse_count,
    parse_duration,
    pretrain_language_model,
)
from sk_ulmfit.pretrain._corpus import Corpus, TokenCache, iter_documents, source_name
from sk_ulmfit.pretrain._run import CHECKPOINT_FILE, _started_from

from .conftest import TINY

TINY_RUN = {"emb_size": 16, "hidden_size": 32, "n_layers": 2, "batch_size": 8, "bptt": 16,
            "max_vocab": 2000, "min_freq": 1, "valid_permille": 100, "n_sampled": 200,
            "lr": 5e-3}


@pytest.fixture(scope="module")
def corpus_files(data_home, tmp_path_factory):
    """Real documents from the pretraining corpus as small shards in three formats."""
    folder = tmp_path_factory.mktemp("corpus")
    with lzma.open(data_home / "pretrain" / "enwiki2014-00.jsonl.xz", "rt", encoding="utf-8") as f:
        wiki = list(itertools.islice(f, 120))
    with lzma.open(data_home / "pretrain" / "wikinews-00.jsonl.xz", "rt", encoding="utf-8") as f:
        news = [json.loads(line)["text"] for line in itertools.islice(f, 80)]
    with lzma.open(folder / "wiki-00.jsonl.xz", "wt", encoding="utf-8") as f:
        f.writelines(wiki[:60])
    with gzip.open(folder / "wiki-01.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(wiki[60:])
    with bz2.open(folder / "news.txt.bz2", "wt", encoding="utf-8") as f:
        f.writelines(" ".join(text.split("\n")) + "\n" for text in news)
    return [folder / "wiki-00.jsonl.xz", folder / "wiki-01.jsonl.gz", folder / "news.txt.bz2"]


def test_documents_stream_from_every_format(corpus_files):
    wiki = list(iter_documents(corpus_files[0]))
    assert len(wiki) == 60 and all(isinstance(text, str) and text for _, text in wiki)
    assert wiki[0][0].isdigit()  # the record's id
    news = list(iter_documents(corpus_files[2]))
    assert len(news) == 80 and all("\n" not in text for _, text in news)
    assert [source_name(p) for p in corpus_files] == ["wiki", "wiki", "news"]


def test_bad_corpus_files_say_what_to_change(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine"}\nnot json\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:2 is not a JSON object"):
        list(iter_documents(bad))
    other = tmp_path / "other.jsonl"
    other.write_text('{"body": "x"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="text_field"):
        list(iter_documents(other))
    with pytest.raises(ValueError, match=r"\.jsonl\) or text \(\.txt\)"):
        list(iter_documents(tmp_path / "data.csv"))


def test_token_cache_matches_the_tokenizer_and_is_reused(corpus_files, tmp_path):
    lines = []
    cache = TokenCache(tmp_path, log=lines.append)
    corpus = Corpus.prepare(corpus_files, cache, min_freq=1, max_vocab=100_000, valid_permille=100)
    assert len(lines) == 3  # each shard tokenised once
    texts = [text for _, text in iter_documents(corpus_files[1])]
    shard = corpus.shards[1]
    for d in (0, 7, len(texts) - 1):
        ids = corpus.ids[1][shard.starts[d]:shard.starts[d + 1]]
        assert list(ids) == list(corpus.vocab.numericalize(tokenize([texts[d]])[0]))
    again = Corpus.prepare(corpus_files, cache, min_freq=1, max_vocab=100_000, valid_permille=100)
    assert len(lines) == 3 and again.vocab == corpus.vocab
    summary = corpus.describe()
    assert set(summary) == {"wiki", "news"}
    assert summary["wiki"]["valid_documents"] > 0 and summary["news"]["valid_documents"] > 0
    assert summary["wiki"]["documents"] + summary["wiki"]["valid_documents"] == 120
    # the training stream holds exactly the training documents, in a seeded order
    stream = corpus.training_stream(seed=0, epoch=0)
    assert len(stream) == sum(entry["tokens"] for entry in summary.values())
    assert np.array_equal(stream, corpus.training_stream(seed=0, epoch=0))
    assert not np.array_equal(stream, corpus.training_stream(seed=0, epoch=1))
    assert corpus.token_counts().sum() == len(stream)


def test_sampled_softmax_is_the_full_softmax_when_every_token_is_drawn():
    torch.manual_seed(0)
    vocab, width = 20, 8
    hidden, weight, bias = torch.randn(50, width), torch.randn(vocab, width), torch.randn(vocab)
    targets = torch.randint(0, vocab, (50,))
    sampler = SampledSoftmax(np.ones(vocab), n_samples=5000)  # every token drawn, Q = 1
    full = F.cross_entropy(hidden @ weight.T + bias, targets)
    assert sampler.loss(hidden, targets, weight, bias).item() == pytest.approx(full.item(), rel=1e-5)
    assert make_sampler(np.ones(vocab), 20) is None and make_sampler(np.ones(vocab), None) is None
    assert isinstance(make_sampler(np.ones(vocab), 10), SampledSoftmax)


def test_sampled_softmax_training_lowers_full_softmax_perplexity(wiki_articles):
    texts = wiki_articles[:40]
    lm = ULMFiTLanguageModel(emb_size=16, hidden_size=32, n_layers=2, batch_size=16, min_freq=1,
                             epochs=2, lr=1e-2, n_sampled=256, random_state=0).fit(texts)
    assert len(lm.vocab_) > 4 * 256  # the sampled path really ran
    assert lm.perplexity(texts) < 0.25 * len(lm.vocab_)


def _run(corpus_files, tmp_path, **options):
    return pretrain_language_model(corpus_files, tmp_path / "lm.pt", checkpoint_dir=tmp_path / "run",
                                   cache_dir=tmp_path / "cache", verbose=0, **{**TINY_RUN, **options})


def test_pretraining_writes_a_model_the_estimators_use(corpus_files, tmp_path, trec):
    lm = _run(corpus_files, tmp_path, max_tokens=3000)
    metadata = json.loads((tmp_path / "lm.json").read_text())
    assert metadata["tokens_seen"] == lm_tokens(3000) and metadata["direction"] == "forward"
    assert set(metadata["valid_perplexity"]) == {"wiki", "news"}
    assert metadata["corpus"]["wiki"]["files"] == ["wiki-00.jsonl.xz", "wiki-01.jsonl.gz"]
    assert isinstance(lm, ULMFiTLanguageModel) and lm.config_.emb_size == 16
    (tmp_path / "plain").write_text("")  # the exports get the permissions of any new file
    for name in ("lm.pt", "lm.json"):
        assert (tmp_path / name).stat().st_mode == (tmp_path / "plain").stat().st_mode
    X_train, y_train, X_test, _ = trec
    tiny = {k: v for k, v in TINY.items() if k not in ("pretrained", "emb_size", "hidden_size", "n_layers")}
    clf = ULMFiTClassifier(pretrained=tmp_path / "lm.pt", language_model=None, random_state=0,
                           **tiny).fit(X_train[:100], y_train[:100])
    assert clf.predict_proba(X_test[:5]).shape == (5, len(clf.classes_))


def lm_tokens(max_tokens):
    per_step = TINY_RUN["batch_size"] * TINY_RUN["bptt"]
    return (max_tokens // per_step) * per_step


def _weights(path):
    return torch.load(path, weights_only=True)


def test_resume_continues_exactly(corpus_files, tmp_path):
    """One step per call (time_budget=0), across an epoch boundary, equals one straight run."""
    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps({"id": i, "text": text}) + "\n"
                             for i, (_, text) in enumerate(itertools.islice(iter_documents(corpus_files[2]), 12))))
    recipe = dict(max_tokens=None, epochs=2, bptt=64, valid_permille=250)
    straight = tmp_path / "straight"
    _run([small], straight, **recipe)
    total = _weights(straight / "run" / CHECKPOINT_FILE)["global_step"]
    stepped = tmp_path / "stepped"
    _run([small], stepped, time_budget=0, **recipe)
    for _ in range(total - 1):
        _run([small], stepped, time_budget=0, resume=True, **recipe)
    a, b = _weights(straight / "run" / CHECKPOINT_FILE), _weights(stepped / "run" / CHECKPOINT_FILE)
    assert a["global_step"] == b["global_step"] == total and b["epoch"] == 1  # in the second epoch
    assert 4 <= total <= 40
    for name in a["model"]:
        torch.testing.assert_close(a["model"][name], b["model"][name], rtol=0, atol=0)
    assert len(b["history"]) == total  # each call validated and exported once


def test_a_lost_checkpoint_continues_from_the_export(corpus_files, tmp_path):
    _run(corpus_files, tmp_path, time_budget=0, max_tokens=4000)
    (tmp_path / "run" / CHECKPOINT_FILE).unlink()
    _run(corpus_files, tmp_path, time_budget=0, max_tokens=4000, init=tmp_path / "lm.pt")
    state = _weights(tmp_path / "run" / CHECKPOINT_FILE)
    assert state["global_step"] == 2 and state["tokens_seen"] == 2 * 8 * 16
    assert [r["tokens_seen"] for r in state["history"]] == [128, 256]
    with pytest.raises(ValueError, match="bptt: 16 in the checkpoint, 32 now"):
        _run(corpus_files, tmp_path / "other", max_tokens=4000, init=tmp_path / "lm.pt", bptt=32)


def test_an_existing_run_is_never_overwritten(corpus_files, tmp_path):
    _run(corpus_files, tmp_path, max_tokens=1000)
    checkpoint = tmp_path / "run" / CHECKPOINT_FILE
    before = checkpoint.read_bytes()
    with pytest.raises(ValueError, match="resume=True"):
        _run(corpus_files, tmp_path, max_tokens=1000)
    with pytest.raises(ValueError, match="hidden_size: 32 in the checkpoint, 48 now"):
        _run(corpus_files, tmp_path, max_tokens=1000, resume=True, hidden_size=48)
    assert checkpoint.read_bytes() == before


def test_backward_run_shares_the_token_cache(corpus_files, tmp_path):
    _run(corpus_files, tmp_path, max_tokens=1000)
    cached = sorted(p.name for p in (tmp_path / "cache" / "shards").iterdir())
    lm = pretrain_language_model(corpus_files, tmp_path / "bwd.pt", checkpoint_dir=tmp_path / "bwd",
                                 cache_dir=tmp_path / "cache", verbose=0, direction="backward",
                                 **{**TINY_RUN, "max_tokens": 1000})
    assert lm.direction == "backward"
    assert sorted(p.name for p in (tmp_path / "cache" / "shards").iterdir()) == cached
    assert ULMFiTLanguageModel.load(tmp_path / "lm.pt").vocab_ == lm.vocab_


def test_command_line(corpus_files, tmp_path, capsys):
    args = [str(p) for p in corpus_files] + [
        "--output", str(tmp_path / "cli.pt"), "--checkpoint-dir", str(tmp_path / "cli"),
        "--emb-size", "16", "--hidden-size", "32", "--n-layers", "2", "--batch-size", "8",
        "--bptt", "16", "--max-vocab", "2k", "--min-freq", "1", "--max-tokens", "1k",
        "--valid-permille", "100", "--time-budget", "5m"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "validation at" in printed and "perplexity" in printed
    assert ULMFiTLanguageModel.load(tmp_path / "cli.pt").config_.hidden_size == 32
    assert main(args) == 2  # the run exists: refused, not overwritten
    assert "--resume" in capsys.readouterr().err or "resume=True" in capsys.readouterr().err
    args[args.index("--output") + 1] = str(tmp_path / "int8.pt")
    args[args.index("--checkpoint-dir") + 1] = str(tmp_path / "int8")
    assert main(args + ["--precision", "int8", "--quiet"]) == 0
    assert _weights(tmp_path / "int8.pt")["weights"]["0.encoder.weight"]["int8"].dtype == torch.int8
    assert build_parser().parse_args(args + ["--float32"]).precision == "float32"
    assert build_parser().parse_args(args).precision == "float16"


def test_durations_and_counts_parse():
    assert parse_duration("2h") == 7200 and parse_duration("1h30m") == 5400
    assert parse_duration("90") == 90 and parse_duration("45m") == 2700
    assert parse_count("10M") == 10_000_000 and parse_count("2k") == 2000 and parse_count("7") == 7
    with pytest.raises(Exception, match="not a duration"):
        parse_duration("soon")
    with pytest.raises(Exception, match="not a count"):
        parse_count("many")


def test_vocabulary_from_counts_is_fastai_layout():
    from collections import Counter

    vocab = Vocabulary.from_counts(Counter({"the": 5, "a": 3, "rare": 1}), min_freq=2, max_vocab=100)
    assert vocab.itos[:2] == ["xxunk", "xxpad"] and "the" in vocab.stoi and "rare" not in vocab.stoi
    assert len(vocab) % 8 == 0


def test_fine_tuning_starts_from_a_model_and_extends_its_vocabulary(corpus_files, tiny_pretrained, tmp_path):
    """``start_from``: the model's size, its vocabulary first with the corpus's new tokens after
    it, known rows kept and new ones the mean row; the first export is the starting point."""
    tiny_pretrained.save(tmp_path / "start.pt")
    start_itos = [t for t in tiny_pretrained.vocab_.itos if t != "xxfake"]
    sized = {k: v for k, v in TINY_RUN.items() if k not in ("emb_size", "hidden_size", "n_layers")}
    still = pretrain_language_model(corpus_files, tmp_path / "still.pt", checkpoint_dir=tmp_path / "still",
                                    cache_dir=tmp_path / "cache", verbose=0, precision="float32",
                                    start_from=tmp_path / "start.pt",
                                    **{**sized, "max_vocab": 4000, "lr": 1e-12, "max_tokens": 300})
    assert still.config_.hidden_size == tiny_pretrained.config_.hidden_size
    assert still.vocab_.itos[:len(start_itos)] == start_itos and len(still.vocab_) > len(start_itos) + 100
    before = tiny_pretrained.model_.state_dict()["0.encoder.weight"]
    after = still.model_.state_dict()["0.encoder.weight"]
    torch.testing.assert_close(after[:len(start_itos)], before[:len(start_itos)], rtol=0, atol=1e-6)
    mean_row = before.mean(0)
    torch.testing.assert_close(after[len(start_itos) + 5], mean_row, rtol=0, atol=1e-6)
    metadata = json.loads((tmp_path / "still.json").read_text())
    assert metadata["recipe"]["start_from"] == str(tmp_path / "start.pt")
    assert metadata["started_from"] == {"model": str(tmp_path / "start.pt")}  # no metadata file beside it
    assert metadata["history"][0]["tokens_seen"] == 0

    tuned = pretrain_language_model(corpus_files, tmp_path / "tuned.pt", checkpoint_dir=tmp_path / "tuned",
                                    cache_dir=tmp_path / "cache", verbose=0, start_from=tmp_path / "start.pt",
                                    **{**sized, "max_vocab": 4000, "epochs": 2})
    history = json.loads((tmp_path / "tuned.json").read_text())["history"]
    first, last = history[0]["valid_perplexity"], history[-1]["valid_perplexity"]
    assert all(last[source] < first[source] for source in first), (first, last)
    assert tuned.vocab_ == still.vocab_
    _run(corpus_files, tmp_path / "random", max_tokens=300, max_vocab=4000)
    random_first = json.loads((tmp_path / "random" / "lm.json").read_text())["history"][0]
    assert first["wiki"] < random_first["valid_perplexity"]["wiki"]  # the start already knows English


def test_a_fine_tuning_run_resumes_without_its_starting_file(corpus_files, tiny_pretrained, tmp_path, capsys):
    tiny_pretrained.save(tmp_path / "start.pt")
    args = [str(p) for p in corpus_files] + [
        "--output", str(tmp_path / "tuned.pt"), "--checkpoint-dir", str(tmp_path / "run"),
        "--start-from", str(tmp_path / "start.pt"), "--batch-size", "8", "--bptt", "16", "--max-vocab", "4k",
        "--min-freq", "1", "--valid-permille", "100", "--max-tokens", "2k", "--time-budget", "0"]
    assert main(args) == 0
    assert "new from the corpus" in capsys.readouterr().out
    (tmp_path / "start.pt").unlink()
    assert main(args + ["--resume"]) == 0
    state = _weights(tmp_path / "run" / CHECKPOINT_FILE)
    assert state["global_step"] == 2 and state["recipe"]["hidden_size"] == 32
    assert main(args + ["--resume", "--hidden-size", "48"]) == 2
    assert "a run that starts from a model keeps its size" in capsys.readouterr().err
    tiny_pretrained.save(tmp_path / "start.pt")
    with pytest.raises(ValueError, match="keeps its size"):
        pretrain_language_model(corpus_files, tmp_path / "x.pt", checkpoint_dir=tmp_path / "x", verbose=0,
                                start_from=tmp_path / "start.pt", emb_size=400)


def test_the_same_texts_under_another_name_warn_that_other_documents_are_held_back(corpus_files, tmp_path):
    """Held-back documents follow the source's name: a second pass over a renamed copy of the
    first pass's file would validate on documents the first pass trained on."""
    news = corpus_files[2]
    renamed = tmp_path / "press.txt.bz2"
    renamed.write_bytes(news.read_bytes())
    run = {**TINY_RUN, "max_tokens": 300}
    pretrain_language_model([news], tmp_path / "first.pt", checkpoint_dir=tmp_path / "first",
                            cache_dir=tmp_path / "cache", verbose=0, **run)
    sized = {k: v for k, v in run.items() if k not in ("emb_size", "hidden_size", "n_layers")}
    with pytest.warns(UserWarning, match=r"source 'press' has the same .* as 'news'.*name the file as before"):
        pretrain_language_model([renamed], tmp_path / "renamed.pt", checkpoint_dir=tmp_path / "renamed",
                                cache_dir=tmp_path / "cache", verbose=0, start_from=tmp_path / "first.pt", **sized)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pretrain_language_model([news], tmp_path / "second.pt", checkpoint_dir=tmp_path / "second",
                                cache_dir=tmp_path / "cache", verbose=0, start_from=tmp_path / "first.pt", **sized)
    assert not [w for w in caught if "held back" in str(w.message)]
    second = json.loads((tmp_path / "second.json").read_text())
    first = json.loads((tmp_path / "first.json").read_text())
    # the same held-back documents: where the second pass starts is where the first one ended
    assert second["history"][0]["valid_perplexity"] == pytest.approx(first["valid_perplexity"], rel=1e-2)
    assert second["corpus"] == first["corpus"]


def test_a_run_from_a_shipped_model_records_what_that_model_was_trained_on():
    shipped = json.loads(metadata_file("english", "backward").read_text())
    record = _started_from(Recipe(start_from="english", direction="backward"))
    assert record["model"] == "english" and shipped["direction"] == "backward"
    assert record["tokens_seen"] == shipped["tokens_seen"] and record["corpus_files"] == shipped["corpus_files"]
    assert metadata_file("no-such-model.pt", "forward") is None


def test_a_source_with_no_held_back_document_warns_and_still_exports(corpus_files, tmp_path, capsys):
    """A few long documents (books) at the default rate hold back none: the run says so and how
    to change it, and still exports (the weight average, unmeasured)."""
    books = tmp_path / "books.jsonl"
    with lzma.open(corpus_files[0], "rt", encoding="utf-8") as f:
        books.write_text("".join(itertools.islice(f, 3)), encoding="utf-8")
    assert Corpus.prepare([books], TokenCache(tmp_path / "cache", log=lambda line: None), min_freq=1,
                          max_vocab=2000, valid_permille=5).describe()["books"]["valid_documents"] == 0
    run = {**TINY_RUN, "max_tokens": 300, "valid_permille": 5}
    with pytest.warns(UserWarning, match=r"source 'books': no document of its 3 is held back at "
                                         r"valid_permille=5.*Raise valid_permille"):
        pretrain_language_model([books], tmp_path / "books.pt", checkpoint_dir=tmp_path / "run",
                                cache_dir=tmp_path / "cache", verbose=1, **run)
    assert "no held-back documents (see --valid-permille)" in capsys.readouterr().out
    metadata = json.loads((tmp_path / "books.json").read_text())
    assert metadata["valid_perplexity"] == {} and metadata["weights"] == "average"
    with warnings.catch_warnings(record=True) as caught:  # no validation asked for: nothing to warn about
        warnings.simplefilter("always")
        pretrain_language_model([books], tmp_path / "none.pt", checkpoint_dir=tmp_path / "none",
                                cache_dir=tmp_path / "cache", verbose=0, **{**run, "valid_permille": 0})
    assert not [w for w in caught if "is held back" in str(w.message)]
