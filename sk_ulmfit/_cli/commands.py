"""What the ``sk-ulmfit`` commands do (their arguments are in ``_cli.parser``).

``fit --unlabelled FILE`` (repeatable) adds that table's texts (the same text column) to
stage 2, the language model's fine-tuning: in-domain text without labels, the lever that
matters most when labels are few.

Multi-label: ``fit --label-separator ";"`` reads each label cell as a set of labels
(``"grain;wheat"``); the label names go in ``<model>.labels.json`` beside the model, and
``predict`` writes the predicted set the same way.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, classification_report, f1_score
from sklearn.preprocessing import MultiLabelBinarizer

from .._estimators.classifier import ULMFiTClassifier, predictions
from .._estimators.stage2 import auto_language_model
from ..inspection import most_unsure, top_losses
from .clean_server import run_clean
from .tables import (
    TABLE_WRITERS,
    CommandError,
    graded,
    labels_of,
    load_model,
    read_table,
    texts_of,
    writable,
    write_table,
)


def parse_settings(pairs: Sequence[str]) -> dict:
    """``["epochs=2", "schedule=[(1, 1, 2e-2)]"]`` → parameters (Python literals, else strings)."""
    settings = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise CommandError(f"--set takes NAME=VALUE; got {pair!r}")
        try:
            settings[name.strip()] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            settings[name.strip()] = text
    unknown = sorted(set(settings) - set(ULMFiTClassifier().get_params()))
    if unknown:
        raise CommandError(f"unknown parameters {unknown}; see help(sk_ulmfit.ULMFiTClassifier)")
    return settings


def labels_file(model_path) -> Path:
    """Where a multi-label model's label names are kept: beside the model."""
    return Path(str(model_path) + ".labels.json")


def label_sets(values: pd.Series, separator: str) -> list[list[str]]:
    return [[label.strip() for label in str(cell).split(separator) if label.strip()] for cell in values]


def multilabel_names(model: ULMFiTClassifier, model_path) -> tuple[list[str], str]:
    path = labels_file(model_path)
    if not path.is_file():
        raise CommandError(f"{model_path} is a multi-label model but {path} (its label names) is missing")
    saved = json.loads(path.read_text(encoding="utf-8"))
    return saved["labels"], saved["separator"]


def stage2_with(classifier: ULMFiTClassifier, paths: Sequence[str], text_column: str, encoding: str):
    """``classifier``'s stage 2 (``language_model="auto"``'s settings) with the texts of the
    tables at ``paths`` added as unlabelled texts."""
    if classifier.pretrained is None or classifier.language_model != "auto":
        raise CommandError("--unlabelled texts feed stage 2, the language model's fine-tuning, which needs "
                           "a pretrained model and language_model='auto': drop --set pretrained=None / "
                           "language_model=..., or drop --unlabelled")
    texts = [text for path in paths for text in texts_of(read_table(path, encoding), text_column, path)]
    return auto_language_model(classifier.get_params(deep=False), extra_texts=texts)


# ----------------------------------------------------------------------- commands
def fit(args) -> None:
    output = writable(args.output, args.force)
    frame = read_table(args.data, args.encoding)
    X = texts_of(frame, args.text_column, args.data)
    y = labels_of(frame, args.label_column, args.data, blank_is_empty_set=args.label_separator is not None)
    classifier = ULMFiTClassifier(**{"verbose": 1, **parse_settings(args.set)})
    if args.unlabelled:
        classifier.set_params(language_model=stage2_with(classifier, args.unlabelled, args.text_column, args.encoding))
        print(f"stage 2 reads {len(classifier.language_model.extra_texts)} unlabelled texts besides the labelled ones")
    binarizer = None
    if args.label_separator is not None:
        binarizer = MultiLabelBinarizer()
        y = binarizer.fit_transform(label_sets(y, args.label_separator))
        if y.shape[1] < 2:
            raise CommandError(f"{args.data}: column {args.label_column!r} names fewer than 2 labels")
    try:
        classifier.fit(X, y if binarizer is not None else y.to_numpy())
    except (ValueError, TypeError) as error:
        raise CommandError(str(error)) from error
    classifier.save(output)
    if binarizer is not None:
        labels_file(output).write_text(json.dumps({"labels": [str(c) for c in binarizer.classes_],
                                                   "separator": args.label_separator}), encoding="utf-8")
    print(f"fitted on {len(X)} texts, {len(classifier.classes_)} "
          f"{'labels' if binarizer is not None else 'classes'}; saved {output}")


def predict(args) -> None:
    output = writable(args.output, args.force, TABLE_WRITERS)
    model = load_model(args.model)
    frame = read_table(args.data, args.encoding)
    X = texts_of(frame, args.text_column, args.data)
    result = frame.copy()
    log_proba = model.predict_log_proba(X)  # one pass for both the probabilities and predict's rule
    predicted = predictions(model, log_proba)
    multilabel = model.multilabel_
    names, separator = multilabel_names(model, args.model) if multilabel else (list(model.classes_), None)
    if args.proba:
        for index, name in enumerate(names):
            result[f"proba_{name}"] = np.exp(log_proba[:, index])
    result["predicted"] = ([separator.join(n for n, on in zip(names, row) if on) for row in predicted]
                           if multilabel else predicted)
    write_table(result, output)
    print(f"predicted {len(X)} texts; wrote {output}")


def evaluate(args) -> None:
    model = load_model(args.model)
    frame = read_table(args.data, args.encoding)
    X, y = texts_of(frame, args.text_column, args.data), labels_of(frame, args.label_column, args.data, blank_is_empty_set=model.multilabel_)
    if model.multilabel_:
        names, separator = multilabel_names(model, args.model)
        truth = MultiLabelBinarizer(classes=names).fit_transform(label_sets(y, separator))
        predicted = model.predict(X)
        print(f"micro-F1 {f1_score(truth, predicted, average='micro', zero_division=0):.4f}  macro-F1 "
              f"{f1_score(truth, predicted, average='macro', zero_division=0):.4f}  subset accuracy "
              f"{accuracy_score(truth, predicted):.4f}  ({len(X)} texts, {len(names)} labels)")
        print(classification_report(truth, predicted, target_names=names, zero_division=0))
        return
    labels = y.to_numpy().astype(model.classes_.dtype)
    predicted = model.predict(X)
    print(f"accuracy {accuracy_score(labels, predicted):.4f}  macro-F1 "
          f"{f1_score(labels, predicted, average='macro'):.4f}  ({len(X)} texts)")
    print(classification_report(labels, predicted, zero_division=0))


def inspect(args) -> None:
    output = writable(args.output, args.force, (*TABLE_WRITERS, ".html"))
    model = load_model(args.model)
    if model.multilabel_:
        raise CommandError("inspect ranks texts with one label each; for a multi-label model use "
                           "sk_ulmfit.inspection from Python, one label at a time")
    frame = read_table(args.data, args.encoding)
    X, y = texts_of(frame, args.text_column, args.data), labels_of(frame, args.label_column, args.data)
    labels = y.to_numpy().astype(model.classes_.dtype)
    unknown = sorted(set(labels.tolist()) - set(model.classes_.tolist()), key=str)
    if unknown:
        raise CommandError(f"{args.data}: labels {unknown[:5]} are not among the model's classes "
                           f"{list(model.classes_)}")
    proba, classes, note = graded(model, X, labels, args.scores, args.cv)
    rank = top_losses if args.kind == "top-losses" else most_unsure
    try:
        table = rank(X, labels, proba, classes=classes, k=args.k)
    except ValueError as error:
        raise CommandError(str(error)) from error
    write_table(table, output, title=f"The {args.kind.replace('-', ' ')} of {Path(args.data).name}", note=note)
    print(f"wrote the {len(table)} {args.kind.replace('-', ' ')} of {len(X)} texts to {output}; {note}")


COMMANDS = {"fit": fit, "predict": predict, "evaluate": evaluate, "inspect": inspect, "clean": run_clean}


def run(args: argparse.Namespace) -> int:
    """Run the parsed command; a problem with its input is one ``error:`` line and status 2."""
    try:
        COMMANDS[args.command](args)
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a folder that cannot be written, a full disk, ...
        print(f"error: {error.strerror or error}: {error.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    return 0
