"""Online re-parameterization (OREPA, Hu et al., CVPR 2022): a multi-branch site that trains as one convolution.

A `RepConv2d` site trains as  y = Σ_b BN_b(conv(x, W_b)):  every branch has its own BatchNorm, whose
batch statistics make the sum non-linear in the weights, so every branch convolves the input and keeps
its output for the backward; on the CPU that is most of Rep-Mobile's training step (issue 21:
the same network fused trains 2.6-3.7x faster). `OnlineRepConv2d` linearizes the branches, as OREPA
does: a learnable scale per output channel s_b takes the place of each branch's BatchNorm, and one
BatchNorm follows the sum, which is then one convolution whose kernel is assembled at every step:

    y = BN(conv(x, K)),   K = Σ_b s_b · pad(W_b)   (+ s_id · I for the identity branch)

with the smaller kernels zero-padded at the centre to the site's kh×kw and I the centred one-hot kernel
(asc.models.reparam). Building K costs a few operations on kernel-sized tensors; the step then costs one
convolution and one BatchNorm per site, as a plain Conv+BN does, whatever the number of branches.
Autograd carries the gradient of K to every W_b and s_b, so each branch keeps its own parameters and
its own share of the updates (the point of training with branches at all); what changes against
RepConv2d is that the branches are no longer normalized one by one. It is another training form of
the same deployed network, not the same function: its weights do not load into the other form.

Deployment: `reparameterize()` folds the one BatchNorm into K and leaves exactly what RepConv2d leaves,
one `fused` nn.Conv2d with bias (same shapes, parameters and MACs, same state-dict keys), so
counting, export and int8 quantisation, which act on the fused network, cannot tell the two apart.

Initialization: every scale starts at 1, except the identity's. The branch kernels get Rep-Mobile's
Kaiming fan-out initialization, which gives every convolution branch of a site the same expected
squared norm per output channel, 2·(in/groups)/out whatever the kernel's shape; the identity kernel's
norm is 1, so its scale starts at that expected norm, sqrt(2·(in/groups)/out), and all branches start
with equal shares of K, as the per-branch BatchNorms (γ = 1) give them in RepConv2d.

Pruning: `keep_out_channels` / `keep_in_channels` slice every branch kernel, its scale and the
BatchNorm (asc.prune works on either form). torch-pruning's tracer cannot follow this form: no
convolution module runs in its forward, the kernel is computed.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from asc.models.reparam import (RepConv2d, centre_padding, fold_batchnorm, pad_kernel, slice_batchnorm,
                                slice_conv)


def _per_channel(v: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, 1, 1, 1)


class ScaledConv(nn.Module):
    """One convolution branch of an online site: its kernel `conv.weight` times a scale per output channel."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: tuple[int, int],
                 stride: tuple[int, int], groups: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, centre_padding(kernel_size),
                              groups=groups, bias=False)
        self.scale = nn.Parameter(torch.ones(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The branch computed on its own (the reference; the site sums kernels instead)."""
        return self.conv(x) * self.scale.reshape(1, -1, 1, 1)

    def scaled_kernel(self) -> torch.Tensor:
        """s·W: this branch's share of the site's kernel, in its own kernel shape."""
        return self.conv.weight * _per_channel(self.scale)


class ScaledIdentity(nn.Module):
    """The identity branch of an online site: the input times a scale per channel."""

    def __init__(self, channels: int, initial_scale: float = 1.0):
        super().__init__()
        self.scale = nn.Parameter(torch.full((channels,), float(initial_scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The branch computed on its own (the reference)."""
        return x * self.scale.reshape(1, -1, 1, 1)


class OnlineRepConv2d(RepConv2d):
    """A re-parameterizable site trained in OREPA's online form (see the module docstring).

    Same constructor, branch names, channel bookkeeping, pruning and deployment form as RepConv2d."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int] = 3,
                 stride: int | Sequence[int] = 1, groups: int = 1,
                 branches: Iterable[str] = ("kxk",)):
        super().__init__(in_channels, out_channels, kernel_size, stride, groups, branches)
        self.bn = nn.BatchNorm2d(out_channels)

    def _conv_branch(self, in_channels: int, out_channels: int, shape: tuple[int, int],
                     groups: int) -> nn.Module:
        return ScaledConv(in_channels, out_channels, shape, self.stride, groups)

    def _identity_branch(self, channels: int, groups: int) -> nn.Module:
        # the expected norm per output channel of a Kaiming fan-out kernel of this site (in = out =
        # channels): the identity starts with the same share as each convolution branch (docstring)
        return ScaledIdentity(channels, math.sqrt(2.0 / groups))

    def kernel(self) -> torch.Tensor:
        """K = Σ_b s_b·pad(W_b) (+ s_id·I): the site's one kernel before its BatchNorm."""
        total = None
        for branch in self.branches.values():
            if isinstance(branch, ScaledIdentity):
                part = self._identity_kernel(branch.scale) * _per_channel(branch.scale)
            else:
                part = pad_kernel(branch.scaled_kernel(), self.kernel_size)
            total = part if total is None else total + part
        return total

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused is not None:
            return self.fused(x)
        if not self.bn.training and self.bn.track_running_stats:   # eval: the BatchNorm folds in
            weight, bias = self.fused_kernel()
            return F.conv2d(x, weight, bias, self.stride, centre_padding(self.kernel_size), 1, self.groups)
        return self.bn(F.conv2d(x, self.kernel(), None, self.stride, centre_padding(self.kernel_size), 1,
                                self.groups))

    def forward_branches(self, x: torch.Tensor) -> torch.Tensor:
        """BN(Σ_b s_b·conv(x, W_b)) computed branch by branch: the definition (and the reference)."""
        total = None
        for branch in self.branches.values():
            y = branch(x)
            total = y if total is None else total + y
        return self.bn(total)

    def batchnorms(self) -> list[nn.BatchNorm2d]:
        """The one BatchNorm on the site's outputs (none once fused)."""
        return [] if self.fused is not None else [self.bn]

    def branch_kernels(self) -> dict[str, torch.Tensor]:
        """Each branch's share of the fused kernel (s_b·W_b with the BatchNorm's γ/σ folded in) in the
        branch's own kernel shape; the identity branch's is its factor per channel. Empty once fused."""
        if self.fused is not None:
            return {}
        fold = fold_batchnorm(_per_channel(torch.ones_like(self.bn.running_var)), None, self.bn)[0]
        kernels = {}
        for name, branch in self.branches.items():
            share = _per_channel(branch.scale) if isinstance(branch, ScaledIdentity) else branch.scaled_kernel()
            kernels[name] = share * fold
        return kernels

    def fused_kernel(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Kernel and bias of the one convolution equal to the site in eval mode."""
        if self.fused is not None:
            return self.fused.weight, self.fused.bias
        return fold_batchnorm(self.kernel(), None, self.bn)

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Replace branches and BatchNorm by one convolution with bias, as RepConv2d; a no-op once fused."""
        if self.fused is not None:
            return
        super().reparameterize()
        del self.bn

    @torch.no_grad()
    def keep_out_channels(self, index: torch.Tensor) -> None:
        """Keep only the output channels `index` in every branch kernel and scale and in the BatchNorm."""
        super().keep_out_channels(index)
        if self.fused is None:
            self.bn = slice_batchnorm(self.bn, torch.as_tensor(index, dtype=torch.long))

    def _branch_out_channels(self, branch: nn.Module, index: torch.Tensor, depthwise: bool) -> nn.Module:
        if isinstance(branch, ScaledConv):
            branch.conv = slice_conv(branch.conv, out_index=index, depthwise=depthwise)
        branch.scale = nn.Parameter(branch.scale[index].clone())
        return branch

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.fused is not None else ", online")
