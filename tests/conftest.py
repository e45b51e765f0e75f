"""Shared fixtures: where the real data lives, and small real-text samples."""

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def _data_home() -> Path:
    configured = os.environ.get("SK_ULMFIT_DATA")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_home() -> Path:
    """Folder with the real datasets (``../shared/data`` beside the checkout)."""
    path = _data_home()
    if not (path / "trec").is_dir():
        pytest.fail(
            f"real data not found in {path}: put the shared data there or set SK_ULMFIT_DATA"
        )
    return path


# A model small enough to train in a second or two on a few hundred real texts.
TINY = {
    "pretrained": None,
    "direction": "forward",  # one network per fit (the default trains two); tests of "both" set it
    "emb_size": 16,
    "hidden_size": 32,
    "n_layers": 2,
    "batch_size": 32,
    "min_freq": 1,
    "schedule": ((1, 1, 2e-2), ("all", 2, 1e-2)),
}


@pytest.fixture(scope="session")
def trec(data_home):
    """TREC-6: a stratified 600-question training subset and 200 test questions."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    from sk_ulmfit.datasets import fetch_trec

    X, y = fetch_trec("train", data_home=data_home, return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X, y, train_size=600, stratify=y, random_state=0)
    X_test, y_test = fetch_trec("test", data_home=data_home, return_X_y=True)
    return X_train, np.asarray(y_train), X_test[:200], np.asarray(y_test[:200])


TINY_LM = {"emb_size": 16, "hidden_size": 32, "n_layers": 2, "batch_size": 16, "min_freq": 2}


@pytest.fixture(scope="session")
def wiki_articles(data_home):
    """Real WikiText-2 validation articles as plain text (the pretraining recipe's prep)."""
    from sk_ulmfit.datasets import fetch_wikitext2, wikitext_articles

    return wikitext_articles(fetch_wikitext2("valid", data_home=data_home).data)


@pytest.fixture(scope="session")
def tiny_pretrained(wiki_articles):
    """A tiny forward language model pretrained on real Wikipedia text."""
    from sk_ulmfit._estimators.language_model import ULMFiTLanguageModel

    return ULMFiTLanguageModel(epochs=1, lr=1e-2, random_state=0, **TINY_LM).fit(wiki_articles[:20])
