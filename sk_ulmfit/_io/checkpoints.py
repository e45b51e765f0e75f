"""A fit's progress on disk (``checkpoint_dir``): resume an interrupted fit where it stopped.

One file per direction, ``<direction>.pt``, rewritten atomically after every completed
epoch (through :func:`~sk_ulmfit._io.persistence.write_payload`): plain data and tensors
only, read back with ``weights_only`` loading. A file names the fit it belongs to by a
fingerprint of the estimator's training parameters and of the data, so a checkpoint is
never applied to another fit, and never overwritten by one: that is an error that says
what to do. The files are removed when the fit completes.
"""

from __future__ import annotations

from pathlib import Path

import joblib
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted

from .._common.distributed import is_writer
from .persistence import PayloadSource, read_payload, write_payload

FORMAT = "sk_ulmfit.fit_checkpoint"
VERSION = 1
# Parameters that do not change the trained model: a fit resumed with other values of
# these is still the same fit.
NOT_TRAINING = frozenset({"checkpoint_dir", "verbose", "n_jobs", "memory", "predict_batch_size",
                          "predict_precision"})


def fit_fingerprint(params: dict, *data) -> str:
    """What identifies a fit: its training parameters and its data (a joblib hash)."""
    return joblib.hash(({k: _stable(v) for k, v in sorted(params.items()) if k not in NOT_TRAINING},
                        _arrays(data)))


def _stable(value):
    """``value`` as data that hashes the same for the same model: a fitted estimator (a
    ``pretrained`` source) by its saved form, an unfitted one by its parameters (networks
    carry state, such as fastai's hidden state, that changes without changing the model)."""
    if isinstance(value, FrozenEstimator):
        value = value.estimator
    if not isinstance(value, BaseEstimator):
        return value
    try:
        check_is_fitted(value)
    except NotFittedError:
        return type(value).__name__, {k: _stable(v) for k, v in sorted(value.get_params(deep=False).items())}
    if not isinstance(value, PayloadSource):
        raise TypeError(f"a fitted {type(value).__name__} has no saved form to fingerprint a fit by")
    return type(value).__name__, _arrays(value._payload())


def _arrays(value):
    """Tensors as numpy arrays: a tensor's pickle also holds how it shares storage, which
    differs between equal weights."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {k: _arrays(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_arrays(v) for v in value)
    return value


class FitCheckpoints:
    """The progress files of one fit in ``folder``.

    Parameters
    ----------
    folder : path
        The estimator's ``checkpoint_dir`` (created when the first epoch completes).
    fingerprint : str
        :func:`fit_fingerprint` of this fit.
    """

    def __init__(self, folder, fingerprint: str):
        self.folder = Path(folder)
        self.fingerprint = fingerprint
        if self.folder.exists() and not self.folder.is_dir():
            raise ValueError(f"checkpoint_dir {self.folder} is a file; give a folder (it is created if missing)")

    def path(self, direction: str) -> Path:
        return self.folder / f"{direction}.pt"

    def read(self, direction: str) -> dict | None:
        """This fit's progress in ``direction``, or ``None`` if none was saved."""
        path = self.path(direction)
        if not path.exists():
            return None
        payload = read_payload(path, kind="fit checkpoint")
        if payload.get("format") != FORMAT or payload.get("version") != VERSION:
            raise ValueError(f"{path} is not a fit checkpoint this sk_ulmfit reads (format "
                             f"{payload.get('format')!r}, version {payload.get('version')!r}): remove it, "
                             "or give another checkpoint_dir")
        if payload["fingerprint"] != self.fingerprint:
            raise ValueError(
                f"{path} holds the progress of another fit (other parameters or data); it is left as it "
                "is: fit with the same parameters and data to resume it, or give another checkpoint_dir "
                "(or remove the folder) to start afresh")
        return payload

    def fit_seed(self, default: int) -> int:
        """The seed of the fit being resumed (so that ``random_state=None`` resumes too)."""
        for path in sorted(self.folder.glob("*.pt")) if self.folder.is_dir() else []:
            payload = self.read(path.stem)
            if payload is not None:
                return int(payload["fit_seed"])
        return default

    def save(self, direction: str, fit_seed: int, state: dict) -> None:
        """Record ``state`` (mid-direction progress, or a completed direction) atomically."""
        self.folder.mkdir(parents=True, exist_ok=True)
        write_payload(self.path(direction), {"format": FORMAT, "version": VERSION, "fingerprint": self.fingerprint,
                                             "fit_seed": fit_seed, "direction": direction, **state})

    def clear(self, directions) -> None:
        """Remove the files of a completed fit (the folder stays; under ``torchrun``, rank 0
        removes them)."""
        if not is_writer():
            return
        for direction in directions:
            self.path(direction).unlink(missing_ok=True)


class DirectionProgress:
    """One direction's checkpoint during a fit: what an interrupted fit saved, and the
    saver. Every record's keys are named here.

    A record is either an epoch's state (``epoch``: the network, the training loop's
    ``progress`` and what the estimator needs to rebuild the network: its vocabulary,
    sizes and the pretrained embedding kept outside training) or a completed direction
    (``completed``: the trained direction's payload, its history and the random state
    after it).
    """

    def __init__(self, checkpoints: FitCheckpoints, direction: str, fit_seed: int):
        self.checkpoints, self.direction, self.fit_seed = checkpoints, direction, fit_seed
        self.saved = checkpoints.read(direction)

    @property
    def completed(self) -> dict | None:
        """``{"trained", "history", "rng_after"}`` of a direction completed before, or ``None``."""
        return self.saved if self.saved is not None and self.saved.get("complete") else None

    @property
    def epoch(self) -> dict | None:
        """The last epoch's state of a direction interrupted mid-way, or ``None``."""
        return self.saved if self.saved is not None and not self.saved.get("complete") else None

    def save_epoch(self, model: dict, progress: dict, **rebuild) -> None:
        """After an epoch: the network's weights, the loop's ``progress`` and ``rebuild``
        (the classifier's ``itos``, ``sizes`` and ``embedding``)."""
        record = {"model": model, "progress": progress}
        if rebuild:
            record = {"complete": False, **rebuild, **record}
        self.checkpoints.save(self.direction, self.fit_seed, record)

    def save_completed(self, trained: dict, history: list, rng_after: dict) -> None:
        """A direction's end: its trained payload, history and the random state after it."""
        self.checkpoints.save(self.direction, self.fit_seed, {
            "complete": True, "trained": trained, "history": history, "rng_after": rng_after})
