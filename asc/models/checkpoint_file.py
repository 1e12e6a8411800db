"""Checkpoints: one dict per file, read back with `torch.load(weights_only=True)`.

Every checkpoint holds `model_name`, `model_options` and `state_dict` (plus `deployed`), enough to
rebuild the model with `asc.models.build_model`. A training checkpoint (`last.pt`) adds the optimizer,
scheduler, scaler, epoch, the random states, the metrics so far and the hash of the config that wrote
it, so that a killed run continues exactly where it stopped and never from another run's state.
Only plain containers, numbers, strings and tensors are stored: nothing that needs unpickling code.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from asc.atomic import torch_save
from asc.errors import InputError


def unwrap(model: nn.Module) -> nn.Module:
    """The plain module inside a DistributedDataParallel (or similar `.module`) wrapper."""
    return getattr(model, "module", model)


def save_checkpoint(path: str | os.PathLike, model: nn.Module, model_name: str,
                    model_options: dict, **extra: Any) -> None:
    """Write the model (and any training state in `extra`) atomically to `path`."""
    state = {"model_name": model_name, "model_options": dict(model_options),
             "state_dict": unwrap(model).state_dict(), "deployed": False, **extra}
    torch_save(state, path)


def load_checkpoint(path: str | os.PathLike, model_name: str | None = None,
                    config_hash: str | None = None) -> dict:
    """Read a checkpoint; refuse one of another model or (when given) another config hash."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated file, not a torch file, or objects that need unpickling code
        raise InputError(path, f"cannot read checkpoint: {type(e).__name__}: {str(e).splitlines()[0]}") from None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "model_name" not in ckpt:
        raise InputError(path, "not a checkpoint of this project (expected a dict with model_name and state_dict)")
    if model_name is not None and ckpt["model_name"] != model_name:
        raise InputError(path, f"checkpoint is of model '{ckpt['model_name']}', this run trains '{model_name}'")
    if config_hash is not None and ckpt.get("config_hash") != config_hash:
        raise InputError(path, f"checkpoint was written by another config (hash {ckpt.get('config_hash')}, "
                               f"this run {config_hash}); use another --exp or remove that directory")
    return ckpt


def load_model(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the model stored in a checkpoint (in eval mode) and return it with the checkpoint dict."""
    from asc.models import build_model, reparameterize

    ckpt = load_checkpoint(path)
    _check_model_options(path, ckpt)
    model = build_model(ckpt["model_name"], **ckpt.get("model_options", {}))
    if ckpt.get("deployed"):
        model = reparameterize(model)
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as e:
        raise InputError(path, f"weights do not fit model '{ckpt['model_name']}' with its options: "
                               f"{str(e).splitlines()[0]}") from None
    return model.to(map_location).eval(), ckpt


def _check_model_options(path, ckpt: dict) -> None:
    """Refuse model options that cannot describe the stored weights, before anything is built: the
    options come from the file, and a damaged or hostile one (a width of 10^6) would allocate without
    bound. Every width in the options shows up as a dimension of some stored tensor, so no number in
    them may exceed the largest stored dimension by much (twice it, plus 1024: input sizes such as a
    transformer's frame count need not be a weight's dimension)."""
    options, state = ckpt.get("model_options", {}), ckpt.get("state_dict")
    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        raise InputError(path, f"'model_options' must be a mapping of option names, found {type(options).__name__}")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(path, "'state_dict' must map names to tensors")
    largest = max((d for v in state.values() for d in v.shape), default=0)
    bound = 2 * largest + 1024
    for name, value in options.items():
        numbers = [x for x in _flatten(value) if isinstance(x, (int, float)) and not isinstance(x, bool)]
        if any(not abs(x) <= bound for x in numbers):           # also NaN
            raise InputError(path, f"model option {name}={value!r} is out of all proportion to the stored "
                                   f"weights (largest dimension {largest}); the options are damaged")


def _flatten(value):
    """The leaves of nested lists/tuples/dicts."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _flatten(item)
    else:
        yield value


def rng_state() -> dict:
    """The global random states (torch, numpy, python) in a form weights_only loading accepts."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "python": random.getstate(),
             "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "gauss": float(gauss)}}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    """Restore what `rng_state` saved."""
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
