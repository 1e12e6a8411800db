"""Model families, one file each, built by name through one small registry.

    model = build_model("rep_mobile", **options)     # training form
    deployed = reparameterize(model)                 # deployment form (branches fused, BN folded)

Every model maps log-mel input [batch, 1, mels, frames] to logits [batch, classes].
"""
from __future__ import annotations

import copy
from typing import Callable

import torch.nn as nn

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}


def register(name: str):
    """Decorator: make a model constructor available to build_model under `name`."""
    def wrap(fn):
        if name in _REGISTRY:
            raise ValueError(f"model '{name}' registered twice")
        _REGISTRY[name] = fn
        return fn
    return wrap


def available_models() -> list[str]:
    """Names build_model accepts."""
    _import_families()
    return sorted(_REGISTRY)


def build_model(name: str, **options) -> nn.Module:
    """Build the registered model `name` with keyword `options` (from a YAML config)."""
    _import_families()
    if name not in _REGISTRY:
        raise ValueError(f"unknown model '{name}'; available: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**options)


def reparameterize(model: nn.Module) -> nn.Module:
    """The deployment form of `model`: a copy in eval mode whose re-parameterizable parts are fused.

    Any submodule with a `reparameterize()` method fuses itself in place on the copy (branches summed,
    BatchNorm folded); models without such parts are returned as an eval-mode copy.
    """
    deployed = copy.deepcopy(model).eval()
    for module in list(deployed.modules()):
        fuse = getattr(module, "reparameterize", None)
        if callable(fuse) and module is not deployed:
            fuse()
    top = getattr(deployed, "reparameterize", None)
    if callable(top):
        top()
    return deployed


def _import_families() -> None:
    # Importing a family module registers its constructors.
    from asc.models import baseline, cp_mobile, cp_resnet, passt, rep_mobile  # noqa: F401
