"""The training step of a multi-branch RepConv2d site with its forward as one convolution, exactly.

A site in training computes  y = Σ_b BN_b(z_b),  z_b = conv(x, W_b),  each BatchNorm with the batch
statistics μ_b, σ_b of its own branch (the identity branch: z = x). Branch by branch, the forward
writes and reads every branch's conv output, its normalized output and a partial sum; on the CPU
that memory traffic, not arithmetic, is most of the step (bench/train_step.py --quick).

With s_b = γ_b/σ_b every BN_b is affine in z_b once its statistics are known, and a sum of linear
branches is one convolution:

    forward    z_b and its statistics (torch.batch_norm_update_stats: the kernel BatchNorm itself
               uses, so the running statistics move bit for bit as BatchNorm moves them), then
               y = conv(x, K) + Σ_b (β_b − μ_b s_b),   K = Σ_b s_b · W_b (zero-padded to the site's
               kernel; the identity branch a centred one-hot kernel): no normalized map, no partial sum
    backward   per branch, BatchNorm's own backward kernel (native_batch_norm_backward with the saved
               statistics) and the convolution's (convolution_backward): the very computation
               autograd runs branch by branch, without its graph of additions.

What was measured and not kept (bench figures in the report of issue 21): one convolution over all
branches concatenated along the output channels with one BatchNorm over them (oneDNN's grouped
convolution with several outputs per group is 5-10x slower than the depthwise kernels, 0.25x in
all); a hand-derived backward that takes every Σ g·z_b from the weight gradient of the one
convolution instead of BatchNorm's backward (as fast as the native backward here: the extra
convolution backward costs what the BatchNorm backwards save).

The same values as the per-branch computation up to float rounding (tests/models/test_rep_training.py
checks outputs, gradients and running statistics against it in float64, and gradcheck). Only the
training mode of a plain site takes this path; asc.models.reparam.RepConv2d decides
(`_fast_path_applies`) and otherwise computes branch by branch.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

Conv = torch.ops.aten.convolution_backward


@dataclass(frozen=True)
class Branch:
    """What the step needs of one branch: its kernel's placement and its BatchNorm's buffers."""
    identity: bool
    padding: tuple[int, int]          # the branch's own padding (its kernel's centre)
    crop: tuple[int, int, int, int]   # rows and columns of the site's kernel that the branch covers
    running_mean: torch.Tensor
    running_var: torch.Tensor
    momentum: float
    eps: float


@dataclass(frozen=True)
class Site:
    """The site's geometry."""
    stride: tuple[int, int]
    padding: tuple[int, int]
    groups: int
    kernel_size: tuple[int, int]
    identity_kernel: torch.Tensor | None   # centred one-hot kernel in the site's shape, if needed


def site_step(x: torch.Tensor, site: Site, branches: list[Branch], weights: list[torch.Tensor | None],
              gammas: list[torch.Tensor], betas: list[torch.Tensor]) -> torch.Tensor:
    """Σ_b BN_b(conv(x, W_b)) in training mode (batch statistics; running statistics updated)."""
    return _SiteStep.apply(x, site, branches, len(branches), *weights, *gammas, *betas)


def _padded(weight: torch.Tensor, crop: tuple[int, int, int, int], shape: tuple[int, ...]) -> torch.Tensor:
    top, left, h, w = crop
    if weight.shape[-2:] == shape[-2:]:
        return weight
    return F.pad(weight, (left, shape[-1] - left - w, top, shape[-2] - top - h))


def _in_format_of(kernel: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """`kernel` laid out as the branches' weights are (channels_last after model.to(memory_format=...)),
    so that the convolution's output has the memory format the branch convolutions would give it."""
    _, cin, kh, kw = weight.shape
    if weight.stride() == (kh * kw * cin, 1, kw * cin, cin):
        strides = (kernel.shape[2] * kernel.shape[3] * cin, 1, kernel.shape[3] * cin, cin)
        return torch.empty_strided(kernel.shape, strides, dtype=kernel.dtype, device=kernel.device).copy_(kernel)
    return kernel.contiguous()


def _per_channel(v: torch.Tensor) -> torch.Tensor:
    return v.reshape(-1, 1, 1, 1)


class _SiteStep(torch.autograd.Function):
    """Forward and exact backward of a training-mode site (see the module docstring)."""

    @staticmethod
    def forward(ctx, x, site: Site, branches: list[Branch], n: int, *params):
        weights, gammas, betas = params[:n], params[n:2 * n], params[2 * n:]
        some = next(w for w in weights if w is not None)
        kernel_shape = tuple(some.shape[:2]) + site.kernel_size
        stats, zs, kernel, bias = [], [], None, None
        for branch, weight, gamma, beta in zip(branches, weights, gammas, betas):
            z = x if branch.identity else F.conv2d(x, weight, None, site.stride, branch.padding, 1, site.groups)
            mean, var = torch.batch_norm_update_stats(z, branch.running_mean, branch.running_var, branch.momentum)
            invstd = torch.rsqrt(var + branch.eps)
            scale = gamma * invstd
            full = site.identity_kernel if branch.identity else _padded(weight, branch.crop, kernel_shape)
            term = full * _per_channel(scale)
            kernel = term if kernel is None else kernel + term
            shift = beta - mean * scale
            bias = shift if bias is None else bias + shift
            stats.append((mean, invstd))
            zs.append(None if branch.identity else z)
        kernel = _in_format_of(kernel, some)
        ctx.site, ctx.branches, ctx.stats = site, branches, stats
        ctx.save_for_backward(x, *[w for w in weights if w is not None],
                              *[z for z in zs if z is not None], *gammas)
        return F.conv2d(x, kernel, bias, site.stride, site.padding, 1, site.groups)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad):
        site, branches = ctx.site, ctx.branches
        saved = ctx.saved_tensors
        x = saved[0]
        n_conv = sum(not b.identity for b in branches)
        conv_weights = iter(saved[1:1 + n_conv])
        conv_zs = iter(saved[1 + n_conv:1 + 2 * n_conv])
        gammas = saved[1 + 2 * n_conv:]
        need_x = ctx.needs_input_grad[0]
        dx, d_weights, d_gammas, d_betas = None, [], [], []
        for branch, gamma, (mean, invstd) in zip(branches, gammas, ctx.stats):
            z = x if branch.identity else next(conv_zs)
            dz, d_gamma, d_beta = torch.ops.aten.native_batch_norm_backward(
                grad, z, gamma, None, None, mean, invstd, True, branch.eps, [True, True, True])
            d_gammas.append(d_gamma)
            d_betas.append(d_beta)
            if branch.identity:
                d_weights.append(None)
                part = dz if need_x else None
            else:
                part, d_weight, _ = Conv(dz, x, next(conv_weights), None, site.stride, branch.padding, (1, 1),
                                         False, (0, 0), site.groups, [need_x, True, False])
                d_weights.append(d_weight)
            if need_x:
                dx = part if dx is None else dx.add_(part)
        return (dx, None, None, None, *d_weights, *d_gammas, *d_betas)
