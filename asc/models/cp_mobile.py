"""CP-Mobile as published for DCASE2023 Task 1 (Schmid et al., CP-JKU; fschmid56/cpjku_dcase23).

The baseline's architecture (asc.models.baseline) with a global response normalization (GRN,
ConvNeXt-V2) after each block's residual sum, before its ReLU:

    GRN(x) = γ · (x · N(x)) + β + x,   N(x) = ‖x‖₂ over (freq, time) / mean over channels of it

with one scalar γ and β per block (initialized to 0, so a block starts as without GRN).
Published configuration: base_channels 32, channels_multiplier 2.3 (stage widths 32, 72, 168),
expansion_rate 3.0, n_blocks (3, 2, 1), strides b2 (2,2), b4 (2,1). Its authors stored it as int8
(the DCASE2023 limit was 128 K parameters at 8 bit); at float16 it exceeds the DCASE2024 limit, so
compare it with Rep-Mobile at equal complexity with a narrower configuration (conf:
model_cp_mobile_small.yaml).

Deployment form (`reparameterize`): each Conv+BN is folded into one convolution with bias, as the
authors' `fuse_model()` did before counting; the GRN stays (it depends on the input).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn

from asc.config import from_dict
from asc.errors import ConfigError
from asc.models import register
from asc.models.layout import check_layout, make_divisible, stage_widths
from asc.models.reparam import RepConv2d
from asc.models.weight_init import init_mobile_weights


@dataclass
class CPMobileConfig:
    """Options of CP-Mobile; the defaults are the published DCASE2023 model."""
    n_classes: int = 10
    in_channels: int = 1
    base_channels: int = 32
    channels_multiplier: float = 2.3
    expansion_rate: float = 3.0
    n_blocks: list[int] = field(default_factory=lambda: [3, 2, 1])
    # one [frequency, time] stride per block
    strides: list[list[int]] = field(
        default_factory=lambda: [[1, 1], [2, 2], [1, 1], [2, 1], [1, 1], [1, 1]])
    grn: bool = True


class GRN(nn.Module):
    """Global response normalization with one scalar γ and β (CP-Mobile's variant)."""

    def __init__(self, eps: float = 1e-6):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1))
        self.beta = nn.Parameter(torch.zeros(1))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gx = torch.norm(x, p=2, dim=(2, 3), keepdim=True)
        nx = gx / (gx.mean(dim=1, keepdim=True) + self.eps)
        return self.gamma * (x * nx) + self.beta + x


class CPMobileBlock(nn.Module):
    """Inverted bottleneck with Conv+BN sites (foldable), shortcut where it fits, GRN, ReLU."""

    def __init__(self, in_channels: int, out_channels: int, expansion_rate: float,
                 stride: tuple[int, int], grn: bool):
        super().__init__()
        expanded = make_divisible(in_channels * expansion_rate)
        self.exp = RepConv2d(in_channels, expanded, 1, branches=["1x1"])
        self.dw = RepConv2d(expanded, expanded, 3, stride, groups=expanded, branches=["kxk"])
        self.proj = RepConv2d(expanded, out_channels, 1, branches=["1x1"])
        self.has_shortcut = in_channels == out_channels
        strided = tuple(stride) != (1, 1)
        self.shortcut = (nn.AvgPool2d(3, tuple(stride), 1) if self.has_shortcut and strided
                         else nn.Identity())
        self.norm = GRN() if grn else nn.Identity()
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(self.act(self.dw(self.act(self.exp(x)))))
        if self.has_shortcut:
            y = y + self.shortcut(x)
        return self.act(self.norm(y))


class CPMobile(nn.Module):
    """CP-Mobile: log-mel [batch, 1, mels, frames] → logits [batch, n_classes]."""

    def __init__(self, config: CPMobileConfig):
        super().__init__()
        _validate(config)
        self.config = config
        base = make_divisible(config.base_channels)
        widths = stage_widths(config.base_channels, config.channels_multiplier, len(config.n_blocks))
        self.stem = nn.Sequential(
            RepConv2d(config.in_channels, base // 4, 3, 2, branches=["kxk"]), nn.ReLU(),
            RepConv2d(base // 4, base, 3, 2, branches=["kxk"]), nn.ReLU())
        self.stages = nn.Sequential()
        channels, block = base, 0
        for stage, (width, count) in enumerate(zip(widths, config.n_blocks)):
            blocks = nn.Sequential()
            for _ in range(count):
                blocks.add_module(f"b{block + 1}", CPMobileBlock(
                    channels, width, config.expansion_rate, tuple(config.strides[block]), config.grn))
                channels = width
                block += 1
            self.stages.add_module(f"s{stage + 1}", blocks)
        self.head = RepConv2d(channels, config.n_classes, 1, branches=["1x1"])
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.apply(init_mobile_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.pool(self.head(x)).flatten(1)


@register("cp_mobile")
def build_cp_mobile(**options) -> CPMobile:
    """CP-Mobile from YAML options (see CPMobileConfig); unknown options are refused."""
    return CPMobile(from_dict(CPMobileConfig, options, source="cp_mobile options"))


def _validate(config) -> None:
    where = "cp_mobile options"
    check_layout(config.n_blocks, config.strides, where)
    if config.base_channels < 4 or config.channels_multiplier <= 0 or config.expansion_rate <= 0:
        raise ConfigError(f"{where}: base_channels must be >= 4 and the multipliers positive")
