"""The DCASE2024 Task 1 baseline CNN (CPJKU/dcase2024_task1_baseline): a simplified CP-Mobile.

    stem    Conv 3×3 stride 2 → BN → ReLU (1 → base/4), Conv 3×3 stride 2 → BN → ReLU (→ base)
    stages  inverted-bottleneck blocks: Conv 1×1 → BN → ReLU, depthwise Conv 3×3 (stride) → BN →
            ReLU, Conv 1×1 → BN; a shortcut where input and output widths are equal (3×3 average
            pooling when strided); ReLU after the sum
    head    Conv 1×1 → BN → global average pooling → logits

Published configuration: base_channels 32, channels_multiplier 1.8 (stage widths 32, 56, 104),
expansion_rate 2.1, n_blocks (3, 2, 1), strides b2 (1,1), b3 (1,2), b4 (2,1). The challenge
organisers counted it with torchinfo as it is, BatchNorm layers included: 61,148 parameters and
29,419,156 MACs for a 1×256×65 input. Its deployment form is therefore the model itself (no
`reparameterize()`): folding the BatchNorms into the convolutions would save 1,354 parameters
(59,794) but add each convolution's bias to the MACs (C_out·H·W each), 797,612 more (30,216,768),
above the 30 M limit.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn

from asc.config import from_dict
from asc.errors import ConfigError
from asc.models import register
from asc.models.layout import check_layout, make_divisible, stage_widths
from asc.models.weight_init import init_mobile_weights


@dataclass
class BaselineConfig:
    """Options of the baseline CNN; the defaults are the published model."""
    n_classes: int = 10
    in_channels: int = 1
    base_channels: int = 32
    channels_multiplier: float = 1.8
    expansion_rate: float = 2.1
    n_blocks: list[int] = field(default_factory=lambda: [3, 2, 1])
    # one [frequency, time] stride per block
    strides: list[list[int]] = field(
        default_factory=lambda: [[1, 1], [1, 1], [1, 2], [2, 1], [1, 1], [1, 1]])


def conv_bn(in_channels: int, out_channels: int, kernel_size: int = 1,
            stride: tuple[int, int] | int = 1, groups: int = 1, relu: bool = True) -> nn.Sequential:
    """Conv (no bias) → BatchNorm (→ ReLU), the baseline's unit layer."""
    layers: list[nn.Module] = [
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups,
                  bias=False),
        nn.BatchNorm2d(out_channels)]
    if relu:
        layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class BaselineBlock(nn.Module):
    """Inverted bottleneck: 1×1 expansion, 3×3 depthwise, 1×1 projection, shortcut where it fits."""

    def __init__(self, in_channels: int, out_channels: int, expansion_rate: float,
                 stride: tuple[int, int]):
        super().__init__()
        expanded = make_divisible(in_channels * expansion_rate)
        self.block = nn.Sequential(
            conv_bn(in_channels, expanded, 1),
            conv_bn(expanded, expanded, 3, stride, groups=expanded),
            conv_bn(expanded, out_channels, 1, relu=False))
        self.has_shortcut = in_channels == out_channels
        strided = tuple(stride) != (1, 1)
        self.shortcut = (nn.AvgPool2d(3, tuple(stride), 1) if self.has_shortcut and strided
                         else nn.Identity())
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        if self.has_shortcut:
            y = y + self.shortcut(x)
        return self.act(y)


class Baseline(nn.Module):
    """The DCASE2024 baseline: log-mel [batch, 1, mels, frames] → logits [batch, n_classes]."""

    def __init__(self, config: BaselineConfig):
        super().__init__()
        _validate(config)
        self.config = config
        base = make_divisible(config.base_channels)
        widths = stage_widths(config.base_channels, config.channels_multiplier, len(config.n_blocks))
        self.stem = nn.Sequential(conv_bn(config.in_channels, base // 4, 3, 2),
                                  conv_bn(base // 4, base, 3, 2))
        self.stages = nn.Sequential()
        channels, block = base, 0
        for stage, (width, count) in enumerate(zip(widths, config.n_blocks)):
            blocks = nn.Sequential()
            for _ in range(count):
                blocks.add_module(f"b{block + 1}", BaselineBlock(
                    channels, width, config.expansion_rate, tuple(config.strides[block])))
                channels = width
                block += 1
            self.stages.add_module(f"s{stage + 1}", blocks)
        self.head = conv_bn(channels, config.n_classes, 1, relu=False)
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.apply(init_mobile_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.pool(self.head(x)).flatten(1)


@register("baseline")
def build_baseline(**options) -> Baseline:
    """The DCASE2024 baseline from YAML options (see BaselineConfig); unknown options are refused."""
    return Baseline(from_dict(BaselineConfig, options, source="baseline options"))


def _validate(config) -> None:
    where = "baseline options"
    check_layout(config.n_blocks, config.strides, where)
    if config.base_channels < 4 or config.channels_multiplier <= 0 or config.expansion_rate <= 0:
        raise ConfigError(f"{where}: base_channels must be >= 4 and the multipliers positive")
