"""Rep-Mobile (Han et al., DCASE2024 Task 1 winner): CP-Mobile with re-parameterizable convolutions.

Architecture (training form), input [batch, 1, mels, frames]:

    stem    RepConv(stem_kernel_size, stride 2) → ReLU, once per entry of `stem_channels`
    stages  inverted-bottleneck blocks, `n_blocks[s]` of them in stage s, each
                exp  RepConv 1×1, in → e        → ReLU      (e = the block's expansion channels)
                dw   RepConv k×k depthwise, e → e, stride → ReLU
                proj RepConv 1×1, e → out
                + shortcut where the block has one (identity, or 3×3 average pooling when strided)
                → ReLU
    head    RepConv 1×1 → n_classes, global average pooling → logits

Every RepConv site (asc.models.reparam) is a sum of branches, each with its own BatchNorm and no
non-linearity inside the sum: the depthwise convolutions use `dw_branches` (default k×k, 1×1, k×1
for frequency, 1×k for time, and the identity BatchNorm where the block is not strided), the stem
`stem_branches`, the pointwise ones `pw_branches`. With `train_form: online` the multi-branch
sites train instead in OREPA's online form (asc.models.online_reparam: each branch kernel scaled per
output channel, all summed into one kernel, then one convolution and one BatchNorm per site: a faster
step; another training form of the same deployed network; a site left with one branch is Conv+BN in
both forms). `asc.models.reparameterize(model)` fuses each site into one convolution with bias: the
deployment form, equal in eval mode, which is what DCASE counts. The default configuration's
deployment form meets the DCASE2024 limits at float16 (≤ 64,000 parameters, ≤ 30 M MACs for
1×256×65); `WIDE` (also conf/*/model_rep_mobile_wide.yaml) is the larger starting point for
progressive pruning.

Pruning. Every channel count is explicit in the config: `stem_channels`, `stage_channels` (the
channels a stage's residual path carries), `expansion_channels` (one per block; by default
make_divisible(block input · expansion_rate)) and `shortcuts` (one flag per block). Two ways to
shrink the network, both in the training form (or the deployment form):
  - by hand: `block.prune_expansion(keep)` keeps the expansion channels `keep` of a block, slicing
    the exp site's outputs, every branch and BatchNorm of the depthwise site (and its groups) and
    the proj site's inputs consistently (`RepConv2d.keep_out_channels` / `keep_in_channels`);
  - with torch-pruning (tested; the default train_form only, its tracer cannot see the computed kernel
    of the online form): its dependency graph sees the branches as convolutions summed into
    one tensor, so it removes a channel from every branch, every BatchNorm and the identity branch
    together, and couples the channels shared across residual connections; keep `model.head`
    among the ignored layers so the 10 classes stay.
Channel counts of each site are read from its tensors, so either way `model.options()` then returns
the options that rebuild the pruned shapes with `build_model("rep_mobile", **options)` (widths,
expansion channels and which blocks have shortcuts, which stays exact even when pruning makes a
block's input and output widths equal): save those as `model_options` of the checkpoint.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn as nn

from asc.config import from_dict
from asc.errors import ConfigError
from asc.models import register
from asc.models.layout import check_layout, make_divisible
from asc.models.online_reparam import OnlineRepConv2d
from asc.models.reparam import BRANCHES, RepConv2d, identity_fits
from asc.models.weight_init import init_mobile_weights


@dataclass
class RepMobileConfig:
    """Options of Rep-Mobile; the defaults are the deployable model within the DCASE2024 limits."""
    n_classes: int = 10
    in_channels: int = 1
    stem_channels: list[int] = field(default_factory=lambda: [8, 32])
    stem_kernel_size: int = 3
    stage_channels: list[int] = field(default_factory=lambda: [32, 56, 104])
    n_blocks: list[int] = field(default_factory=lambda: [3, 2, 1])
    expansion_rate: float = 2.0
    # one entry per block; None: make_divisible(block input channels * expansion_rate, 8)
    expansion_channels: list[int] | None = None
    # one [frequency, time] stride per block
    strides: list[list[int]] = field(
        default_factory=lambda: [[1, 1], [1, 1], [1, 2], [2, 1], [1, 1], [1, 1]])
    kernel_size: int = 3
    dw_branches: list[str] = field(default_factory=lambda: ["kxk", "1x1", "kx1", "1xk", "identity"])
    stem_branches: list[str] = field(default_factory=lambda: ["kxk", "1x1", "kx1", "1xk"])
    pw_branches: list[str] = field(default_factory=lambda: ["1x1"])
    # one entry per block; None: a shortcut wherever input and output channels are equal
    shortcuts: list[bool] | None = None
    # how multi-branch sites train (TRAIN_FORMS): "branch_bn", a BatchNorm per branch (the published
    # Rep-Mobile); "online", OREPA: scaled branch kernels summed into one, one BatchNorm (faster step)
    train_form: Literal["branch_bn", "online"] = "branch_bn"


# The larger starting point of progressive pruning: the default widths with CP-Mobile's expansion
# rate 3.0, i.e. 1.5x the expansion channels; its deployed form is ~1.4x the default's params and
# MACs, above the limits, and pruning the expansion channels alone can bring it back within them.
WIDE = {"expansion_rate": 3.0}

# The training forms of a multi-branch site (the option train_form); both fuse into the same network.
TRAIN_FORMS = {"branch_bn": RepConv2d, "online": OnlineRepConv2d}


def make_site(train_form: str, in_channels: int, out_channels: int, kernel_size: int,
              stride: int | tuple[int, int] = 1, groups: int = 1,
              branches: list[str] = ("kxk",)) -> RepConv2d:
    """A re-parameterizable site in `train_form`. A site left with one branch is Conv+BN in either form:
    a scale in front of its only BatchNorm would change nothing (BN(s·z) = BN(z) for s > 0)."""
    identity = "identity" in branches and identity_fits(in_channels, out_channels, stride)
    n_branches = len([b for b in branches if b != "identity"]) + identity
    site_class = TRAIN_FORMS[train_form] if n_branches > 1 else RepConv2d
    return site_class(in_channels, out_channels, kernel_size, stride, groups, branches)


class RepMobileBlock(nn.Module):
    """Inverted bottleneck whose three convolutions are re-parameterizable sites."""

    def __init__(self, in_channels: int, out_channels: int, expansion_channels: int,
                 stride: tuple[int, int], kernel_size: int, shortcut: bool,
                 dw_branches: list[str], pw_branches: list[str], train_form: str = "branch_bn"):
        super().__init__()
        self.exp = make_site(train_form, in_channels, expansion_channels, 1, branches=pw_branches)
        self.dw = make_site(train_form, expansion_channels, expansion_channels, kernel_size, stride,
                            groups=expansion_channels, branches=dw_branches)
        self.proj = make_site(train_form, expansion_channels, out_channels, 1, branches=pw_branches)
        self.act = nn.ReLU()
        self.has_shortcut = shortcut
        if shortcut and tuple(stride) != (1, 1):
            self.shortcut = nn.AvgPool2d(kernel_size=3, stride=tuple(stride), padding=1)
        else:
            self.shortcut = nn.Identity()

    @property
    def expansion_channels(self) -> int:
        """Channels inside the block (the depthwise convolution's width)."""
        return self.dw.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(self.act(self.dw(self.act(self.exp(x)))))
        if self.has_shortcut:
            y = y + self.shortcut(x)
        return self.act(y)

    def prune_expansion(self, keep: torch.Tensor) -> None:
        """Keep only the expansion channels `keep`, in every branch and BatchNorm that touches them."""
        keep = torch.as_tensor(keep, dtype=torch.long)
        self.exp.keep_out_channels(keep)
        self.dw.keep_out_channels(keep)
        self.proj.keep_in_channels(keep)


class RepMobile(nn.Module):
    """Rep-Mobile: log-mel [batch, 1, mels, frames] → logits [batch, n_classes]."""

    def __init__(self, config: RepMobileConfig):
        super().__init__()
        _validate(config)
        self.config = config
        stem: list[nn.Module] = []
        channels = config.in_channels
        for width in config.stem_channels:
            stem += [make_site(config.train_form, channels, width, config.stem_kernel_size, 2,
                               branches=config.stem_branches), nn.ReLU()]
            channels = width
        self.stem = nn.Sequential(*stem)
        expansions = _expansion_channels(config)
        shortcuts = _shortcuts(config)
        self.stages = nn.Sequential()
        block = 0
        for stage, (width, count) in enumerate(zip(config.stage_channels, config.n_blocks)):
            blocks = nn.Sequential()
            for _ in range(count):
                blocks.add_module(f"b{block + 1}", RepMobileBlock(
                    channels, width, expansions[block], tuple(config.strides[block]),
                    config.kernel_size, shortcuts[block], config.dw_branches, config.pw_branches,
                    config.train_form))
                channels = width
                block += 1
            self.stages.add_module(f"s{stage + 1}", blocks)
        head_branches = [b for b in config.pw_branches if b != "identity"]
        self.head = make_site(config.train_form, channels, config.n_classes, 1, branches=head_branches)
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.apply(init_mobile_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(x))
        return self.pool(self.head(x)).flatten(1)

    def blocks(self) -> list[RepMobileBlock]:
        """All blocks in order (b1, b2, ...), e.g. for a pruner."""
        return [m for m in self.stages.modules() if isinstance(m, RepMobileBlock)]

    def options(self) -> dict:
        """Options that rebuild this network's current shapes (after pruning too) with build_model."""
        blocks = self.blocks()
        stem_sites = [m for m in self.stem if isinstance(m, RepConv2d)]
        last_of_stage = [sum(self.config.n_blocks[:s + 1]) - 1 for s in range(len(self.config.n_blocks))]
        stage_channels = [blocks[i].proj.out_channels for i in last_of_stage]
        current = dataclasses.replace(
            self.config,
            stem_channels=[site.out_channels for site in stem_sites],
            stage_channels=stage_channels,
            expansion_channels=[b.expansion_channels for b in blocks],
            shortcuts=[b.has_shortcut for b in blocks])
        return dataclasses.asdict(current)


@register("rep_mobile")
def build_rep_mobile(**options) -> RepMobile:
    """Rep-Mobile from YAML options (see RepMobileConfig); unknown or mistyped options are refused."""
    config = from_dict(RepMobileConfig, options, source="rep_mobile options")
    try:
        return RepMobile(config)
    except ValueError as e:  # a site refused its shape/branch combination
        raise ConfigError(f"rep_mobile options: {e}") from None


def _expansion_channels(config: RepMobileConfig) -> list[int]:
    if config.expansion_channels is not None:
        return list(config.expansion_channels)
    inputs = _block_inputs(config)
    return [make_divisible(c * config.expansion_rate) for c in inputs]


def _shortcuts(config: RepMobileConfig) -> list[bool]:
    if config.shortcuts is not None:
        return list(config.shortcuts)
    return [i == o for i, o in zip(_block_inputs(config), _block_outputs(config))]


def _block_inputs(config: RepMobileConfig) -> list[int]:
    first = config.stem_channels[-1] if config.stem_channels else config.in_channels
    return [first] + _block_outputs(config)[:-1]


def _block_outputs(config: RepMobileConfig) -> list[int]:
    return [w for w, n in zip(config.stage_channels, config.n_blocks) for _ in range(n)]


def _validate(config: RepMobileConfig) -> None:
    where = "rep_mobile options"
    total = sum(config.n_blocks)
    if len(config.stage_channels) != len(config.n_blocks):
        raise ConfigError(f"{where}: stage_channels has {len(config.stage_channels)} entries but "
                          f"n_blocks has {len(config.n_blocks)}; one per stage")
    check_layout(config.n_blocks, config.strides, where)
    for key in ("expansion_channels", "shortcuts"):
        value = getattr(config, key)
        if value is not None and len(value) != total:
            raise ConfigError(f"{where}: {key} has {len(value)} entries; expected one per block ({total})")
    for key in ("kernel_size", "stem_kernel_size"):
        k = getattr(config, key)
        if k < 1 or k % 2 == 0:
            raise ConfigError(f"{where}: {key} {k} must be odd and positive")
    widths = (list(config.stem_channels) + list(config.stage_channels)
              + list(config.expansion_channels or []))
    if min(widths + [config.n_classes, config.in_channels]) < 1:
        raise ConfigError(f"{where}: every channel count must be positive")
    for key in ("dw_branches", "stem_branches", "pw_branches"):
        branches = getattr(config, key)
        unknown = [b for b in branches if b not in BRANCHES]
        if unknown:
            raise ConfigError(f"{where}: {key} has unknown branch(es) {unknown}; known: {list(BRANCHES)}")
        if len(set(branches)) != len(branches) or not set(branches) - {"identity"}:
            raise ConfigError(f"{where}: {key} {branches} needs at least one convolution branch, "
                              f"each listed once")
    if config.train_form not in TRAIN_FORMS:
        raise ConfigError(f"{where}: train_form '{config.train_form}' is unknown; known: {list(TRAIN_FORMS)}")
    pointwise_extra = set(config.pw_branches) - {"1x1", "identity"}
    if pointwise_extra:
        raise ConfigError(f"{where}: pw_branches {config.pw_branches}: 1x1 convolutions only take "
                          f"'1x1' and 'identity'")
    if config.shortcuts is not None:
        for block, (flag, i, o) in enumerate(zip(config.shortcuts, _block_inputs(config),
                                                 _block_outputs(config))):
            if flag and i != o:
                raise ConfigError(f"{where}: shortcuts: block b{block + 1} maps {i} to {o} channels "
                                  f"and cannot have a shortcut")
