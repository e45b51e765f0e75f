"""Where a language model starts: shipped models, saved files, fastai's WT103 files."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

# name -> {direction: file in sk_ulmfit/pretrained_models}
SHIPPED = {
    "wikitext-2": {"forward": "wikitext2_fwd.pt", "backward": "wikitext2_bwd.pt"},
    # Wikipedia + Wikinews + Gutenberg (examples/pretrain_english.py, docs/pretraining.md)
    "english": {"forward": "english_fwd.pt", "backward": "english_bwd.pt"},
}
# fastai's downloadable WT103 models (for users who are online)
FASTAI_WT103 = "wt103"


def available_models() -> list[str]:
    """Names of the pretrained language models shipped with the package."""
    return sorted(name for name, files in SHIPPED.items() if any(_shipped_path(f).is_file() for f in files.values()))


def _shipped_path(filename: str) -> Path:
    return Path(str(resources.files("sk_ulmfit") / "pretrained_models" / filename))


UNFITTED_HINT = (
    "; note that scikit-learn's clone (used by GridSearchCV, cross_val_score, ...) returns "
    "unfitted copies of estimator parameters: pass the path of a saved model, or wrap the "
    "fitted model in sklearn.frozen.FrozenEstimator"
)


def unfrozen(spec):
    """``spec`` itself, or the fitted model inside a ``sklearn.frozen.FrozenEstimator``."""
    from sklearn.frozen import FrozenEstimator

    return spec.estimator if isinstance(spec, FrozenEstimator) else spec


def resolve_language_model(spec, direction: str = "forward"):
    """A fitted ``ULMFiTLanguageModel`` for ``spec``, or ``None`` for ``spec=None``.

    ``spec`` may be a fitted ``ULMFiTLanguageModel``, a shipped model's name, ``"wt103"``
    (fastai's download, online only), a file written by ``ULMFiTLanguageModel.save``, a
    ``(weights.pth, vocab.pkl)`` pair of fastai files, or a folder holding such a pair.
    """
    from .language_model import ULMFiTLanguageModel

    spec = unfrozen(spec)
    if spec is None:
        return None
    if isinstance(spec, ULMFiTLanguageModel):
        if not hasattr(spec, "model_"):
            raise ValueError("pretrained is an unfitted ULMFiTLanguageModel: fit it first" + UNFITTED_HINT)
        return _checked_direction(spec, direction, "the given model")
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        return _from_fastai(spec, direction)
    if isinstance(spec, str) and spec in SHIPPED:
        path = _shipped_path(SHIPPED[spec][direction])
        if not path.is_file():
            raise ValueError(f"the shipped model {spec!r} has no {direction} direction in this install ({path})")
        return ULMFiTLanguageModel.load(path)
    if isinstance(spec, str) and spec == FASTAI_WT103:
        return _from_fastai(_download_wt103(direction), direction)
    if isinstance(spec, (str, os.PathLike)):
        path = Path(spec)
        if path.is_dir():
            return _from_fastai(_fastai_pair(path), direction)
        if path.is_file():
            return _checked_direction(ULMFiTLanguageModel.load(path), direction, path)
    raise ValueError(
        f"pretrained={spec!r} is not understood: use None, a shipped model name "
        f"{sorted(SHIPPED)}, {FASTAI_WT103!r}, a file saved by ULMFiTLanguageModel.save, a fitted "
        "ULMFiTLanguageModel, or fastai files as (weights.pth, vocab.pkl) or a folder holding them"
    )


def _from_fastai(paths, direction: str):
    """fastai's files carry no direction: they are taken to be the one asked for."""
    from .language_model import ULMFiTLanguageModel
    from .lm_files import read_fastai_language_model

    saved = read_fastai_language_model(*paths)
    return ULMFiTLanguageModel._from_weights(saved.weights, saved.itos, saved.config, direction)


def _checked_direction(model, direction: str, source):
    if model.direction != direction:
        raise ValueError(f"{source} is a {model.direction} language model but a {direction} one is needed")
    return model


def _fastai_pair(folder: Path) -> tuple[Path, Path]:
    weights, vocabs = sorted(folder.glob("*.pth")), sorted(folder.glob("*.pkl"))
    if len(weights) != 1 or len(vocabs) != 1:
        raise ValueError(f"{folder} should hold exactly one .pth weights file and one .pkl vocabulary")
    return weights[0], vocabs[0]


def _download_wt103(direction: str) -> tuple[Path, Path]:
    """fastai's own download of its WT103 model (needs the internet)."""
    from fastai.data.external import URLs, untar_data

    url = URLs.WT103_FWD if direction == "forward" else URLs.WT103_BWD
    try:
        folder = untar_data(url, c_key="model")
    except Exception as error:  # fastai raises whatever its download stack raises
        raise OSError(
            f"could not download fastai's WT103 model from {url} ({error.__class__.__name__}: "
            f"{error}); offline, pass the files instead: pretrained=(weights.pth, itos.pkl)"
        ) from error
    return _fastai_pair(Path(folder))
