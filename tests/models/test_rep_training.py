"""asc.models.rep_training: a multi-branch site's one-convolution training step computes what the
branches compute one by one (asc.models.reparam.RepConv2d.forward_branches, the reference): outputs,
gradients of the input and of every parameter, BatchNorm running statistics, in training and eval
mode, on the pruned and fused forms too; and the reference path is taken where the step must not be."""
from __future__ import annotations

import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from asc.models import build_model, reparam, reparameterize
from asc.models.reparam import RepConv2d

SMALL = dict(stem_channels=[4, 8], stage_channels=[8, 16], n_blocks=[2, 1],
             strides=[[1, 1], [2, 2], [1, 2]], expansion_rate=1.5)
SITES = [  # in, out, kernel, stride, groups, branches
    (6, 6, 3, 1, 6, ["kxk", "1x1", "kx1", "1xk", "identity"]),
    (6, 6, 3, (1, 2), 6, ["kxk", "1x1", "kx1", "1xk", "identity"]),
    (6, 6, 5, (2, 1), 6, ["1x1", "kx1", "identity"]),
    (3, 8, 3, 2, 1, ["kxk", "1x1", "kx1", "1xk"]),
    (8, 8, 3, 1, 1, ["1x1", "1xk", "identity"]),
    (8, 8, 1, 1, 1, ["1x1", "identity"]),
    (8, 8, 3, 1, 2, ["kxk", "1x1", "identity"]),
]


@pytest.fixture(autouse=True)
def one_thread_and_fast_path():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    reparam.FAST_PATH = True


def randomized(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random BatchNorm parameters and statistics, so that every term of the step matters."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(c, generator=gen) - 0.5)
                m.running_mean.copy_(torch.rand(c, generator=gen) - 0.5)
                m.running_var.copy_(torch.rand(c, generator=gen) + 0.5)
    return module


def run(module: nn.Module, x: torch.Tensor, fast: bool, training: bool):
    """Output, input gradient, parameter gradients and state after one forward/backward."""
    reparam.FAST_PATH = fast
    module = copy.deepcopy(module).train(training)
    x = x.clone().requires_grad_(True)
    out = module(x)
    grad = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=out.dtype)
    out.backward(grad)
    params = {name: p.grad for name, p in module.named_parameters()}
    return out.detach(), x.grad, params, module.state_dict()


def assert_same(a, b, rtol: float, atol: float) -> None:
    out_a, dx_a, params_a, state_a = a
    out_b, dx_b, params_b, state_b = b
    torch.testing.assert_close(out_b, out_a, rtol=rtol, atol=atol)
    torch.testing.assert_close(dx_b, dx_a, rtol=rtol, atol=atol)
    assert params_a.keys() == params_b.keys() and list(state_a) == list(state_b)
    for name in params_a:
        torch.testing.assert_close(params_b[name], params_a[name], rtol=rtol, atol=atol, msg=name)
    for name in state_a:
        torch.testing.assert_close(state_b[name], state_a[name], rtol=rtol, atol=atol, msg=name)


@pytest.mark.parametrize("site_args", SITES, ids=lambda a: f"g{a[4]}-k{a[2]}-s{a[3]}-{'+'.join(a[5])}")
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
def test_site_step_equals_branch_by_branch_in_float64(site_args, training):
    cin, cout, k, stride, groups, branches = site_args
    site = randomized(RepConv2d(cin, cout, k, stride, groups, branches)).double()
    x = torch.randn(4, cin, 11, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 2 + 0.5
    assert_same(run(site, x, False, training), run(site, x, True, training), rtol=1e-9, atol=1e-9)


def test_site_step_passes_gradcheck():
    site = randomized(RepConv2d(2, 2, 3, 1, 2, ["kxk", "1x1", "kx1", "1xk", "identity"])).double().train()
    x = torch.randn(2, 2, 4, 3, dtype=torch.float64, requires_grad=True)
    names = [name for name, _ in site.named_parameters()]

    def functional(x, *params):              # the parameters as inputs, so that gradcheck perturbs them
        return torch.func.functional_call(site, dict(zip(names, params)), (x,))

    params = [p.detach().clone().requires_grad_(True) for p in site.parameters()]
    assert torch.autograd.gradcheck(functional, (x, *params), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("channels_last", [False, True])
def test_rep_mobile_training_step_in_float32(channels_last):
    model = randomized(build_model("rep_mobile", **SMALL), seed=3)
    x = torch.randn(4, 1, 32, 24, generator=torch.Generator().manual_seed(4))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    old, new = run(model, x, False, True), run(model, x, True, True)
    assert_same(old, new, rtol=1e-4, atol=1e-4)
    assert new[0].is_contiguous(memory_format=torch.channels_last) == old[0].is_contiguous(
        memory_format=torch.channels_last)


def test_pruned_and_fused_forms_and_momentum_none():
    model = randomized(build_model("rep_mobile", **SMALL), seed=5)
    model.blocks()[0].prune_expansion(torch.tensor([0, 2, 3, 5, 6]))
    model = model.double()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = None                  # cumulative average: 1 / num_batches_tracked
    x = torch.randn(3, 1, 32, 24, dtype=torch.float64)
    assert_same(run(model, x, False, True), run(model, x, True, True), rtol=1e-9, atol=1e-9)
    fused = reparameterize(model).double()
    with torch.no_grad():
        reparam.FAST_PATH = True
        torch.testing.assert_close(fused(x), model.eval()(x), rtol=1e-9, atol=1e-9)


def test_reference_path_where_the_step_must_not_run():
    site = RepConv2d(4, 4, 3, 1, 4, ["kxk", "1x1", "identity"]).train()
    x = torch.randn(2, 4, 5, 5)
    seen = []
    hook = site.branches["1x1"].conv.register_forward_hook(lambda *a: seen.append(1))
    site(x)
    assert seen == [1]                         # a tracer such as torch-pruning's sees every branch
    hook.remove()

    class OtherBatchNorm(nn.BatchNorm2d):
        pass

    site.branches["identity"] = OtherBatchNorm(4)
    calls = []
    site.branches["identity"].forward = lambda t: calls.append(1) or nn.BatchNorm2d.forward(
        site.branches["identity"], t)
    site(x)
    assert calls == [1]                        # e.g. DDP's GlobalBatchNorm2d keeps its own forward
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        RepConv2d(4, 4, 3, 1, 4, ["kxk", "1x1"]).train()(torch.randn(1, 4, 1, 1))


def test_training_step_counts_batches_like_batchnorm():
    site = RepConv2d(3, 3, 3, 1, 3, ["kxk", "1x1", "identity"]).train()
    for _ in range(3):
        F.relu(site(torch.randn(2, 3, 4, 4))).sum().backward()
    assert all(int(bn.num_batches_tracked) == 3 for bn in site._batchnorms())
