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
