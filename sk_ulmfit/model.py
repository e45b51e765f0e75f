"""Deprecated: where sk_ulmfit 0.1.0 kept ``LanguageModelConfig``, for its old pickles only.

Goes in 0.3; see :mod:`sk_ulmfit._legacy`.
"""

from ._legacy import moved
from ._model import LanguageModelConfig as _LanguageModelConfig

__getattr__ = moved(__name__, {"LanguageModelConfig": _LanguageModelConfig})
