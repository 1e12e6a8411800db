"""OREPA's online training form of Rep-Mobile: exact fusion into the same deployed network, pruning, saving."""
from __future__ import annotations


import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from asc.complexity import count_complexity
from asc.errors import ConfigError
from asc.models import build_model, reparameterize
from asc.models.checkpoint_file import load_model, save_checkpoint
from asc.models.online_reparam import OnlineRepConv2d, ScaledConv, ScaledIdentity
from asc.models.reparam import RepConv2d, pad_kernel
from asc.prune.cost import CostModel
from asc.prune.importance import group_scores
from asc.prune.structured import channel_groups, prune_channels
from random_weights import randomize  # tests/random_weights.py
from rep_cases import BRANCH_SETS, SMALL  # tests/models/rep_cases.py

SHAPES = {"kxk": lambda k: (k, k), "1x1": lambda k: (1, 1), "kx1": lambda k: (k, 1), "1xk": lambda k: (1, k)}
ONLINE = {**SMALL, "train_form": "online"}


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # tests/conftest.py



def definition(site: OnlineRepConv2d, x: torch.Tensor) -> torch.Tensor:
    """BN(Σ_b s_b·conv(x, W_b) + s_id·x) written out from the parameters, in the BatchNorm's current mode."""
    total = 0
    for name, branch in site.branches.items():
        s = branch.scale.reshape(1, -1, 1, 1)
        if name == "identity":
            total = total + s * x
        else:
            w = branch.conv.weight
            padding = (w.shape[-2] // 2, w.shape[-1] // 2)
            total = total + s * F.conv2d(x, w, None, site.stride, padding, 1, site.groups)
    bn = site.bn
    return F.batch_norm(total, bn.running_mean.clone(), bn.running_var.clone(), bn.weight, bn.bias,
                        bn.training, 0.0, bn.eps)


@pytest.mark.parametrize("kernel", [3, 5])
@pytest.mark.parametrize("stride", [(1, 1), (1, 2), (2, 1), (2, 2)])
@pytest.mark.parametrize("depthwise", [False, True])
def test_site_fuses_exactly_and_equals_its_definition(kernel, stride, depthwise):
    x = torch.randn(2, 6, 11, 9, dtype=torch.float64)
    for branches in BRANCH_SETS:
        site = randomize(OnlineRepConv2d(6, 6, kernel, stride, groups=6 if depthwise else 1,
                                         branches=branches)).double()
        assert ("identity" in site.branch_names) == ("identity" in branches and stride == (1, 1))
        with torch.no_grad():
            expected = definition(site, x)
            assert (site(x) - expected).abs().max() < 1e-10, branches
            assert (reparameterize(site)(x) - expected).abs().max() < 1e-10, branches
            site.train()        # training mode: batch statistics of the one-kernel convolution
            assert (site(x) - definition(site, x)).abs().max() < 1e-10, branches


def test_training_forward_and_gradients_equal_branch_by_branch():
    site = randomize(OnlineRepConv2d(6, 6, 3, groups=6, branches=["kxk", "1x1", "kx1", "1xk", "identity"]))
    site = site.double().train()
    x = torch.randn(4, 6, 9, 7, dtype=torch.float64, requires_grad=True)
    target = torch.randn(4, 6, 9, 7, dtype=torch.float64)
    grads = []
    for forward in (site.forward, site.forward_branches):
        site.zero_grad()
        x.grad = None
        (forward(x) * target).sum().backward()
        grads.append([x.grad.clone()] + [p.grad.clone() for p in site.parameters()])
    assert len(grads[0]) == 1 + 5 + 4 + 2     # input, 4 kernels + 5 scales, BatchNorm γ and β
    for one_kernel, by_branch in zip(*grads):
        assert torch.allclose(one_kernel, by_branch, atol=1e-10)


def test_branch_kernels_add_up_to_the_fused_kernel_in_both_forms():
    for form in (RepConv2d, OnlineRepConv2d):
        site = randomize(form(4, 4, 3, groups=4, branches=["kxk", "1x1", "kx1", "1xk", "identity"]))
        weight, _ = site.fused_kernel()
        total = torch.zeros_like(weight)
        for name, kernel in site.branch_kernels().items():
            total += (kernel * site._identity_kernel(weight) if name == "identity"
                      else pad_kernel(kernel, site.kernel_size))
        assert torch.allclose(total, weight, atol=1e-6), form.__name__
        assert len(site.batchnorms()) == (5 if form is RepConv2d else 1)


def test_the_deployed_network_is_the_same_in_both_forms():
    for options in (SMALL, {}):                       # a small one, and the default within the DCASE limits
        branch_bn = reparameterize(build_model("rep_mobile", **options))
        online = reparameterize(build_model("rep_mobile", train_form="online", **options))
        shapes = {k: v.shape for k, v in branch_bn.state_dict().items()}
        assert {k: v.shape for k, v in online.state_dict().items()} == shapes
        assert not any(isinstance(m, (nn.BatchNorm2d, ScaledConv, ScaledIdentity)) for m in online.modules())
        input_shape = (1, 32, 24) if options else (1, 256, 65)
        assert count_complexity(online, input_shape) == count_complexity(branch_bn, input_shape)
    assert count_complexity(online).params == 57442 and count_complexity(online).macs == 29539392


def test_the_option_picks_the_site_class_and_bad_values_are_refused_by_name():
    default = build_model("rep_mobile", **SMALL)
    assert not any(isinstance(m, OnlineRepConv2d) for m in default.modules())
    assert default.options()["train_form"] == "branch_bn"
    online = build_model("rep_mobile", **ONLINE)
    block = online.blocks()[0]
    assert isinstance(block.dw, OnlineRepConv2d) and isinstance(online.stem[0], OnlineRepConv2d)
    # one branch (the pointwise sites, the head): Conv+BN in either form, no redundant scale
    assert type(block.exp) is RepConv2d and type(online.head) is RepConv2d
    assert online.options()["train_form"] == "online"
    with pytest.raises(ConfigError, match="train_form"):
        build_model("rep_mobile", train_form="orepa")


def test_site_pruning_slices_kernels_scales_and_the_batchnorm():
    x = torch.randn(2, 6, 9, 7)
    keep = torch.tensor([0, 2, 3, 5])
    depthwise = randomize(OnlineRepConv2d(6, 6, 3, groups=6, branches=["kxk", "1x1", "kx1", "1xk", "identity"]))
    dense = randomize(OnlineRepConv2d(6, 5, 3, branches=["kxk", "1x1", "kx1", "1xk"]), seed=1)
    twin = randomize(OnlineRepConv2d(6, 5, 3, branches=["kxk", "1x1", "kx1", "1xk"]), seed=1)
    with torch.no_grad():
        depthwise_before, dense_before = depthwise(x), dense(x)
        depthwise.keep_out_channels(keep)          # depthwise: the input channels go with the outputs
        assert all(b.scale.shape == (4,) for b in depthwise.branches.values()) and depthwise.bn.num_features == 4
        assert torch.allclose(depthwise(x[:, keep]), depthwise_before[:, keep], atol=1e-6)
        dense.keep_out_channels(torch.tensor([1, 4]))
        twin.keep_out_channels(torch.tensor([1, 4]))
        assert torch.allclose(dense(x), dense_before[:, [1, 4]], atol=1e-6)
        dense.keep_in_channels(keep)              # as if the inputs left out were zeros
        zeroed = x.clone()
        zeroed[:, [1, 4]] = 0
        assert torch.allclose(dense(x[:, keep]), twin(zeroed), atol=1e-6)
    with pytest.raises(ValueError, match="identity branch"):
        randomize(OnlineRepConv2d(4, 4, 1, branches=["1x1", "identity"])).keep_in_channels(torch.tensor([0, 1]))


@pytest.mark.parametrize("criterion", ["l1", "bn_scale"])
def test_structured_pruning_of_the_online_form(criterion):
    model = randomize(build_model("rep_mobile", **ONLINE))
    x = torch.randn(2, 1, 32, 24)
    groups = channel_groups(model)
    prunable = [g for g in groups if g.prunable]
    keep = {g.name: torch.sort(torch.argsort(group_scores(g, criterion), descending=True)[:max(1, g.width // 2)]).values
            for g in prunable}
    prune_channels(groups, keep)
    counted = count_complexity(model, (1, 32, 24))
    assert CostModel(model, channel_groups(model), (1, 32, 24)).complexity() == counted
    with torch.no_grad():
        assert (model(x) - reparameterize(model)(x)).abs().max() < 1e-5      # still fuses exactly
    rebuilt = build_model("rep_mobile", **model.options())
    rebuilt.load_state_dict(model.state_dict())                               # strict: the same shapes
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), model(x))


def test_checkpoint_round_trip_in_training_and_deployment_form(tmp_path):
    model = randomize(build_model("rep_mobile", n_classes=3, **ONLINE)).train()
    x = torch.randn(4, 1, 32, 24)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    F.cross_entropy(model(x), torch.tensor([0, 1, 2, 0])).backward()
    opt.step()                                 # trained once: kernels, scales and running statistics moved
    save_checkpoint(tmp_path / "last.pt", model, "rep_mobile", model.options())
    loaded, _ = load_model(tmp_path / "last.pt")
    assert isinstance(loaded.blocks()[0].dw, OnlineRepConv2d)
    model.eval()
    with torch.no_grad():
        assert torch.equal(loaded.eval()(x), model(x))
        deployed = reparameterize(model)
        assert (deployed(x) - model(x)).abs().max() < 1e-5
        fresh_deployed = reparameterize(build_model("rep_mobile", n_classes=3, **ONLINE))
        fresh_deployed.load_state_dict(deployed.state_dict())              # what a deployed file holds
        assert torch.equal(fresh_deployed(x), deployed(x))


def test_full_size_training_step_learns_through_every_branch():
    model = build_model("rep_mobile", train_form="online")
    x = torch.randn(2, 1, 256, 65).contiguous(memory_format=torch.channels_last)
    model.to(memory_format=torch.channels_last)
    model(x).sum().backward()
    for site in (model.stem[0], model.blocks()[0].dw):
        for name, branch in site.branches.items():
            assert branch.scale.grad.abs().sum() > 0, name
            if name != "identity":
                assert branch.conv.weight.grad.abs().sum() > 0, name
    with torch.no_grad():
        model.eval()
        assert (model(x) - reparameterize(model)(x)).abs().max() < 1e-5
