"""Language-model training speed: full softmax vs sampled softmax, side by side.

Both rows train the same network from scratch (AWD-LSTM 200/512/3, the shipped models'
size) on the same WikiText-2 training articles, in the same order, with the same seed,
vocabulary (24k tokens, as the shipped WikiText-2 model), batch shape and rates; only the
training loss differs (``n_sampled=None`` vs ``2048``). Reports training tokens per second
and WikiText-2 validation perplexity (always the full softmax) after the same number of
tokens.

    python benchmarks/lm_speed.py --data-home ../shared/data [--articles 200]
"""

from __future__ import annotations

import argparse
import os
import time

from common import machine, write_section

from sk_ulmfit import ULMFiTLanguageModel
from sk_ulmfit._text.tokenizer import tokenize
from sk_ulmfit.datasets import fetch_wikitext2, wikitext_articles

# min_freq=1 gives the subset a vocabulary of the shipped model's size (24k)
SIZE = {"emb_size": 200, "hidden_size": 512, "n_layers": 3, "drop_mult": 0.3, "batch_size": 64,
        "bptt": 72, "epochs": 1, "lr": 5e-3, "max_vocab": 24000, "min_freq": 1, "random_state": 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--articles", type=int, default=200, help="WikiText-2 training articles used")
    parser.add_argument("--write", action="store_true", help="write the table into RESULTS.md")
    args = parser.parse_args()

    train = wikitext_articles(fetch_wikitext2("train", data_home=args.data_home).data)[: args.articles]
    valid = wikitext_articles(fetch_wikitext2("valid", data_home=args.data_home).data)
    n_tokens = sum(len(t) for t in tokenize(train))
    tokenize(valid)  # cached: the timings below are training only

    rows = []
    for label, n_sampled in (("full softmax", None), ("sampled softmax (2048)", 2048)):
        model = ULMFiTLanguageModel(n_sampled=n_sampled, **SIZE)
        started = time.perf_counter()
        model.fit(train)
        seconds = time.perf_counter() - started
        rows.append((label, seconds, n_tokens / seconds, model.perplexity(valid)))
        vocab_size = len(model.vocab_)
        print(f"{label}: {seconds:.0f} s, {n_tokens / seconds:,.0f} tokens/s, "
              f"valid perplexity {rows[-1][3]:.1f}", flush=True)

    base = rows[0][2]
    table = ["| training loss | seconds | tokens/s | speed-up | WikiText-2 valid perplexity |",
             "| --- | --- | --- | --- | --- |"]
    table += [f"| {label} | {seconds:.0f} | {rate:,.0f} | {rate / base:.2f}x | {ppl:.1f} |"
              for label, seconds, rate, ppl in rows]
    text = (f"`python benchmarks/lm_speed.py --articles {args.articles}`: {n_tokens:,} training tokens "
            f"(the first {args.articles} WikiText-2 training articles), one epoch from a random start, "
            f"AWD-LSTM 200/512/3, vocabulary {vocab_size:,}, batch 64 x 72, seed 0. Machine: {machine()}.\n\n"
            + "\n".join(table))
    print(text)
    if args.write:
        write_section("## Language-model training speed: sampled softmax", text)


if __name__ == "__main__":
    main()
