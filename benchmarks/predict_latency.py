"""Prediction latency of a fitted default-size classifier: one text (a web service) and 500.

Side by side in one process, for each precision: the inference network rebuilt on every
call (what 0.1.0 did; reproduced by dropping the kept network before each call) against
the network built once per fitted model and kept. The classifier is the default
``ULMFiTClassifier()`` architecture (the shipped "english" encoder) trained briefly on
200 TREC-6 questions: latency depends on the network's size, not on how well it is trained.

    python benchmarks/predict_latency.py --data-home ../shared/data [--write]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from common import machine, report

from sk_ulmfit import ULMFiTClassifier
from sk_ulmfit.datasets import fetch_trec

ONE_TEXT = ["How far is it from Denver to Aspen ?"]


def milliseconds(call, repeats: int) -> float:
    """Median wall time of ``call()`` in milliseconds, after one warm-up call."""
    call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1000 * float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--write", action="store_true", help="write the table into RESULTS.md")
    args = parser.parse_args()
    X, y = fetch_trec("train", data_home=args.data_home, return_X_y=True)
    X_test = fetch_trec("test", data_home=args.data_home, return_X_y=True)[0]
    clf = ULMFiTClassifier(direction="forward", language_model=None, schedule=((1, 1, 2e-2),),
                           random_state=0).fit(X[:200], y[:200])

    def rebuilt(texts):
        def call():
            clf._inference_networks.clear()
            clf.predict_proba(texts)
        return call

    def kept(texts):
        return lambda: clf.predict_proba(texts)

    counter = iter(range(10**9))

    def unseen(prefix: str):  # a text never tokenised before: no token-cache hit
        return lambda: [f"{prefix} {next(counter)} ?"]

    lines = ["| precision | texts | network rebuilt per call (0.1.0) | network kept | speed-up |",
             "| --- | --- | --- | --- | --- |"]
    for precision in ("float32", "int8"):
        clf.set_params(predict_precision=precision)
        for name, texts, repeats in (("1", ONE_TEXT, args.repeats),
                                     ("1, unseen each call", None, args.repeats),
                                     ("500", X_test, max(3, args.repeats // 10))):
            if texts is None:
                new = unseen(ONE_TEXT[0][:-2])
                before = milliseconds(lambda: (clf._inference_networks.clear(), clf.predict_proba(new())), repeats)
                after = milliseconds(lambda: clf.predict_proba(new()), repeats)
            else:
                before, after = milliseconds(rebuilt(texts), repeats), milliseconds(kept(texts), repeats)
            lines.append(f"| {precision} | {name} | {before:.1f} ms | {after:.1f} ms | {before / after:.2f}× |")
            print(lines[-1], flush=True)
    config = clf.directions_[0].config
    report("## Prediction latency: the inference network kept per fitted model",
           f"`python benchmarks/predict_latency.py`: `predict_proba` of a classifier with the default "
           f"architecture ({config.emb_size}/{config.hidden_size}/{config.n_layers}, "
           f"{config.vocab_size:,}-token vocabulary), median of {args.repeats} calls for one TREC-6 question "
           f"and of {max(3, args.repeats // 10)} calls for the 500 test questions. A repeated text's tokens "
           f"come from the in-memory token cache; \"unseen\" rows tokenise a new text each call. Machine: {machine()}.", lines, args.write)


if __name__ == "__main__":
    main()
