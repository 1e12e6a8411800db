"""Loading external weights: strict backbone, fresh heads for another class count, clear refusals."""
from __future__ import annotations

import logging

import pytest
import torch

from asc.errors import InputError
from asc.models.checkpoints import load_pretrained, read_state_dict
from asc.models.cp_resnet import CPResNet
from asc.models.passt import PaSST


def small_passt(**options) -> PaSST:
    return PaSST(**{"embed_dim": 32, "depth": 1, "num_heads": 2, "max_frames": 101, **options})


class NotWeights:
    """A pickled object of an arbitrary class: what a weights-only load must refuse."""


def test_same_shapes_load_everything_and_reproduce_the_outputs(tmp_path, caplog):
    torch.manual_seed(0)
    source = CPResNet(base_channels=4, weight_init="kaiming")
    source(torch.randn(4, 1, 64, 32))  # non-trivial BatchNorm statistics, which must travel too
    path = tmp_path / "cpr.pt"
    torch.save(source.state_dict(), path)
    target = CPResNet(base_channels=4)
    with caplog.at_level(logging.INFO, logger="asc.models.checkpoints"):
        assert load_pretrained(target, path) == []
    assert "loaded all" in caplog.text
    x = torch.randn(2, 1, 64, 32)
    with torch.no_grad():
        assert torch.equal(source.eval()(x), target.eval()(x))


def test_cp_resnet_head_of_another_class_count_is_left_fresh(tmp_path):
    path = tmp_path / "cpr.pt"
    torch.save(CPResNet(base_channels=4, n_classes=20).state_dict(), path)
    target = CPResNet(base_channels=4, n_classes=10)
    kept = load_pretrained(target, path)
    assert kept == ["head.conv.weight", "head.bn.weight", "head.bn.bias", "head.bn.running_mean",
                    "head.bn.running_var"]


def test_training_checkpoints_and_wrapper_prefixes_are_unwrapped(tmp_path):
    source = small_passt()
    state = {f"module.{k}": v for k, v in source.state_dict().items()}
    path = tmp_path / "last.pt"
    torch.save({"model": state, "epoch": 3, "optimizer": {"state": {}, "param_groups": []}}, path)
    assert set(read_state_dict(path)) == set(source.state_dict())
    target = small_passt()
    load_pretrained(target, path)
    assert all(torch.equal(target.state_dict()[k], v) for k, v in source.state_dict().items())


def test_checkpoint_of_another_model_is_refused(tmp_path):
    path = tmp_path / "cp_resnet.pt"
    torch.save(CPResNet(base_channels=4).state_dict(), path)
    with pytest.raises(InputError, match="not a checkpoint of PaSST") as err:
        load_pretrained(small_passt(), path)
    assert str(path) in str(err.value)


def test_backbone_shape_mismatch_names_key_and_both_shapes(tmp_path):
    path = tmp_path / "passt.pt"
    torch.save(small_passt(max_frames=998).state_dict(), path)  # 99 time positions
    with pytest.raises(InputError) as err:
        load_pretrained(small_passt(max_frames=101), path)  # 9 time positions
    assert str(path) in str(err.value)
    assert "'time_new_pos_embed': checkpoint (1, 32, 1, 99), model (1, 32, 1, 9)" in str(err.value)


def test_another_depth_is_refused_with_the_extra_keys(tmp_path):
    path = tmp_path / "passt.pt"
    torch.save(small_passt(depth=2).state_dict(), path)
    with pytest.raises(InputError, match=r"unexpected 12 key\(s\): 'blocks\.1\.norm1\.weight'"):
        load_pretrained(small_passt(depth=1), path)


def test_pickled_code_is_not_executed_but_refused(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({"weight": torch.zeros(1), "payload": NotWeights()}, path)
    with pytest.raises(InputError, match="not a readable weights-only PyTorch checkpoint") as err:
        read_state_dict(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("content,message", [
    (None, "checkpoint file not found"),
    (b"certainly not a zip or pickle", "not a readable weights-only"),
    ([1, 2, 3], "expected a state dict"),
    ({"epoch": 3}, "expected a state dict"),
])
def test_unreadable_files_are_refused_with_the_path(tmp_path, content, message):
    path = tmp_path / "x.pt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    with pytest.raises(InputError, match=message) as err:
        read_state_dict(path)
    assert str(err.value).startswith(str(path))
