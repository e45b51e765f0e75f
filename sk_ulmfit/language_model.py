"""Deprecated: where sk_ulmfit 0.1.0 kept ``ULMFiTLanguageModel``, for its old pickles only.

Goes in 0.3; see :mod:`sk_ulmfit._estimators.compat`.
"""

from ._estimators.compat import moved
from ._estimators.language_model import ULMFiTLanguageModel as _ULMFiTLanguageModel

__getattr__ = moved(__name__, {"ULMFiTLanguageModel": _ULMFiTLanguageModel})
