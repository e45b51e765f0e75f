"""The Examples sections of the public docstrings run, and show what they print."""

import doctest

import pytest

import sk_ulmfit.cleaning
import sk_ulmfit.inspection


@pytest.mark.parametrize("module", [sk_ulmfit.inspection, sk_ulmfit.cleaning], ids=lambda m: m.__name__)
def test_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
