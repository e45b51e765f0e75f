"""ULMFiT text classification as a scikit-learn estimator.

The estimators are imported on first use (PEP 562), so ``import sk_ulmfit.datasets`` or
``import sk_ulmfit.inspection`` does not import torch or fastai.
"""

from importlib import import_module

__all__ = ["ULMFiTClassifier", "ULMFiTLanguageModel", "available_models", "lr_find", "plot_history"]
__version__ = "0.2.0.dev0"

# public name -> the module that defines it
_LAZY = {"ULMFiTClassifier": "._estimators.classifier", "ULMFiTLanguageModel": "._estimators.language_model",
         "available_models": "._io.pretrained", "plot_history": "._estimators.plots",
         "lr_find": "._estimators.lr_find"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
