"""CP-ResNet: shapes on both feature sets, the published receptive-field table, init, the YAML configs."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from asc.config import load_config
from asc.models import ModelConfig, build_from_config
from asc.models.cp_resnet import BasicBlock, CPResNet, kernel_sizes

CONF = Path(__file__).resolve().parents[2] / "egs" / "dcase2024_task1" / "conf"


def published_kernels(rho: int) -> list[list[tuple[int, int]]]:
    """The kernel table of CP-JKU's get_model (cpjku_dcase23 models/cp_resnet.py, spread 'default')."""
    e = rho - 7
    s1 = ([3, 3 - (-e > 6) * 2, 3 - (-e > 4) * 2, 3 - (-e > 2) * 2],
          [1, 3 - (-e > 5) * 2, 3 - (-e > 3) * 2, 3 - (-e > 1) * 2])
    s2 = ([3 - (-e > 0) * 2, 1 + (e > 1) * 2, 1 + (e > 3) * 2, 1 + (e > 5) * 2],
          [1 + (e > 0) * 2, 1 + (e > 2) * 2, 1 + (e > 4) * 2, 1 + (e > 6) * 2])
    s3 = ([1 + (e > 7) * 2, 1 + (e > 9) * 2, 1 + (e > 11) * 2, 1 + (e > 13) * 2],
          [1 + (e > 8) * 2, 1 + (e > 10) * 2, 1 + (e > 12) * 2, 1 + (e > 14) * 2])
    return [list(zip(k1, k2)) for k1, k2 in (s1, s2, s3)]


@pytest.mark.parametrize("rho", range(0, 24))
def test_kernel_rule_reproduces_published_table(rho):
    assert kernel_sizes([4, 4, 4], rho) == published_kernels(rho)


def test_receptive_field_grows_with_rho():
    # rho 7 by hand: stem 5 (stride 2) -> 5; block1 3x3 -> 9; pool -> 11 (jump 4); block2 -> 27;
    # pool -> 31 (jump 8); block3 -> 63; block4 -> 95; pool -> 103 (jump 16); stage2 block1 3x3 -> 135.
    assert CPResNet(rho=7, base_channels=4).receptive_field() == 135
    fields = [CPResNet(rho=rho, base_channels=4).receptive_field() for rho in (2, 5, 7, 9, 12)]
    assert fields == sorted(fields) and len(set(fields)) == len(fields)


@pytest.mark.parametrize("mels,frames", [(256, 65), (128, 101)])
def test_forward_shapes_on_student_and_passt_features(mels, frames):
    torch.manual_seed(0)
    model = CPResNet(base_channels=8, weight_init="kaiming")
    logits = model(torch.randn(3, 1, mels, frames))
    assert logits.shape == (3, 10)
    logits.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_eval_is_deterministic_and_batch_independent():
    torch.manual_seed(0)
    model = CPResNet(base_channels=8, weight_init="kaiming", n_classes=4)
    model.train()
    model(torch.randn(8, 1, 256, 65))  # move the BatchNorm statistics away from their initial values
    model.eval()
    x = torch.randn(3, 1, 256, 65)
    with torch.no_grad():
        a, b, single = model(x), model(x), model(x[:1])
    assert a.shape == (3, 4)
    assert torch.equal(a, b)
    torch.testing.assert_close(single, a[:1], rtol=1e-5, atol=1e-5)


def test_fixup_starts_with_zero_classifier_and_identity_blocks():
    model = CPResNet(base_channels=8).eval()
    blocks = [m for m in model.modules() if isinstance(m, BasicBlock)]
    assert len(blocks) == 12 and all(b.conv2.weight.abs().sum() == 0 for b in blocks)
    with torch.no_grad():
        assert torch.equal(model(torch.randn(2, 1, 256, 65)), torch.zeros(2, 10))


def test_width_and_layout_options():
    model = CPResNet(base_channels=8, channels_multiplier=3, blocks_per_stage=[2, 1], rho=2,
                     maxpools=[[0, 2], [1]], weight_init="kaiming")
    last_blocks = [[m for m in stage if isinstance(m, BasicBlock)][-1] for stage in model.stages]
    assert [b.conv2.out_channels for b in last_blocks] == [8, 24]
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in model.modules()) == 3
    assert model(torch.randn(2, 1, 256, 65)).shape == (2, 10)


@pytest.mark.parametrize("options,message", [
    (dict(maxpools=[[1]]), "maxpools has 1 entries"),
    (dict(maxpools=[[5], [], []]), "outside 0..4"),
    (dict(blocks_per_stage=[4, 0, 4]), "at least one block"),
    (dict(weight_init="xavier"), "weight_init"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        CPResNet(**options)


@pytest.mark.parametrize("profile", ["embedded", "tau22"])
def test_yaml_config_builds_through_the_registry(profile):
    config = load_config(ModelConfig, CONF / profile / "model_cp_resnet.yaml")
    assert config.name == "cp_resnet" and config.features == "student"
    model = build_from_config(config)
    assert isinstance(model, CPResNet)
    assert sum(p.numel() for p in model.parameters()) == 251_892
    assert model.eval()(torch.zeros(1, 1, 256, 65)).shape == (1, 10)
