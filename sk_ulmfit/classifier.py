"""Deprecated: where sk_ulmfit 0.1.0 kept ``ULMFiTClassifier``, for its old pickles only.

Goes in 0.3; see :mod:`sk_ulmfit._estimators.compat`.
"""

from ._estimators.classifier import ULMFiTClassifier as _ULMFiTClassifier
from ._estimators.compat import moved

__getattr__ = moved(__name__, {"ULMFiTClassifier": _ULMFiTClassifier})
