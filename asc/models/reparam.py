"""Re-parameterizable convolutions: parallel linear branches in training, one convolution in deployment.

A `RepConv2d` site computes  y = Σ_b BN_b(conv_b(x))  over its branches b, with no non-linearity
inside the sum (the activation, if any, comes after the site). Branches, named for their kernel
relative to the site's kh×kw kernel (the input is [batch, channels, mel bins, frames], so height is
frequency and width is time):

    "kxk"       the full kh×kw kernel
    "1x1"       a pointwise kernel
    "kx1"       kh×1: along frequency only
    "1xk"       1×kw: along time only
    "identity"  BatchNorm of the input alone, added only where shapes allow it
                (as many output as input channels, stride 1); silently left out elsewhere

Because the sum is linear, it is one convolution: each branch's BatchNorm is folded into its kernel
(w·γ/σ and β − μ·γ/σ with the running statistics), the smaller kernels are zero-padded to kh×kw at
the centre (odd kernels and paddings kh//2, kw//2 put every branch on the same sampling grid for any
stride), the identity becomes a centred one-hot kernel, and the kernels and biases add up.
`reparameterize()` replaces the branches by that single `nn.Conv2d(bias=True)`, kept as the
attribute `fused`; the result equals the training form in eval mode. A site with a single branch is
simply Conv+BN, so the same class gives every family its BatchNorm folding.

Pruning (structured, whole channels): all branches of a site share the output-channel index, and so
do their BatchNorms. `keep_out_channels(idx)` and `keep_in_channels(idx)` shrink every branch, every
BatchNorm (and the fused convolution, if the site is already fused) to the kept channels; on a
depthwise site (groups = in = out) `keep_out_channels` shrinks input, output and groups together.
A site reads its channel counts from its convolutions, so a library that edits the convolutions in
place (torch-pruning) leaves it consistent as well.

Another training form of the same site: `asc.models.online_reparam.OnlineRepConv2d` (OREPA) subclasses
this one (same constructor, branch names, channel bookkeeping, pruning and deployment form) but scales
its branch kernels and sums them into one before a single BatchNorm. Both forms answer
`branch_kernels()` and `batchnorms()`, which is what pruning importance reads (asc.prune.importance).

Speed. A multi-branch site computes the same function with less work than branch by branch: in
training mode its forward is one convolution with the batch-normalized kernels summed, its backward
BatchNorm's and the convolution's own kernels per branch (asc.models.rep_training); in eval mode it
is the one convolution of `fused_kernel()`. Branch by
branch (`forward_branches`, the reference) remains where that does not apply: a BatchNorm other than
nn.BatchNorm2d with affine parameters and running statistics (e.g. the DDP GlobalBatchNorm2d),
forward hooks on a branch (tracers such as torch-pruning's must see every branch run), autocast,
JIT/FX tracing, or `FAST_PATH = False` (bench/train_step.py times the two side by side).
"""
from __future__ import annotations

from typing import Iterable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from asc.models import rep_training

BRANCHES = ("kxk", "1x1", "kx1", "1xk", "identity")
CONV_BRANCHES = ("kxk", "1x1", "kx1", "1xk")
# False: every multi-branch site computes branch by branch (the reference; bench and tests set it)
FAST_PATH = True


def fold_batchnorm(weight: torch.Tensor, bias: torch.Tensor | None,
                   bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Kernel and bias of conv(weight, bias) followed by `bn` in eval mode, as one convolution."""
    std = torch.sqrt(bn.running_var + bn.eps)
    gamma = bn.weight if bn.affine else torch.ones_like(std)
    beta = bn.bias if bn.affine else torch.zeros_like(std)
    scale = gamma / std
    conv_bias = bias if bias is not None else torch.zeros_like(std)
    return weight * scale.reshape(-1, 1, 1, 1), beta + (conv_bias - bn.running_mean) * scale


def pad_kernel(weight: torch.Tensor, kernel_size: tuple[int, int]) -> torch.Tensor:
    """`weight` zero-padded at the centre to `kernel_size` (both odd), so it acts on the same grid."""
    kh, kw = kernel_size
    h, w = weight.shape[-2:]
    ph, pw = (kh - h) // 2, (kw - w) // 2
    return F.pad(weight, (pw, pw, ph, ph))


def identity_kernel(channels: int, groups: int, kernel_size: tuple[int, int],
                    like: torch.Tensor) -> torch.Tensor:
    """The kernel of a (grouped) convolution that copies its input: a centred one-hot per channel."""
    kh, kw = kernel_size
    in_per_group = channels // groups
    weight = torch.zeros(channels, in_per_group, kh, kw, dtype=like.dtype, device=like.device)
    index = torch.arange(channels, device=like.device)
    weight[index, index % in_per_group, kh // 2, kw // 2] = 1.0
    return weight


class ConvBN(nn.Module):
    """One branch: a convolution without bias followed by its own BatchNorm."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int],
                 stride: tuple[int, int], groups: int):
        super().__init__()
        padding = (kernel_size[0] // 2, kernel_size[1] // 2)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding,
                              groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))

    def folded(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Kernel and bias of this branch with its BatchNorm folded in."""
        return fold_batchnorm(self.conv.weight, self.conv.bias, self.bn)


class RepConv2d(nn.Module):
    """A convolution site trained as parallel re-parameterizable branches (see the module docstring)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int] = 3,
                 stride: int | Sequence[int] = 1, groups: int = 1,
                 branches: Iterable[str] = ("kxk",)):
        super().__init__()
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride)
        if any(k % 2 == 0 for k in self.kernel_size):
            raise ValueError(f"kernel size {self.kernel_size}: must be odd so that branches line up")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"groups {groups} must divide {in_channels} and {out_channels} channels")
        fits = identity_fits(in_channels, out_channels, self.stride)
        self.branches = nn.ModuleDict()
        for name, shape in _branch_shapes(tuple(branches), self.kernel_size).items():
            if shape is None:
                if fits:
                    self.branches[name] = self._identity_branch(out_channels, groups)
            else:
                self.branches[name] = self._conv_branch(in_channels, out_channels, shape, groups)
        self.fused: nn.Conv2d | None = None

    def _conv_branch(self, in_channels: int, out_channels: int, shape: tuple[int, int],
                     groups: int) -> nn.Module:
        """A convolution branch of this training form (here Conv+BN); its kernel is its `.conv`."""
        return ConvBN(in_channels, out_channels, shape, self.stride, groups)

    def _identity_branch(self, channels: int, groups: int) -> nn.Module:
        """The identity branch of this training form (here a BatchNorm of the input)."""
        return nn.BatchNorm2d(channels)

    # Channel counts are read from the convolutions themselves, so that they stay right whoever
    # shrinks the tensors (these methods, or a library such as torch-pruning that edits the convs).
    def _reference_conv(self) -> nn.Conv2d:
        if self.fused is not None:
            return self.fused
        return next(b.conv for b in self.branches.values() if hasattr(b, "conv"))

    @property
    def in_channels(self) -> int:
        """Input channels of the site."""
        return self._reference_conv().in_channels

    @property
    def out_channels(self) -> int:
        """Output channels of the site."""
        return self._reference_conv().out_channels

    @property
    def groups(self) -> int:
        """Convolution groups (the channel count on a depthwise site)."""
        return self._reference_conv().groups

    @property
    def is_depthwise(self) -> bool:
        """One filter per channel: input, output and groups shrink together when pruned."""
        return self.groups > 1 and self.groups == self.in_channels == self.out_channels

    @property
    def branch_names(self) -> list[str]:
        """Branches present (empty once fused)."""
        return list(self.branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused is not None:
            return self.fused(x)
        if len(self.branches) > 1 and FAST_PATH and self._fast_path_applies(x):
            if not self.training:
                weight, bias = self.fused_kernel()
                return F.conv2d(x, weight, bias, self.stride, centre_padding(self.kernel_size), 1, self.groups)
            return self._training_step(x)
        return self.forward_branches(x)

    def forward_branches(self, x: torch.Tensor) -> torch.Tensor:
        """The sum of the branches computed branch by branch: the definition (and the reference)."""
        out = None
        for branch in self.branches.values():
            y = branch(x)
            out = y if out is None else out + y
        return out

    def _batchnorms(self) -> list[nn.BatchNorm2d]:
        return [b.bn if isinstance(b, ConvBN) else b for b in self.branches.values()]

    def _fast_path_applies(self, x: torch.Tensor) -> bool:
        """Whether the one-convolution computation gives what the branches would (module docstring)."""
        if torch.jit.is_tracing() or isinstance(x, torch.fx.Proxy) or torch.is_autocast_enabled(x.device.type):
            return False
        for branch in self.branches.values():
            if branch._forward_hooks or branch._forward_pre_hooks:
                return False
            parts = (branch.conv, branch.bn) if isinstance(branch, ConvBN) else ()
            if any(m._forward_hooks or m._forward_pre_hooks for m in parts):
                return False
        for bn in self._batchnorms():
            if (type(bn) is not nn.BatchNorm2d or not bn.affine or not bn.track_running_stats
                    or bn.training != self.training):
                return False
        return True

    def _training_step(self, x: torch.Tensor) -> torch.Tensor:
        """Training-mode forward through asc.models.rep_training (batch statistics, running stats updated)."""
        out_size = [(n + 2 * p - k) // s + 1 for n, p, k, s in
                    zip(x.shape[-2:], centre_padding(self.kernel_size), self.kernel_size, self.stride)]
        if x.shape[0] * out_size[0] * out_size[1] <= 1:
            return self.forward_branches(x)     # BatchNorm's own error: one value per channel
        branches, weights, gammas, betas = [], [], [], []
        identity = None
        for name, branch in self.branches.items():
            bn = branch.bn if isinstance(branch, ConvBN) else branch
            bn.num_batches_tracked.add_(1)
            momentum = bn.momentum if bn.momentum is not None else 1.0 / float(bn.num_batches_tracked)
            if isinstance(branch, ConvBN):
                kh, kw = branch.conv.kernel_size
                crop = ((self.kernel_size[0] - kh) // 2, (self.kernel_size[1] - kw) // 2, kh, kw)
                weights.append(branch.conv.weight)
                padding = branch.conv.padding
            else:
                identity = self._identity_kernel(x)
                crop, padding = (0, 0) + self.kernel_size, centre_padding(self.kernel_size)
                weights.append(None)
            branches.append(rep_training.Branch(name == "identity", padding, crop, bn.running_mean,
                                                bn.running_var, momentum, bn.eps))
            gammas.append(bn.weight)
            betas.append(bn.bias)
        site = rep_training.Site(self.stride, centre_padding(self.kernel_size), self.groups, self.kernel_size, identity)
        return rep_training.site_step(x, site, branches, weights, gammas, betas)

    def _identity_kernel(self, like: torch.Tensor) -> torch.Tensor:
        """identity_kernel of this site, kept between steps (it depends only on shape, dtype, device)."""
        key = (self.out_channels, self.groups, self.kernel_size, like.dtype, like.device)
        cached = getattr(self, "_identity_cache", None)
        if cached is None or cached[0] != key:
            cached = (key, identity_kernel(self.out_channels, self.groups, self.kernel_size, like))
            self._identity_cache = cached
        return cached[1]

    def batchnorms(self) -> list[nn.BatchNorm2d]:
        """The BatchNorms on the site's outputs (one per branch here; none once fused)."""
        return self._batchnorms()

    def branch_kernels(self) -> dict[str, torch.Tensor]:
        """Each branch's share of the fused kernel (BatchNorm folded in) in the branch's own kernel
        shape; the identity branch's is its factor per channel, [out, 1, 1, 1]. Empty once fused."""
        kernels = {}
        for name, branch in self.branches.items():
            if isinstance(branch, ConvBN):
                kernels[name] = branch.folded()[0]
            else:
                ones = torch.ones(branch.num_features, 1, 1, 1, device=branch.running_mean.device)
                kernels[name] = fold_batchnorm(ones, None, branch)[0]
        return kernels

    def fused_kernel(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Kernel and bias of the one convolution equal to the sum of the branches in eval mode."""
        if self.fused is not None:
            return self.fused.weight, self.fused.bias
        weight, bias = None, None
        for name, branch in self.branches.items():
            if name == "identity":
                like = branch.running_mean
                w, b = fold_batchnorm(identity_kernel(self.out_channels, self.groups, self.kernel_size,
                                                      like), None, branch)
            else:
                w, b = branch.folded()
                w = pad_kernel(w, self.kernel_size)
            weight = w if weight is None else weight + w
            bias = b if bias is None else bias + b
        return weight, bias

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Replace the branches by one convolution with bias (BatchNorms folded); a no-op once fused."""
        if self.fused is not None:
            return
        weight, bias = self.fused_kernel()
        conv = nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size, self.stride,
                         (self.kernel_size[0] // 2, self.kernel_size[1] // 2), groups=self.groups,
                         bias=True).to(weight.device, weight.dtype)
        conv.weight.copy_(weight)
        conv.bias.copy_(bias)
        self.branches = nn.ModuleDict()
        self.fused = conv

    @torch.no_grad()
    def keep_out_channels(self, index: torch.Tensor) -> None:
        """Keep only the output channels `index` in every branch and BatchNorm (depthwise: input too)."""
        index = torch.as_tensor(index, dtype=torch.long)
        if "identity" in self.branches and not self.is_depthwise:
            raise ValueError("an identity branch ties input to output channels; "
                             "pruning only the outputs would break it")
        depthwise = self.is_depthwise
        for name, branch in self.branches.items():
            self.branches[name] = self._branch_out_channels(branch, index, depthwise)
        if self.fused is not None:
            self.fused = slice_conv(self.fused, out_index=index, depthwise=depthwise)

    def _branch_out_channels(self, branch: nn.Module, index: torch.Tensor, depthwise: bool) -> nn.Module:
        """`branch` with only the output channels `index` (its convolution and BatchNorm sliced)."""
        if isinstance(branch, ConvBN):
            branch.conv = slice_conv(branch.conv, out_index=index, depthwise=depthwise)
            branch.bn = slice_batchnorm(branch.bn, index)
            return branch
        return slice_batchnorm(branch, index)

    @torch.no_grad()
    def keep_in_channels(self, index: torch.Tensor) -> None:
        """Keep only the input channels `index` in every branch (ungrouped sites only)."""
        index = torch.as_tensor(index, dtype=torch.long)
        if self.groups != 1:
            raise ValueError("input channels of a grouped site shrink with its outputs "
                             "(keep_out_channels on a depthwise site)")
        if "identity" in self.branches:
            raise ValueError("an identity branch ties input to output channels; "
                             "pruning only the inputs would break it")
        for branch in self.branches.values():
            branch.conv = slice_conv(branch.conv, in_index=index)
        if self.fused is not None:
            self.fused = slice_conv(self.fused, in_index=index)

    def extra_repr(self) -> str:
        state = "fused" if self.fused is not None else f"branches={self.branch_names}"
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, groups={self.groups}, {state}")


def identity_fits(in_channels: int, out_channels: int, stride: int | Sequence[int]) -> bool:
    """Whether a site of these shapes has its identity branch (as many outputs as inputs, stride 1)."""
    return in_channels == out_channels and _pair(stride) == (1, 1)


def centre_padding(kernel_size: tuple[int, int]) -> tuple[int, int]:
    """The padding that centres an odd kernel (every branch of a site is on the same grid)."""
    return kernel_size[0] // 2, kernel_size[1] // 2


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    pair = tuple(int(v) for v in value)
    if len(pair) != 2:
        raise ValueError(f"expected one or two integers, found {value!r}")
    return pair


def _branch_shapes(branches: tuple[str, ...],
                   kernel: tuple[int, int]) -> dict[str, tuple[int, int] | None]:
    """Kernel shape of each requested branch (None for identity), refusing unknown or duplicate ones."""
    unknown = [b for b in branches if b not in BRANCHES]
    if unknown:
        raise ValueError(f"unknown branch(es) {unknown}; known: {list(BRANCHES)}")
    if len(set(branches)) != len(branches):
        raise ValueError(f"branch listed twice in {list(branches)}")
    if not any(b in CONV_BRANCHES for b in branches):
        raise ValueError(f"branches {list(branches)}: at least one convolution branch is needed")
    kh, kw = kernel
    table = {"kxk": (kh, kw), "1x1": (1, 1), "kx1": (kh, 1), "1xk": (1, kw), "identity": None}
    shapes: dict[str, tuple[int, int] | None] = {}
    for name in branches:
        if table[name] is not None and table[name] in shapes.values():
            raise ValueError(f"branches {list(branches)}: '{name}' has the same {table[name]} kernel "
                             f"as another branch for a {kernel} site")
        shapes[name] = table[name]
    return shapes


def slice_conv(conv: nn.Conv2d, out_index: torch.Tensor | None = None,
               in_index: torch.Tensor | None = None, depthwise: bool = False) -> nn.Conv2d:
    """A new convolution with only the output channels `out_index` and/or input channels `in_index`
    (depthwise: groups follow the output channels)."""
    weight = conv.weight
    bias = conv.bias
    if out_index is not None:
        weight = weight[out_index]
        bias = bias[out_index] if bias is not None else None
    if in_index is not None:
        weight = weight[:, in_index]
    out_channels = weight.shape[0]
    groups = out_channels if depthwise else conv.groups
    in_channels = weight.shape[1] * groups
    new = nn.Conv2d(in_channels, out_channels, conv.kernel_size, conv.stride, conv.padding,
                    groups=groups, bias=bias is not None).to(weight.device, weight.dtype)
    new.weight.copy_(weight)
    if bias is not None:
        new.bias.copy_(bias)
    new.train(conv.training)
    return new


def slice_batchnorm(bn: nn.BatchNorm2d, index: torch.Tensor) -> nn.BatchNorm2d:
    """A new BatchNorm with only the channels `index` (parameters and running statistics)."""
    new = nn.BatchNorm2d(len(index), eps=bn.eps, momentum=bn.momentum, affine=bn.affine,
                         track_running_stats=bn.track_running_stats).to(bn.running_mean.device)
    if bn.affine:
        new.weight.copy_(bn.weight[index])
        new.bias.copy_(bn.bias[index])
    new.running_mean.copy_(bn.running_mean[index])
    new.running_var.copy_(bn.running_var[index])
    new.num_batches_tracked.copy_(bn.num_batches_tracked)
    new.train(bn.training)
    return new
