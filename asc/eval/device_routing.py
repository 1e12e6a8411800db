"""A system of one model per recording device (DCASE2025 Task 1): each clip is classified by the model
of its device, and by the general model when its device has none (a device unseen in training, or no
device given). The inference package exported for the challenge applies the same rule
(get_model_for_device); this module scores it on the cached test features.

    models = parse_device_models(["a=exp/device/split25/a/deploy/model.pt", ...])
    model_for_device("s4", models, "exp/deploy/split25/model.pt")     # -> the general model
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from asc.errors import AscError, InputError

GENERAL = "general"
UNKNOWN_DEVICE = "unknown"       # DCASE2025's device ID for a clip whose device is not given
_DEVICE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class DeviceModelError(AscError, ValueError):
    """A malformed, repeated or reserved DEVICE=PATH argument: a user's error (AscError) that is also a
    ValueError, the kind of a bad argument value."""


def parse_device_models(specs: Sequence[str]) -> dict[str, Path]:
    """{device: model file} from DEVICE=PATH arguments; DeviceModelError naming a malformed or repeated one."""
    models: dict[str, Path] = {}
    for spec in specs:
        device, sep, path = spec.partition("=")
        if not sep or not _DEVICE_NAME.fullmatch(device) or not path:
            raise DeviceModelError(f"device model '{spec}': expected DEVICE=PATH (e.g. b=exp/device/split25/b/deploy/model.pt)")
        if device in models:
            raise DeviceModelError(f"device model '{spec}': device {device} is given twice")
        if device in (GENERAL, UNKNOWN_DEVICE):
            raise DeviceModelError(f"device model '{spec}': '{device}' is reserved for the general model's clips")
        models[device] = Path(path)
    return models


def model_for_device(device: str | None, models: Mapping[str, os.PathLike | str], general: os.PathLike | str):
    """The model of `device`, or `general` for a device without one (None or empty: not given)."""
    return models.get(device, general) if device else general


def routed_probs(devices: Sequence[str], general: np.ndarray, predict_device) -> np.ndarray:
    """Per clip, the probabilities of its device's model, else the general model's (`general`,
    [clips, classes] for every clip). `predict_device(device, rows)` gives the probabilities of that
    device's model for the clips at `rows` (only those are run: a model per device costs one pass
    over the test set in all), or None when the device has no model of its own."""
    out = np.array(general, dtype=np.float64, copy=True)
    for device in sorted(set(devices)):
        rows = np.flatnonzero(np.fromiter((d == device for d in devices), dtype=bool, count=len(devices)))
        probs = predict_device(device, rows)
        if probs is None:
            continue
        if probs.shape != (len(rows), out.shape[1]):
            raise ValueError(f"device {device}: probabilities of shape {probs.shape} for {len(rows)} clips of "
                             f"{out.shape[1]} classes")
        out[rows] = probs
    return out


def routing_table(devices: Sequence[str], models: Mapping[str, os.PathLike | str],
                  general: os.PathLike | str) -> dict[str, str]:
    """{device: the model file its clips went to} for the devices of a test set (for scores.json)."""
    return {d: str(model_for_device(d, models, general)) for d in sorted(set(devices))}


def check_same_architecture(general_state: Mapping, device_state: Mapping, device_path: os.PathLike | str) -> None:
    """A device model must be the general model's network with other weights (DCASE2025: the models
    per device are variants of one system, each within the limits): same tensor names and shapes."""
    if set(general_state) != set(device_state):
        raise InputError(device_path, "has other layers than the general model (tensor names differ)")
    shapes = [k for k in general_state if tuple(general_state[k].shape) != tuple(device_state[k].shape)]
    if shapes:
        raise InputError(device_path, f"has other layer widths than the general model (e.g. {shapes[0]}: "
                                      f"{tuple(device_state[shapes[0]].shape)} against "
                                      f"{tuple(general_state[shapes[0]].shape)})")
