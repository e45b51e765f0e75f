"""GPU paths: training with mixed precision and loading the model on a CPU.

These run only where CUDA is available (the project's GPU machines); CI has no GPU.
"""

import pickle

import numpy as np
import pytest
import torch

from sk_ulmfit import ULMFiTClassifier

from .conftest import TINY

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def test_trains_on_gpu_and_predicts_on_cpu(trec):
    X_train, y_train, X_test, y_test = trec
    clf = ULMFiTClassifier(random_state=0, device="cuda", **TINY).fit(X_train, y_train)
    assert clf.device_.type == "cuda"
    assert next(clf.directions_[0].network.parameters()).is_cuda
    gpu_proba = clf.predict_proba(X_test)
    cpu_copy = pickle.loads(pickle.dumps(clf))
    cpu_copy.device_ = torch.device("cpu")
    for trained in cpu_copy.directions_:
        trained.network.cpu()
    np.testing.assert_allclose(cpu_copy.predict_proba(X_test), gpu_proba, atol=2e-2)
    assert 0 <= clf.score(X_test, y_test) <= 1


def test_pretraining_runs_on_gpu_with_mixed_precision(data_home, tmp_path):
    import itertools
    import lzma

    from sk_ulmfit import ULMFiTLanguageModel
    from sk_ulmfit.pretrain import pretrain_language_model

    shard = tmp_path / "wiki-00.jsonl"
    with lzma.open(data_home / "pretrain" / "enwiki2014-00.jsonl.xz", "rt", encoding="utf-8") as f:
        shard.write_text("".join(itertools.islice(f, 100)), encoding="utf-8")
    lm = pretrain_language_model([shard], tmp_path / "lm.pt", checkpoint_dir=tmp_path / "run", device="cuda",
                                 verbose=0, emb_size=32, hidden_size=64, n_layers=2, max_vocab=3000,
                                 min_freq=1, batch_size=16, bptt=32, valid_permille=100, max_tokens=20_000)
    assert lm.device_.type == "cuda"
    on_cpu = ULMFiTLanguageModel.load(tmp_path / "lm.pt", device="cpu")
    assert np.isfinite(on_cpu.perplexity(["A short text about a railway station in Japan."]))
