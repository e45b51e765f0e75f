"""The module paths of sk_ulmfit 0.1.0, kept so that pickles written then still load.

0.1.0 kept its classes in public-looking modules (``sk_ulmfit.classifier`` and others);
they moved into private modules, and estimators now pickle under the public path
``sk_ulmfit.ULMFiTClassifier``. A pickle names the module of each class it holds, so the
old paths stay importable, as numpy kept ``numpy.core`` for its pickles: each is a module
whose names resolve on first use (PEP 562) and warn that the path goes in 0.3. Pickling
the loaded object again, or calling its ``save``, writes the public path.
"""

from __future__ import annotations

import warnings

REMOVED_IN = "0.3"


def moved(module: str, names: dict[str, object]):
    """A module ``__getattr__`` that hands out ``names`` of the 0.1.0 ``module`` and warns
    (one message for every old path: loading one pickle shows it once)."""

    def __getattr__(name: str):
        if name not in names:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        warnings.warn(f"sk_ulmfit 0.1.0's module paths (sk_ulmfit.classifier, sk_ulmfit.language_model, ...) "
                      f"go in {REMOVED_IN}: import the estimators from sk_ulmfit, and pickle an estimator "
                      f"loaded from an old pickle again (or call its save()) to store today's paths",
                      FutureWarning, stacklevel=2)
        return names[name]

    return __getattr__
