"""How much each channel of a channel group matters: weight norms or BatchNorm scales, per site.

Criteria (`criterion` in conf/<profile>/prune.yaml):

    l1, l2     the L1 / L2 norm of the channel's kernel slice in each member site, with each branch's
               BatchNorm folded into its kernel (w·γ/σ: the branch's real contribution, since a
               BatchNorm after a convolution undoes any scale of the raw weights), summed over the
               site's branches; the identity branch contributes |γ/σ|. For an "out" member the slice
               is the channel's output filter, for an "in" member the weights that read the channel.
    bn_scale   |γ| of the channel in every BatchNorm of each member site's outputs, summed over the
               branches (network slimming, Liu et al. 2017); "in" members carry no BatchNorm of the
               channel and do not count. Needs the training form.
A site in the online training form (asc.models.online_reparam) has one BatchNorm after its scaled
branches: its branch kernels are s_b·w·γ/σ (the identity's |s·γ/σ|) and bn_scale reads that one |γ|.

A group's score of channel c is the sum over its member sites of the site's score of c divided by
the site's mean score (so that a wide 1×1 site and a 3×3 depthwise site weigh the same), and is
divided again by the group's mean: scores of different groups are then comparable (mean 1 in every
group), which the global choice of channels needs (asc.prune.plan).
"""
from __future__ import annotations

import torch

from asc.models.reparam import RepConv2d
from asc.prune.structured import ChannelGroup, Member

CRITERIA = ("l1", "l2", "bn_scale")


@torch.no_grad()
def member_scores(member: Member, criterion: str) -> torch.Tensor | None:
    """Score of every channel of one member site (None where the criterion has nothing to say)."""
    _check_criterion(criterion)
    site = member.site
    if criterion == "bn_scale":
        return _bn_scale(site) if member.side == "out" else None
    p = 1 if criterion == "l1" else 2
    dims_out, dims_in = (1, 2, 3), (0, 2, 3)
    dims = dims_out if member.side == "out" else dims_in
    total = None
    for weight in _folded_kernels(site, member.side):
        score = weight.abs().pow(p).sum(dim=dims).pow(1.0 / p)
        total = score if total is None else total + score
    return total


@torch.no_grad()
def group_scores(group: ChannelGroup, criterion: str) -> torch.Tensor:
    """Score of every channel of `group`, normalized to mean 1 (float64, on the CPU)."""
    total = torch.zeros(group.width, dtype=torch.float64)
    for member in group.members:
        score = member_scores(member, criterion)
        if score is not None:
            total += _unit_mean(score.detach().double().cpu())
    return _unit_mean(total)


def _folded_kernels(site: RepConv2d, side: str) -> list[torch.Tensor]:
    """The branch kernels of a site with their BatchNorms folded in (the fused kernel once fused); the
    identity branch (a one-hot kernel per channel, scaled) counts for the outputs only."""
    if site.fused is not None:
        return [site.fused.weight]
    return [kernel for name, kernel in site.branch_kernels().items() if side == "out" or name != "identity"]


def _bn_scale(site: RepConv2d) -> torch.Tensor:
    if site.fused is not None:
        raise ValueError("criterion bn_scale needs the training form (the BatchNorms of a fused site are "
                         "folded away); use l1 or l2")
    total = None
    for bn in site.batchnorms():
        gamma = bn.weight.abs() if bn.affine else torch.ones_like(bn.running_var)
        total = gamma if total is None else total + gamma
    return total


def _unit_mean(score: torch.Tensor) -> torch.Tensor:
    mean = score.mean()
    return score / mean if mean > 0 else torch.ones_like(score)


def _check_criterion(criterion: str) -> None:
    if criterion not in CRITERIA:
        raise ValueError(f"unknown importance criterion '{criterion}'; known: {', '.join(CRITERIA)}")
