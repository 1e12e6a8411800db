"""The deployed complexity of a Rep-Mobile as a function of its channel counts, without torchinfo.

Choosing which channels to remove against a target means asking "params and MACs if these channels
went" hundreds of times per step; torchinfo answers in about a second each. Pruning channels never
changes the spatial size of any output, so one forward pass records each site's output positions
(H·W), and from then on the deployment form's figures are arithmetic, counted as torchinfo counts a
fused convolution with bias:

    params = (in / groups)·out·kh·kw + out        MACs = params · H_out·W_out

(a depthwise site has groups = in = out). Whatever else the model holds is measured once with
torchinfo as a constant offset (zero for Rep-Mobile). `CostModel.complexity` agrees with
`asc.complexity.count_complexity` exactly (tested); the pruner still counts each step's result with
torchinfo, which is what complexity.json reports.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn as nn

from asc.complexity import DEFAULT_INPUT_SHAPE, Complexity, count_complexity
from asc.models.reparam import RepConv2d
from asc.prune.structured import ChannelGroup


@dataclass
class SiteShape:
    """What the complexity of one site depends on."""
    in_channels: int
    out_channels: int
    depthwise: bool
    kernel: int          # kh·kw
    positions: int       # H·W of the output for one clip

    @property
    def params(self) -> int:
        """Parameters of the fused convolution (weight and bias)."""
        per_filter = 1 if self.depthwise else self.in_channels
        return per_filter * self.out_channels * self.kernel + self.out_channels

    @property
    def macs(self) -> int:
        """MACs of the fused convolution as torchinfo counts them."""
        return self.params * self.positions


class CostModel:
    """Params and MACs of the deployment form for changed channel counts of a model's groups."""

    def __init__(self, model: nn.Module, groups: Sequence[ChannelGroup],
                 input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE, offset: Complexity | None = None):
        positions = _output_positions(model, input_shape)
        names = {module: name for name, module in model.named_modules()}
        self.sites = {names[site]: SiteShape(site.in_channels, site.out_channels, site.is_depthwise,
                                             site.kernel_size[0] * site.kernel_size[1], n)
                      for site, n in positions.items()}
        self.groups = {g.name: g for g in groups}
        if offset is None:
            measured, here = count_complexity(model, input_shape), self._sites_complexity()
            offset = Complexity(measured.params - here.params, measured.macs - here.macs)
        self.offset = offset

    def complexity(self) -> Complexity:
        """Params and MACs of the deployment form at the current (possibly planned) channel counts."""
        sites = self._sites_complexity()
        return Complexity(sites.params + self.offset.params, sites.macs + self.offset.macs)

    def _sites_complexity(self) -> Complexity:
        return Complexity(sum(s.params for s in self.sites.values()), sum(s.macs for s in self.sites.values()))

    def remove_channel(self, group: str) -> None:
        """Plan the removal of one channel of `group` (only the counts change, not the model)."""
        for member in self.groups[group].members:
            site = self.sites[member.name]
            if member.side == "out":
                site.out_channels -= 1
                if site.depthwise:
                    site.in_channels -= 1
            else:
                site.in_channels -= 1


@torch.no_grad()
def _output_positions(model: nn.Module, input_shape: Sequence[int]) -> dict[RepConv2d, int]:
    """H·W of every site's output for one clip of `input_shape` (one forward pass in eval mode)."""
    positions: dict[RepConv2d, int] = {}
    hooks = [m.register_forward_hook(lambda mod, _, out: positions.__setitem__(mod, out.shape[-2] * out.shape[-1]))
             for m in model.modules() if isinstance(m, RepConv2d)]
    was_training = model.training
    try:
        model.eval()
        parameter = next(model.parameters())
        model(torch.zeros(1, *input_shape, dtype=parameter.dtype, device=parameter.device))
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    return positions
