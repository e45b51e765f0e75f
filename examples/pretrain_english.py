"""Recipe of the shipped ``"english"`` language models: pretraining on Wikipedia, Wikinews
and Project Gutenberg books (``pretrain/`` in the project's data folder).

Runs ``sk_ulmfit.pretrain`` on all nine shards with the package's default recipe,
resumable and time-boxed, then scores WikiText-2's test articles (removed from the
Wikipedia shards) and records that perplexity in the model's metadata; ``--ship`` copies
the model into the package:

    python examples/pretrain_english.py --data-home ../shared/data --run-dir runs --time-budget 2h
    python examples/pretrain_english.py --data-home ../shared/data --run-dir runs --resume   # next time
    python examples/pretrain_english.py --data-home ../shared/data --run-dir runs --direction backward
    python examples/pretrain_english.py --data-home ../shared/data --run-dir runs --score-only --ship
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

from sk_ulmfit import ULMFiTLanguageModel
from sk_ulmfit.datasets import fetch_wikitext2, get_data_home, wikitext_articles
from sk_ulmfit.pretrain import parse_duration, pretrain_language_model

SHARDS = [f"enwiki2014-{i:02d}.jsonl.xz" for i in range(5)] + ["wikinews-00.jsonl.xz"] + [
    f"gutenberg-{i:02d}.jsonl.xz" for i in range(3)]
PACKAGE = Path(__file__).resolve().parents[1] / "sk_ulmfit" / "pretrained_models"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--run-dir", type=Path, default=Path("runs"))
    parser.add_argument("--direction", default="forward", choices=["forward", "backward"])
    parser.add_argument("--time-budget", type=parse_duration, default=None)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--score-only", action="store_true", help="no training: score and record the export")
    parser.add_argument("--ship", action="store_true", help="copy the model into sk_ulmfit/pretrained_models")
    args = parser.parse_args()

    short = "fwd" if args.direction == "forward" else "bwd"
    output = args.run_dir / f"english_{short}.pt"
    if not args.score_only:
        corpus = [get_data_home(args.data_home) / "pretrain" / name for name in SHARDS]
        pretrain_language_model(corpus, output, checkpoint_dir=args.run_dir / f"english_{short}",
                                cache_dir=args.run_dir / "token-cache", direction=args.direction,
                                resume=args.resume, time_budget=args.time_budget,
                                snapshot_every=10_000_000, log_every=120, n_jobs=-1)

    test = wikitext_articles(fetch_wikitext2("test", data_home=args.data_home).data)
    language_model = ULMFiTLanguageModel.load(output, device="cpu")
    metadata_path = output.with_suffix(".json")
    metadata = json.loads(metadata_path.read_text())
    metadata["wikitext2_test_perplexity"] = round(language_model.perplexity(test), 2)
    metadata_path.write_text(json.dumps(metadata, indent=2) + "\n")
    print(f"{output}: {metadata['tokens_seen'] / 1e6:.1f}M tokens, held-back perplexity "
          f"{metadata['valid_perplexity']}, WikiText-2 test perplexity {metadata['wikitext2_test_perplexity']}")
    if args.ship:
        for path in (output, metadata_path):
            shutil.copyfile(path, PACKAGE / path.name)
        print(f"copied into {PACKAGE}")


if __name__ == "__main__":
    main()
