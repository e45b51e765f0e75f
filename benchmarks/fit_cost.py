"""What a larger encoder costs a CPU user per classifier fit: the shipped size (200/512/3)
against the paper's (400/1152/3), side by side in one run.

    python benchmarks/fit_cost.py --data-home ../shared/data [--write]

Each fit: ``ULMFiTClassifier(direction="forward", pretrained=None, language_model=None)``
with the sizes given and every other parameter at its default (the default schedule), in a
fresh process, seed 0. Random weights: a fit's cost depends on the network's size and the
texts, not on what the weights hold; the shipped model's vocabulary would add embedding rows
that the classifier does not train (it trains the rows its texts use). Fit time includes
tokenisation.
"""

from __future__ import annotations

import argparse
import time

from common import in_fresh_process, machine, report, subset

SIZES = {"200/512/3 (shipped)": (200, 512, 3), "400/1152/3 (the paper's)": (400, 1152, 3)}


def fit_seconds(data_home: str, dataset: str, n: int, sizes: tuple[int, int, int], seed: int) -> float:
    from sk_ulmfit import ULMFiTClassifier
    from sk_ulmfit.datasets import fetch_ag_news, fetch_trec

    fetch = {"TREC-6": fetch_trec, "AG News": fetch_ag_news}[dataset]
    X, y = subset(*fetch("train" if dataset == "TREC-6" else "test", data_home=data_home, return_X_y=True),
                  n, seed)
    emb_size, hidden_size, n_layers = sizes
    clf = ULMFiTClassifier(direction="forward", pretrained=None, language_model=None, emb_size=emb_size,
                           hidden_size=hidden_size, n_layers=n_layers, random_state=seed)
    started = time.perf_counter()
    clf.fit(X, y)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", required=True)
    parser.add_argument("--n", type=int, default=1000, help="training texts per dataset (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="put the table in benchmarks/RESULTS.md")
    args = parser.parse_args()
    lines = ["| data | " + " | ".join(SIZES) + " | ratio |", "| --- | --- | --- | --- |"]
    for dataset in ("TREC-6", "AG News"):
        seconds = [in_fresh_process(fit_seconds, args.data_home, dataset, args.n, sizes, args.seed)
                   for sizes in SIZES.values()]
        lines.append(f"| {dataset} {args.n:,} | " + " | ".join(f"{s:.0f} s" for s in seconds)
                     + f" | {seconds[1] / seconds[0]:.2f}× |")
        print(lines[-1], flush=True)
    intro = (f"`python benchmarks/fit_cost.py --data-home ../shared/data` (seed {args.seed}). One forward "
             "classifier per cell from random weights, default schedule, each in a fresh process, run one "
             f"after another. Machine: {machine()}.")
    report("## What a larger encoder costs per classifier fit", intro, lines, args.write)


if __name__ == "__main__":
    main()
