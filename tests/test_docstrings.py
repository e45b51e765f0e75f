"""The Examples sections of the public docstrings run, and show what they print."""

import doctest
import inspect

import pytest

import sk_ulmfit
import sk_ulmfit.cleaning
import sk_ulmfit.inspection

PUBLIC = [sk_ulmfit.inspection, sk_ulmfit.cleaning, sk_ulmfit.ULMFiTClassifier, sk_ulmfit.ULMFiTLanguageModel,
          sk_ulmfit.available_models]


@pytest.mark.parametrize("public", PUBLIC, ids=lambda obj: obj.__name__)
def test_examples_run(public):
    # a module's own objects only; a class with module=False, since the estimators name "sk_ulmfit" as
    # their module (for pickles), not the file that defines them
    options = {} if inspect.ismodule(public) else {"module": False, "globs": {}}
    tests = doctest.DocTestFinder().find(public, public.__name__, **options)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0 and result.failed == 0
