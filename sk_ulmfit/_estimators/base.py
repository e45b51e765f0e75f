"""What both estimators' fits share: the fit's seed and random generator, its progress
files, and the network a fitted language model is rebuilt into."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.utils import check_random_state

from .._common.distributed import join_world
from .._io.checkpoints import DirectionProgress, FitCheckpoints, fit_fingerprint
from .._nn.awd_lstm import LanguageModelConfig, build_language_model
from .._text.tokenizer import Vocabulary


@dataclass
class FitRun:
    """One call of ``fit``: its seed (``random_state``'s draw, or the seed of the
    interrupted fit it resumes), the generator every later draw comes from, and its
    progress files (``None`` without ``checkpoint_dir``)."""

    seed: int
    rng: np.random.Generator
    checkpoints: FitCheckpoints | None

    @classmethod
    def begin(cls, estimator, *data) -> "FitRun":
        """The run of ``estimator.fit`` on ``data`` (what, with the training parameters,
        identifies its progress files)."""
        join_world()  # under torchrun: every process of the fit joins the process group
        seed = check_random_state(estimator.random_state).randint(2**31 - 1)
        checkpoints = None
        if estimator.checkpoint_dir is not None:
            checkpoints = FitCheckpoints(estimator.checkpoint_dir,
                                         fit_fingerprint(estimator.get_params(deep=False), *data))
            seed = checkpoints.fit_seed(seed)
        return cls(seed, np.random.default_rng(seed), checkpoints)

    def progress(self, direction: str) -> DirectionProgress | None:
        """``direction``'s checkpoint (``None`` without ``checkpoint_dir``)."""
        return None if self.checkpoints is None else DirectionProgress(self.checkpoints, direction, self.seed)

    def finish(self, directions) -> None:
        """The fit completed: its progress files go."""
        if self.checkpoints is not None:
            self.checkpoints.clear(directions)


def restored_language_model(config: LanguageModelConfig, weights: dict[str, torch.Tensor], itos,
                            device: torch.device) -> tuple[torch.nn.Module, Vocabulary]:
    """A fitted language model's network (in eval mode on ``device``) and vocabulary from
    plain data: what loading a file and unpickling share."""
    model = build_language_model(config)
    model.load_state_dict(weights)
    return model.to(device).eval(), Vocabulary(itos)
