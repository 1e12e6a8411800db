"""Cases shared by the re-parameterization tests of tests/models (both training forms of Rep-Mobile)."""
from __future__ import annotations

import itertools

import torch
import torch.nn as nn

from asc.models.reparam import CONV_BRANCHES

# every non-empty set of convolution branches, with and without the identity branch
BRANCH_SETS = [list(convs) + extra
               for n in range(1, len(CONV_BRANCHES) + 1)
               for convs in itertools.combinations(CONV_BRANCHES, n)
               for extra in ([], ["identity"])]

# one of each kind of block: plain shortcut, strided shortcut (pooling), no shortcut, both strides
SMALL = dict(stem_channels=[4, 8], stage_channels=[8, 16], n_blocks=[2, 3],
             strides=[[1, 1], [2, 2], [1, 2], [2, 1], [1, 1]], expansion_rate=1.5)


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random kernels, branch scales (the online training form's) and BatchNorm statistics, so that folding
    and summing branches are really exercised (a fresh model's unit statistics hide mistakes); eval mode."""
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
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * 0.3)
            elif isinstance(getattr(module, "scale", None), nn.Parameter):
                module.scale.copy_(torch.randn(module.scale.shape, generator=gen))
    return model.eval()
