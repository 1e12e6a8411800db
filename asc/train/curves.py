"""Learning curves of a training folder, drawn from its per-epoch records (metrics.jsonl):

    <exp>/curves.png       train and validation loss, train and validation accuracy, by epoch
    <exp>/tensorboard/     the same scalars as TensorBoard event files, where the optional `tensorboard`
                           package is importable (torch.utils.tensorboard needs it)

Both are rebuilt from the whole history each time, never appended to, so a run that was killed and
resumed draws exactly what an uninterrupted one draws (event files are append-only: the folder is
written beside the old one and swapped in). They are redrawn at most every `REDRAW_SECONDS` during a
run and always at its end: matplotlib costs ~0.1 s a picture, which a 2-step epoch of a tiny split
would otherwise pay each time.
"""
from __future__ import annotations

import math
import os
import shutil
import time
from pathlib import Path
from typing import Sequence

from asc.atomic import atomic_path

REDRAW_SECONDS = 30.0
# metrics.jsonl key -> (panel, curve label); the train accuracy is measured on the augmented (and mixed)
# batches as they were trained on, so it is no measure of fit on clean clips.
SERIES = {"train_loss": ("loss", "train (augmented)"), "val_loss": ("loss", "validation"),
          "train_acc": ("accuracy", "train (augmented, micro)"), "val_acc": ("accuracy", "validation (macro)")}
TENSORBOARD_TAGS = {"train_loss": "loss/train", "val_loss": "loss/validation", "train_acc": "accuracy/train",
                    "val_acc": "accuracy/validation", "val_acc_micro": "accuracy/validation_micro",
                    "lr": "lr", "clips_per_s": "speed/clips_per_s"}


def series(history: Sequence[dict], key: str) -> tuple[list[int], list[float]]:
    """(epochs, values) of `key` over the records that have a finite value for it."""
    points = [(r["epoch"], float(r[key])) for r in history
              if r.get(key) is not None and math.isfinite(float(r[key]))]
    return [e for e, _ in points], [v for _, v in points]


def plot_curves(history: Sequence[dict], path: str | os.PathLike, title: str = "") -> None:
    """Write the loss and accuracy panels of `history` (metrics.jsonl records) as a PNG, atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 3.6), layout="constrained")
    axes = dict(zip(("loss", "accuracy"), fig.subplots(1, 2)))
    for key, (panel, label) in SERIES.items():
        epochs, values = series(history, key)
        if panel == "accuracy":
            values = [100 * v for v in values]
        if epochs:
            axes[panel].plot(epochs, values, marker="o" if len(epochs) < 30 else None, markersize=3, label=label)
    for panel, ax in axes.items():
        ax.set_xlabel("epoch")
        ax.set_ylabel(panel + (" (%)" if panel == "accuracy" else ""))
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    best = max(history, key=lambda r: r.get("val_acc", -1.0), default=None)
    if best is not None and best.get("val_acc") is not None:
        axes["accuracy"].axvline(best["epoch"], color="grey", linestyle=":", linewidth=1)
        title = f"{title}  best validation epoch {best['epoch']}: {100 * best['val_acc']:.1f} %".strip()
    fig.suptitle(title, fontsize=9)
    FigureCanvasAgg(fig)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=90)


def summary_writer_class():
    """torch's SummaryWriter, or None when the optional tensorboard package is not installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter


def write_tensorboard(history: Sequence[dict], folder: str | os.PathLike) -> bool:
    """Event files of `history` in `folder` (replacing what is there); False when tensorboard is missing."""
    writer_class = summary_writer_class()
    if writer_class is None:
        return False
    folder = Path(folder)
    fresh = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(fresh, ignore_errors=True)
    writer = writer_class(log_dir=str(fresh))
    try:
        for record in history:
            for key, tag in TENSORBOARD_TAGS.items():
                if record.get(key) is not None:
                    writer.add_scalar(tag, float(record[key]), global_step=int(record["epoch"]))
    finally:
        writer.close()
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        folder.rename(old)
    fresh.rename(folder)
    shutil.rmtree(old, ignore_errors=True)
    return True


class CurveWriter:
    """Redraws a folder's curves from its history: at most every `interval` seconds, and when forced."""

    def __init__(self, png: Path, tensorboard: Path, title: str = "", interval: float = REDRAW_SECONDS,
                 clock=time.monotonic):
        self.png, self.tensorboard, self.title = png, tensorboard, title
        self.interval, self.clock, self.last = interval, clock, None

    def update(self, history: Sequence[dict], force: bool = False) -> bool:
        """Draw if forced or `interval` has passed since the last drawing; True if it drew."""
        now = self.clock()
        if not history or (not force and self.last is not None and now - self.last < self.interval):
            return False
        plot_curves(history, self.png, self.title)
        write_tensorboard(history, self.tensorboard)
        self.last = now
        return True
