"""Stage 6 of the DCASE2025 recipe: the device-specific system scored clip by clip with the model of its
device (the general one for the others), and the tables of general against device-specific."""
from __future__ import annotations

import json

import pytest
import torch

from asc.bin import device_results, score, score_devices
from asc.models import build_model
from eval_helpers import make_test_set, save_deployed, tiny_model


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # tests/conftest.py


def scored(model, sets, out):
    assert score.main(["--checkpoint", str(model), "--data", str(sets["data"]), "--feats", str(sets["feats"]),
                       "--labels", str(sets["labels"]), "--out", str(out), "--split", "25"]) == 0
    return json.loads((out / "scores.json").read_text())


def test_each_device_is_scored_with_its_own_model_and_the_rest_with_the_general_one(tmp_path, capsys):
    sets = make_test_set(tmp_path, per_cell=3)
    general = save_deployed(tmp_path / "exp" / "deploy" / "split25" / "model.pt", tiny_model(0))
    own_b = save_deployed(tmp_path / "exp" / "device" / "split25" / "b" / "deploy" / "model.pt", tiny_model(1))
    root = tmp_path / "exp" / "device_score" / "split25"
    argv = ["--general", str(general), "--data", str(sets["data"]), "--feats", str(sets["feats"]),
            "--labels", str(sets["labels"]), "--split", "25", "--out", str(root / "device_specific"), f"b={own_b}"]
    assert score_devices.main(argv) == 0
    routed = json.loads((root / "device_specific" / "scores.json").read_text())
    alone_general = scored(general, sets, root / "general")
    alone_b = scored(own_b, sets, tmp_path / "b_alone")
    assert routed["per_device"]["b"] == alone_b["per_device"]["b"]                 # b: its own model
    for device in ("a", "s1", "s4"):
        assert routed["per_device"][device] == alone_general["per_device"][device]  # the others: general
    assert routed["routing"] == {"a": str(general), "b": str(own_b), "s1": str(general), "s4": str(general)}
    assert set(routed["device_complexity"]) == {"general", "b"}
    done = (root / "device_specific" / "score.done").stat().st_mtime_ns
    assert score_devices.main(argv) == 0                                           # same inputs: skipped
    assert (root / "device_specific" / "score.done").stat().st_mtime_ns == done

    out = tmp_path / "RESULTS.md"
    assert device_results.main(["--runs", str(tmp_path / "exp"), "--split", "25", "--out", str(out)]) == 0
    text = out.read_text()
    assert "| general |" in text and "| device_specific |" in text and "| device_specific − general |" in text
    diff_row = next(line for line in text.splitlines() if line.startswith("| device_specific − general"))
    cells = [c.strip() for c in diff_row.strip("|").split("|")]
    named = dict(zip(["system", "macro", "seen", "unseen", "a", "b", "c", "s1", "s2", "s3", "s4", "s5", "s6"], cells))
    assert named["a"] == named["s1"] == named["s4"] == named["unseen"] == "+0.0"   # general's clips: no change
    assert named["c"] == named["s5"] == "–"                                         # no clips of theirs
    expected_b = 100 * (alone_b["per_device"]["b"] - alone_general["per_device"]["b"])
    assert named["b"] == f"{expected_b:+.1f}"
    assert "| b |" in text and "| general |" in text.split("Complexity")[1]
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- dcase2025_devices:begin -->\nold\n<!-- dcase2025_devices:end -->\n")
    runs = [str(tmp_path / "exp"), str(tmp_path / "exp")]
    assert device_results.main(["--runs", *runs, "--readme", str(readme)]) == 0
    assert "old" not in readme.read_text() and "over 2 runs" in readme.read_text()


def test_a_device_model_of_another_architecture_is_refused(tmp_path, capsys):
    sets = make_test_set(tmp_path)
    general = save_deployed(tmp_path / "general.pt", tiny_model(0))
    other = build_model("rep_mobile", stem_channels=[4, 8], stage_channels=[8, 16], n_blocks=[1, 1],
                        strides=[[1, 1], [2, 2]], expansion_rate=2.0)
    wrong = tmp_path / "wrong.pt"
    torch.save({"model_name": "rep_mobile", "state_dict": other.state_dict()}, wrong)   # not even deployed
    argv = ["--general", str(general), "--data", str(sets["data"]), "--feats", str(sets["feats"]),
            "--labels", str(sets["labels"]), "--out", str(tmp_path / "out"), f"b={wrong}"]
    assert score_devices.main(argv) == 1
    assert str(wrong) in capsys.readouterr().err
    assert score_devices.main(argv[:-1] + ["b"]) == 1
    assert "expected DEVICE=PATH" in capsys.readouterr().err
