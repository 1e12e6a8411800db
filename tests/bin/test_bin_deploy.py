"""asc.bin.deploy: any trained checkpoint fused, checked against the limits and stored like stage 5's
deployable model; a model above the limits stops it naming the checkpoint, with nothing written."""
from __future__ import annotations

import json

import pytest
import torch

from asc.bin import deploy
from asc.models import build_model
from asc.models.model_file import load_deployable
from eval_helpers import FEATS, make_test_set, save_experiment, tiny_model


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # tests/conftest.py


def argv(exp, out, sets, *extra):
    return ["--checkpoint", str(exp), "--out-dir", str(out), "--feats", str(sets["feats"]),
            "--labels", str(sets["labels"]), *extra]


def test_a_trained_checkpoint_becomes_a_deployable_model(tmp_path, capsys):
    sets = make_test_set(tmp_path)
    model = tiny_model()
    exp = save_experiment(tmp_path / "exp" / "device" / "b" / "train", model, FEATS.hash())
    out = tmp_path / "exp" / "device" / "b" / "deploy"
    assert deploy.main(argv(exp, out, sets, "--test-data", str(sets["data"]), "--test-feats", str(sets["feats"]))) == 0
    loaded = load_deployable(out / "model.pt")
    assert loaded.features == FEATS and loaded.precision == "float16"
    x = torch.randn(3, 1, FEATS.n_mels, FEATS.clip_frames)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x), model(x), atol=2e-2, rtol=1e-2)   # float16 weights
    assert json.loads((out / "complexity.json").read_text())["within_limits"]
    assert (out / "precision.json").is_file() and (out / "deploy.done").is_file()
    first = (out / "model.pt").stat().st_mtime_ns
    assert deploy.main(argv(exp, out, sets, "--test-data", str(sets["data"]), "--test-feats", str(sets["feats"]))) == 0
    assert (out / "model.pt").stat().st_mtime_ns == first                     # same checkpoint: skipped
    only_b = tmp_path / "deploy_b"
    assert deploy.main(argv(exp, only_b, sets, "--test-data", str(sets["data"]), "--test-feats", str(sets["feats"]),
                            "--test-device", "b")) == 0
    n_b = sum(1 for line in (sets["data"] / "utt2device").read_text().splitlines() if line.endswith(" b"))
    assert json.loads((only_b / "precision.json").read_text())["n_clips"] == n_b   # the clips it serves


def test_a_model_over_the_limits_stops_the_deploy_naming_it(tmp_path, capsys):
    sets = make_test_set(tmp_path)
    wide = build_model("rep_mobile", n_classes=10, expansion_rate=3.0).eval()   # 42.6 M MACs
    exp = tmp_path / "exp" / "device" / "a" / "train"
    from asc.models.checkpoint_file import save_checkpoint
    save_checkpoint(exp / "checkpoints" / "best.pt", wide, "rep_mobile", {"n_classes": 10, "expansion_rate": 3.0},
                    labels=sets["labels"].read_text().split())
    (exp / "train.done").write_text("{}")
    out = tmp_path / "deploy"
    assert deploy.main(argv(exp, out, sets)) == 1
    err = capsys.readouterr().err
    assert f"deploy: {exp}:" in err and "exceeds the DCASE2024 limits" in err and "MACs" in err
    assert not (out / "model.pt").exists() and not (out / "deploy.done").exists()
