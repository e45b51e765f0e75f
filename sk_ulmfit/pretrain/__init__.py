"""Pretrain an AWD-LSTM language model on a corpus of any size (ULMFiT's stage 1).

From the shell::

    python -m sk_ulmfit.pretrain CORPUS_FILES... --output my_lm.pt --checkpoint-dir runs/fwd \\
        [--direction backward] [--time-budget 2h] [--resume]

or ``sk-ulmfit-pretrain`` after ``pip install``; from Python,
:func:`pretrain_language_model`. The corpus is JSON Lines (``text`` field) or text files
(one document per line), optionally ``.xz``/``.gz``/``.bz2`` compressed. The shards are
tokenised once into a memory-mapped token-id cache (``--cache-dir``; reused by later
runs and by the other direction); training checkpoints atomically every few minutes,
resumes exactly where it stopped (``--resume``), stops on a time budget, prints tokens/s
and validation perplexity per source, and runs unchanged on a CPU or a GPU (mixed
precision there). The result is an ordinary language-model file for
``ULMFiTClassifier(pretrained=...)`` / ``ULMFiTLanguageModel(pretrained=...)``, with a
JSON file of metadata beside it.
"""

from ._run import (
    Recipe,
    build_parser,
    main,
    parse_count,
    parse_duration,
    pretrain_language_model,
)

__all__ = ["Recipe", "pretrain_language_model", "main", "build_parser", "parse_count", "parse_duration"]
