"""``ULMFiTClassifier``: raw texts in, labels out, trained with the ULMFiT schedule."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.class_weight import compute_sample_weight
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, check_memory

from .._common.distributed import part, total
from .._common.validation import check_indicator, check_labels, check_texts, warn_unused
from .._io.checkpoints import DirectionProgress
from .._io.persistence import (
    PayloadSource,
    classifier_from_payload,
    classifier_payload,
    direction_payload,
    loadable_device,
    read_payload,
    trained_direction,
    write_payload,
)
from .._io.pretrained import DIRECTIONS, Start, resolve
from .._io.transfer import transfer_head, usable_head, warn_forgotten
from .._nn import inference
from .._nn.awd_lstm import (
    EMBEDDING_NAMES,
    SIZE_PARAMS,
    ClassifierConfig,
    TrainedDirection,
    aligned_weights,
    build_classifier,
    compact_config,
    compact_encoder_weights,
    encoder_part,
    layer_groups,
    load_encoder,
    renumber,
    state_dict_on_cpu,
    used_rows,
    widen_vocabulary,
)
from .._nn.device import resolve_device, seeded
from .._text.batching import training_batches
from .._text.tokenizer import Vocabulary, count_tokens, in_reading_order, tokenize
from .._train.loop import EarlyStopping, run_schedule, text_losses, train_epoch
from .._train.schedule import batch_and_rate_factor, parse_schedule, scaled
from .base import FitRun
from .compat import backfilled_classifier, renamed_params, with_new_params
from .language_model import ULMFiTLanguageModel
from .params import check_params
from .stage2 import auto_language_model, fine_tuned, stage2_estimator

# validation_fraction=None with early_stopping=True: MLPClassifier's default fraction
EARLY_STOPPING_FRACTION = 0.1
DIRECTION_SETS = {"forward": ("forward",), "backward": ("backward",), "both": DIRECTIONS}


class ULMFiTClassifier(ClassifierMixin, TransformerMixin, BaseEstimator, PayloadSource):
    """Text classifier with an AWD-LSTM encoder, trained the ULMFiT way.

    Texts are tokenised with fastai's rules, read by an AWD-LSTM encoder in
    ``bptt``-token chunks, pooled as ``[h_last; max; mean]`` over the non-pad steps and
    classified by a BatchNorm/Dropout/Linear head (Howard & Ruder, 2018). Training
    follows ``schedule``: gradual unfreezing with discriminative learning rates.

    Parameters
    ----------
    pretrained : None, str, path, ULMFiTLanguageModel, ULMFiTClassifier, (weights, vocab) paths \
or dict, default="english"
        Where the model starts. ``"english"`` is the AWD-LSTM language model shipped with
        the package, pretrained forwards and backwards on Wikipedia, Wikinews and
        Gutenberg books (``docs/pretraining.md``); ``"wikitext-2"`` is a smaller one
        pretrained on WikiText-2 only (``sk_ulmfit.available_models()``); also accepted: ``None``
        (random initialisation), a file saved by ``ULMFiTLanguageModel.save``, a fitted
        ``ULMFiTLanguageModel``, fastai WT103-style files (``(weights.pth, itos.pkl)`` or
        a folder holding them), ``"wt103"`` (fastai's download, online only), or a fitted
        ``ULMFiTClassifier`` or a file saved by its ``save`` (transfer between tasks: the
        encoder transfers; the head keeps the rows of classes the two tasks share, new
        classes get new rows, and with no shared class the head is new). A language
        model reads one way, so for ``direction="both"`` give one per direction as
        ``{"forward": ..., "backward": ...}`` (e.g. the two files ``python -m
        sk_ulmfit.pretrain`` wrote for ``--direction forward`` and ``backward``); a
        shipped name or a classifier fitted with ``direction="both"`` holds both. The
        vocabulary is aligned automatically: known tokens keep their embeddings, new
        ones start from the mean. A pretrained encoder brings its own size, so
        ``emb_size``, ``hidden_size`` and ``n_layers`` are then not used.
    direction : {"both", "forward", "backward"}, default="both"
        Train one classifier reading texts forwards and one reading them backwards and
        average their probabilities (the paper's bidirectional ensemble), or read one
        way only. ``"both"`` takes twice the time to fit and predict, and scores higher
        than one direction on development splits (``benchmarks/RESULTS.md``).
    language_model : "auto", ULMFiTLanguageModel or None, default="auto"
        ULMFiT's stage 2: how the pretrained language model is fine-tuned on the training
        texts before the classifier is trained. An unfitted ``ULMFiTLanguageModel`` gives
        the settings (``epochs``, ``lr``, ``drop_mult``, ``batch_size``, ``lr_schedule``,
        ``verbose``, ``extra_texts`` for unlabelled texts of the domain, ...), so a grid
        search reaches them as ``language_model__epochs``; the classifier sets its
        ``direction``, ``device``, ``n_jobs`` and ``random_state``, and it starts from
        ``pretrained`` (its own ``pretrained`` must stay ``None``). ``"auto"`` is
        ``ULMFiTLanguageModel(epochs=1, lr=2e-3, drop_mult=0.3, batch_size=64)`` with this
        classifier's ``bptt``, ``min_freq``, ``max_vocab``, ``weight_decay``,
        ``lr_schedule`` and ``verbose``, and nothing with ``pretrained=None``. ``None``
        skips stage 2. Fine-tuned models are cached in memory, so a grid search over
        classifier parameters fine-tunes once per distinct training set.
    schedule : "ulmfit" or sequence of (unfreeze, epochs, lr), default="ulmfit"
        Stages of gradual unfreezing. ``unfreeze`` is the number of layer groups
        trained, counted from the top (1 = head only, 2 = head and last LSTM, ...,
        ``"all"``); ``lr`` is the top group's peak learning rate. ``"ulmfit"`` is the
        paper's gradual unfreezing with a longer, faster last stage,
        ``((1, 1, 2e-2), (2, 1, 1e-2), (3, 1, 5e-3), ("all", 8, 5e-3))`` (the paper
        trains all layers 2 epochs at 1e-3 on 64-text batches of far larger datasets; the
        longer, faster last stage was chosen on development splits of training data,
        ``benchmarks/RESULTS.md``). When an epoch is fewer than 32 optimiser steps (fewer
        than 500 texts at ``batch_size=16``), that last stage runs at least 256 steps (8
        epochs of 500 texts; 100 texts: 37 epochs). A schedule given as stages runs as given; its rates are
        for batches of 16 texts, which ``batch_size="auto"`` scales on large sets.
        ``history_`` records the epochs and rates run.
    lr_schedule : {"one_cycle", "slanted_triangular"}, default="one_cycle"
        Per-step rates within a stage: fastai's cosine one-cycle (with momentum
        0.8-0.7-0.8) or the paper's linear slanted triangle (cut_frac 0.1, ratio 32).
    lr_decay : float, default=2.6
        Each lower layer group's rate is the rate above it divided by this.
    emb_size, hidden_size, n_layers : int, default=400, 1152, 3
        Encoder size without ``pretrained``: embedding width, LSTM hidden width and
        number of LSTM layers.
    drop_mult : float, default=0.5
        Multiplies the encoder's dropouts and the dropout before the head's first
        layer, as fastai's does; the dropout before the head's last layer stays at
        fastai's fixed 0.1. ``0`` turns every dropout off.
    bptt : int, default=72
        Tokens per chunk when reading a text (back-propagation through time).
    max_len : int, default=1440
        Only the last ``max_len`` tokens of a text are pooled and back-propagated
        through; earlier tokens still set the LSTM state.
    pool_layers : {"last", "all"}, default="last"
        Which LSTM layers the head pools: the last one, as fastai and the paper do
        (``3 * emb_size`` features per direction), or every layer's outputs side by
        side (``3 * ((n_layers - 1) * hidden_size + emb_size)``). The lower, wider
        layers keep more of a text's wording than the last one, which is trained to
        predict the next token; see ``benchmarks/RESULTS.md`` for what each scores.
    min_freq : int, default=3
        Tokens seen fewer times in the training texts map to ``xxunk``.
    max_vocab : int, default=60000
        Largest vocabulary size.
    batch_size : int or "auto", default="auto"
        Texts per batch when training the classifier (stage 3). ``"auto"``: 16 texts a
        batch for up to 2,048 training texts (small batches give a small labelled set
        enough optimiser steps); on more, batches that keep an epoch near 128 steps, up
        to 64 texts, with every stage's rate multiplied by ``sqrt(batch_size / 16)``,
        which fits large sets faster at the accuracy of batches of 16
        (``benchmarks/RESULTS.md``, "Fit time"). An integer is used as given, with the
        schedule's rates unchanged. ``history_`` records the size and the rates used.
        Stage 2 always uses 64 rows of ``bptt`` tokens.
    predict_batch_size : int, default=64
        Most texts per batch in ``predict``, ``predict_proba`` and ``transform``; long
        texts go a few at a time (at most about 8,192 tokens per batch).
    predict_precision : {"float32", "bfloat16", "int8"}, default="float32"
        Arithmetic of ``predict``, ``predict_proba`` and ``transform``. ``"float32"`` is
        exact (on a GPU, float16 mixed precision as in training). ``"bfloat16"`` is about
        twice as fast on CPUs with AVX-512 BF16 or AMX (slower without them: a warning
        says so); ``"int8"`` quantises the LSTM and linear layers (torch dynamic
        quantisation, CPU only). Both change probabilities
        slightly (``benchmarks/RESULTS.md`` reports the accuracy change). Training is unchanged.
    validation_fraction : float or None, default=None
        Fraction of the training texts held out (stratified) to report validation loss
        and accuracy in ``history_``. ``None`` trains on everything (with
        ``early_stopping``: 0.1, as ``MLPClassifier``).
    early_stopping : bool, default=False
        Stop the schedule's last stage once the validation loss has not improved for
        ``n_iter_no_change`` epochs, and keep the weights of its best epoch (named in the
        last ``history_`` record as ``restored_epoch``). Give the last stage more epochs
        than you expect to need, e.g. ``schedule=[(1, 1, 2e-2), (2, 1, 1e-2), ("all", 10, 2e-3)]``.
    n_iter_no_change : int, default=2
        Epochs without a lower validation loss before ``early_stopping`` stops.
    weight_decay : float, default=0.01
        Decoupled weight decay of the Adam optimiser.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the classifier's loss, as in ``LogisticRegression``:
        ``{label: weight}``, or ``"balanced"`` (``n_samples / (n_classes * count)``, so
        rare classes count as much as common ones). Multiplies ``sample_weight``.
    memory : None, str, path or joblib.Memory, default=None
        Where tokens and fine-tuned language models (stage 2) are cached, as
        ``Pipeline(memory=...)``. ``None`` caches in this process only (the tokens of the
        last 100,000 texts, the last 4 fine-tuned models). A folder or ``joblib.Memory``
        also keeps them on disk, shared by every process that uses the folder: a
        ``GridSearchCV(n_jobs=2)`` then tokenises and fine-tunes each training set once
        overall, and later runs start from it. The cache grows until you clear it
        (``joblib.Memory(folder).clear()`` or delete the folder).
    checkpoint_dir : None, str or path, default=None
        A folder where ``fit`` records its progress after every completed epoch (atomically;
        a file per direction). If a fit is interrupted (Ctrl-C, a killed process, a lost
        machine), calling ``fit`` again with the same parameters and data continues from
        the last completed epoch, stage 2 included in what is skipped, and ends with the
        same model as an uninterrupted fit. The files are removed when the fit completes.
        Progress of another fit (other parameters or data) is an error, never overwritten.
    n_jobs : int or None, default=None
        Worker processes for tokenising large batches of new texts (joblib's meaning:
        ``None`` is 1 unless inside ``joblib.parallel_config``, -1 is every core).
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
        The class labels, sorted; columns of ``predict_proba`` follow this order. For a
        multi-label ``y`` (an indicator matrix), the column numbers ``0 .. n_labels - 1``.
    n_classes_ : int
        Number of classes (labels, for a multi-label ``y``).
    multilabel_ : bool
        Whether ``y`` was a multi-label indicator matrix: one sigmoid per label, binary
        cross-entropy; ``predict`` returns an indicator matrix.
    directions_ : list of TrainedDirection
        One per reading direction: its ``vocab`` (tokens known to the model), ``config``
        and ``network`` (the trained fastai AWD-LSTM classifier).
    device_ : torch.device
        Where the model lives.
    history_ : list of dict
        One record per direction, stage and epoch: ``direction``, ``batch_size`` (texts per
        batch), ``stage``, ``epoch``, ``unfreeze``, ``lr``, ``steps`` (optimiser steps),
        ``train_loss``, ``seconds`` and, with ``validation_fraction``, ``valid_loss`` and
        ``valid_accuracy``. ``pandas.DataFrame(clf.history_)`` tabulates it.

    See Also
    --------
    ULMFiTLanguageModel : Stages 1 and 2, the language model the encoder comes from.
    sk_ulmfit.lr_find : fastai's learning-rate range test for a schedule's stage.
    sk_ulmfit.plot_history : The losses of a fit across its stages.
    sk_ulmfit.inspection.out_of_fold_proba : Grades for finding label errors.

    Examples
    --------
    With every default (the shipped ``"english"`` encoder, both directions)::

        clf = ULMFiTClassifier(random_state=0).fit(train_texts, train_labels)
        clf.predict_proba(test_texts)

    A tiny model from random weights, to see the interface in a second:

    >>> from sk_ulmfit import ULMFiTClassifier
    >>> texts = ["what is a cat", "who wrote hamlet", "what is a dog", "who painted this"] * 8
    >>> labels = ["DESC", "HUM", "DESC", "HUM"] * 8
    >>> clf = ULMFiTClassifier(pretrained=None, direction="forward", emb_size=16, hidden_size=32,
    ...                        n_layers=1, min_freq=1, schedule=[("all", 4, 1e-2)],
    ...                        random_state=0).fit(texts, labels)
    >>> clf.classes_
    array(['DESC', 'HUM'], dtype='<U4')
    >>> clf.predict_proba(["what is a bird"]).shape
    (1, 2)
    >>> clf.transform(["what is a bird"]).shape   # [h_last; max; mean] of the encoder
    (1, 48)
    """

    def __init__(
        self,
        *,
        pretrained="english",
        direction: str = "both",
        language_model="auto",
        schedule="ulmfit",
        lr_schedule: str = "one_cycle",
        lr_decay: float = 2.6,
        emb_size: int = 400,
        hidden_size: int = 1152,
        n_layers: int = 3,
        drop_mult: float = 0.5,
        bptt: int = 72,
        max_len: int = 1440,
        pool_layers: str = "last",
        min_freq: int = 3,
        max_vocab: int = 60000,
        batch_size: int | str = "auto",
        predict_batch_size: int = 64,
        predict_precision: str = "float32",
        validation_fraction: float | None = None,
        early_stopping: bool = False,
        n_iter_no_change: int = 2,
        weight_decay: float = 0.01,
        class_weight=None,
        memory=None,
        checkpoint_dir=None,
        n_jobs: int | None = None,
        device="auto",
        random_state=None,
        verbose: int = 0,
    ):
        self.pretrained = pretrained
        self.direction = direction
        self.language_model = language_model
        self.schedule = schedule
        self.lr_schedule = lr_schedule
        self.lr_decay = lr_decay
        self.emb_size = emb_size
        self.hidden_size = hidden_size
        self.n_layers = n_layers
        self.drop_mult = drop_mult
        self.bptt = bptt
        self.max_len = max_len
        self.pool_layers = pool_layers
        self.min_freq = min_freq
        self.max_vocab = max_vocab
        self.batch_size = batch_size
        self.predict_batch_size = predict_batch_size
        self.predict_precision = predict_precision
        self.validation_fraction = validation_fraction
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.weight_decay = weight_decay
        self.class_weight = class_weight
        self.memory = memory
        self.checkpoint_dir = checkpoint_dir
        self.n_jobs = n_jobs
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ fit
    def fit(self, X: Sequence[str], y, sample_weight=None) -> "ULMFiTClassifier":
        """Train on texts ``X`` with labels ``y``.

        Parameters
        ----------
        X : list, numpy array or pandas Series of str
            The training texts; empty strings are allowed.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Labels of any sortable type (str, int, ...), at least two distinct; or, for
            several labels per text, a binary indicator matrix (dense, sparse or a
            DataFrame, e.g. ``MultiLabelBinarizer().fit_transform(label_sets)``).
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of each text in the classifier's loss, in every stage (multiplied by
            ``class_weight``; a weight of 2 counts like the text twice). Stage 2 reads the
            texts unweighted. Routed by scikit-learn's metadata routing
            (``set_fit_request(sample_weight=True)``).

        Returns
        -------
        self : ULMFiTClassifier
        """
        texts = check_texts(X)
        indicators = check_indicator(y, len(texts))
        multilabel = indicators is not None
        if multilabel:
            labels, classes, targets = None, np.arange(indicators.shape[1]), indicators
        else:
            labels = check_labels(y, len(texts))
            classes, targets = np.unique(labels, return_inverse=True)
            if len(classes) < 2:
                raise ValueError(
                    f"y has one class ({classes[0]!r}): a classifier needs at least 2 classes"
                )
        self._check_params()
        weights = self._text_weights(sample_weight, labels, len(texts))
        stage2 = stage2_estimator(self.get_params(deep=False))
        device = resolve_device(self.device)
        starts = resolve(self.pretrained, DIRECTION_SETS[self.direction])
        if starts is not None:  # after resolve: a bad pretrained is an error before any warning
            warn_unused(self, SIZE_PARAMS, "a pretrained encoder brings its own size", stacklevel=3)
        if starts is not None and multilabel:  # label columns match no classes: a new head
            starts = [Start(start.language_model, None) for start in starts]
        if starts is not None and starts[0].head is not None:
            warn_forgotten(starts[0].head.classes, classes)
            starts = [Start(start.language_model, usable_head(start.head, self.pool_layers)) for start in starts]
        n_layers = self.n_layers if starts is None else starts[0].language_model.config.n_layers
        parse_schedule(self.schedule, n_groups=n_layers + 2)  # a bad schedule fails before any work
        run = FitRun.begin(self, texts, labels, sample_weight)
        rng = run.rng
        train_idx, valid_idx = self._split_validation(targets, rng)
        batch_size, rate_factor = batch_and_rate_factor(self.batch_size, len(train_idx))
        stages = scaled(parse_schedule(self.schedule, n_groups=n_layers + 2,
                                       steps_per_epoch=math.ceil(len(train_idx) / batch_size)), rate_factor)
        extra = [] if stage2 is None else stage2._extra_texts()
        # the extra texts are tokenised here too, so stage 2 finds them in the cache
        tokens = tokenize(texts + extra, n_jobs=self.n_jobs, memory=self.memory,
                          show_progress=self.verbose > 0)[: len(texts)]

        data = _TrainingSet(texts, tokens, classes, targets, weights, train_idx, valid_idx, stages, batch_size)
        directions, history = [], []
        for index, direction in enumerate(DIRECTION_SETS[self.direction]):
            start = None if starts is None else starts[index]
            if starts is not None:
                starts[index] = None  # its weights are copied; they need not stay in memory
            progress = run.progress(direction)
            completed = None if progress is None else progress.completed
            if completed is not None:
                trained, records = trained_direction(completed["trained"], device), completed["history"]
                rng.bit_generator.state = completed["rng_after"]
            else:
                runs_after = len(DIRECTION_SETS[self.direction]) - index - 1  # for verbose's time estimate
                trained, records = self._fit_direction(direction, start, stage2, data, device, rng, progress,
                                                       runs_after)
                if progress is not None:
                    progress.save_completed(direction_payload(trained), records, rng.bit_generator.state)
            directions.append(trained)
            history.extend({"direction": direction, "batch_size": batch_size, **record} for record in records)
        run.finish(DIRECTION_SETS[self.direction])

        # Replace the fitted state only once training has succeeded.
        self.classes_ = classes
        self.n_classes_ = len(classes)
        self.multilabel_ = multilabel
        self.directions_ = directions
        self.device_ = device
        self.history_ = history
        self._inference_networks = {}
        return self

    def _fit_direction(self, direction: str, start: Start | None, stage2: ULMFiTLanguageModel | None,
                       data: _TrainingSet, device: torch.device, rng: np.random.Generator,
                       progress: DirectionProgress | None = None, runs_after: int = 0):
        """One reading direction's network: stage 2 (or the checkpoint's network), then the
        schedule; returns the trained direction and its history records."""
        texts, classes = data.texts, data.classes
        tokens = [in_reading_order(t, direction) for t in data.tokens]
        seed = int(rng.integers(2**31 - 1))
        resume = None if progress is None else progress.epoch
        head_start = None if start is None or resume is not None else start.head
        if resume is not None:
            # Stage 2 and the pretrained weights are behind us: the checkpoint has the network.
            vocab = Vocabulary(resume["itos"])
            encoder_weights = None if resume["embedding"] is None else {EMBEDDING_NAMES[0]: resume["embedding"]}
            sizes = tuple(resume["sizes"])
            del start
        elif start is None:
            vocab = Vocabulary.for_training(count_tokens(tokens), None, self.min_freq, self.max_vocab)
            encoder_weights, sizes = None, (self.emb_size, self.hidden_size, self.n_layers)
        else:
            saved = start.language_model if stage2 is None else fine_tuned(
                start.language_model, self.pretrained, texts, self._stage2_params(stage2, direction, seed),
                self.memory)
            vocab = Vocabulary.for_training(count_tokens(tokens), saved.itos, self.min_freq, self.max_vocab)
            encoder_weights = encoder_part(aligned_weights(saved.weights, saved.itos, vocab.itos))
            sizes = (saved.config.emb_size, saved.config.hidden_size, saved.config.n_layers)
            del start, saved
        config = ClassifierConfig(
            vocab_size=len(vocab), n_classes=len(classes), emb_size=sizes[0], hidden_size=sizes[1],
            n_layers=sizes[2], drop_mult=self.drop_mult, bptt=self.bptt, max_len=self.max_len,
            pool_layers=self.pool_layers,
        )
        sequences = [vocab.numericalize(t) for t in tokens]
        if encoder_weights is not None:
            # Train on the embedding rows of the tokens the texts use (a language model's
            # vocabulary is mostly other words): less memory and time per step. The other
            # rows keep their pretrained values and are put back after training.
            rows = used_rows(sequences)
            sequences = renumber(sequences, rows, len(vocab))
            embedding = encoder_weights[EMBEDDING_NAMES[0]]
            if resume is None:
                encoder_weights = compact_encoder_weights(encoder_weights, rows)
        model_config = config if encoder_weights is None else compact_config(config, rows)
        save_progress = None
        if progress is not None:
            def save_progress(state):
                progress.save_epoch(state_dict_on_cpu(model), state, itos=list(vocab.itos), sizes=list(sizes),
                                    embedding=None if encoder_weights is None else embedding)
        with seeded(seed, device):
            model = build_classifier(model_config)
            if resume is not None:
                model.load_state_dict(resume["model"])
            elif encoder_weights is not None:
                load_encoder(model, encoder_weights)
            if head_start is not None:
                transfer_head(model, head_start, classes)
            model.to(device)
            history = self._run_schedule(model, model_config, device, data, sequences, rng,
                                         None if resume is None else resume["progress"], save_progress, runs_after,
                                         direction)
        if encoder_weights is not None:
            model = widen_vocabulary(model, config, rows, embedding).to(device)
        return TrainedDirection(direction, vocab, config, model.eval()), history

    def _text_weights(self, sample_weight, labels: np.ndarray | None, n_texts: int) -> np.ndarray | None:
        """One weight per text (``sample_weight`` × ``class_weight``), or ``None`` for none
        (``labels`` is ``None`` for a multi-label ``y``)."""
        if sample_weight is None and self.class_weight is None:
            return None
        if labels is None and self.class_weight is not None:
            raise ValueError("class_weight weighs classes of a 1-D y; for a multi-label y give sample_weight")
        weights = _check_sample_weight(sample_weight, np.empty(n_texts), dtype=np.float64,
                                       ensure_non_negative=True)
        if self.class_weight is not None:
            weights = weights * compute_sample_weight(self.class_weight, labels)
        if not weights.sum() > 0:
            raise ValueError("sample_weight (times class_weight) sums to 0: at least one text needs a positive weight")
        return weights

    def _stage2_params(self, stage2: ULMFiTLanguageModel, direction: str, seed: int) -> dict:
        """``stage2``'s parameters, with what the classifier decides for it."""
        return {**stage2.get_params(deep=False), "direction": direction, "device": self.device,
                "n_jobs": self.n_jobs, "random_state": seed if self.random_state is not None else None}

    def _check_params(self) -> None:
        check_params(self, auto=("batch_size",), direction=tuple(DIRECTION_SETS))
        if not (self.language_model is None or isinstance(self.language_model, ULMFiTLanguageModel)
                or (isinstance(self.language_model, str) and self.language_model == "auto")):
            raise TypeError(f"language_model must be 'auto', None or an unfitted ULMFiTLanguageModel; "
                            f"got {self.language_model!r}")
        check_memory(self.memory)
        if not (self.class_weight is None or isinstance(self.class_weight, dict)
                or (isinstance(self.class_weight, str) and self.class_weight == "balanced")):
            raise ValueError(f"class_weight must be None, 'balanced' or a dict {{label: weight}}; "
                             f"got {self.class_weight!r}")
        if self.max_len < self.bptt:
            raise ValueError(f"max_len ({self.max_len}) must be at least bptt ({self.bptt}): a text is "
                             "pooled over its last max_len // bptt chunks of bptt tokens")

    def _split_validation(self, targets: np.ndarray, rng: np.random.Generator):
        indices = np.arange(len(targets))
        fraction = self.validation_fraction
        if fraction is None and self.early_stopping:
            fraction = EARLY_STOPPING_FRACTION
        if fraction is None:
            return indices, indices[:0]
        stratify = targets if targets.ndim == 1 and np.bincount(targets).min() >= 2 else None
        try:
            return train_test_split(indices, test_size=fraction, stratify=stratify,
                                    random_state=int(rng.integers(2**31 - 1)))
        except ValueError as error:
            raise ValueError(
                f"validation_fraction={fraction} cannot split {len(targets)} "
                f"texts into train and validation sets ({error}); use a larger fraction or None"
            ) from error

    def _run_schedule(self, model: torch.nn.Module, config: ClassifierConfig, device: torch.device,
                      data: _TrainingSet, sequences: list[np.ndarray], rng: np.random.Generator,
                      resume: dict | None = None, save_progress=None, runs_after: int = 0,
                      direction: str = "forward") -> list[dict]:
        """Train ``model`` on ``data``'s training part (``sequences``: its texts as ids) through
        the schedule; the history records. The one step ``lr_find`` replaces."""
        targets, weights, valid_idx = data.targets, data.weights, data.valid_idx
        train_sequences, train_targets, train_weights = _training_part(sequences, targets, weights, data.train_idx)
        train_lengths = [len(s) for s in train_sequences]

        def train_on(batches, optimizer, rates, scaler):
            return train_epoch(model, train_sequences, train_targets, batches, optimizer, rates, scaler,
                               device, self.bptt, show_progress=self.verbose > 0, weights=train_weights)

        def evaluate():
            return self._validation_scores(model, config, device, sequences, targets, weights, valid_idx)

        return run_schedule(
            layer_groups(model), data.stages,
            make_epoch=lambda: training_batches(train_lengths, data.batch_size, rng),
            train_on=train_on, evaluate=evaluate if len(valid_idx) else None,
            lr_schedule=self.lr_schedule, lr_decay=self.lr_decay,
            weight_decay=self.weight_decay, device=device, verbose=self.verbose,
            rng=rng, resume=resume, save_progress=save_progress,
            early_stopping=EarlyStopping(self.n_iter_no_change, snapshot=lambda: state_dict_on_cpu(model),
                                         restore=model.load_state_dict) if self.early_stopping else None,
            runs_after=runs_after, title=f"training the classifier ({direction})",
        )

    def _validation_scores(self, model, config, device, sequences, targets, weights, valid_idx) -> dict:
        """Validation loss (weighted like training) and accuracy, computed as ``predict``
        computes; under ``torchrun`` each process scores its part and the sums are shared."""
        mine = valid_idx[part(len(valid_idx))]
        loss_sum = weight_sum = n_correct = 0.0
        if len(mine):
            network = inference.inference_network(model, config, device)
            logits = torch.from_numpy(inference.predict_outputs(
                network, [sequences[i] for i in mine], self.predict_batch_size, device))
            valid_targets = torch.from_numpy(targets[mine])
            losses = text_losses(logits, valid_targets).double()
            if valid_targets.is_floating_point():  # multi-label: subset accuracy, as score()
                correct = ((logits > 0) == (valid_targets > 0.5)).all(1)
            else:
                correct = logits.argmax(1) == valid_targets
            text_weights = torch.ones_like(losses) if weights is None else torch.from_numpy(weights[mine]).double()
            loss_sum, weight_sum = (losses * text_weights).sum().item(), text_weights.sum().item()
            n_correct = correct.sum().item()
        loss_sum, weight_sum, n_correct = total(loss_sum, weight_sum, n_correct)
        return {"valid_loss": loss_sum / weight_sum, "valid_accuracy": n_correct / len(valid_idx)}

    # ------------------------------------------------------------- predict
    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        """Class probabilities, one row per text, columns in ``classes_`` order.

        With ``direction="both"`` the forward and backward models' probabilities are averaged.
        Multi-label: each label's own probability (a sigmoid per label; rows need not sum to 1).
        """
        return np.exp(self.predict_log_proba(X))

    def predict_log_proba(self, X: Sequence[str]) -> np.ndarray:
        """Log of the class probabilities, columns in ``classes_`` order."""
        check_is_fitted(self)
        texts = check_texts(X)
        tokens = tokenize(texts, n_jobs=self.n_jobs, show_progress=self.verbose > 0)
        log_normalise = F.logsigmoid if self.multilabel_ else functools.partial(
            F.log_softmax, dim=1)
        log_probas = [log_normalise(torch.from_numpy(self._logits(index, tokens)).double())
                      for index in range(len(self.directions_))]
        if len(log_probas) == 1:
            return log_probas[0].numpy()
        return (torch.logsumexp(torch.stack(log_probas), dim=0) - np.log(len(log_probas))).numpy()

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """The most probable class of each text; multi-label: the indicator matrix of the
        labels whose probability exceeds 0.5."""
        return predictions(self, self.predict_log_proba(X))  # checks fitted before classes_ is read

    def _logits(self, index: int, tokens: list[list[str]]) -> np.ndarray:
        return self._outputs(index, tokens, pooled=False)

    def _outputs(self, index: int, tokens: list[list[str]], pooled: bool) -> np.ndarray:
        self._check_predict_params()
        trained = self.directions_[index]
        tokens = [in_reading_order(t, trained.direction) for t in tokens]
        sequences = [trained.vocab.numericalize(t) for t in tokens]
        return inference.predict_outputs(self._inference_network(index), sequences, self.predict_batch_size,
                                         self.device_, pooled, self.predict_precision,
                                         show_progress=self.verbose > 0)

    def _inference_network(self, index: int) -> inference.InferenceNetwork:
        """Direction ``index``'s network for prediction in ``predict_precision``, built on first
        use and kept (private, not pickled) until the next ``fit``."""
        networks = self.__dict__.setdefault("_inference_networks", {})
        key = (index, self.predict_precision)
        if key not in networks:
            trained = self.directions_[index]
            networks[key] = inference.inference_network(trained.network, trained.config, self.device_,
                                                        self.predict_precision)
        return networks[key]

    def _check_predict_params(self) -> None:
        check_params(self, only=("predict_batch_size", "predict_precision"))

    # ----------------------------------------------------------- features
    def transform(self, X: Sequence[str]) -> np.ndarray:
        """Document embeddings: the pooled encoder features the head reads.

        Each text becomes ``[h_last; max; mean]`` over its tokens of the LSTM layers
        that ``pool_layers`` names: ``3 * width`` numbers per reading direction, where
        ``width`` is ``emb_size`` for the last layer and ``(n_layers - 1) * hidden_size +
        emb_size`` for all of them (``direction="both"`` puts the forward features first,
        then the backward ones). Deterministic: dropout is off and a text's row does not
        depend on the other texts in ``X``.

        Returns
        -------
        ndarray of shape (n_texts, 3 * width * n_directions), float32
        """
        check_is_fitted(self)
        tokens = tokenize(check_texts(X), n_jobs=self.n_jobs, show_progress=self.verbose > 0)
        return np.hstack([self._outputs(index, tokens, pooled=True) for index in range(len(self.directions_))])

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the ``transform`` columns: ``{direction}_{last|max|mean}{i}``, where ``i``
        counts the pooled layers' units from the lowest layer up."""
        check_is_fitted(self)
        return np.asarray([f"{trained.direction}_{part}{i}" for trained in self.directions_
                           for part in ("last", "max", "mean") for i in range(trained.config.pooled_width)],
                          dtype=object)

    # -------------------------------------------------------- persistence
    def save(self, path: str | Path) -> Path:
        """Write the fitted model to ``path`` in a format that loads without unpickling code.

        See :mod:`sk_ulmfit._io.persistence`. ``pickle`` and ``joblib`` work as well.
        """
        return write_payload(path, self._payload())

    @classmethod
    def load(cls, path: str | Path, *, device="auto") -> "ULMFiTClassifier":
        """A fitted classifier from a file written by :meth:`save`, on ``device``."""
        saved = classifier_from_payload(read_payload(path, "classifier"), path)
        params = {name: value for name, value in renamed_params(saved.params, auto_language_model).items()
                  if name in cls._get_param_names()}
        resolved = resolve_device(device)
        directions = [trained_direction(d, resolved) for d in saved.directions]
        params = backfilled_classifier(params, directions, attributes=False)
        classifier = cls(**{**params, "device": device})
        classifier.device_ = resolved
        classifier.classes_ = saved.classes
        classifier.n_classes_ = len(saved.classes)
        classifier.multilabel_ = saved.multilabel
        classifier.directions_ = directions
        classifier.history_ = saved.history
        classifier._inference_networks = {}
        return classifier

    def _payload(self) -> dict:
        """What :meth:`save` writes; also how a fitted model is handed over as ``pretrained``."""
        check_is_fitted(self)
        return classifier_payload(self.get_params(), self.classes_, self.directions_, self.history_,
                                  self.multilabel_)

    # ----------------------------------------------------------- pickling
    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: never touch the live estimator
        state.pop("_inference_networks", None)  # rebuilt on first use
        if "directions_" in state:
            state["directions_"] = [direction_payload(trained) for trained in state["directions_"]]
        return state

    def __setstate__(self, state):
        state = renamed_params(state, auto_language_model)
        if "directions_" in state and state["directions_"] and isinstance(state["directions_"][0], dict):
            device = loadable_device(state["device_"])
            state = {**state, "device_": device,
                     "directions_": [trained_direction(d, device) for d in state["directions_"]]}
        if state.get("directions_"):
            state = backfilled_classifier(state, state["directions_"], attributes=True)
        super().__setstate__(with_new_params(type(self), state))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.non_deterministic = True  # GPU kernels and random_state=None
        tags.transformer_tags.preserves_dtype = []  # text in, float32 features out
        tags.classifier_tags.multi_label = True  # y as an indicator matrix
        return tags


# Pickles and reprs name the public path, which internal moves never change.
ULMFiTClassifier.__module__ = "sk_ulmfit"


@dataclass
class _TrainingSet:
    """What every reading direction of one fit trains on: the texts and their (forward)
    tokens, classes and targets, weights (or ``None``), the training and validation
    positions, the schedule's stages and the batch size."""

    texts: list[str]
    tokens: list[list[str]]
    classes: np.ndarray
    targets: np.ndarray
    weights: np.ndarray | None
    train_idx: np.ndarray
    valid_idx: np.ndarray
    stages: list
    batch_size: int


def _training_part(sequences, targets, weights, train_idx):
    """The training texts' sequences, targets and weights (rescaled to mean 1, or ``None``)."""
    train_weights = None if weights is None else weights[train_idx] / weights[train_idx].mean()
    return [sequences[i] for i in train_idx], targets[train_idx], train_weights


def predictions(classifier: ULMFiTClassifier, log_proba: np.ndarray) -> np.ndarray:
    """``predict``'s rule on ``predict_log_proba``'s output (``predict`` and the command line)."""
    if classifier.multilabel_:
        return (log_proba > np.log(0.5)).astype(np.int64)
    return classifier.classes_[log_proba.argmax(axis=1)]
