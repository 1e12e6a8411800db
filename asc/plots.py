"""Pictures of a scores dict: the confusion matrix and the device × class accuracy heat map.

Drawn with matplotlib's Agg canvas on a `Figure` of our own (no pyplot, no global backend
switch, nothing left open), and written atomically like every other output.
"""
from __future__ import annotations

import os
from typing import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from asc.atomic import atomic_path


def normalize_rows(confusion) -> np.ndarray:
    """Each row of a confusion matrix divided by its sum (the recall view); empty rows stay 0."""
    matrix = np.asarray(confusion, dtype=np.float64)
    sums = matrix.sum(axis=1, keepdims=True)
    return np.divide(matrix, sums, out=np.zeros_like(matrix), where=sums > 0)


def device_class_matrix(scores: Mapping) -> np.ndarray:
    """Accuracy [n_classes, n_devices] from a scores dict; NaN where a class has no clips of a device."""
    table = scores["per_device_class"]
    if not scores["devices"]:
        return np.zeros((len(scores["labels"]), 0))
    return np.array([[np.nan if table[d].get(label) is None else table[d][label]
                      for d in scores["devices"]] for label in scores["labels"]], dtype=np.float64)


def plot_confusion(scores: Mapping, path: str | os.PathLike, title: str | None = None) -> None:
    """Write the row-normalized confusion matrix (true class × predicted class) as a PNG."""
    labels = list(scores["labels"])
    matrix = normalize_rows(scores["confusion"])
    n = len(labels)
    fig = Figure(figsize=(2.5 + 0.6 * n, 2.0 + 0.5 * n), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(matrix, cmap="Blues", vmin=0.0, vmax=1.0)
    _annotate(ax, matrix, dark_high=True)
    ax.set_xticks(range(n), labels, rotation=45, ha="right")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or f"confusion (rows normalized), macro accuracy "
                          f"{100 * scores['macro_accuracy']:.1f} %")
    fig.colorbar(image, ax=ax, shrink=0.8)
    _save(fig, path)


def plot_device_class(scores: Mapping, path: str | os.PathLike, title: str | None = None) -> None:
    """Write the class × device accuracy heat map (with each device's and class's pooled accuracy) as a PNG."""
    labels, devices = list(scores["labels"]), list(scores["devices"])
    per_class = [np.nan if scores["per_class"].get(label) is None else scores["per_class"][label]
                 for label in labels]
    matrix = np.column_stack([device_class_matrix(scores), per_class])
    per_device = [scores["per_device"][d] for d in devices] + [scores.get("accuracy", np.nan)]
    matrix = np.vstack([matrix, per_device])
    rows, cols = labels + ["all classes"], devices + ["all"]
    fig = Figure(figsize=(2.0 + 0.6 * len(cols), 1.0 + 0.45 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    cmap = _viridis_with_grey()
    image = ax.imshow(np.ma.masked_invalid(matrix), cmap=cmap, vmin=0.0, vmax=1.0, aspect="auto")
    _annotate(ax, matrix, dark_high=False)
    ax.axhline(len(labels) - 0.5, color="white", linewidth=2)
    ax.axvline(len(devices) - 0.5, color="white", linewidth=2)
    ax.set_xticks(range(len(cols)), cols)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("device" if devices else "")      # a set without devices: the pooled column alone
    ax.set_title(title or ("accuracy by class and device" if devices else "accuracy by class"))
    fig.colorbar(image, ax=ax, shrink=0.8)
    _save(fig, path)


def plot_prune_paths(panels: Mapping[str, Sequence[tuple[str, int, int, Sequence[float], Sequence[float]]]],
                     path: str | os.PathLike, target_macs: float | None = None) -> None:
    """Accuracy against MACs along each pruning schedule, one panel per setting (e.g. split and criterion).

    `panels` maps a panel title to its lines (label, K, total epochs, MACs after each step, accuracy % after
    each step; step 0 is the start model): one line per schedule, coloured by K so that one-shot (K = 1)
    and the progressive paths are told apart, dashed for a larger total budget than the panel's smallest;
    a star marks each final model and a dotted vertical line the target's MACs.
    """
    from matplotlib import colormaps

    titles = list(panels)
    cols = min(2, max(1, len(titles)))
    rows = max(1, -(-len(titles) // cols))
    fig = Figure(figsize=(5.5 * cols, 4.0 * rows), layout="constrained")
    ks = sorted({line[1] for lines in panels.values() for line in lines})
    colour = {k: colormaps["viridis"](0.9 * i / max(1, len(ks) - 1)) for i, k in enumerate(ks)}
    for n, title in enumerate(titles):
        ax = fig.add_subplot(rows, cols, n + 1)
        smallest = min(line[2] for line in panels[title])
        for label, k, total, macs, accuracy in panels[title]:
            x = np.asarray(macs, dtype=np.float64) / 1e6
            ax.plot(x, accuracy, marker="o", markersize=3, color=colour[k], label=label,
                    linestyle="-" if total == smallest else "--")
            ax.plot(x[-1:], list(accuracy)[-1:], marker="*", markersize=10, color=colour[k])
        if target_macs:
            ax.axvline(target_macs / 1e6, color="grey", linestyle=":", linewidth=1)
        ax.invert_xaxis()    # pruning moves right to left, from the start model to the target
        ax.set_xlabel("MACs (M) of the deployment form")
        ax.set_ylabel("test macro accuracy (%)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    _save(fig, path)


def _viridis_with_grey():
    from matplotlib import colormaps

    return colormaps["viridis"].with_extremes(bad="lightgrey")


def _annotate(ax, matrix: np.ndarray, dark_high: bool) -> None:
    """Write each cell's percentage, in white where the colour map is dark."""
    for (i, j), value in np.ndenumerate(matrix):
        if np.isnan(value):
            continue
        dark = value > 0.5 if dark_high else value < 0.5
        ax.text(j, i, f"{100 * value:.0f}", ha="center", va="center", fontsize=7,
                color="white" if dark else "black")


def _save(fig: Figure, path: str | os.PathLike) -> None:
    FigureCanvasAgg(fig)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=100)
