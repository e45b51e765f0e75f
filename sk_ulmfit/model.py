"""Deprecated: where sk_ulmfit 0.1.0 kept ``LanguageModelConfig``, for its old pickles only.

Goes in 0.3; see :mod:`sk_ulmfit._estimators.compat`.
"""

from ._estimators.compat import moved
from ._nn.awd_lstm import LanguageModelConfig as _LanguageModelConfig

__getattr__ = moved(__name__, {"LanguageModelConfig": _LanguageModelConfig})
