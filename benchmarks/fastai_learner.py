"""fastai's own ``text_classifier_learner`` as a benchmark contender.

Same data, same model size, same starting weights (our shipped language model, aligned
to fastai's vocabulary with fastai's ``match_embeds``) and the same stages of gradual
unfreezing with the same discriminative rates (``slice(lr / 2.6**4, lr)`` over fastai's
five layer groups), trained with ``fit_one_cycle``. fastai tokenises with its own
``Tokenizer`` (same rules) and batches with ``SortedDL``.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
import pandas as pd


def fit_fastai(X_train, y_train, *, language_model=None, sizes=(200, 512, 3), schedule, drop_mult=0.5,
               batch_size=64, lr_decay=2.6, seed=0):
    """A trained fastai ``Learner`` and its fit time (seconds, tokenisation included)."""
    started = time.perf_counter()
    learn = fastai_learner(X_train, y_train, language_model=language_model, sizes=sizes,
                           drop_mult=drop_mult, batch_size=batch_size, seed=seed)
    train_fastai(learn, schedule, lr_decay=lr_decay)
    return learn, time.perf_counter() - started


def fastai_learner(X_train, y_train, *, language_model=None, sizes=(200, 512, 3), drop_mult=0.5,
                   batch_size=64, seed=0):
    """An untrained ``text_classifier_learner`` on the texts (tokenised by fastai), its
    encoder loaded from ``language_model`` (aligned to fastai's vocabulary) when given."""
    import fastai.callback.schedule  # noqa: F401  (adds Learner.fit_one_cycle)
    from fastai.text.data import TextDataLoaders
    from fastai.text.learner import text_classifier_learner
    from fastai.text.models.awdlstm import AWD_LSTM
    from fastai.torch_core import set_seed

    from sk_ulmfit._nn.awd_lstm import encoder_part
    from sk_ulmfit._text.tokenizer import Vocabulary

    set_seed(seed)
    if language_model is not None:
        config = language_model.config_
        sizes = (config.emb_size, config.hidden_size, config.n_layers)
    frame = pd.DataFrame({"text": list(X_train), "label": np.asarray(y_train).astype(str), "valid": False})
    frame.loc[frame.index[-1], "valid"] = True  # fastai needs a validation set; one text
    dls = TextDataLoaders.from_df(frame, path=tempfile.mkdtemp(), text_col="text", label_col="label",
                                  valid_col="valid", bs=batch_size, seed=seed)
    learn = text_classifier_learner(
        dls, AWD_LSTM, pretrained=False, drop_mult=drop_mult,
        config={"emb_sz": sizes[0], "n_hid": sizes[1], "n_layers": sizes[2]})
    if language_model is not None:
        weights = language_model.aligned_weights(Vocabulary(list(dls.vocab[0])))
        learn.model[0].module.load_state_dict(encoder_part(weights))
    return learn


def train_fastai(learn, schedule, *, lr_decay=2.6) -> list[float]:
    """Gradual unfreezing with ``fit_one_cycle`` per stage; seconds of each stage."""
    n_groups = len(learn.splitter(learn.model))
    seconds = []
    for unfreeze, epochs, lr in schedule:
        if unfreeze == "all":
            learn.unfreeze()
        else:
            learn.freeze_to(-unfreeze)
        started = time.perf_counter()
        with learn.no_bar(), learn.no_logging():
            learn.fit_one_cycle(epochs, slice(lr / lr_decay ** (n_groups - 1), lr), moms=(0.8, 0.7, 0.8))
        seconds.append(time.perf_counter() - started)
    return seconds


def predict_fastai(learn, X_test) -> tuple[np.ndarray, float]:
    """Predicted labels and seconds, with ``learn.get_preds`` on a test set."""
    started = time.perf_counter()
    test_dl = learn.dls.test_dl(list(X_test))
    with learn.no_bar():
        probabilities, _ = learn.get_preds(dl=test_dl)
    seconds = time.perf_counter() - started
    labels = np.asarray(learn.dls.vocab[1])[probabilities.argmax(1).numpy()]
    return labels, seconds


class FastaiTextClassifier:
    """fastai's ``text_classifier_learner`` behind ``fit``/``predict``, for the benchmark tables.

    Starts from the same shipped language model as ``ULMFiTClassifier`` (stage 1 weights,
    no stage 2) and trains with the same schedule and batch size through ``fit_one_cycle``.
    """

    def __init__(self, pretrained: str = "english", schedule=None, batch_size: int | None = None, seed: int = 0):
        self.pretrained, self.schedule, self.batch_size, self.seed = pretrained, schedule, batch_size, seed

    def fit(self, X, y):
        from sk_ulmfit import ULMFiTClassifier, ULMFiTLanguageModel
        from sk_ulmfit._train.schedule import (
            batch_and_rate_factor,
            parse_schedule,
            scaled,
        )

        batch_size, rate_factor = batch_and_rate_factor(self.batch_size or ULMFiTClassifier().batch_size, len(X))
        self.learn_ = fastai_learner(X, y, language_model=ULMFiTLanguageModel.from_pretrained(self.pretrained),
                                     batch_size=batch_size, seed=self.seed)
        # the schedule as ULMFiTClassifier runs it: "ulmfit"'s last stage sized to fastai's batches,
        # the rates scaled as batch_size="auto" scales them
        n_groups = len(self.learn_.splitter(self.learn_.model))
        stages = scaled(parse_schedule("ulmfit" if self.schedule is None else self.schedule, n_groups,
                                       steps_per_epoch=len(self.learn_.dls.train)), rate_factor)
        train_fastai(self.learn_, [(stage.n_trainable, stage.epochs, stage.lr) for stage in stages])
        return self

    def predict(self, X):
        return predict_fastai(self.learn_, X)[0]
