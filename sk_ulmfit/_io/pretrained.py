"""What ``pretrained=`` means, decided in one place: shipped models, saved files, fastai's
WT103 files, fitted estimators. Everything resolves to plain data (weights, vocabulary,
configuration and, from a classifier, its head) that the estimators wrap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Sequence

from fastai.data.external import URLs, untar_data
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator

from .persistence import (
    CLASSIFIER,
    PayloadSource,
    SavedLanguageModel,
    classifier_from_payload,
    language_model_from_payload,
    read_fastai_language_model,
    read_language_model,
    read_payload,
)
from .transfer import HeadStart, encoder_language_model, head_start

# name -> {direction: file in sk_ulmfit/pretrained_models}
SHIPPED = {
    "wikitext-2": {"forward": "wikitext2_fwd.pt", "backward": "wikitext2_bwd.pt"},
    # Wikipedia + Wikinews + Gutenberg (examples/pretrain_english.py, docs/pretraining.md)
    "english": {"forward": "english_fwd.pt", "backward": "english_bwd.pt"},
}
DIRECTIONS = ("forward", "backward")  # the reading directions, in the order "both" trains them
# fastai's downloadable WT103 models (for users who are online)
FASTAI_WT103 = "wt103"
UNFITTED_HINT = (
    "; note that scikit-learn's clone (used by GridSearchCV, cross_val_score, ...) returns "
    "unfitted copies of estimator parameters: pass the path of a saved model, or wrap the "
    "fitted model in sklearn.frozen.FrozenEstimator"
)


@dataclass
class Start:
    """Where one reading direction starts: a language model and, from a classifier, a head."""

    language_model: SavedLanguageModel
    head: HeadStart | None = None


def available_models() -> list[str]:
    """Names of the pretrained language models shipped with the package.

    Returns
    -------
    list of str
        Each a value ``pretrained=`` takes, in both estimators.

    See Also
    --------
    sk_ulmfit.ULMFiTLanguageModel.from_pretrained : One of them as a fitted language model.

    Examples
    --------
    >>> from sk_ulmfit import available_models
    >>> "english" in available_models()
    True
    """
    return sorted(name for name, files in SHIPPED.items() if any(_shipped_path(f).is_file() for f in files.values()))


def _shipped_path(filename: str) -> Path:
    return Path(str(resources.files("sk_ulmfit") / "pretrained_models" / filename))


def resolve(spec, directions: Sequence[str]) -> list[Start] | None:
    """One :class:`Start` per direction for ``pretrained=spec``, or ``None`` for ``spec=None``.

    ``spec`` may be a shipped model's name, ``"wt103"`` (fastai's download, online only), a
    file saved by an estimator's ``save`` (language model or classifier), a ``(weights.pth,
    vocab.pkl)`` pair of fastai files or a folder holding one, or a fitted estimator
    (possibly inside ``sklearn.frozen.FrozenEstimator``), or a mapping from direction to
    any of these. A file is read once.
    """
    spec = spec.estimator if isinstance(spec, FrozenEstimator) else spec
    if spec is None:
        return None
    if isinstance(spec, Mapping):
        return [_per_direction(spec, direction) for direction in directions]
    if isinstance(spec, PayloadSource):  # an sk_ulmfit estimator hands over what save() writes
        try:
            payload = spec._payload()
        except NotFittedError:
            raise ValueError(f"pretrained is an unfitted {type(spec).__name__}: fit it first"
                             + UNFITTED_HINT) from None
        return _from_payload(payload, directions, "the given model")
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        return [Start(read_fastai_language_model(*spec, direction=d)) for d in directions]
    if isinstance(spec, str) and spec in SHIPPED:
        return [Start(_shipped(spec, d)) for d in directions]
    if isinstance(spec, str) and spec == FASTAI_WT103:
        return [Start(read_fastai_language_model(*_download_wt103(d), direction=d)) for d in directions]
    if isinstance(spec, (str, os.PathLike)):
        path = Path(spec)
        if path.is_dir():
            return [Start(read_fastai_language_model(*_fastai_pair(path), direction=d)) for d in directions]
        if path.is_file():
            return _from_payload(read_payload(path), directions, path)
    raise ValueError(
        f"pretrained={spec!r} is not understood: use None, a shipped model name "
        f"{sorted(SHIPPED)}, {FASTAI_WT103!r}, a file saved by ULMFiTLanguageModel.save or "
        "ULMFiTClassifier.save, a fitted ULMFiTLanguageModel or ULMFiTClassifier, fastai "
        "files as (weights.pth, vocab.pkl) or a folder holding them, or one of these per "
        "reading direction as {'forward': ..., 'backward': ...}"
    )


def metadata_file(spec: str | os.PathLike, direction: str) -> Path | None:
    """The metadata JSON beside the model file that ``pretrained=spec`` names for
    ``direction`` (a shipped name or a file), if there is one."""
    if isinstance(spec, str) and spec in SHIPPED:
        path = _shipped_path(SHIPPED[spec][direction])
    else:
        path = Path(spec)
    path = path.with_suffix(".json")
    return path if path.is_file() else None


def _per_direction(spec: Mapping, direction: str) -> Start:
    """``pretrained={"forward": ..., "backward": ...}``: each direction starts from its own model."""
    unknown = sorted(map(repr, set(spec) - set(DIRECTIONS)))
    if unknown:
        raise ValueError(f"pretrained's keys are reading directions, {' and '.join(map(repr, DIRECTIONS))}; "
                         f"got {', '.join(unknown)}")
    if direction not in spec:
        one_way = f", or set direction={next(iter(spec))!r} to read one way only" if spec else ""
        raise ValueError(f"pretrained has no {direction!r} model: add one under that key{one_way}")
    one = spec[direction]
    if one is None or isinstance(one, Mapping):
        raise ValueError(f"pretrained[{direction!r}] should name one model (a shipped name, a file, a fitted "
                         f"estimator or fastai files), not {one!r}")
    return resolve(one, [direction])[0]


def _from_payload(payload: dict, directions: Sequence[str], source) -> list[Start]:
    if payload.get("format") == CLASSIFIER:
        classifier = classifier_from_payload(payload, source)
        saved = {d["direction"]: d for d in classifier.directions}
        missing = [d for d in directions if d not in saved]
        if missing:
            raise ValueError(
                f"the pretrained classifier reads {list(saved)} only, not {missing[0]}: use "
                f"direction={next(iter(saved))!r} or start from a classifier fitted with direction='both'"
            )
        # a multi-label head's outputs are label columns, not classes to match: encoder only
        return [Start(encoder_language_model(saved[d]),
                      None if classifier.multilabel else head_start(saved[d], classifier.classes))
                for d in directions]
    language_model = language_model_from_payload(payload, source)
    for direction in directions:
        if language_model.direction != direction:
            raise ValueError(f"{source} is a {language_model.direction} language model but a "
                             f"{direction} one is needed: give one per direction, pretrained="
                             f"{{'forward': ..., 'backward': ...}}, or set direction={language_model.direction!r}")
    return [Start(language_model) for _ in directions]


def _shipped(name: str, direction: str) -> SavedLanguageModel:
    path = _shipped_path(SHIPPED[name][direction])
    if not path.is_file():
        raise ValueError(f"the shipped model {name!r} has no {direction} direction in this install ({path})")
    return read_language_model(path)


def _fastai_pair(folder: Path) -> tuple[Path, Path]:
    weights, vocabs = sorted(folder.glob("*.pth")), sorted(folder.glob("*.pkl"))
    if len(weights) != 1 or len(vocabs) != 1:
        raise ValueError(f"{folder} should hold exactly one .pth weights file and one .pkl vocabulary")
    return weights[0], vocabs[0]


def _download_wt103(direction: str) -> tuple[Path, Path]:
    """fastai's own download of its WT103 model (needs the internet)."""
    url = URLs.WT103_FWD if direction == "forward" else URLs.WT103_BWD
    try:
        folder = untar_data(url, c_key="model")
    except Exception as error:  # fastai raises whatever its download stack raises
        raise OSError(
            f"could not download fastai's WT103 model from {url} ({error.__class__.__name__}: "
            f"{error}); offline, pass the files instead: pretrained=(weights.pth, itos.pkl)"
        ) from error
    return _fastai_pair(Path(folder))
