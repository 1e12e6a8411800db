"""Random weights for the tests that fold, fuse, prune or export a network: a fresh model's unit
BatchNorm statistics, zero GRN scales and identical channels hide mistakes that random values expose.

Importable from every test folder (`from random_weights import randomize`): pytest puts tests/, the folder
of the root conftest.py, on sys.path.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from asc.models.cp_mobile import GRN


def randomize(model: nn.Module, seed: int = 0, kernels: bool = True) -> nn.Module:
    """Random BatchNorm statistics and affine terms, GRN scales and (with `kernels`) convolution kernels and
    the online training form's branch scales, drawn from a generator of `seed`; the model in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                c = module.num_features
                module.running_mean.copy_(torch.rand(c, generator=gen) - 0.5)
                module.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
                module.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                module.bias.copy_(torch.rand(c, generator=gen) - 0.5)
            elif isinstance(module, nn.Conv2d):
                if kernels:
                    module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * 0.3)
            elif isinstance(module, GRN):
                module.gamma.copy_(torch.rand(module.gamma.shape, generator=gen) + 0.5)
                module.beta.copy_(torch.rand(module.beta.shape, generator=gen) - 0.5)
            elif kernels and isinstance(getattr(module, "scale", None), nn.Parameter):
                module.scale.copy_(torch.randn(module.scale.shape, generator=gen))
    return model.eval()
