"""Training and prediction speed on one device, for the GPU rows of RESULTS.md.

The shipped encoder's shape (200/512, 3 layers, its 30,008-token vocabulary size) with random
weights (speed does not depend on the weights, and the machine lent for a GPU check cannot
take the model file along with the packages it needs), on real data:

- stage 2: ``ULMFiTLanguageModel`` one epoch on the IMDb sample's 1,000 reviews, tokens/s;
- stage 3: ``ULMFiTClassifier`` one epoch with every layer trainable on the same reviews and
  on TREC-6's 5,452 questions, tokens/s of the epoch (``history_``);
- prediction: ``predict_proba`` on 500 texts (tokenisation included), texts/s.

Run it on each machine and compare rows by device (the same script and data on both):

    python benchmarks/gpu_speed.py --data-home ../shared/data --device cuda
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

from sk_ulmfit import ULMFiTClassifier, ULMFiTLanguageModel
from sk_ulmfit._text.tokenizer import clear_token_cache, tokenize
from sk_ulmfit.datasets import fetch_imdb_sample, fetch_trec

SIZE = {"emb_size": 200, "hidden_size": 512, "n_layers": 3, "max_vocab": 30000}


def rows(data_home: str, device: str) -> list[dict]:
    imdb_X, imdb_y = fetch_imdb_sample(data_home=data_home, return_X_y=True)
    trec_X, trec_y = fetch_trec("train", data_home=data_home, return_X_y=True)
    results = []
    lm = ULMFiTLanguageModel(pretrained=None, epochs=1, device=device, random_state=0,
                             **SIZE).fit(list(imdb_X))
    n_tokens = sum(len(t) for t in tokenize(list(imdb_X)))
    results.append({"step": "stage 2 (language model), IMDb sample 1,000 reviews",
                    "tokens_per_s": round(n_tokens / lm.history_[-1]["seconds"])})
    for name, X, y in (("IMDb sample 1,000 reviews", imdb_X, imdb_y), ("TREC-6 5,452 questions", trec_X, trec_y)):
        X = list(X)
        clf = ULMFiTClassifier(pretrained=None, direction="forward", language_model=None,
                               schedule=(("all", 1, 2e-3),), batch_size=64, device=device, random_state=0,
                               **SIZE).fit(X, y)
        n_tokens = sum(len(t) for t in tokenize(X))
        clear_token_cache()
        started = time.perf_counter()
        clf.predict_proba(X[:500])
        results.append({"step": f"stage 3 (classifier, all layers), {name}",
                        "tokens_per_s": round(n_tokens / clf.history_[-1]["seconds"]),
                        "predict_500_texts_per_s": round(500 / (time.perf_counter() - started))})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", default=os.environ.get("SK_ULMFIT_DATA"))
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
               + (torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU only"))
    print(json.dumps({"machine": machine, "device": str(device), "rows": rows(args.data_home, str(device))},
                     indent=1))


if __name__ == "__main__":
    main()
