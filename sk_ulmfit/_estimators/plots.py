"""``plot_history``: loss and accuracy per epoch across the stages of a fit."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import MaxNLocator
from sklearn.utils.validation import check_is_fitted


def plot_history(estimator, ax=None):
    """Plot a fitted estimator's ``history_``: loss (and validation accuracy) per epoch.

    Works for ``ULMFiTClassifier`` and ``ULMFiTLanguageModel``. Stage boundaries are drawn
    as dotted lines, each labelled with its layer groups trained and peak rate; with
    ``direction="both"`` each direction has its own lines; with ``early_stopping`` the
    epoch whose weights were kept is circled.

    Parameters
    ----------
    estimator : fitted ULMFiTClassifier or ULMFiTLanguageModel
    ax : matplotlib Axes, default=None
        Where to draw (a new figure if ``None``).

    Returns
    -------
    matplotlib Axes

    See Also
    --------
    sk_ulmfit.lr_find : The learning-rate range test, to choose a stage's rate.

    Examples
    --------
    ::

        clf = ULMFiTClassifier(validation_fraction=0.1, random_state=0).fit(X, y)
        plot_history(clf).figure.savefig("history.png")
    """
    check_is_fitted(estimator, "history_")
    history = pd.DataFrame(estimator.history_)
    if history.empty:
        raise ValueError("history_ is empty: this model was trained by no epoch of this package")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    if "direction" not in history:
        history["direction"] = ""
    accuracy_ax = ax.twinx() if "valid_accuracy" in history else None
    for direction, part in history.groupby("direction", sort=False):
        part = part.reset_index(drop=True)
        epochs = part.index + 1
        suffix = f" ({direction})" if direction else ""
        ax.plot(epochs, part["train_loss"], marker="o", label=f"train loss{suffix}")
        if "valid_loss" in part:
            ax.plot(epochs, part["valid_loss"], marker="s", label=f"validation loss{suffix}")
        if accuracy_ax is not None:
            accuracy_ax.plot(epochs, part["valid_accuracy"], ls="--", marker=".", alpha=0.6,
                             label=f"validation accuracy{suffix}")
        if "restored_epoch" in part and part["restored_epoch"].notna().any():
            stage = part["stage"].iloc[-1]
            kept = part.index[(part["stage"] == stage) & (part["epoch"] == part["restored_epoch"].dropna().iloc[-1])]
            column = "valid_loss" if "valid_loss" in part else "train_loss"
            ax.scatter(kept + 1, part.loc[kept, column], s=180, facecolors="none", edgecolors="black",
                       label=f"weights kept{suffix}")
    first = history[history["direction"] == history["direction"].iloc[0]].reset_index(drop=True)
    ax.set_xlim(0.5, len(first) + 0.5)  # every stage label inside the plot, clear of the axis labels
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole
    for position, record in first.iterrows():
        if record["epoch"] == 1:
            if position:
                ax.axvline(position + 0.5, ls=":", color="grey")
            ax.annotate(f"stage {record['stage']}: unfreeze {record['unfreeze']}, lr {record['lr']:.0e}",
                        (position + 0.55, 0.98), xycoords=("data", "axes fraction"), va="top", ha="left",
                        fontsize=8, rotation=90, color="grey",
                        bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 1})
    ax.set_xlabel("epoch (every stage, in order)")
    ax.set_ylabel("loss")
    handles, labels = ax.get_legend_handles_labels()
    if accuracy_ax is not None:
        accuracy_ax.set_ylabel("validation accuracy")
        more_handles, more_labels = accuracy_ax.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    ax.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.1 if accuracy_ax else 1.01, 1))
    ax.set_title(f"{type(estimator).__name__} training history")
    return ax
