"""EfficientAT's MobileNetV3 for audio (Schmid, Koutini, Widmer, 2023, "Efficient Large-Scale Audio
Tagging via Transformer-to-CNN Knowledge Distillation"): the AudioSet-pretrained CNN teachers.

MobileNetV3-Large scaled by a width multiplier (mn04 = 0.4 ... mn40 = 4.0) on one-channel log-mels of
the pretrained front end (asc.features.efficientat_mel). Parameter names and shapes are those of the
official files (`mn04_as_mAP_432.pt` ...), so they load with strict key matching through
`asc.models.checkpoints.load_pretrained`; only the last linear layer (`classifier.5`, 527 AudioSet
classes) is replaced for another class count. Facts of the official code (fschmid56/EfficientAT,
models/mn/) kept here, for its default `get_model(width_mult, strides=(2, 2, 2, 2), head_type="mlp")`:
  - every conv is bias-free and followed by BatchNorm(eps 1e-3, momentum 0.01) and, except the
    projection, an activation (ReLU or Hardswish per block), padding (k - 1) // 2;
  - channels are `make_divisible(c * width, 8)`; a block without expansion has no expand conv;
  - squeeze-excitation acts on channels: mean over frequency and time, Linear to
    make_divisible(C // 4, 8), ReLU, Linear back, sigmoid (module path `conc_se_layers.0`);
  - the head: global average pool, Linear(6 * C_last, last_channel), Hardswish, Dropout(0.2),
    Linear(last_channel, classes); last_channel = make_divisible(1280 * width, 8).
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from asc.models import register

# The MobileNetV3-Large table: input, kernel, expanded, output channels (before the width multiplier),
# squeeze-excitation, Hardswish (else ReLU), and which entry of `strides` the block uses (None: stride 1).
BLOCKS = (
    (16, 3, 16, 16, False, False, None),
    (16, 3, 64, 24, False, False, 0),
    (24, 3, 72, 24, False, False, None),
    (24, 5, 72, 40, True, False, 1),
    (40, 5, 120, 40, True, False, None),
    (40, 5, 120, 40, True, False, None),
    (40, 3, 240, 80, False, True, 2),
    (80, 3, 200, 80, False, True, None),
    (80, 3, 184, 80, False, True, None),
    (80, 3, 184, 80, False, True, None),
    (80, 3, 480, 112, True, True, None),
    (112, 3, 672, 112, True, True, None),
    (112, 5, 672, 160, True, True, 3),
    (160, 5, 960, 160, True, True, None),
    (160, 5, 960, 160, True, True, None),
)
WIDTHS = {"mn04": 0.4, "mn05": 0.5, "mn10": 1.0, "mn20": 2.0, "mn30": 3.0, "mn40": 4.0}


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round to the nearest multiple of `divisor` (at least `divisor`), never more than 10 % down."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def conv_bn_act(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1,
                activation: type[nn.Module] | None = nn.ReLU) -> nn.Sequential:
    """Conv (no bias) + BatchNorm + activation, indexed 0, 1, 2 as the official files name them."""
    layers = [nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
              nn.BatchNorm2d(c_out, eps=0.001, momentum=0.01)]
    if activation is not None:
        layers.append(activation())
    return nn.Sequential(*layers)


class ChannelSE(nn.Module):
    """Squeeze-excitation over channels: x * sigmoid(fc2(relu(fc1(mean over frequency and time))))."""

    def __init__(self, channels: int, squeeze: int):
        super().__init__()
        self.fc1 = nn.Linear(channels, squeeze)
        self.fc2 = nn.Linear(squeeze, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = torch.sigmoid(self.fc2(torch.relu(self.fc1(x.mean(dim=(2, 3))))))
        return x * scale[:, :, None, None]


class ConcurrentSE(nn.Module):
    """The official wrapper around the SE layers (one, on channels, in the default configuration);
    kept so that the parameter names are `...conc_se_layers.0.fc1.weight`."""

    def __init__(self, channels: int):
        super().__init__()
        self.conc_se_layers = nn.ModuleList([ChannelSE(channels, make_divisible(channels // 4, 8))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conc_se_layers[0](x)


class InvertedResidual(nn.Module):
    """Expand (1x1, if wider), depthwise k x k (strided), optional SE, project (1x1, no activation);
    a residual sum when shape is kept."""

    def __init__(self, c_in: int, kernel: int, expanded: int, c_out: int, use_se: bool, hardswish: bool,
                 stride: int):
        super().__init__()
        act = nn.Hardswish if hardswish else nn.ReLU
        layers: list[nn.Module] = []
        if expanded != c_in:
            layers.append(conv_bn_act(c_in, expanded, 1, activation=act))
        layers.append(conv_bn_act(expanded, expanded, kernel, stride, groups=expanded, activation=act))
        if use_se:
            layers.append(ConcurrentSE(expanded))
        layers.append(conv_bn_act(expanded, c_out, 1, activation=None))
        self.block = nn.Sequential(*layers)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.block(x)
        return y + x if self.residual else y


class EfficientATMobileNet(nn.Module):
    """MobileNetV3 for log-mel [B, 1, mels, frames] -> logits [B, n_classes] (AudioSet: sigmoid scores).

    `width_mult` scales every width; `strides` are the four downsampling strides of the official
    `get_model` (default 2, 2, 2, 2; the stem has stride 2 as well).
    """

    # The last linear layer; load_pretrained keeps it as initialized when the class count differs.
    pretrained_heads = ("classifier.5.",)

    def __init__(self, n_classes: int = 527, width_mult: float = 1.0, strides: Sequence[int] = (2, 2, 2, 2),
                 in_channels: int = 1, dropout: float = 0.2):
        super().__init__()
        if len(strides) != 4 or any(s not in (1, 2) for s in strides):
            raise ValueError(f"strides must be four values of 1 or 2, found {list(strides)}")
        self.width_mult = width_mult
        width = lambda c: make_divisible(c * width_mult, 8)  # noqa: E731
        layers: list[nn.Module] = [conv_bn_act(in_channels, width(BLOCKS[0][0]), 3, 2, activation=nn.Hardswish)]
        for c_in, kernel, expanded, c_out, use_se, hardswish, stride_index in BLOCKS:
            stride = 1 if stride_index is None else strides[stride_index]
            layers.append(InvertedResidual(width(c_in), kernel, width(expanded), width(c_out), use_se,
                                           hardswish, stride))
        last_in = width(BLOCKS[-1][3])
        layers.append(conv_bn_act(last_in, 6 * last_in, 1, activation=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        last_channel = width(1280)
        self.classifier = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(1), nn.Linear(6 * last_in, last_channel), nn.Hardswish(),
            nn.Dropout(dropout), nn.Linear(last_channel, n_classes))
        self._init_weights()

    def _init_weights(self) -> None:
        """As upstream: Kaiming (fan out) convs, unit BatchNorm, N(0, 0.01) linear layers."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def embedding(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled last feature map [B, 6 * C_last] (what linear probes read)."""
        return self.features(x).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _named(name: str):
    width = WIDTHS[name]

    def build(n_classes: int = 527, strides: Sequence[int] = (2, 2, 2, 2), in_channels: int = 1,
              dropout: float = 0.2) -> EfficientATMobileNet:
        return EfficientATMobileNet(n_classes, width, strides, in_channels, dropout)

    build.__doc__ = f"EfficientAT {name} (width {width}): the architecture of the official {name}_as files."
    return build


register("mn")(EfficientATMobileNet)
for _name in WIDTHS:
    register(_name)(_named(_name))

__all__ = ["EfficientATMobileNet", "InvertedResidual", "make_divisible", "WIDTHS", "BLOCKS"]
