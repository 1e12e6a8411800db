"""Importance criteria: per site, each branch's BatchNorm folded in, summed over branches."""
from __future__ import annotations

import pytest
import torch

from asc.models import build_model, reparameterize
from asc.prune.importance import group_scores, member_scores
from asc.prune.plan import Target, plan_step
from asc.prune.structured import channel_groups
from tiny_prune import INPUT_SHAPE, TINY


def block_group(model, name="b3"):
    return next(g for g in channel_groups(model) if g.name == name)


@pytest.mark.parametrize("criterion", ["l1", "l2", "bn_scale"])
def test_a_channel_silenced_in_every_branch_scores_lowest_and_goes_first(criterion):
    torch.manual_seed(0)
    model = build_model("rep_mobile", **TINY).eval()
    group = block_group(model)
    with torch.no_grad():
        for member in group.members[:2]:           # exp and dw outputs: every branch's BatchNorm
            for branch in member.site.branches.values():
                bn = getattr(branch, "bn", branch)
                bn.weight[5] = 0.0
    scores = group_scores(group, criterion)
    assert scores.argmin().item() == 5 and scores.mean().item() == pytest.approx(1.0)
    start = reparameterize(model)
    from asc.complexity import count_complexity
    c = count_complexity(start, INPUT_SHAPE)
    # a budget one channel of b3 below the start: the silenced channel is the one removed
    plan = plan_step(model, Target(2 * c.params - 1, c.macs), criterion, scopes=["expansion"],
                     input_shape=INPUT_SHAPE)
    assert plan.removed == {"b3": 1} and 5 not in plan.keep["b3"].tolist()


def test_scores_sum_over_branches():
    torch.manual_seed(0)
    model = build_model("rep_mobile", **TINY).eval()
    dw = block_group(model).members[1]
    one = member_scores(dw, "bn_scale")
    assert torch.allclose(one, torch.full_like(one, float(len(dw.site.branches))))  # γ = 1 in each branch
    with torch.no_grad():
        dw.site.branches["kxk"].bn.weight[3] = 10.0
    assert member_scores(dw, "bn_scale")[3] == pytest.approx(one[3] + 9.0)
    l2 = member_scores(dw, "l2")
    with torch.no_grad():
        dw.site.branches["1x1"].bn.weight[2] *= 4.0   # folded kernel of one branch grows
    assert member_scores(dw, "l2")[2] > l2[2]


def test_fused_sites_score_by_weight_norm_but_not_bn_scale():
    fused = reparameterize(build_model("rep_mobile", **TINY))
    group = block_group(fused)
    assert group_scores(group, "l1").shape == (group.width,)
    with pytest.raises(ValueError, match="training form"):
        group_scores(group, "bn_scale")
