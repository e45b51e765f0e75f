"""Model search on a Dask cluster: real scheduler and worker processes on loopback.

``joblib.parallel_backend("dask")`` sends GridSearchCV's fits to the workers; stage 2 and
tokens go through ``memory=`` on a folder every worker shares.
"""

import os
import signal
import threading
import time

import dask
import joblib
import numpy as np
import pytest
from distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from sk_ulmfit import ULMFiTClassifier

from .conftest import TINY

GRID = {"lr_decay": [2.0, 2.6]}
LEARNS = {**TINY, "random_state": 0, "schedule": ((1, 1, 3e-2), ("all", 3, 1e-2))}


@pytest.fixture
def cluster():
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as local, Client(local) as client:
        yield client


def _search(estimator, X, y, dask: bool, scatter: bool = True):
    """GridSearchCV over ``GRID``: on the cluster (joblib's dask backend) or in this process."""
    search = GridSearchCV(estimator, GRID, cv=2, n_jobs=-1 if dask else None, refit=False)
    if not dask:
        return search.fit(X, y)
    # scatter: the texts travel to each worker once, not with every fit
    with joblib.parallel_backend("dask", **({"scatter": [X, y]} if scatter else {})):
        return search.fit(X, y)


def test_grid_search_runs_on_the_cluster_and_shares_stage_2(cluster, tiny_pretrained, trec, tmp_path):
    X_train, y_train, _, _ = trec
    X, y = X_train[:300], y_train[:300]
    tiny_pretrained.save(tmp_path / "lm.pt")
    sized = ("pretrained", "emb_size", "hidden_size", "n_layers")
    params = {**{k: v for k, v in LEARNS.items() if k not in sized}, "pretrained": str(tmp_path / "lm.pt")}
    cache = tmp_path / "shared-cache"
    on_cluster = _search(ULMFiTClassifier(**params, memory=str(cache)), X, y, dask=True)
    # every fit ran in a worker process, none in this one
    assert len(cluster.run(os.getpid)) == 2
    assert len(list(cache.rglob("_fine_tune/*/output.pkl"))) == 2  # one stage 2 per training fold
    # at most once per training fold (a worker that scored one fold's test texts may hold
    # the other fold's training texts in its own in-process cache already)
    assert 1 <= len(list(cache.rglob("_tokenize_new/*/output.pkl"))) <= 2
    here = _search(ULMFiTClassifier(**params), X, y, dask=False)
    np.testing.assert_allclose(on_cluster.cv_results_["mean_test_score"], here.cv_results_["mean_test_score"])
    np.testing.assert_allclose(on_cluster.cv_results_["split0_test_score"], here.cv_results_["split0_test_score"])


def _kill_one_worker_mid_fit(client: Client, done: threading.Event, killed: list) -> None:
    """SIGKILL the process of a worker once it has been running a fit for a moment."""
    while not done.is_set():
        busy = [address for address, keys in client.processing().items() if keys]
        if busy:
            time.sleep(1.0)  # well inside the fit: tokenising, stage 2 or the classifier
            pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            os.kill(pid, signal.SIGKILL)
            killed.append(busy[0])
            return
        time.sleep(0.05)


def test_a_worker_killed_mid_fit_does_not_lose_the_search(tiny_pretrained, trec, tmp_path):
    X_train, y_train, _, _ = trec
    X, y = X_train[:300], y_train[:300]
    tiny_pretrained.save(tmp_path / "lm.pt")
    sized = ("pretrained", "emb_size", "hidden_size", "n_layers")
    params = {**{k: v for k, v in LEARNS.items() if k not in sized}, "pretrained": str(tmp_path / "lm.pt")}
    # The fold indices are made here and broadcast with the texts, so every input of every
    # fit has a copy on each worker (see docs/guide/scaling.md); the scheduler must not
    # thin those copies out (its active memory manager keeps one replica by default).
    splits = list(StratifiedKFold(2).split(X, y))
    broadcast = [X, y, *[part for split in splits for part in split]]
    with dask.config.set({"distributed.scheduler.active-memory-manager.start": False}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                         dashboard_address=None) as local, Client(local) as client:
        done, killed = threading.Event(), []
        killer = threading.Thread(target=_kill_one_worker_mid_fit, args=(client, done, killed))
        killer.start()
        try:
            search = GridSearchCV(ULMFiTClassifier(**params), GRID, cv=splits, n_jobs=-1, refit=False)
            with joblib.parallel_backend("dask", scatter=broadcast):
                disturbed = search.fit(X, y)
        finally:
            done.set()
            killer.join()
    assert killed, "no worker was killed: the search finished before any fit started"
    undisturbed = GridSearchCV(ULMFiTClassifier(**params), GRID, cv=splits, refit=False).fit(X, y)
    for key in ("split0_test_score", "split1_test_score", "mean_test_score"):
        np.testing.assert_allclose(disturbed.cv_results_[key], undisturbed.cv_results_[key])
