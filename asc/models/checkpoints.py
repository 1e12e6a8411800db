"""Loading external pretrained weights (e.g. an official PaSST AudioSet checkpoint) from a local file.

A downloaded file is untrusted, so it is read with `torch.load(weights_only=True)`, which refuses
pickled code. The backbone must match the model key for key and shape for shape (strict), so that a
wrong file or a wrong model configuration stops the run instead of silently training from a partly
random network. Only the classifier may differ, in its number of classes: the model names its head
parameters in a `pretrained_heads` attribute (prefixes), and those whose shape differs keep the values
the model was initialized with (a fresh head for the new classes), which the log says.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Mapping, Sequence

import torch
import torch.nn as nn

from asc.errors import InputError

log = logging.getLogger(__name__)

# Where training frameworks nest the weights inside a checkpoint (ours, Lightning, DeiT/timm).
_NESTED = ("model", "state_dict", "model_state_dict")
# Prefixes that wrappers add to every key (DistributedDataParallel, Lightning modules named net/model).
_WRAPPER_PREFIXES = ("module.", "net.", "model.")


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The name -> tensor mapping stored in checkpoint `path`, read without executing pickled code."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "checkpoint file not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling refused, truncated file, not a torch file at all
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(path, f"not a readable weights-only PyTorch checkpoint ({reason[:200]})") from None
    state = _unwrap(obj)
    if state is None:
        raise InputError(path, "expected a state dict (a mapping of parameter names to tensors), "
                               f"found {type(obj).__name__}" +
                         (f" with keys {_preview(obj)}" if isinstance(obj, Mapping) else ""))
    return _strip_wrapper_prefix(state)


def load_pretrained(model: nn.Module, path: str | os.PathLike,
                    head_keys: Sequence[str] | None = None) -> list[str]:
    """Copy the weights of checkpoint `path` into `model`, strictly except for heads of another class count.

    `head_keys` are name prefixes of the classifier (default: `model.pretrained_heads`). Returns the
    names of the parameters left as initialized (empty when the checkpoint matched entirely).
    """
    path = Path(path)
    state = read_state_dict(path)
    own = model.state_dict()
    heads = tuple(head_keys if head_keys is not None else getattr(model, "pretrained_heads", ()))
    name = type(model).__name__
    _check_keys(path, name, own, state)
    kept = [k for k in own if k.startswith(heads) and state[k].shape != own[k].shape]
    mismatched = [k for k in own if k not in kept and state[k].shape != own[k].shape]
    if mismatched:
        details = "; ".join(f"'{k}': checkpoint {tuple(state[k].shape)}, model {tuple(own[k].shape)}"
                            for k in mismatched[:5])
        more = f" (and {len(mismatched) - 5} more)" if len(mismatched) > 5 else ""
        raise InputError(path, f"shape mismatch with {name}: {details}{more}")
    merged = {k: (own[k] if k in kept else state[k]) for k in own}
    model.load_state_dict(merged, strict=True)
    if kept:
        log.info("%s: loaded %d tensors into %s; re-initialized %s (class count differs: checkpoint %s, "
                 "model %s)", path, len(own) - len(kept), name, ", ".join(kept),
                 tuple(state[kept[0]].shape), tuple(own[kept[0]].shape))
    else:
        log.info("%s: loaded all %d tensors into %s", path, len(own), name)
    return kept


def _check_keys(path: Path, name: str, own: Mapping[str, torch.Tensor],
                state: Mapping[str, torch.Tensor]) -> None:
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if not missing and not unexpected:
        return
    if len(missing) == len(own):
        raise InputError(path, f"not a checkpoint of {name}: none of its {len(own)} parameter names "
                               f"occur (the file has {_preview(state)})")
    parts = []
    if missing:
        parts.append(f"missing {len(missing)} key(s): {_preview(missing)}")
    if unexpected:
        parts.append(f"unexpected {len(unexpected)} key(s): {_preview(unexpected)}")
    raise InputError(path, f"does not match {name} ({'; '.join(parts)}); a checkpoint of another model "
                           f"or configuration?")


def _unwrap(obj) -> dict[str, torch.Tensor] | None:
    for _ in range(3):
        if not isinstance(obj, Mapping):
            return None
        if obj and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
            return dict(obj)
        nested = next((obj[k] for k in _NESTED if isinstance(obj.get(k), Mapping)), None)
        if nested is None:
            return None
        obj = nested
    return None


def _strip_wrapper_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    for prefix in _WRAPPER_PREFIXES:
        if all(k.startswith(prefix) for k in state):
            return {k[len(prefix):]: v for k, v in state.items()}
    return state


def _preview(keys, n: int = 4) -> str:
    keys = list(keys)
    shown = ", ".join(repr(k) for k in keys[:n])
    return shown + (", ..." if len(keys) > n else "")
