"""Rep-Mobile and its re-parameterizable sites: the deployment form equals the training form."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch_pruning as tp
import yaml

from asc.complexity import count_complexity, within_limits
from asc.errors import ConfigError
from asc.models import build_model, reparameterize
from asc.models.rep_mobile import WIDE, RepMobile, RepMobileConfig
from asc.models.reparam import RepConv2d
from random_weights import randomize  # tests/random_weights.py
from rep_cases import BRANCH_SETS, SMALL  # tests/models/rep_cases.py

CONF = Path(__file__).resolve().parents[2] / "egs" / "dcase2024_task1" / "conf"
STRIDES = [(1, 1), (1, 2), (2, 1), (2, 2)]


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # tests/conftest.py



def max_diff(model: nn.Module, x: torch.Tensor) -> float:
    deployed = reparameterize(model)
    with torch.no_grad():
        return (model(x) - deployed(x)).abs().max().item()


@pytest.mark.parametrize("kernel", [3, 5])
@pytest.mark.parametrize("stride", STRIDES)
@pytest.mark.parametrize("depthwise", [False, True])
def test_site_fuses_exactly_for_every_branch_set(kernel, stride, depthwise):
    x = torch.randn(2, 6, 11, 9)
    for branches in BRANCH_SETS:
        site = randomize(RepConv2d(6, 6, kernel, stride, groups=6 if depthwise else 1,
                                   branches=branches))
        assert ("identity" in site.branch_names) == ("identity" in branches and stride == (1, 1))
        assert max_diff(site, x) < 1e-4, branches


def test_site_with_other_widths_and_pointwise_identity():
    x = torch.randn(2, 4, 7, 5)
    widen = randomize(RepConv2d(4, 12, 3, (2, 1), branches=["kxk", "kx1", "identity"]))
    assert widen.branch_names == ["kxk", "kx1"]          # identity does not fit 4 -> 12
    assert max_diff(widen, x) < 1e-4
    pointwise = randomize(RepConv2d(4, 4, 1, branches=["1x1", "identity"]))
    assert max_diff(pointwise, x) < 1e-4


def test_fused_site_is_one_conv_with_bias_and_fusing_twice_changes_nothing():
    site = randomize(RepConv2d(4, 4, 3, groups=4, branches=["kxk", "1x1", "kx1", "1xk", "identity"]))
    site.reparameterize()
    assert site.branch_names == [] and isinstance(site.fused, nn.Conv2d)
    assert site.fused.bias is not None and site.fused.kernel_size == (3, 3)
    weight = site.fused.weight.clone()
    site.reparameterize()
    assert torch.equal(site.fused.weight, weight)


@pytest.mark.parametrize("branches", BRANCH_SETS, ids=lambda b: "+".join(b))
def test_network_equivalence_for_every_depthwise_branch_set(branches):
    model = randomize(build_model("rep_mobile", dw_branches=branches, **SMALL))
    assert max_diff(model, torch.randn(2, 1, 32, 24)) < 1e-4


@pytest.mark.parametrize("kernel", [3, 5, 7])
def test_network_equivalence_for_each_kernel_size(kernel):
    model = randomize(build_model("rep_mobile", kernel_size=kernel, stem_kernel_size=kernel, **SMALL))
    assert max_diff(model, torch.randn(2, 1, 32, 24)) < 1e-4


@pytest.mark.parametrize("stem_branches", [["kxk"], ["1x1", "kx1", "1xk"], ["kxk", "1x1", "kx1", "1xk"]])
def test_network_equivalence_for_stem_and_pointwise_branches(stem_branches):
    # expansion rate 1: in == expansion == out, so the pointwise identity branches exist too
    options = {**SMALL, "expansion_rate": 1.0, "stage_channels": [8, 8]}
    model = randomize(build_model("rep_mobile", stem_branches=stem_branches,
                                  pw_branches=["1x1", "identity"], **options))
    assert "identity" in model.blocks()[0].exp.branch_names
    assert max_diff(model, torch.randn(2, 1, 32, 24)) < 1e-4


def test_default_deployment_form_meets_the_dcase2024_limits_at_float16():
    model = build_model("rep_mobile")
    deployed = reparameterize(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in deployed.modules())
    assert all(site.fused is not None and not site.branch_names
               for site in deployed.modules() if isinstance(site, RepConv2d))
    fused = count_complexity(model)
    assert fused.params <= 64_000 and fused.macs <= 30_000_000
    assert within_limits(fused, "float16") and not within_limits(fused, "float32")
    trained = count_complexity(model, deploy=False)
    assert trained.params > fused.params           # the branches exist only while training
    x = torch.randn(2, 1, 256, 65)
    assert deployed(x).shape == (2, 10)


def test_wide_config_exceeds_the_limits_and_the_shipped_configs_match_the_code():
    wide = count_complexity(build_model("rep_mobile", **WIDE))
    assert not within_limits(wide, "float16")
    for profile in ("common",):   # shared by the embedded and tau22 profiles
        default = yaml.safe_load((CONF / profile / "model_rep_mobile.yaml").read_text())
        assert default["name"] == "rep_mobile"
        # the class count is not the model config's: it comes from data/labels.txt
        assert {"n_classes": 10, **default["options"]} == dataclasses.asdict(RepMobileConfig())
        shipped_wide = yaml.safe_load((CONF / profile / "model_rep_mobile_wide.yaml").read_text())
        assert {"n_classes": 10, **shipped_wide["options"]} == dataclasses.asdict(RepMobileConfig(**WIDE))


@pytest.mark.parametrize("options, message", [
    ({"widths": [8]}, "unknown key"),
    ({"expansion_rate": "wide"}, "expected a number"),
    ({"dw_branches": ["kxk", "3x3"]}, "unknown branch"),
    ({"dw_branches": ["identity"]}, "at least one convolution branch"),
    ({"pw_branches": ["1x1", "kxk"]}, "pw_branches"),
    ({"kernel_size": 4}, "must be odd"),
    ({"strides": [[1, 1]]}, "one per block"),
    ({"stage_channels": [32, 56]}, "one per stage"),
    ({"shortcuts": [True, True, True, True, True, True]}, "cannot have a shortcut"),
])
def test_bad_options_are_refused_by_name(options, message):
    with pytest.raises(ConfigError, match=message):
        build_model("rep_mobile", **options)


def test_training_form_learns_through_every_branch():
    model = build_model("rep_mobile", **SMALL)
    model(torch.randn(4, 1, 32, 24)).sum().backward()
    block = model.blocks()[0]
    for name, branch in block.dw.branches.items():
        grads = [p.grad for p in branch.parameters()]
        assert grads and all(g is not None and g.abs().sum() > 0 for g in grads), name


def test_pruned_expansion_channels_shrink_every_branch_and_rebuild_from_options():
    model = randomize(build_model("rep_mobile", **SMALL))
    x = torch.randn(2, 1, 32, 24)
    before = count_complexity(model)
    for block in model.blocks():
        keep = torch.arange(0, block.expansion_channels, 2)      # every other channel
        block.prune_expansion(keep)
    after = count_complexity(model)
    assert after.params < before.params and after.macs < before.macs
    assert max_diff(model, x) < 1e-4                              # still fuses exactly
    options = model.options()
    assert options["expansion_channels"] == [b.expansion_channels for b in model.blocks()]
    rebuilt = build_model("rep_mobile", **options)
    rebuilt.load_state_dict(model.state_dict())                   # strict: the same shapes
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), model(x))


def test_pruning_commutes_with_fusing():
    model = randomize(build_model("rep_mobile", **SMALL))
    keep = torch.tensor([0, 2, 3, 5, 7])
    pruned_then_fused = model
    pruned_then_fused.blocks()[1].prune_expansion(keep)
    pruned_then_fused = reparameterize(pruned_then_fused)
    fused_then_pruned = reparameterize(randomize(build_model("rep_mobile", **SMALL)))
    fused_then_pruned.blocks()[1].prune_expansion(keep)
    x = torch.randn(2, 1, 32, 24)
    with torch.no_grad():
        assert (pruned_then_fused(x) - fused_then_pruned(x)).abs().max() < 1e-4


def test_explicit_shortcuts_survive_widths_that_became_equal():
    options = {**SMALL, "stage_channels": [8, 8], "shortcuts": [True, True, False, True, True]}
    model = build_model("rep_mobile", **options)
    assert [b.has_shortcut for b in model.blocks()] == [True, True, False, True, True]
    assert model.options()["shortcuts"] == options["shortcuts"]
    assert isinstance(model, RepMobile)


def test_full_size_default_fuses_within_tolerance():
    # the real input size and widths, trained-like scales: BatchNorm statistics random, γ < 1
    model = build_model("rep_mobile")
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
            c = bn.num_features
            bn.running_mean.copy_(torch.rand(c, generator=gen) - 0.5)
            bn.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
            bn.weight.copy_(torch.rand(c, generator=gen) * 0.5 + 0.25)
            bn.bias.copy_(torch.rand(c, generator=gen) - 0.5)
    assert max_diff(model.eval(), torch.randn(2, 1, 256, 65)) < 1e-4


def test_torch_pruning_shrinks_all_branches_and_options_follow():
    model = randomize(build_model("rep_mobile", **SMALL))
    x = torch.randn(1, 1, 32, 24)
    before = count_complexity(model, (1, 32, 24))
    pruner = tp.pruner.MagnitudePruner(model, x, importance=tp.importance.MagnitudeImportance(p=2),
                                       pruning_ratio=0.5, ignored_layers=[model.head])
    pruner.step()
    after = count_complexity(model, (1, 32, 24))
    assert after.params < before.params and after.macs < before.macs
    for site in model.modules():
        if isinstance(site, RepConv2d):
            widths = {b.num_features if isinstance(b, nn.BatchNorm2d) else b.conv.out_channels
                      for b in site.branches.values()}
            assert widths == {site.out_channels}
    assert max_diff(model, x) < 1e-4
    rebuilt = build_model("rep_mobile", **model.options())
    rebuilt.load_state_dict(model.state_dict())
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), model(x))
