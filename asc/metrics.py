"""The figures DCASE2024 Task 1 reports for a set of predictions.

Definitions follow the CP-JKU DCASE2024 baseline (`run_training.py`, `on_test_epoch_end`):
  - macro accuracy (the ranking metric): the mean over classes of the per-class accuracy, i.e. of
    the recall of each class over the clips of all devices;
  - per-class accuracy: correct / clips of that class, all devices pooled;
  - per-device accuracy: correct / clips of that device, all classes pooled (the baseline's
    `acc.<device>`; *not* a class-averaged accuracy within the device — on the balanced TAU22 test
    split the two coincide);
  - seen / unseen devices: correct / clips over all clips of the group's devices (the baseline
    pools its device groups the same way; on the test split, where every device has the same
    number of clips, this equals the mean of the group's per-device accuracies);
  - log loss: multi-class cross-entropy of the predicted probabilities (what sklearn's log_loss computes
    with the full label list, so a class absent from the clips still counts; computed here with numpy,
    bit for bit the same: importing sklearn costs every training and scoring process ~3 s and ~80 MB).
Accuracies are fractions in [0, 1]; tables and pictures show percentages.

A data set without devices (devices=None, e.g. a folder of recordings) has no device figures: the
per-device tables are empty, the seen/unseen figures None and no device groups are named.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np

LABELS = ("airport", "bus", "metro", "metro_station", "park", "public_square", "shopping_mall",
          "street_pedestrian", "street_traffic", "tram")
DEVICES = ("a", "b", "c", "s1", "s2", "s3", "s4", "s5", "s6")
SEEN_DEVICES = ("a", "b", "c", "s1", "s2", "s3")
UNSEEN_DEVICES = ("s4", "s5", "s6")


@dataclass
class Scores:
    """Scores of one system on one set of clips; `to_dict()` is what scores.json holds."""

    macro_accuracy: float
    accuracy: float
    per_device: dict[str, float]
    per_class: dict[str, float | None]
    per_device_class: dict[str, dict[str, float | None]]
    seen_devices: float | None
    unseen_devices: float | None
    log_loss: float
    n_clips: int
    device_counts: dict[str, int]
    confusion: list[list[int]]
    labels: list[str]
    devices: list[str]
    device_groups: dict[str, list[str]]

    def to_dict(self) -> dict:
        """A JSON-ready dict (plain floats, ints, lists; None where a class or device has no clips)."""
        return dataclasses.asdict(self)


def compute_scores(labels: Sequence[str], probs, devices: Sequence[str] | None,
                   class_names: Sequence[str] = LABELS, seen: Sequence[str] = SEEN_DEVICES,
                   unseen: Sequence[str] = UNSEEN_DEVICES) -> Scores:
    """Score predicted class probabilities [N, n_classes] against true label names, per device.

    `probs` must be probabilities (the softmax of the logits), columns in `class_names` order;
    the prediction is the most probable class. Devices outside DEVICES are scored after them.
    `devices` None: a data set without devices (no device figures, see the module docstring).
    """
    class_names = list(class_names)
    if devices is None:
        return _without_devices(compute_scores(labels, probs, ["-"] * len(labels), class_names, (), ()))
    y_true, probs = _check_inputs(labels, probs, devices, class_names)
    y_pred = probs.argmax(axis=1)
    correct = y_pred == y_true
    device_arr = np.asarray(list(devices), dtype=object)
    device_order = [d for d in DEVICES if d in set(devices)] + sorted(set(devices) - set(DEVICES))

    per_class = {name: _mean_or_none(correct[y_true == k]) for k, name in enumerate(class_names)}
    present = [v for v in per_class.values() if v is not None]
    per_device_class = {
        d: {name: _mean_or_none(correct[(device_arr == d) & (y_true == k)])
            for k, name in enumerate(class_names)}
        for d in device_order
    }
    return Scores(
        macro_accuracy=float(np.mean(present)),
        accuracy=float(correct.mean()),
        per_device={d: float(correct[device_arr == d].mean()) for d in device_order},
        per_class=per_class,
        per_device_class=per_device_class,
        seen_devices=_mean_or_none(correct[np.isin(device_arr, list(seen))]),
        unseen_devices=_mean_or_none(correct[np.isin(device_arr, list(unseen))]),
        log_loss=log_loss(y_true, probs),
        n_clips=int(len(y_true)),
        device_counts={d: int((device_arr == d).sum()) for d in device_order},
        confusion=confusion_matrix(y_true, y_pred, len(class_names)).tolist(),
        labels=class_names,
        devices=device_order,
        device_groups={"seen": list(seen), "unseen": list(unseen)},
    )


def log_loss(y_true: np.ndarray, probs: np.ndarray) -> float:
    """Mean negative log-probability of the true class, each probability clipped to [eps, 1 - eps] (eps
    of its dtype): sklearn.metrics.log_loss(y_true, probs, labels=range(n_classes)) for probabilities
    whose rows sum to 1, the same operations in the same order."""
    eps = np.finfo(probs.dtype).eps
    true = np.clip(probs, eps, 1 - eps)[np.arange(len(y_true)), y_true]
    return float(np.mean(-np.log(true)))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts [true class, predicted class] over the clips, every class a row and a column."""
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def _without_devices(scores: Scores) -> Scores:
    """`scores` of a set scored as one pseudo-device, with every device figure removed."""
    return dataclasses.replace(scores, per_device={}, per_device_class={}, seen_devices=None, unseen_devices=None,
                               device_counts={}, devices=[], device_groups={})


def _check_inputs(labels: Sequence[str], probs, devices: Sequence[str],
                  class_names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    probs = np.asarray(probs, dtype=np.float64)
    n = len(labels)
    if n == 0:
        raise ValueError("no clips to score")
    if probs.shape != (n, len(class_names)):
        raise ValueError(f"probabilities of shape {probs.shape} for {n} clips and "
                         f"{len(class_names)} classes: expected ({n}, {len(class_names)})")
    if len(devices) != n:
        raise ValueError(f"{len(devices)} devices for {n} clips")
    index = {name: k for k, name in enumerate(class_names)}
    unknown = sorted(set(labels) - set(index))
    if unknown:
        raise ValueError(f"unknown label(s) {unknown}; expected one of {class_names}")
    if not np.all(np.isfinite(probs)) or probs.min() < 0 or np.abs(probs.sum(axis=1) - 1).max() > 1e-3:
        raise ValueError("expected class probabilities (non-negative rows summing to 1, e.g. the "
                         "softmax of the logits)")
    y_true = np.fromiter((index[name] for name in labels), dtype=np.int64, count=n)
    return y_true, probs / probs.sum(axis=1, keepdims=True)


def _mean_or_none(values: np.ndarray) -> float | None:
    return float(values.mean()) if values.size else None
