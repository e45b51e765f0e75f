"""Deprecated: where sk_ulmfit 0.1.0 kept ``Vocabulary``, for its old pickles only.

Goes in 0.3; see :mod:`sk_ulmfit._estimators.compat`.
"""

from ._estimators.compat import moved
from ._text.tokenizer import Vocabulary as _Vocabulary

__getattr__ = moved(__name__, {"Vocabulary": _Vocabulary})
