"""The package's surface: what importing it costs, and what it exports."""

import subprocess
import sys

import pytest

import sk_ulmfit


def test_light_modules_import_without_torch_or_fastai():
    code = ("import sys, sk_ulmfit, sk_ulmfit.datasets, sk_ulmfit.inspection; "
            "print(sorted(name for name in ('torch', 'fastai', 'spacy') if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_public_names_resolve_on_first_use():
    assert set(sk_ulmfit.__all__) <= set(dir(sk_ulmfit))
    for name in sk_ulmfit.__all__:
        assert getattr(sk_ulmfit, name).__name__ == name
    with pytest.raises(AttributeError, match="NoSuchThing"):
        sk_ulmfit.NoSuchThing  # noqa: B018
