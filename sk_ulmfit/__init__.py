"""ULMFiT text classification as a scikit-learn estimator."""

from .classifier import ULMFiTClassifier

__all__ = ["ULMFiTClassifier"]
__version__ = "0.1.0"
