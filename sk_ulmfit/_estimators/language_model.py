"""``ULMFiTLanguageModel``: pretrain or fine-tune an AWD-LSTM language model on texts."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._common.validation import check_texts, warn_unused
from .._io.persistence import (
    PayloadSource,
    SavedLanguageModel,
    language_model_payload,
    loadable_device,
    plain_params,
    read_language_model,
    write_payload,
)
from .._io.pretrained import DIRECTIONS, resolve
from .._nn.awd_lstm import (
    SIZE_PARAMS,
    LanguageModelConfig,
    aligned_weights,
    build_language_model,
    language_model_groups,
    state_dict_on_cpu,
)
from .._nn.device import resolve_device, seeded
from .._nn.sampled_softmax import make_sampler
from .._text.stream import n_windows, token_stream
from .._text.tokenizer import Vocabulary, count_tokens, in_reading_order, tokenize
from .._train.loop import language_model_loss, run_schedule, train_language_model_epoch
from .._train.schedule import Stage
from .base import FitRun, restored_language_model
from .compat import plain_language_model_state, precision_of_half, with_new_params
from .params import check_params

# Parameters written into saved files (plain values; not pretrained, device or verbose).
SAVED_PARAMS = ("bptt", "epochs", "lr", "batch_size", "min_freq", "max_vocab", "weight_decay",
                "lr_schedule", "n_sampled")


class ULMFiTLanguageModel(BaseEstimator, PayloadSource):
    """AWD-LSTM language model (Merity et al., 2017) trained as ULMFiT's stages 1 and 2.

    ``fit(texts)`` trains from scratch, or fine-tunes a pretrained model on the texts:
    the vocabulary is extended with the new corpus' frequent tokens (known tokens keep
    their embeddings, new ones start from the mean embedding), one epoch trains only the
    embedding and tied decoder, then everything is trained for ``epochs``.

    Parameters
    ----------
    pretrained : None, str, path, ULMFiTLanguageModel or (weights, vocab) paths, default=None
        Where to start: ``None`` (random weights), the name of a model shipped with the
        package (see :func:`sk_ulmfit.available_models`), a file written by
        :meth:`save`, a fitted ``ULMFiTLanguageModel``, or fastai WT103-style files: a
        ``(weights.pth, itos.pkl)`` pair or a folder holding them.
    direction : {"forward", "backward"}, default="forward"
        Read texts left to right, or right to left (ULMFiT's backward model).
    emb_size, hidden_size, n_layers : int, default=400, 1152, 3
        Size of a model trained from scratch; a pretrained model keeps its own size.
    drop_mult : float, default=1.0
        Multiplies fastai's AWD-LSTM language-model dropouts.
    bptt : int, default=72
        Tokens per back-propagation window; the hidden state carries across windows.
    epochs : int, default=1
        Epochs with every layer trained.
    lr : float, default=2e-3
        Peak learning rate (one-cycle); the embedding-only epoch of fine-tuning uses 10×.
    batch_size : int, default=64
        Parallel rows of the token stream.
    min_freq, max_vocab : int, default=3, 60000
        Which corpus tokens enter the vocabulary.
    weight_decay : float, default=0.01
    lr_schedule : {"one_cycle", "slanted_triangular"}, default="one_cycle"
    extra_texts : sequence of str or None, default=None
        Texts added to those ``fit`` receives. Inside a classifier
        (``ULMFiTClassifier(language_model=ULMFiTLanguageModel(extra_texts=unlabelled))``)
        these are the domain's unlabelled texts for stage 2, as the paper uses IMDb's
        unlabelled reviews: a parameter, not fit data, so cross-validation never slices
        them, and every fold's stage 2 reads all of them.
    n_sampled : int or None, default=2048
        Training scores the true next token against this many sampled candidates (a
        sampled softmax: about 3x faster per token on a CPU at a 24k-token vocabulary;
        scoring and perplexity always use the full softmax). ``None``, or a value not
        below the vocabulary size, trains with the full softmax.
    checkpoint_dir : None, str or path, default=None
        A folder where ``fit`` records its progress after every completed epoch; an
        interrupted fit called again with the same parameters, data and start resumes
        from the last completed epoch and ends with the same model (see
        ``ULMFiTClassifier``'s ``checkpoint_dir``). The files go when the fit completes.
    n_jobs : int or None, default=None
        Worker processes for tokenising a large corpus (joblib's meaning; -1: every core).
    device : str or torch.device, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0

    Attributes
    ----------
    vocab_ : Vocabulary
    config_ : LanguageModelConfig
    model_ : torch.nn.Module
        fastai ``SequentialRNN(AWD_LSTM, LinearDecoder)``.
    device_ : torch.device
    history_ : list of dict
        One record per stage and epoch (``train_loss`` in nats per token).

    See Also
    --------
    ULMFiTClassifier : The classifier whose stage 2 this is (``language_model=``).
    sk_ulmfit.pretrain.pretrain_language_model : Stage 1 or 2 on a corpus of any size.

    Examples
    --------
    Fine-tune the shipped model on texts of your domain and score held-out ones::

        lm = ULMFiTLanguageModel(pretrained="english", epochs=1).fit(domain_texts)
        lm.perplexity(held_out_texts)

    A tiny model from random weights:

    >>> from sk_ulmfit import ULMFiTLanguageModel
    >>> texts = ["the cat sat on the mat", "the dog sat on the log"] * 10
    >>> lm = ULMFiTLanguageModel(emb_size=8, hidden_size=16, n_layers=1, min_freq=1, batch_size=2, bptt=4,
    ...                          random_state=0).fit(texts)
    >>> lm.perplexity(["the cat sat on the log"]) < len(lm.vocab_)   # better than a uniform guess
    True
    """

    def __init__(
        self,
        *,
        pretrained=None,
        direction: str = "forward",
        emb_size: int = 400,
        hidden_size: int = 1152,
        n_layers: int = 3,
        drop_mult: float = 1.0,
        bptt: int = 72,
        epochs: int = 1,
        lr: float = 2e-3,
        batch_size: int = 64,
        min_freq: int = 3,
        max_vocab: int = 60000,
        weight_decay: float = 0.01,
        lr_schedule: str = "one_cycle",
        extra_texts: Sequence[str] | None = None,
        n_sampled: int | None = 2048,
        checkpoint_dir=None,
        n_jobs: int | None = None,
        device="auto",
        random_state=None,
        verbose: int = 0,
    ):
        self.pretrained = pretrained
        self.direction = direction
        self.emb_size = emb_size
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.drop_mult = drop_mult
        self.bptt = bptt
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.min_freq = min_freq
        self.max_vocab = max_vocab
        self.weight_decay = weight_decay
        self.lr_schedule = lr_schedule
        self.extra_texts = extra_texts
        self.n_sampled = n_sampled
        self.checkpoint_dir = checkpoint_dir
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def fit(self, X: Sequence[str], y=None) -> "ULMFiTLanguageModel":
        """Train (or fine-tune) on the texts ``X``; ``y`` is ignored.

        Returns
        -------
        self : ULMFiTLanguageModel
        """
        texts = check_texts(X)
        self._check_params()
        starts = resolve(self.pretrained, [self.direction])
        return self._fit_from(None if starts is None else starts[0].language_model, texts)

    def _fit_from(self, start: SavedLanguageModel | None, texts: list[str]) -> "ULMFiTLanguageModel":
        """Train on ``texts`` (and ``extra_texts``) from ``start`` (``None``: random weights)."""
        self._check_params()
        if start is not None:
            warn_unused(self, SIZE_PARAMS, "a pretrained model brings its own size")
        texts = list(texts) + self._extra_texts()
        device = resolve_device(self.device)
        run = FitRun.begin(self, texts, None if start is None else (start.itos, start.weights))
        progress = run.progress(self.direction)
        saved = None if progress is None else progress.epoch
        rng = run.rng

        tokens = tokens_in_reading_order(texts, self.direction, self.n_jobs, show_progress=self.verbose > 0)
        vocab = Vocabulary.for_training(count_tokens(tokens), None if start is None else start.itos,
                                        self.min_freq, self.max_vocab)
        if start is None:
            config = LanguageModelConfig(len(vocab), self.emb_size, self.hidden_size,
                                         self.n_layers, self.drop_mult)
            stages = [Stage(n_trainable=self.n_layers + 1, epochs=self.epochs, lr=self.lr)]
        else:
            config = LanguageModelConfig(len(vocab), start.config.emb_size, start.config.hidden_size,
                                         start.config.n_layers, self.drop_mult)
            stages = [Stage(1, 1, 10 * self.lr), Stage(config.n_layers + 1, self.epochs, self.lr)]
        sequences = [vocab.numericalize(t) for t in tokens]
        counts = np.bincount(np.concatenate([np.zeros(0, dtype=np.int64), *sequences]), minlength=len(vocab))
        sampler = make_sampler(counts, self.n_sampled)

        save_progress = None
        if progress is not None:
            def save_progress(state):
                progress.save_epoch(state_dict_on_cpu(model), state)
        with seeded(int(rng.integers(2**31 - 1)), device):
            model = build_language_model(config)
            if saved is not None:
                model.load_state_dict(saved["model"])
            elif start is not None:
                model.load_state_dict(aligned_weights(start.weights, start.itos, vocab.itos))
            model.to(device)
            history = run_schedule(
                language_model_groups(model), stages,
                make_epoch=lambda: _EpochStream(token_stream(sequences, rng.permutation(len(sequences))),
                                                self.batch_size, self.bptt),
                train_on=lambda plan, optimizer, rates, scaler: train_language_model_epoch(
                    model, plan.stream, self.batch_size, self.bptt, optimizer, rates, scaler,
                    device, show_progress=self.verbose > 0, sampler=sampler),
                evaluate=None, lr_schedule=self.lr_schedule, lr_decay=1.0,
                weight_decay=self.weight_decay, device=device, verbose=self.verbose,
                rng=rng, resume=None if saved is None else saved["progress"], save_progress=save_progress,
                title=f"{'training' if start is None else 'fine-tuning'} the language model ({self.direction})",
            )
        run.finish([self.direction])
        self.vocab_ = vocab
        self.config_ = config
        self.model_ = model.eval()
        self.device_ = device
        self.history_ = history
        return self

    def _check_params(self) -> None:
        check_params(self, direction=DIRECTIONS)

    def _extra_texts(self) -> list[str]:
        if self.extra_texts is None or len(self.extra_texts) == 0:
            return []
        return check_texts(self.extra_texts)

    # ------------------------------------------------------------ scoring
    def score(self, X: Sequence[str], y=None) -> float:
        """Mean log-likelihood per token of the texts ``X`` (higher is better)."""
        return -self._loss(X)

    def perplexity(self, X: Sequence[str]) -> float:
        """Perplexity of the texts ``X``: ``exp`` of the mean cross-entropy per token."""
        return float(np.exp(self._loss(X)))

    def _loss(self, X) -> float:
        check_is_fitted(self)
        tokens = tokens_in_reading_order(check_texts(X), self.direction, self.n_jobs)
        stream = token_stream([self.vocab_.numericalize(t) for t in tokens])
        return language_model_loss(self.model_, stream, self.batch_size, self.bptt, self.device_)

    # -------------------------------------------------------- persistence
    def save(self, path: str | Path, *, precision: str = "float32", half: bool | None = None) -> Path:
        """Write weights, vocabulary and configuration to ``path`` (see :mod:`sk_ulmfit._io.persistence`).

        The file loads without unpickling code.

        Parameters
        ----------
        path : str or Path
            The file to write (atomically: an earlier file there is replaced only by a
            complete new one).
        precision : {"float32", "float16", "int8"}, default="float32"
            How the weights are stored. ``"float16"`` halves the file; ``"int8"`` (int8
            rows with one float32 scale each) quarters it, for shipping: the shipped
            ``"english"`` pair's WikiText-2 test perplexity moves by at most 0.12 %.
            Loading always gives float32 weights.
        half : bool, default=None
            Deprecated: ``half=True`` is ``precision="float16"``.

        Returns
        -------
        Path
            ``path``.
        """
        precision = precision_of_half(half, precision)
        return write_payload(path, language_model_payload(self._saved(), precision))

    @classmethod
    def load(cls, path: str | Path, *, device="auto") -> "ULMFiTLanguageModel":
        """A fitted model from a file written by :meth:`save`."""
        return cls._from_saved(read_language_model(path), device)

    @classmethod
    def from_pretrained(cls, pretrained="english", *, direction: str = "forward",
                        device="auto") -> "ULMFiTLanguageModel":
        """The fitted language model that ``pretrained`` names, as it is (no training).

        ``pretrained`` takes every form the ``pretrained`` parameter takes, e.g. a shipped
        model's name: ``ULMFiTLanguageModel.from_pretrained("english").perplexity(texts)``.
        """
        if direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}; got {direction!r}")
        starts = resolve(pretrained, [direction])
        if starts is None:
            raise ValueError("from_pretrained needs a pretrained model, not None")
        return cls._from_saved(starts[0].language_model, device)

    @classmethod
    def _from_saved(cls, saved: SavedLanguageModel, device="auto") -> "ULMFiTLanguageModel":
        config = saved.config
        language_model = cls(**{**plain_params(saved.params, SAVED_PARAMS), "direction": saved.direction,
                                "emb_size": config.emb_size, "hidden_size": config.hidden_size,
                                "n_layers": config.n_layers, "drop_mult": config.drop_mult, "device": device})
        language_model.config_ = config
        language_model.device_ = resolve_device(device)
        language_model.model_, language_model.vocab_ = restored_language_model(
            config, saved.weights, saved.itos, language_model.device_)
        language_model.history_ = []
        return language_model

    def _saved(self) -> SavedLanguageModel:
        """This fitted model as plain data (CPU weights)."""
        check_is_fitted(self)
        return SavedLanguageModel(state_dict_on_cpu(self.model_), list(self.vocab_.itos), self.config_,
                                  self.direction, plain_params(self.get_params(), SAVED_PARAMS))

    def _payload(self) -> dict:
        """What :meth:`save` writes; also how a fitted model is handed over as ``pretrained``."""
        return language_model_payload(self._saved())

    def aligned_weights(self, vocab: Vocabulary) -> dict[str, torch.Tensor]:
        """This model's weights with embedding and decoder rows rearranged for ``vocab``.

        Tokens this model knows keep their rows; unknown ones get the mean row (fastai's
        ``match_embeds``).
        """
        check_is_fitted(self)
        return aligned_weights(state_dict_on_cpu(self.model_), self.vocab_.itos, vocab.itos)

    # ----------------------------------------------------------- pickling
    def __getstate__(self):
        state = dict(super().__getstate__())  # plain data only: no private class is pickled
        if "model_" in state:
            state.update(model_=state_dict_on_cpu(state["model_"]), vocab_=list(state["vocab_"].itos),
                         config_=state["config_"].to_dict())
        return state

    def __setstate__(self, state):
        state = with_new_params(type(self), state)
        if isinstance(state.get("model_"), dict):
            config, vocab = plain_language_model_state(state["config_"], state["vocab_"])
            config = LanguageModelConfig(**config)
            device = loadable_device(state["device_"])
            model, vocab = restored_language_model(config, state["model_"], vocab, device)
            state = {**state, "model_": model, "device_": device, "config_": config, "vocab_": vocab}
        super().__setstate__(state)


# Pickles and reprs name the public path, which internal moves never change.
ULMFiTLanguageModel.__module__ = "sk_ulmfit"


class _EpochStream:
    """One epoch's token stream; ``len`` is its number of training steps."""

    def __init__(self, stream: np.ndarray, batch_size: int, bptt: int):
        self.stream = stream
        self.steps = n_windows(len(stream), batch_size, bptt)

    def __len__(self) -> int:
        return self.steps


def tokens_in_reading_order(texts: list[str], direction: str, n_jobs: int | None = None,
             show_progress: bool = False) -> list[list[str]]:
    """fastai tokens of each text, reversed for a backward model."""
    tokens = tokenize(texts, n_jobs=n_jobs, show_progress=show_progress)
    return [in_reading_order(t, direction) for t in tokens]
