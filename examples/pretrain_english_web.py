"""Continue the shipped ``"english"`` language models on web text: reviews, questions and
answers, everyday posts (``webtext/`` in the project's data folder).

Runs ``sk_ulmfit.pretrain`` from the shipped model of one direction over the chosen
``webtext`` sources (optionally with a share of the old corpus, Wikipedia and Wikinews,
read again beside them: ``--replay``), resumable and time-boxed. The exported
model's metadata names every source it read and the terms that source is published under;
``--ship`` copies the model into the package:

    python examples/pretrain_english_web.py --data-home ../shared/data --run-dir runs/web --time-budget 2h
    python examples/pretrain_english_web.py --data-home ../shared/data --run-dir runs/web --resume   # next time
    python examples/pretrain_english_web.py --data-home ../shared/data --run-dir runs/web --direction backward
    python examples/pretrain_english_web.py --data-home ../shared/data --run-dir runs/web --score-only --ship

Several sources state no licence or allow research use only (see ``SOURCES`` below and the
data folder's ``webtext/SOURCES.md``). ``--permissive-only`` reads only the sources under
an open licence (public domain, CC0, CC BY, CC BY-SA); ``--sources`` picks any selection.
"""

from __future__ import annotations

import argparse
import json
import lzma
import os
import shutil
from pathlib import Path

from sk_ulmfit import ULMFiTLanguageModel
from sk_ulmfit.datasets import fetch_wikitext2, get_data_home, wikitext_articles
from sk_ulmfit.pretrain import parse_count, parse_duration, pretrain_language_model

# source -> (shards, terms, open licence?)
SOURCES = {
    "amazon-mdsd": (1, "no licence stated; distributed by its authors for research (Blitzer et al., 2007)", False),
    "clothing-reviews": (1, "CC0 1.0 (N. Brooks, 2018, Kaggle)", True),
    "opinrank-cars": (1, "no licence stated (Ganesan & Zhai, 2012)", False),
    "opinrank-hotels": (2, "no licence stated (Ganesan & Zhai, 2012)", False),
    "amazon-qa": (1, "no licence stated; distributed for research (McAuley & Yang, 2016)", False),
    "stackexchange": (1, "CC BY-SA 3.0 (Stack Exchange contributors)", True),
    "qatarliving": (1, "free for general research use (SemEval 2015-2016 Task 3)", False),
    "sentiment140": (1, "no licence stated; distributed by its authors for research (Go et al., 2009)", False),
    "blogs": (1, "non-commercial research use (Blog Authorship Corpus, Schler et al., 2006)", False),
}
# The old corpus read again beside the new one: (shard, words taken from its start, terms).
REPLAY = {
    "enwiki2014": ("enwiki2014-00", 6_000_000, "CC BY-SA 3.0 (Wikipedia contributors)"),
    "wikinews": ("wikinews-00", 2_000_000, "CC BY 2.5 (Wikinews contributors)"),
}
PACKAGE = Path(__file__).resolve().parents[1] / "sk_ulmfit" / "pretrained_models"


def webtext_files(data_home: Path, sources: list[str]) -> list[Path]:
    """The shards of the chosen ``webtext`` sources."""
    return [data_home / "webtext" / f"{source}-{i:02d}.jsonl.xz"
            for source in sources for i in range(SOURCES[source][0])]


def replay_files(data_home: Path, folder: Path) -> list[Path]:
    """The leading documents of each old shard, written once under ``folder`` with the
    shard's own name, so that pretraining holds back the same documents it held back before."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for shard, words, _ in REPLAY.values():
        path = folder / f"{shard}.jsonl"
        if not path.is_file():
            partial = path.with_suffix(".partial")
            count = 0
            with lzma.open(data_home / "pretrain" / f"{shard}.jsonl.xz", "rt", encoding="utf-8") as source, \
                    open(partial, "w", encoding="utf-8") as target:
                for line in source:
                    target.write(line)
                    count += len(json.loads(line)["text"].split())
                    if count >= words:
                        break
            partial.replace(path)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--run-dir", type=Path, default=Path("runs/web"))
    parser.add_argument("--direction", default="forward", choices=["forward", "backward"])
    parser.add_argument("--sources", nargs="+", choices=list(SOURCES), default=list(SOURCES))
    parser.add_argument("--permissive-only", action="store_true", help="only the sources under an open licence")
    parser.add_argument("--replay", action="store_true",
                        help="also read 6M words of Wikipedia and 2M of Wikinews again (about 19 %% of the tokens)")
    parser.add_argument("--max-tokens", type=parse_count, default=None,
                        help="end the schedule after this many tokens (default: one pass)")
    parser.add_argument("--max-vocab", type=int, default=30000)
    parser.add_argument("--time-budget", type=parse_duration, default=None)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--init", type=Path, default=None, help="start from an exported model whose checkpoint was lost")
    parser.add_argument("--score-only", action="store_true", help="no training: score and record the export")
    parser.add_argument("--ship", action="store_true", help="copy the model into sk_ulmfit/pretrained_models")
    args = parser.parse_args()

    data_home = get_data_home(args.data_home)
    sources = [s for s in args.sources if SOURCES[s][2] or not args.permissive_only]
    short = "fwd" if args.direction == "forward" else "bwd"
    output = args.run_dir / f"english_web_{short}.pt"
    corpus = webtext_files(data_home, sources)
    if args.replay:
        corpus += replay_files(data_home, args.run_dir / "replay")
    if not args.score_only:
        pretrain_language_model(corpus, output, checkpoint_dir=args.run_dir / f"english_web_{short}",
                                cache_dir=args.run_dir / "token-cache", resume=args.resume, init=args.init,
                                time_budget=args.time_budget, snapshot_every=10_000_000, log_every=120,
                                n_jobs=-1, start_from="english", direction=args.direction, lr=1e-3,
                                epochs=1, max_tokens=args.max_tokens, max_vocab=args.max_vocab)

    test = wikitext_articles(fetch_wikitext2("test", data_home=args.data_home).data)
    language_model = ULMFiTLanguageModel.load(output, device="cpu")
    metadata_path = output.with_suffix(".json")
    metadata = json.loads(metadata_path.read_text())
    metadata["wikitext2_test_perplexity"] = round(language_model.perplexity(test), 2)
    terms = {source: SOURCES[source][1] for source in sources}
    if args.replay:
        terms.update({source: entry[2] for source, entry in REPLAY.items()})
    metadata["source_terms"] = terms
    metadata_path.write_text(json.dumps(metadata, indent=2) + "\n")
    print(f"{output}: {metadata['tokens_seen'] / 1e6:.1f}M tokens, held-back perplexity "
          f"{metadata['valid_perplexity']}, WikiText-2 test perplexity {metadata['wikitext2_test_perplexity']}")
    if args.ship:
        for path in (output, metadata_path):
            shutil.copyfile(path, PACKAGE / path.name.replace("english_web", "english"))
        print(f"copied into {PACKAGE}")


if __name__ == "__main__":
    main()
