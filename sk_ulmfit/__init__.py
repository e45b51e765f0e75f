"""ULMFiT text classification as a scikit-learn estimator."""

from .classifier import ULMFiTClassifier
from .language_model import ULMFiTLanguageModel
from .pretrained import available_models

__all__ = ["ULMFiTClassifier", "ULMFiTLanguageModel", "available_models"]
__version__ = "0.1.0"
