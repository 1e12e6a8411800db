"""Weight initialization of the CP-JKU mobile families (baseline, CP-Mobile, Rep-Mobile).

Kaiming-normal convolutions (fan-out), BatchNorm at identity (γ = 1, β = 0), small linear layers:
the initialization the published models were trained from, so that their recipes carry over.
"""
from __future__ import annotations

import torch.nn as nn


def init_mobile_weights(module: nn.Module) -> None:
    """Initialize one module in place; use as `model.apply(init_mobile_weights)`."""
    if isinstance(module, nn.Conv2d):
        nn.init.kaiming_normal_(module.weight, mode="fan_out")
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)):
        if module.weight is not None:
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, 0, 0.01)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
