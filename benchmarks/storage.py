"""What storing a language model in float16 or int8 costs: file size and WikiText-2 test perplexity.

Each model (a shipped name's two directions, or a language-model file) is written with
``ULMFiTLanguageModel.save(precision=...)`` in float16 and int8, read back, and
scored on WikiText-2's test articles (which no shipped model was trained on), as
``examples/pretrain_english.py`` scores them for the metadata's ``wikitext2_test_perplexity``. Loading
always gives float32 weights, so the perplexity differences are the storage's alone.

    python benchmarks/storage.py --data-home ../shared/data english
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from common import machine, report

from sk_ulmfit import ULMFiTLanguageModel
from sk_ulmfit._io.pretrained import SHIPPED
from sk_ulmfit.datasets import fetch_wikitext2, wikitext_articles

PRECISIONS = ("float16", "int8")  # float32: the same weights as a shipped float16 file, twice the size


def language_models(spec: str) -> list[tuple[str, ULMFiTLanguageModel]]:
    """``(label, model)`` for each direction of a shipped name, or the one model in a file."""
    if spec in SHIPPED:
        return [(f"`{spec!r}` {direction}", ULMFiTLanguageModel.from_pretrained(spec, direction=direction))
                for direction in SHIPPED[spec]]
    return [(Path(spec).name, ULMFiTLanguageModel.load(spec))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="shipped names or language-model files")
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--write", action="store_true", help="write the table into RESULTS.md")
    args = parser.parse_args()
    texts = wikitext_articles(fetch_wikitext2("test", data_home=args.data_home).data)
    lines = ["| model | " + " | ".join(f"{p} MB | {p} ppl" for p in PRECISIONS) + " |",
             "| --- |" + " --- | --- |" * len(PRECISIONS)]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for spec in args.models:
            for label, model in language_models(spec):
                cells = []
                for precision in PRECISIONS:
                    path = model.save(Path(folder) / f"{precision}.pt", precision=precision)
                    perplexity = ULMFiTLanguageModel.load(path).perplexity(texts)
                    cells.append(f"{path.stat().st_size / 1e6:.1f} | {perplexity:.3f}")
                    print(f"{label} {precision}: {cells[-1]}", flush=True)
                lines.append(f"| {label} | " + " | ".join(cells) + " |")
    intro = (f"`python benchmarks/storage.py {' '.join(args.models)}`: each model saved with "
             "`save(precision=...)`, read back (float32 weights) and scored on WikiText-2's "
             f"{len(texts)} test articles. {machine()}; {time.perf_counter() - started:.0f} s.")
    report("## Storage precision: float16 and int8 model files", intro, lines, args.write)


if __name__ == "__main__":
    main()
