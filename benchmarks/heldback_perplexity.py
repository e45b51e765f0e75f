"""Held-back perplexity of language models on any corpus, per source.

What continuing a pretrained model on new text costs the text it read before: each model
file (or shipped name) is scored on the documents that ``python -m sk_ulmfit.pretrain``
holds back from the given corpus files (the same split: a hash of source and document
id, ``--valid-permille`` per thousand), numbered in that model's own vocabulary.

    python benchmarks/heldback_perplexity.py english runs/arm.pt \\
        --corpus ../shared/data/webtext/*.jsonl.xz ../shared/data/pretrain/wikinews-00.jsonl.xz
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

from sk_ulmfit._io.persistence import read_language_model
from sk_ulmfit._io.pretrained import metadata_file
from sk_ulmfit._nn.awd_lstm import build_language_model
from sk_ulmfit._text.tokenizer import Vocabulary
from sk_ulmfit._train.loop import language_model_loss
from sk_ulmfit.pretrain._corpus import Corpus, TokenCache


def model_path(name: str, direction: str) -> Path:
    """A shipped name's file for ``direction``, or the path given."""
    return Path(name) if Path(name).is_file() else metadata_file(name, direction).with_suffix(".pt")


def perplexities(model: str, corpus: list[str], cache: TokenCache, *, direction: str, valid_permille: int,
                 valid_tokens: int, batch_size: int, bptt: int) -> dict[str, float]:
    """Per source, the perplexity of ``model`` on the held-back documents of ``corpus``."""
    saved = read_language_model(model_path(model, direction))
    network = build_language_model(saved.config)
    network.load_state_dict(saved.weights)
    held = Corpus.prepare(corpus, cache, min_freq=1, max_vocab=len(saved.itos),
                          valid_permille=valid_permille, vocab=Vocabulary(saved.itos))
    results = {}
    for source, stream in held.validation_streams(valid_tokens).items():
        stream = (stream[::-1] if saved.direction == "backward" else stream).astype(np.int64)
        results[source] = math.exp(language_model_loss(network, stream, batch_size, bptt, torch.device("cpu")))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="language-model files or shipped names")
    parser.add_argument("--corpus", nargs="+", required=True, help="corpus files whose held-back documents are scored")
    parser.add_argument("--cache-dir", default="runs/token-cache")
    parser.add_argument("--direction", default="forward", help="for shipped names")
    parser.add_argument("--valid-permille", type=int, default=5)
    parser.add_argument("--valid-tokens", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--bptt", type=int, default=72)
    args = parser.parse_args()
    cache = TokenCache(args.cache_dir, n_jobs=-1)
    table = {model: perplexities(model, args.corpus, cache, direction=args.direction,
                                 valid_permille=args.valid_permille, valid_tokens=args.valid_tokens,
                                 batch_size=args.batch_size, bptt=args.bptt)
             for model in args.models}
    sources = list(dict.fromkeys(source for row in table.values() for source in row))
    print("| model | " + " | ".join(sources) + " |")
    print("| --- |" + " --- |" * len(sources))
    for model, row in table.items():
        print(f"| {model} | " + " | ".join(f"{row[s]:.1f}" if s in row else "–" for s in sources) + " |")


if __name__ == "__main__":
    main()
