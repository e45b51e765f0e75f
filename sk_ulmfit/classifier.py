"""Deprecated: where sk_ulmfit 0.1.0 kept ``ULMFiTClassifier``, for its old pickles only.

Goes in 0.3; see :mod:`sk_ulmfit._legacy`.
"""

from ._classifier import ULMFiTClassifier as _ULMFiTClassifier
from ._legacy import moved

__getattr__ = moved(__name__, {"ULMFiTClassifier": _ULMFiTClassifier})
