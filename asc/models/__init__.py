"""Model families, one file each, built by name through one small registry.

    model = build_model("rep_mobile", **options)     # training form
    deployed = reparameterize(model)                 # deployment form (branches fused, BN folded)

Every model maps log-mel input [batch, 1, mels, frames] to logits [batch, classes].
A model config (conf/<profile>/model_*.yaml) names the model, the features it reads and its options,
`{name: rep_mobile, features: student, options: {...}}`, read into ModelConfig and built with
build_from_config.
"""
from __future__ import annotations

import copy
import importlib
import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import torch.nn as nn

from asc.errors import ConfigError

FAMILIES = ("baseline", "cp_mobile", "rep_mobile", "cp_resnet", "passt", "efficientat_mn", "quantized")

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
        raise ConfigError(f"unknown model '{name}'; available: {', '.join(sorted(_REGISTRY))}")
    _check_option_names(name, _REGISTRY[name], options)
    return _REGISTRY[name](**options)


@dataclass
class ModelConfig:
    """Which model to build, from which features, with which options (a conf/*/model_*.yaml file)."""
    name: str = "rep_mobile"
    features: str = "student"   # student: 256 mels x 65 frames per clip; teacher: PaSST's 128 mels
    options: dict[str, Any] = field(default_factory=dict)


def build_from_config(config: ModelConfig) -> nn.Module:
    """Build the model a ModelConfig describes."""
    return build_model(config.name, **config.options)


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


def _check_option_names(name: str, constructor: Callable[..., nn.Module], options: dict) -> None:
    # A misspelt option must stop the run, not surface as a TypeError deep in a stage. Constructors
    # that take **options check them themselves (against their config dataclass).
    params = inspect.signature(constructor).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    unknown = sorted(set(options) - set(params))
    if unknown:
        raise ConfigError(f"{name} options: unknown key(s) {', '.join(map(repr, unknown))}; "
                          f"known keys: {', '.join(sorted(params))}")


def _import_families() -> None:
    # Importing a family module registers its constructors. A family whose file is absent (a partial
    # checkout) is skipped; any other import error is raised.
    for family in FAMILIES:
        module = f"asc.models.{family}"
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
