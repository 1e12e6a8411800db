"""CP-ResNet, the CNN teacher: a ResNet whose receptive field is regularized (Koutini et al., 2019,
"Receptive-Field-Regularized CNN Variants for Acoustic Scene Classification"; the teacher of CP-JKU's
DCASE22-24 systems).

A 5x5 stride-2 stem, three stages of basic residual blocks (two convolutions each, BatchNorm, ReLU after
the sum) with max-pooling inside the first stage, and a classifier made of a 1x1 convolution to the
classes, BatchNorm and global average pooling. The receptive field is set by one number, rho: in the
published configuration (4 blocks per stage, pools after blocks 1, 2 and 4 of stage 1) the first
convolution of the network is 3x3, the second 1x1, and the j-th of the remaining convolutions (j = 0,
1, ..., in network order) is 3x3 if j < rho and 1x1 otherwise. This reproduces the kernel table of
CP-JKU's `get_model` (rho = 7 + extra, spread "default") exactly; other layouts follow the same rule.
Small rho keeps the late layers 1x1, which limits the receptive field and is what makes the model
generalize on acoustic scenes.
"""
from __future__ import annotations

import math
from typing import Literal, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from asc.models import register


class BasicBlock(nn.Module):
    """conv(k1)-BN-ReLU-conv(k2)-BN plus a shortcut (1x1 conv + BN when the width changes), then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, k1: int, k2: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, k1, padding=k1 // 2, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, k2, padding=k2 // 2, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Sequential()
        if in_channels != out_channels:
            self.shortcut.add_module("conv", nn.Conv2d(in_channels, out_channels, 1, bias=False))
            self.shortcut.add_module("bn", nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


def kernel_sizes(blocks_per_stage: Sequence[int], rho: int) -> list[list[tuple[int, int]]]:
    """(k1, k2) of every block, per stage, for receptive-field parameter `rho` (see the module doc)."""
    stages: list[list[tuple[int, int]]] = []
    j = 0
    for n_blocks in blocks_per_stage:
        stage = []
        for _ in range(n_blocks):
            if not stages and not stage:
                stage.append((3, 1))  # the first block is fixed
                continue
            stage.append((3 if j < rho else 1, 3 if j + 1 < rho else 1))
            j += 2
        stages.append(stage)
    return stages


@register("cp_resnet")
class CPResNet(nn.Module):
    """CP-ResNet: log-mel [B, 1, mels, frames] to logits [B, n_classes].

    Widths are base_channels * channels_multiplier**stage. `maxpools[s]` lists the positions in stage s
    after which a 2x2 max-pool follows (0 = before the first block). The defaults are the CP-JKU DCASE23
    teacher (rho 7, 32 base channels, 4-4-4 blocks, pools after blocks 1, 2, 4 of stage 1).
    """

    # Classifier parameters; load_pretrained keeps them as initialized for another class count.
    pretrained_heads = ("head.",)

    def __init__(self, n_classes: int = 10, in_channels: int = 1, base_channels: int = 32,
                 channels_multiplier: int = 2, blocks_per_stage: Sequence[int] = (4, 4, 4), rho: int = 7,
                 maxpools: Sequence[Sequence[int]] = ((1, 2, 4), (), ()),
                 weight_init: Literal["fixup", "kaiming"] = "fixup"):
        super().__init__()
        if len(maxpools) != len(blocks_per_stage):
            raise ValueError(f"maxpools has {len(maxpools)} entries for {len(blocks_per_stage)} stages")
        if any(n < 1 for n in blocks_per_stage):
            raise ValueError(f"every stage needs at least one block, got blocks_per_stage={list(blocks_per_stage)}")
        if weight_init not in ("fixup", "kaiming"):
            raise ValueError(f"weight_init must be 'fixup' or 'kaiming', got {weight_init!r}")
        widths = [base_channels * channels_multiplier ** s for s in range(len(blocks_per_stage))]
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, widths[0], 5, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True))
        self.stages = nn.ModuleList()
        c_in = widths[0]
        for width, kernels, pools in zip(widths, kernel_sizes(blocks_per_stage, rho), maxpools):
            self.stages.append(self._stage(c_in, width, kernels, set(pools)))
            c_in = width
        self.head = nn.Sequential()
        self.head.add_module("conv", nn.Conv2d(c_in, n_classes, 1, bias=False))
        self.head.add_module("bn", nn.BatchNorm2d(n_classes))
        self._init_weights(weight_init)

    @staticmethod
    def _stage(c_in: int, c_out: int, kernels: list[tuple[int, int]], pools: set[int]) -> nn.Sequential:
        bad = sorted(p for p in pools if not 0 <= p <= len(kernels))
        if bad:
            raise ValueError(f"max-pool positions {bad} outside 0..{len(kernels)}")
        stage = nn.Sequential()
        if 0 in pools:
            stage.add_module("pool0", nn.MaxPool2d(2, 2))
        for i, (k1, k2) in enumerate(kernels, start=1):
            stage.add_module(f"block{i}", BasicBlock(c_in, c_out, k1, k2))
            c_in = c_out
            if i in pools:
                stage.add_module(f"pool{i}", nn.MaxPool2d(2, 2))
        return stage

    def _init_weights(self, mode: str) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if mode == "fixup":
            self._init_fixup()

    def _init_fixup(self) -> None:
        # As CP-JKU's "fixup" init: each residual branch starts as zero (conv2 = 0) with its first conv
        # scaled by 1/sqrt(number of blocks), and the classifier starts at zero.
        blocks = [m for m in self.modules() if isinstance(m, BasicBlock)]
        scale = len(blocks) ** -0.5
        for b in blocks:
            n = b.conv1.kernel_size[0] * b.conv1.kernel_size[1] * b.conv1.out_channels
            nn.init.normal_(b.conv1.weight, 0.0, scale * math.sqrt(2.0 / n))
            nn.init.zeros_(b.conv2.weight)
            if hasattr(b.shortcut, "conv"):
                conv = b.shortcut.conv
                n = conv.kernel_size[0] * conv.kernel_size[1] * conv.out_channels
                nn.init.normal_(conv.weight, 0.0, math.sqrt(2.0 / n))
        nn.init.zeros_(self.head.conv.weight)

    def receptive_field(self) -> int:
        """Receptive field (input bins along one axis) of one position before the global pooling."""
        layers = [(self.stem[0].kernel_size[0], self.stem[0].stride[0])]  # (kernel, stride)
        for stage in self.stages:
            for m in stage:
                if isinstance(m, nn.MaxPool2d):
                    layers.append((2, 2))
                else:
                    layers += [(m.conv1.kernel_size[0], 1), (m.conv2.kernel_size[0], 1)]
        rf, jump = 1, 1
        for k, s in layers:
            rf += (k - 1) * jump
            jump *= s
        return rf

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        x = self.head(x)
        return x.mean(dim=(2, 3))
