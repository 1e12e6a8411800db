"""Fine-tuning a device-specific model (DCASE2025): `devices` trains on one device's clips, and
`model_from_init` keeps the architecture of the checkpoint it starts from (a pruned network whose
widths no config states)."""
from __future__ import annotations

import pytest
import torch
import yaml

from asc.bin.train import main
from asc.data.datadir import load_datadir
from asc.errors import ConfigError, InputError
from asc.models import build_model, reparameterize
from asc.models.checkpoint_file import save_checkpoint
from asc.train.config import load_train_config
from asc.train.trainer import load_data
from tiny_run import make_tiny, weights

# a Rep-Mobile with explicit (pruned-looking) expansion widths, as a pruning step saves it
PRUNED = dict(stem_channels=[4, 8], stage_channels=[8, 16], n_blocks=[1, 1], strides=[[1, 1], [2, 2]],
              expansion_channels=[8, 24], n_classes=4)
FINETUNE = {"model_from_init": True, "epochs": 1, "batch_size": 4, "lr": 0.001, "warmup_epochs": 0,
            "val_fraction": 0.2, "augment": {"device_ir": {"enabled": False}, "mixup": {"enabled": False}},
            "kd": {"lambda_ce": 1.0}}


@pytest.fixture
def setup(tmp_path):
    tiny = make_tiny(tmp_path, recordings_per_label=5, pieces=2, train_yaml=FINETUNE)
    torch.manual_seed(0)
    init = tmp_path / "pruned" / "model.pt"
    save_checkpoint(init, build_model("rep_mobile", **PRUNED), "rep_mobile", PRUNED)
    return tiny, init


def config(tiny, init, **overrides):
    over = {"train_data": str(tiny.data), "feats": str(tiny.feats), "labels": str(tiny.labels),
            "init_checkpoint": str(init), **overrides}
    return load_train_config(tiny.config, over)


def test_devices_keeps_only_that_devices_clips_of_the_same_held_out_recordings(setup):
    tiny, init = setup
    data = load_datadir(tiny.data)
    every, only_b = load_data(config(tiny, init)), load_data(config(tiny, init, devices=["b"]))
    assert {data.device[u] for u in only_b.train.utts + only_b.val.utts} == {"b"}
    assert set(only_b.train.utts) == {u for u in every.train.utts if data.device[u] == "b"}
    assert set(only_b.val.utts) == {u for u in every.val.utts if data.device[u] == "b"}
    assert len(only_b.train) > 0 and len(only_b.val) > 0


def test_an_unknown_device_is_refused_naming_the_devices_there(setup):
    tiny, init = setup
    with pytest.raises(InputError, match=r"utt2device.*\['s9'\].*\['a', 'b'\]"):
        load_data(config(tiny, init, devices=["s9"]))


def test_model_from_init_fine_tunes_the_checkpoints_network_as_it_is(setup, capsys):
    tiny, init = setup
    exp = tiny.root / "device_b"
    argv = tiny.argv(exp, "devices=[b]", kd=False) + ["--init-checkpoint", str(init)]
    assert main(argv) == 0
    best = torch.load(exp / "checkpoints" / "best.pt", map_location="cpu", weights_only=True)
    assert best["model_name"] == "rep_mobile" and best["model_options"] == PRUNED
    start, tuned = weights(init), weights(exp / "checkpoints" / "best.pt")
    assert {k: v.shape for k, v in start.items()} == {k: v.shape for k, v in tuned.items()}
    assert any(not torch.equal(start[k], tuned[k]) for k in start if start[k].is_floating_point())
    resolved = yaml.safe_load((exp / "config.yaml").read_text())
    assert resolved["devices"] == ["b"] and resolved["model_options"]["expansion_channels"] == [8, 24]


def test_model_from_init_refuses_what_would_contradict_or_lack_the_checkpoint(setup, tmp_path):
    tiny, init = setup
    with pytest.raises(ConfigError, match="no init_checkpoint"):
        config(tiny, init, init_checkpoint=None)
    with pytest.raises(ConfigError, match="remove model_config"):
        config(tiny, init, model="baseline")
    deployed = tmp_path / "deployed.pt"
    model = build_model("rep_mobile", **PRUNED).eval()
    torch.save({"model_name": "rep_mobile", "model_options": PRUNED, "deployed": True,
                "state_dict": reparameterize(model).state_dict()}, deployed)
    with pytest.raises(ConfigError, match="deployed .fused. model.*training form"):
        config(tiny, init, init_checkpoint=str(deployed))
