"""Channel groups of Rep-Mobile: the same as torch-pruning's dependency graph finds; removing channels
shrinks every branch and BatchNorm, torchinfo's params and MACs fall, and the fused network still
equals the multi-branch one."""
from __future__ import annotations

import re

import pytest
import torch
import torch.nn as nn
import torch_pruning as tp

from asc.complexity import count_complexity
from asc.models import build_model, reparameterize
from asc.models.reparam import ConvBN, RepConv2d
from asc.prune.cost import CostModel
from asc.prune.plan import Target, apply_plan, plan_step
from asc.prune.structured import channel_groups, prune_channels
from tiny_prune import INPUT_SHAPE, TINY
from random_weights import randomize  # tests/random_weights.py

# the tiny layout, one without stem and shortcuts everywhere possible, and one with a 3-stage stem
LAYOUTS = [
    TINY,
    dict(n_classes=4, stem_channels=[], in_channels=1, stage_channels=[8, 8], n_blocks=[1, 1],
         strides=[[2, 2], [1, 1]], expansion_rate=2.0),
    dict(n_classes=5, stem_channels=[4, 6, 8], stage_channels=[8, 12, 12], n_blocks=[2, 1, 1],
         strides=[[1, 1], [1, 2], [2, 1], [1, 1]], expansion_rate=2.0, shortcuts=[True, False, False, False]),
]


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # tests/conftest.py


def torch_pruning_groups(model: nn.Module) -> set[frozenset]:
    """torch-pruning's channel groups as sets of (site, side), the classifier's outputs left out."""
    graph = tp.DependencyGraph().build_dependency(model, example_inputs=torch.randn(1, *INPUT_SHAPE))
    names = {module: name for name, module in model.named_modules()}
    groups = set()
    for group in graph.get_all_groups(ignored_layers=list(model.head.modules()), root_module_types=[nn.Conv2d]):
        groups.add(frozenset((re.sub(r"\.branches\..*$", "", names[dep.target.module]),
                              "out" if dep.handler.__name__ == "prune_out_channels" else "in")
                             for dep, _ in group if dep.target.module in names))
    return groups


@pytest.mark.parametrize("options", LAYOUTS)
def test_groups_are_those_of_torch_pruning(options):
    model = build_model("rep_mobile", **options)
    ours = {frozenset((m.name, m.side) for m in g.members) for g in channel_groups(model) if g.prunable}
    assert ours == torch_pruning_groups(model)
    kinds = {g.kind for g in channel_groups(model)}
    assert {"expansion", "residual"} <= kinds


def test_network_input_and_identity_ties_are_not_prunable():
    no_stem = {g.name: g for g in channel_groups(build_model("rep_mobile", **LAYOUTS[1]))}
    assert "network input" in no_stem["residual1"].reason
    # expansion rate 1 and pointwise identity branches: exp and proj tie their inputs to their outputs
    tied = build_model("rep_mobile", stem_channels=[8], stage_channels=[8], n_blocks=[1], strides=[[1, 1]],
                       expansion_rate=1.0, pw_branches=["1x1", "identity"])
    groups = {g.name: g for g in channel_groups(tied)}
    assert "identity branch" in groups["b1"].reason and "identity branch" in groups["residual1"].reason
    with pytest.raises(ValueError, match="cannot be pruned"):
        groups["b1"].keep(torch.arange(4))


@pytest.mark.parametrize("criterion", ["l1", "l2", "bn_scale"])
def test_pruning_shrinks_torchinfo_counts_every_branch_and_keeps_fusion_exact(criterion):
    model = randomize(build_model("rep_mobile", **TINY))
    before = count_complexity(model, INPUT_SHAPE)
    target = Target(int(2 * before.params * 0.6), int(before.macs * 0.6))
    plan = plan_step(model, target, criterion, min_channels=2, input_shape=INPUT_SHAPE)
    apply_plan(plan)
    after = count_complexity(model, INPUT_SHAPE)
    assert after.params < before.params and after.macs < before.macs
    assert after == plan.expected and target.met_by(after)
    assert set(plan.removed) & {"b1", "b2", "b3"} and set(plan.removed) & {"residual1", "residual2"}
    for site in (m for m in model.modules() if isinstance(m, RepConv2d)):
        outs, ins = set(), set()
        for name, branch in site.branches.items():
            bn = branch.bn if isinstance(branch, ConvBN) else branch
            outs.add(bn.num_features)
            if isinstance(branch, ConvBN):
                outs.add(branch.conv.out_channels)
                ins.add(branch.conv.in_channels)
        assert outs == {site.out_channels} and ins == {site.in_channels}, site
    x = torch.randn(3, *INPUT_SHAPE)
    with torch.no_grad():
        assert (model(x) - reparameterize(model)(x)).abs().max().item() < 1e-4
    rebuilt = build_model("rep_mobile", **model.options())
    rebuilt.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), model(x))


def test_cost_model_counts_as_torchinfo_after_any_removal():
    model = build_model("rep_mobile", **LAYOUTS[2])
    groups = channel_groups(model)
    cost = CostModel(model, groups, INPUT_SHAPE)
    assert cost.offset.params == 0 and cost.offset.macs == 0
    keep = {}
    for g in (g for g in groups if g.prunable):
        for _ in range(g.width // 3):
            cost.remove_channel(g.name)
        keep[g.name] = torch.arange(g.width - g.width // 3)
    prune_channels(groups, keep)
    assert cost.complexity() == count_complexity(model, INPUT_SHAPE)
