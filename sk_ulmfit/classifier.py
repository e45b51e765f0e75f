"""``ULMFiTClassifier``: raw texts in, labels out, trained with the ULMFiT schedule."""

from __future__ import annotations

import io
import numbers
import warnings
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, check_scalar

from .batching import training_batches
from .model import ClassifierConfig, build_classifier, layer_groups, state_dict_on_cpu
from .schedule import check_lr_schedule, parse_schedule
from .text import Vocabulary, tokenize
from .training import logits_head, predict_outputs, resolve_device, run_schedule, train_epoch
from .validation import check_labels, check_texts


class ULMFiTClassifier(ClassifierMixin, BaseEstimator):
    """Text classifier with an AWD-LSTM encoder, trained the ULMFiT way.

    Texts are tokenised with fastai's rules, read by an AWD-LSTM encoder in
    ``bptt``-token chunks, pooled as ``[h_last; max; mean]`` over the non-pad steps and
    classified by a BatchNorm/Dropout/Linear head (Howard & Ruder, 2018). Training
    follows ``schedule``: gradual unfreezing with discriminative learning rates.

    Parameters
    ----------
    pretrained : None, default=None
        Where the encoder starts. ``None``: random initialisation.
    schedule : "ulmfit" or sequence of (unfreeze, epochs, lr), default="ulmfit"
        Stages of gradual unfreezing. ``unfreeze`` is the number of layer groups
        trained, counted from the top (1 = head only, 2 = head and last LSTM, ...,
        ``"all"``); ``lr`` is the top group's peak learning rate. ``"ulmfit"`` is the
        paper's ``((1, 1, 2e-2), (2, 1, 1e-2), (3, 1, 5e-3), ("all", 2, 1e-3))``.
    lr_schedule : {"one_cycle", "slanted_triangular"}, default="one_cycle"
        Per-step rates within a stage: fastai's cosine one-cycle (with momentum
        0.8-0.7-0.8) or the paper's linear slanted triangle (cut_frac 0.1, ratio 32).
    lr_decay : float, default=2.6
        Each lower layer group's rate is the rate above it divided by this.
    emb_size, hidden_size, n_layers : int, default=400, 1152, 3
        Encoder size: embedding width, LSTM hidden width and number of LSTM layers.
    drop_mult : float, default=0.5
        Multiplies all of fastai's AWD-LSTM classifier dropouts.
    bptt : int, default=72
        Tokens per chunk when reading a text (back-propagation through time).
    max_len : int, default=1440
        Only the last ``max_len`` tokens of a text are pooled and back-propagated
        through; earlier tokens still set the LSTM state.
    min_freq : int, default=3
        Tokens seen fewer times in the training texts map to ``xxunk``.
    max_vocab : int, default=60000
        Largest vocabulary size.
    batch_size : int, default=64
        Texts per batch for training and prediction.
    validation_fraction : float or None, default=None
        Fraction of the training texts held out (stratified) to report validation loss
        and accuracy in ``history_``. ``None`` trains on everything.
    weight_decay : float, default=0.01
        Decoupled weight decay of the Adam optimiser.
    device : str or torch.device, default="auto"
        ``"auto"`` uses a CUDA GPU when there is one (with mixed precision), else the CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, dropout, batch order and the validation split. On the
        CPU the same seed and data give identical predictions.
    verbose : int, default=0
        0 is silent; 1 or more shows a progress bar per epoch and a line per epoch.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted; columns of ``predict_proba`` follow this order.
    n_classes_ : int
        Number of classes.
    vocab_ : Vocabulary
        Tokens known to the model.
    model_ : torch.nn.Module
        The trained fastai AWD-LSTM classifier network.
    device_ : torch.device
        Where the model lives.
    history_ : list of dict
        One record per stage and epoch: ``stage``, ``epoch``, ``unfreeze``, ``lr``,
        ``train_loss``, ``seconds`` and, with ``validation_fraction``, ``valid_loss``
        and ``valid_accuracy``. ``pandas.DataFrame(clf.history_)`` tabulates it.

    Examples
    --------
    >>> clf = ULMFiTClassifier(random_state=0).fit(train_texts, train_labels)  # doctest: +SKIP
    >>> clf.predict_proba(test_texts)  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        pretrained=None,
        schedule="ulmfit",
        lr_schedule: str = "one_cycle",
        lr_decay: float = 2.6,
        emb_size: int = 400,
        hidden_size: int = 1152,
        n_layers: int = 3,
        drop_mult: float = 0.5,
        bptt: int = 72,
        max_len: int = 1440,
        min_freq: int = 3,
        max_vocab: int = 60000,
        batch_size: int = 64,
        validation_fraction: float | None = None,
        weight_decay: float = 0.01,
        device="auto",
        random_state=None,
        verbose: int = 0,
    ):
        self.pretrained = pretrained
        self.schedule = schedule
        self.lr_schedule = lr_schedule
        self.lr_decay = lr_decay
        self.emb_size = emb_size
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.drop_mult = drop_mult
        self.bptt = bptt
        self.max_len = max_len
        self.min_freq = min_freq
        self.max_vocab = max_vocab
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.weight_decay = weight_decay
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def fit(self, X: Sequence[str], y) -> "ULMFiTClassifier":
        """Train on texts ``X`` with labels ``y``.

        Parameters
        ----------
        X : list, numpy array or pandas Series of str
            The training texts; empty strings are allowed.
        y : array-like of shape (n_samples,)
            Labels of any sortable type (str, int, ...), at least two distinct.

        Returns
        -------
        self : ULMFiTClassifier
        """
        texts = check_texts(X)
        labels = check_labels(y, len(texts))
        classes, targets = np.unique(labels, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"y has a single class ({classes[0]!r}): a classifier needs at least 2 classes"
            )
        self._check_params()
        device = resolve_device(self.device)
        stages = parse_schedule(self.schedule, n_groups=self.n_layers + 2)
        rng = np.random.default_rng(check_random_state(self.random_state).randint(2**31 - 1))

        tokens = tokenize(texts)
        vocab = Vocabulary.build(tokens, self.min_freq, self.max_vocab)
        sequences = [vocab.numericalize(t) for t in tokens]
        train_idx, valid_idx = self._split_validation(targets, rng)
        config = ClassifierConfig(
            vocab_size=len(vocab), n_classes=len(classes), emb_size=self.emb_size,
            hidden_size=self.hidden_size, n_layers=self.n_layers, drop_mult=self.drop_mult,
            bptt=self.bptt, max_len=self.max_len,
        )
        cuda_devices = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(int(rng.integers(2**31 - 1)))
            model = build_classifier(config).to(device)
            history = self._run_schedule(model, device, stages, sequences, targets,
                                         train_idx, valid_idx, rng)

        # Replace the fitted state only once training has succeeded.
        self.classes_ = classes
        self.n_classes_ = len(classes)
        self.vocab_ = vocab
        self.model_config_ = config
        self.model_ = model
        self.device_ = device
        self.history_ = history
        return self

    def _check_params(self) -> None:
        if self.pretrained is not None:
            raise ValueError(
                f"pretrained={self.pretrained!r} is not supported yet: use pretrained=None "
                "(random initialisation)"
            )
        check_lr_schedule(self.lr_schedule)
        for name in ("emb_size", "hidden_size", "n_layers", "bptt", "max_len", "min_freq", "max_vocab"):
            check_scalar(getattr(self, name), name, numbers.Integral, min_val=1)
        check_scalar(self.batch_size, "batch_size", numbers.Integral, min_val=2)
        check_scalar(self.verbose, "verbose", numbers.Integral, min_val=0)
        for name in ("drop_mult", "weight_decay"):
            check_scalar(getattr(self, name), name, numbers.Real, min_val=0)
        check_scalar(self.lr_decay, "lr_decay", numbers.Real, min_val=0, include_boundaries="neither")
        if self.validation_fraction is not None:
            check_scalar(self.validation_fraction, "validation_fraction", numbers.Real,
                         min_val=0, max_val=1, include_boundaries="neither")

    def _split_validation(self, targets: np.ndarray, rng: np.random.Generator):
        indices = np.arange(len(targets))
        if self.validation_fraction is None:
            return indices, indices[:0]
        counts = np.bincount(targets)
        stratify = targets if counts.min() >= 2 else None
        try:
            return train_test_split(indices, test_size=self.validation_fraction, stratify=stratify,
                                    random_state=int(rng.integers(2**31 - 1)))
        except ValueError as error:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} cannot split {len(targets)} "
                f"texts into train and validation sets ({error}); use a larger fraction or None"
            ) from error

    def _run_schedule(self, model, device, stages, sequences, targets, train_idx, valid_idx, rng):
        train_sequences = [sequences[i] for i in train_idx]
        train_lengths = [len(s) for s in train_sequences]
        train_targets = targets[train_idx]

        def train_on(batches, optimizer, rates, scaler):
            return train_epoch(model, train_sequences, train_targets, batches, optimizer, rates,
                               scaler, device, self.bptt, show_progress=self.verbose > 0)

        def evaluate():
            return self._validation_scores(model, device, sequences, targets, valid_idx)

        return run_schedule(
            layer_groups(model), stages,
            make_epoch=lambda: training_batches(train_lengths, self.batch_size, rng),
            train_on=train_on, evaluate=evaluate if len(valid_idx) else None,
            lr_schedule=self.lr_schedule, lr_decay=self.lr_decay,
            weight_decay=self.weight_decay, device=device, verbose=self.verbose,
        )

    def _validation_scores(self, model, device, sequences, targets, valid_idx) -> dict:
        logits = torch.from_numpy(predict_outputs(
            model, [sequences[i] for i in valid_idx], self.batch_size, device, self.bptt, logits_head))
        valid_targets = torch.from_numpy(targets[valid_idx])
        return {
            "valid_loss": F.cross_entropy(logits, valid_targets).item(),
            "valid_accuracy": (logits.argmax(1) == valid_targets).double().mean().item(),
        }

    # ------------------------------------------------------------- predict
    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Class probabilities, one row per text, columns in ``classes_`` order."""
        return np.exp(self.predict_log_proba(X))

    def predict_log_proba(self, X: Sequence[str]) -> np.ndarray:
        """Log of the class probabilities, columns in ``classes_`` order."""
        logits = torch.from_numpy(self._predict_logits(X))
        return F.log_softmax(logits.double(), dim=1).numpy()

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """The most probable class of each text."""
        logits = self._predict_logits(X)
        return self.classes_[logits.argmax(axis=1)]

    def _predict_logits(self, X) -> np.ndarray:
        check_is_fitted(self)
        sequences = self._encode(check_texts(X))
        return predict_outputs(self.model_, sequences, self.batch_size, self.device_,
                               self.model_config_.bptt, logits_head)

    def _encode(self, texts: list[str]) -> list[np.ndarray]:
        return [self.vocab_.numericalize(tokens) for tokens in tokenize(texts)]

    # ----------------------------------------------------------- pickling
    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: never touch the live estimator
        if "model_" in state:
            buffer = io.BytesIO()
            torch.save(state_dict_on_cpu(state["model_"]), buffer)
            state["model_"] = buffer.getvalue()
        return state

    def __setstate__(self, state):
        if isinstance(state.get("model_"), bytes):
            device = _loadable_device(state["device_"])
            weights = torch.load(io.BytesIO(state["model_"]), map_location="cpu", weights_only=True)
            model = build_classifier(state["model_config_"])
            model.load_state_dict(weights)
            state = {**state, "model_": model.to(device).eval(), "device_": device}
        super().__setstate__(state)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.non_deterministic = True  # GPU kernels and random_state=None
        return tags


def _loadable_device(device: torch.device) -> torch.device:
    if device.type == "cuda" and not torch.cuda.is_available():
        warnings.warn(
            "this model was trained on a GPU and is loaded on the CPU because no GPU is "
            "available here; set clf.device and refit to train on another device",
            UserWarning,
            stacklevel=3,
        )
        return torch.device("cpu")
    return device

