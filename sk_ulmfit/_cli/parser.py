"""The ``sk-ulmfit`` command's arguments, and the dispatch to its commands.

This module imports nothing but the standard library, so ``sk-ulmfit --help`` answers at
once; the module of the commands (torch, fastai, pandas) is imported when one runs.

    sk-ulmfit fit train.csv --text-column text --label-column label --output model.skulm [--unlabelled more.csv]
    sk-ulmfit predict model.skulm new.csv --text-column text --output predictions.csv [--proba]
    sk-ulmfit evaluate model.skulm test.csv --text-column text --label-column label
    sk-ulmfit inspect model.skulm train.csv --text-column text --label-column label --output worst.html
    sk-ulmfit clean model.skulm train.csv --output cleaned.csv
    sk-ulmfit pretrain corpus-*.jsonl.xz --output lm.pt --checkpoint-dir runs/lm   # python -m sk_ulmfit.pretrain
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

DESCRIPTION = (
    "ULMFiT text classification from a shell: fit a classifier on a table of labelled texts, predict, "
    "evaluate, find and fix doubtful labels, or pretrain a language model. Tables are CSV, TSV, JSON Lines "
    "or Parquet, chosen by the file's suffix and optionally compressed (.gz, .xz, ...). A file that exists "
    "is never overwritten without --force. A problem with the input is one 'error:' line and exit status 2."
)
TABLE = ".csv, .tsv, .jsonl or .parquet, optionally compressed, e.g. .csv.gz"
OUTPUT_TABLE = ".csv, .tsv, .jsonl or .parquet"
MODEL = "a model file written by 'sk-ulmfit fit' (or ULMFiTClassifier.save)"
FORCE = "replace --output if it exists (otherwise nothing is overwritten)"
SCORES = ("out-of-fold", "training")


def port_number(text: str) -> int:
    """``--port``: 0 (a free port) to 65535."""
    try:
        value = int(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535; got {text!r}") from error
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"a port is a number from 1 to 65535; got {value}")
    return value


def _table_args(command, labels: bool) -> None:
    command.add_argument("--text-column", default="text", help="the column with the texts (default: text)")
    if labels:
        command.add_argument("--label-column", default="label", help="the column with the labels (default: label)")
    command.add_argument("--encoding", default="utf-8",
                         help="the text encoding of CSV, TSV and JSON Lines tables (default: utf-8; e.g. latin-1, "
                              "cp1252)")


def add_clean_parser(commands) -> argparse.ArgumentParser:
    """Add the ``clean`` subcommand to ``commands`` (an argparse subparsers object)."""
    command = commands.add_parser(
        "clean", help="review the texts whose labels the model doubts in a local web page: keep, delete or "
                      "relabel each, then save the cleaned table",
        description="Serve a page on 127.0.0.1 that ranks the texts of DATA by how much MODEL doubts their "
                    "labels; every decision is saved as it is made (in OUTPUT.decisions.json, resumed by the "
                    "next run with the same --output), and the page's Save button writes OUTPUT and "
                    "OUTPUT.changes.csv.")
    command.add_argument("model", help=MODEL)
    command.add_argument("data", help=f"the labelled table to clean ({TABLE}); it is never modified")
    command.add_argument("--output", required=True,
                         help="the cleaned table to write, in the same format as DATA (the page's Save button "
                              "writes it)")
    _table_args(command, labels=True)
    command.add_argument("--port", type=port_number, default=0,
                         help="the port to serve on, on 127.0.0.1 (default: a free one)")
    command.add_argument("--no-browser", action="store_true", help="print the address without opening a browser")
    command.add_argument("--scores", choices=SCORES, default="out-of-fold",
                         help="out-of-fold (default): each text graded by models that never saw its label, "
                              "about two passes over the texts; training: the model's own probabilities, "
                              "fast, but it is sure of the labels it was trained on, wrong or not")
    command.add_argument("--force", action="store_true", help=FORCE)
    return command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sk-ulmfit", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    command = commands.add_parser("fit", help="train a classifier on a labelled table",
                                  description="Train ULMFiTClassifier on the texts and labels of DATA and save it.")
    command.add_argument("data", help=f"the labelled table ({TABLE})")
    _table_args(command, labels=True)
    command.add_argument("--output", required=True, help="the model file to write (its folder is created)")
    command.add_argument("--unlabelled", action="append", default=[], metavar="FILE",
                         help="a table of unlabelled texts of the same kind (same --text-column) for stage 2, "
                              "the language model's fine-tuning; repeatable")
    command.add_argument("--label-separator", metavar="SEP",
                         help="multi-label: each label cell is a set of labels joined by SEP, e.g. ';'")
    command.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                         help="a ULMFiTClassifier parameter (repeatable), e.g. --set direction='forward'")
    command.add_argument("--force", action="store_true", help=FORCE)

    command = commands.add_parser("predict", help="predict a table's texts",
                                  description="Add a 'predicted' column (and with --proba one per class) to DATA.")
    command.add_argument("model", help=MODEL)
    command.add_argument("data", help=f"the table of texts to predict ({TABLE})")
    _table_args(command, labels=False)
    command.add_argument("--output", required=True,
                         help=f"the table with a 'predicted' column added ({OUTPUT_TABLE}; its folder is created)")
    command.add_argument("--proba", action="store_true", help="also a probability column per class")
    command.add_argument("--force", action="store_true", help=FORCE)

    command = commands.add_parser("evaluate", help="accuracy and per-class report on a labelled table")
    command.add_argument("model", help=MODEL)
    command.add_argument("data", help=f"the labelled table to score ({TABLE})")
    _table_args(command, labels=True)

    command = commands.add_parser("inspect", help="the texts whose labels the model doubts most")
    command.add_argument("model", help=MODEL)
    command.add_argument("data", help=f"the labelled table to rank ({TABLE})")
    _table_args(command, labels=True)
    command.add_argument("--kind", choices=("top-losses", "most-unsure"), default="top-losses",
                         help="top-losses (default): the labels the model finds least likely; most-unsure: the "
                              "texts whose two likeliest classes are closest")
    command.add_argument("--k", type=int, default=50, help="rows to keep (default 50)")
    command.add_argument("--scores", choices=SCORES, default="out-of-fold",
                         help="out-of-fold (default): each text graded by a model that never saw its label, "
                              "from the model's encoder features; training: by the model itself, which is "
                              "sure of the labels it memorised")
    command.add_argument("--cv", type=int, default=5, help="folds of the out-of-fold scores (default 5)")
    command.add_argument("--output", required=True, help=f"the ranking ({OUTPUT_TABLE} or .html)")
    command.add_argument("--force", action="store_true", help=FORCE)

    add_clean_parser(commands)

    commands.add_parser("pretrain", help="train a language model on a corpus (see: sk-ulmfit pretrain --help)",
                        add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sk-ulmfit`` with ``argv`` (default: the process's arguments); the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["pretrain"]:
        return importlib.import_module("sk_ulmfit.pretrain").main(argv[1:])
    args = build_parser().parse_args(argv)
    # the commands need torch and fastai: imported only now, when one runs
    return importlib.import_module("sk_ulmfit._cli.commands").run(args)
