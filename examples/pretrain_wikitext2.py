"""Recipe for the language model shipped with sk_ulmfit: pretraining on WikiText-2.

Trains a ``ULMFiTLanguageModel`` on the WikiText-2 training articles, reports validation
perplexity, and writes the model (float16 weights) into the package:

    python examples/pretrain_wikitext2.py --data-home ../shared/data \
        --out sk_ulmfit/pretrained_models/wikitext2_fwd.pt

WikiText-2 is already tokenised; ``wikitext_articles`` turns it back into plain prose,
one document per article, which is then tokenised with fastai's rules so the vocabulary
matches what the classifier sees.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from sk_ulmfit import ULMFiTLanguageModel
from sk_ulmfit.datasets import fetch_wikitext2, wikitext_articles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--direction", default="forward", choices=["forward", "backward"])
    parser.add_argument("--emb-size", type=int, default=200)
    parser.add_argument("--hidden-size", type=int, default=512)
    parser.add_argument("--n-layers", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-vocab", type=int, default=24000)
    parser.add_argument("--drop-mult", type=float, default=0.3)
    parser.add_argument("--limit-articles", type=int, default=None, help="for a quick trial run")
    args = parser.parse_args()

    train = wikitext_articles(fetch_wikitext2("train", data_home=args.data_home).data)[: args.limit_articles]
    valid = wikitext_articles(fetch_wikitext2("valid", data_home=args.data_home).data)
    print(f"WikiText-2: {len(train)} training and {len(valid)} validation articles")

    model = ULMFiTLanguageModel(
        direction=args.direction, emb_size=args.emb_size, hidden_size=args.hidden_size,
        n_layers=args.n_layers, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size,
        max_vocab=args.max_vocab, min_freq=3, drop_mult=args.drop_mult, random_state=0, verbose=1,
    )
    started = time.perf_counter()
    model.fit(train)
    seconds = time.perf_counter() - started
    perplexity = model.perplexity(valid)
    model.save(args.out, precision="float16")
    record = {
        "direction": args.direction, "train_seconds": round(seconds, 1),
        "valid_perplexity": round(perplexity, 2), "vocab_size": len(model.vocab_),
        "config": model.config_.to_dict(), "epochs": args.epochs, "lr": args.lr,
        "batch_size": args.batch_size, "file_bytes": args.out.stat().st_size,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
                   f"{'GPU ' + torch.cuda.get_device_name() if torch.cuda.is_available() else 'CPU only'}",
        "history": model.history_,
    }
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps({k: v for k, v in record.items() if k != "history"}, indent=2))


if __name__ == "__main__":
    main()
