"""Could ``skorch.NeuralNet`` be the classifier's trainer? A prototype of the ULMFiT
schedule on skorch, timed against the library's own loop on the same network, batches and
seeds.

    python benchmarks/skorch_trainer.py --data-home ../shared/data [--n-train 1000] [--rounds 2]

Both sides start from the same classifier network (the shipped ``"english"`` forward
encoder, 200/512/3, a new head) and train the same stages on the same length-bucketed
batches, with the same discriminative rates and fastai's one-cycle curve per layer group:

- ours: ``_train.loop.run_schedule`` (what ``fit`` runs);
- skorch: a ``NeuralNet`` subclass whose iterator yields the library's batches, whose
  ``get_loss`` adds fastai's AR/TAR to the cross-entropy of the network's tuple output,
  whose optimiser is the library's (one parameter group per layer group), and whose
  callbacks unfreeze the stage's groups and step the rate curves; one ``partial_fit``
  per stage.

It prints the seconds per epoch of each stage on both sides and whether the training
losses agree. A prototype that reaches into the library's internals: it is a measurement
for ``docs/design.md``, not a way to train.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback
from skorch.dataset import Dataset

from sk_ulmfit import ULMFiTLanguageModel
from sk_ulmfit._nn.awd_lstm import (
    ClassifierConfig,
    aligned_weights,
    build_classifier,
    encoder_part,
    layer_groups,
    load_encoder,
    set_trainable,
)
from sk_ulmfit._nn.device import seeded
from sk_ulmfit._text.batching import collate, training_batches
from sk_ulmfit._text.tokenizer import PAD_ID, Vocabulary, count_tokens, tokenize
from sk_ulmfit._train.loop import regularized_loss, run_schedule, train_epoch
from sk_ulmfit._train.schedule import (
    StageRates,
    group_rates,
    make_optimizer,
    parse_schedule,
)
from sk_ulmfit.datasets import fetch_trec

SCHEDULE = ((1, 1, 2e-2), (2, 1, 1e-2), (3, 1, 5e-3), ("all", 2, 5e-3))
BATCH, BPTT, LR_DECAY, WEIGHT_DECAY = 16, 72, 2.6, 0.01


def network_and_data(data_home: str, n_train: int):
    X, y = fetch_trec("train", data_home=data_home, return_X_y=True)
    X, y = list(X[:n_train]), np.asarray(y[:n_train])
    classes, targets = np.unique(y, return_inverse=True)
    lm = ULMFiTLanguageModel.from_pretrained("english", device="cpu")
    tokens = tokenize(X)
    vocab = Vocabulary.for_training(count_tokens(tokens), lm.vocab_.itos, 3, 60_000)
    weights = encoder_part(aligned_weights({k: v.cpu() for k, v in lm.model_.state_dict().items()},
                                           lm.vocab_.itos, vocab.itos))
    config = ClassifierConfig(vocab_size=len(vocab), n_classes=len(classes), emb_size=lm.config_.emb_size,
                              hidden_size=lm.config_.hidden_size, n_layers=lm.config_.n_layers, drop_mult=0.5,
                              bptt=BPTT, max_len=1440)
    with seeded(0, torch.device("cpu")):
        model = build_classifier(config)
    load_encoder(model, weights)
    return model, [vocab.numericalize(t) for t in tokens], targets


def ours(model, sequences, targets, stages) -> list[dict]:
    rng = np.random.default_rng(0)
    lengths = [len(s) for s in sequences]
    device = torch.device("cpu")

    def train_on(batches, optimizer, rates, scaler):
        return train_epoch(model, sequences, targets, batches, optimizer, rates, scaler, device, BPTT)

    with seeded(1, device):
        return run_schedule(layer_groups(model), stages, make_epoch=lambda: training_batches(lengths, BATCH, rng),
                            train_on=train_on, evaluate=None, lr_schedule="one_cycle", lr_decay=LR_DECAY,
                            weight_decay=WEIGHT_DECAY, device=device, verbose=0, rng=rng)


class _Unfreeze(Callback):
    """Gradual unfreezing: the top ``n_trainable`` layer groups train in this stage."""

    def __init__(self, n_trainable: int):
        self.n_trainable = n_trainable

    def on_train_begin(self, net, **kwargs):
        set_trainable(layer_groups(net.module_), self.n_trainable)


class _StageRates(Callback):
    """fastai's per-group one-cycle rates and momentum, stepped after every batch."""

    def __init__(self, lr: float, total_steps: int):
        self.lr, self.total_steps = lr, total_steps

    def on_train_begin(self, net, **kwargs):
        groups = len(net.optimizer_.param_groups)
        self.rates_ = StageRates(net.optimizer_, group_rates(self.lr, groups, LR_DECAY), self.total_steps, "one_cycle")

    def on_batch_end(self, net, training=True, **kwargs):
        if training:
            self.rates_.step()


class _Epochs:
    """What skorch iterates once per epoch (as it would a ``DataLoader``): each pass plans
    new length-bucketed batches and collates them as ``fit`` does."""

    def __init__(self, sequences, targets, rng):
        self.sequences, self.targets, self.rng = sequences, targets, rng

    def __iter__(self):
        for batch in training_batches([len(s) for s in self.sequences], BATCH, self.rng):
            tokens, order = collate([self.sequences[i] for i in batch], BPTT, PAD_ID)
            yield tokens, torch.from_numpy(self.targets[batch[order]])


class ULMFiTNet(NeuralNet):
    """skorch's loop over the library's batches, loss and optimiser."""

    def __init__(self, *args, sequences, targets, rng, **kwargs):
        super().__init__(*args, **kwargs)
        self.sequences, self.targets, self.rng = sequences, targets, rng

    def initialize_optimizer(self, *args, **kwargs):
        self.optimizer_ = make_optimizer(layer_groups(self.module_), "one_cycle", WEIGHT_DECAY)
        return self

    def get_iterator(self, dataset, training=False):
        return _Epochs(self.sequences, self.targets, self.rng)

    def infer(self, x, **fit_params):
        return self.module_(x)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        return regularized_loss(*y_pred, y_true)


def with_skorch(model, sequences, targets, stages) -> list[dict]:
    rng = np.random.default_rng(0)
    n_steps = len(training_batches([len(s) for s in sequences], BATCH, np.random.default_rng(0)))
    records = []
    net = None
    with seeded(1, torch.device("cpu")):
        for index, stage in enumerate(stages):
            callbacks = [("unfreeze", _Unfreeze(stage.n_trainable)),
                         ("rates", _StageRates(stage.lr, stage.epochs * n_steps))]
            if net is None:
                net = ULMFiTNet(model, criterion=torch.nn.CrossEntropyLoss, max_epochs=stage.epochs,
                                train_split=None, callbacks=callbacks, device="cpu", verbose=0,
                                sequences=sequences, targets=targets, rng=rng)
                net.initialize()
            else:
                net.set_params(max_epochs=stage.epochs, callbacks=callbacks)
                net.initialize_callbacks()
            net.partial_fit(Dataset(np.zeros(len(sequences)), None))
            for row in net.history[-stage.epochs:]:
                records.append({"stage": index + 1, "train_loss": row["train_loss"], "seconds": row["dur"]})
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-home", required=True)
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import machine

    model, sequences, targets = network_and_data(args.data_home, args.n_train)
    stages = parse_schedule(SCHEDULE, n_groups=len(layer_groups(model)))
    start = {k: v.clone() for k, v in model.state_dict().items()}
    for _ in range(args.rounds):  # the sides take turns; the last round is reported (the first warms up)
        model.load_state_dict(start)
        started = time.perf_counter()
        mine = ours(model, sequences, targets, stages)
        ours_s = time.perf_counter() - started
        model.load_state_dict(start)
        started = time.perf_counter()
        theirs = with_skorch(model, sequences, targets, stages)
        skorch_s = time.perf_counter() - started
    print(f"TREC-6, {args.n_train} questions, batch {BATCH}, schedule {SCHEDULE}, seed 0; {machine()}")
    print("| stage, epoch | ours: s / train loss | skorch: s / train loss |\n| --- | --- | --- |")
    for a, b in zip(mine, theirs, strict=True):
        print(f"| {a['stage']}, {a['epoch']} | {a['seconds']:.2f} / {a['train_loss']:.4f} | "
              f"{b['seconds']:.2f} / {b['train_loss']:.4f} |")
    print(f"whole schedule: ours {ours_s:.1f} s, skorch {skorch_s:.1f} s ({skorch_s / ours_s:.2f}x); losses "
          f"equal to 1e-6: {all(abs(a['train_loss'] - b['train_loss']) < 1e-6 for a, b in zip(mine, theirs))}")


if __name__ == "__main__":
    main()
