"""Checkpoints: weights-only round trip, random states, refusal of another model's or config's file."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from asc.errors import InputError
from asc.models import build_model
from asc.models.checkpoint_file import load_checkpoint, load_model, rng_state, save_checkpoint, set_rng_state

OPTIONS = {"n_classes": 4, "base_channels": 8, "n_blocks": [1, 1, 1], "strides": [[1, 1], [1, 2], [2, 1]]}


def test_round_trip_rebuilds_the_model(tmp_path):
    model = build_model("baseline", **OPTIONS)
    path = tmp_path / "best.pt"
    save_checkpoint(path, model, "baseline", OPTIONS, epoch=3, config_hash="abc", labels=["a", "b", "c", "d"])
    loaded, ckpt = load_model(path)
    assert ckpt["epoch"] == 3 and ckpt["labels"] == ["a", "b", "c", "d"] and ckpt["deployed"] is False
    x = torch.randn(2, 1, 24, 16)
    model.eval()
    assert torch.equal(model(x), loaded(x))


def test_another_model_or_config_refused_naming_the_file(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, build_model("baseline", **OPTIONS), "baseline", OPTIONS, config_hash="aaaa")
    with pytest.raises(InputError, match=r"last\.pt.*model 'baseline'.*'rep_mobile'"):
        load_checkpoint(path, model_name="rep_mobile")
    with pytest.raises(InputError, match=r"last\.pt.*another config \(hash aaaa.*bbbb"):
        load_checkpoint(path, model_name="baseline", config_hash="bbbb")
    assert load_checkpoint(path, "baseline", "aaaa")["config_hash"] == "aaaa"


def test_unreadable_and_foreign_files_refused(tmp_path):
    bad = tmp_path / "cut.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match=r"cut\.pt: cannot read"):
        load_checkpoint(bad)
    plain = tmp_path / "plain.pt"
    torch.save({"weight": torch.zeros(2)}, plain)
    with pytest.raises(InputError, match=r"plain\.pt: not a checkpoint"):
        load_checkpoint(plain)
    with pytest.raises(InputError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_wrong_options_refused(tmp_path):
    path = tmp_path / "x.pt"
    save_checkpoint(path, build_model("baseline", **OPTIONS), "baseline", {**OPTIONS, "base_channels": 16})
    with pytest.raises(InputError, match=r"x\.pt.*do not fit"):
        load_model(path)


def test_random_states_survive_weights_only_loading(tmp_path):
    torch.manual_seed(1)
    np.random.seed(2)
    random.seed(3)
    path = tmp_path / "rng.pt"
    save_checkpoint(path, torch.nn.Linear(1, 1), "none", {}, rng=rng_state())
    expected = (torch.rand(3), np.random.rand(3), [random.random() for _ in range(3)])
    torch.manual_seed(9)
    np.random.seed(9)
    random.seed(9)
    set_rng_state(load_checkpoint(path)["rng"])
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(3), expected[1])
    assert [random.random() for _ in range(3)] == expected[2]


def test_huge_model_options_in_a_file_are_refused_before_anything_is_built(tmp_path):
    import time

    import pytest
    import torch

    from asc.errors import InputError
    from asc.models.checkpoint_file import load_model

    path = tmp_path / "damaged.pt"
    torch.save({"model_name": "rep_mobile", "deployed": False, "state_dict": {"w": torch.zeros(3)},
                "model_options": {"stem_channels": [100_000, 100_000], "stage_channels": [100_000, 100_000],
                                  "n_blocks": [1, 1], "strides": [[1, 1], [2, 2]]}}, path)
    began = time.time()
    with pytest.raises(InputError, match="the options are damaged"):
        load_model(path)
    assert time.time() - began < 20
