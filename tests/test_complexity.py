"""DCASE complexity accounting: torchinfo's rules on the deployment form, bytes, limits, the command."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import yaml

from asc.bin import complexity as cli
from asc.complexity import (Complexity, complexity_report, count_complexity, param_bytes,
                            within_limits)
from asc.errors import ConfigError
from asc.models import build_model, reparameterize
from asc.models.reparam import RepConv2d


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # tests/conftest.py


def test_counting_rules_by_hand():
    # 3x3 conv 1 -> 4 on 8x8 (padding 1): 36 weights + 4 biases, each used at 64 positions
    conv = nn.Conv2d(1, 4, 3, padding=1)
    assert count_complexity(conv, (1, 8, 8)) == Complexity(40, 40 * 64)
    # an unfolded BatchNorm adds 2*C parameters and 2*C MACs
    conv_bn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4))
    assert count_complexity(conv_bn, (1, 8, 8)) == Complexity(36 + 8, 36 * 64 + 8)
    # the same as a foldable site: counted fused, so the bias costs C_out*H*W MACs
    site = RepConv2d(1, 4, 3, branches=["kxk", "1x1"])
    assert count_complexity(site, (1, 8, 8)) == Complexity(40, 40 * 64)
    assert count_complexity(site, (1, 8, 8), deploy=False) == Complexity(36 + 8 + 4 + 8, 36 * 64 + 8 + 4 * 64 + 8)
    assert site.branch_names == ["kxk", "1x1"]          # counting did not fuse the caller's model


def test_bytes_and_verdict_at_the_limits():
    assert [param_bytes(1000, p) for p in ("float32", "float16", "int8")] == [4000, 2000, 1000]
    with pytest.raises(ConfigError, match="unknown precision"):
        param_bytes(10, "bfloat8")
    assert within_limits(Complexity(64_000, 30_000_000), "float16")
    assert not within_limits(Complexity(64_001, 30_000_000), "float16")
    assert not within_limits(Complexity(64_000, 30_000_001), "float16")
    assert not within_limits(Complexity(64_000, 1), "float32")
    assert within_limits(Complexity(128_000, 1), "int8")
    report = complexity_report(Complexity(61_148, 29_419_156), "float16")
    assert report == {"params": 61_148, "param_bytes": 122_296, "macs": 29_419_156, "precision": "float16",
                      "within_limits": True, "max_param_bytes": 128_000, "max_macs": 30_000_000,
                      "input_shape": [1, 256, 65], "counted_by": "torchinfo 1.8.0"}


def run(capsys, *argv) -> tuple[int, dict | None, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else None), err


def test_command_by_name_writes_complexity_json(tmp_path, capsys):
    code, report, _ = run(capsys, "--model", "baseline", "--out", str(tmp_path / "complexity.json"))
    assert code == 0
    assert (report["model"], report["params"], report["macs"]) == ("baseline", 61_148, 29_419_156)
    assert json.loads((tmp_path / "complexity.json").read_text()) == report


def test_command_with_options_model_config_and_training_config(tmp_path, capsys):
    options = {"base_channels": 16, "channels_multiplier": 1.5, "expansion_rate": 2.0}
    (tmp_path / "opts.yaml").write_text(yaml.safe_dump(options))
    (tmp_path / "model.yaml").write_text(yaml.safe_dump(
        {"name": "cp_mobile", "features": "student", "options": options}))
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(
        {"model": "cp_mobile", "model_options": options, "epochs": 3}))
    expected = count_complexity(build_model("cp_mobile", **options))
    for argv in (["--model", "cp_mobile", "--options", str(tmp_path / "opts.yaml")],
                 ["--config", str(tmp_path / "model.yaml")], ["--config", str(tmp_path / "train.yaml")]):
        code, report, _ = run(capsys, *argv, "--precision", "int8")
        assert code == 0 and (report["params"], report["macs"]) == (expected.params, expected.macs)
        # int8: weights at 1 byte, plus the float32 biases and scales the int8 network stores (asc.models.quantized)
        assert report["param_bytes"] == report["int8_memory"]["param_bytes"] > expected.params
        assert report["precision"] == "int8"


def test_the_reparameterization_study_compares_equal_deployed_networks(capsys):
    """The branch variants and the online training form fuse into Rep-Mobile's deployed network; its
    single-branch twin CP-Mobile-small has the same MACs and 12 more params (one GRN gamma and beta per
    block); the configs' `base:` is read."""
    conf = cli.RECIPE_CONF
    counted = {}
    for name in ("rep_mobile", "rep_mobile_no_kxk", "rep_mobile_no_1xk_kx1", "rep_mobile_kxk_only", "rep_mobile_online",
                 "cp_mobile_small"):
        assert cli.main(["--config", str(conf / f"model_{name}.yaml")]) == 0
        report = json.loads(capsys.readouterr().out)
        counted[name] = (report["params"], report["macs"])
    assert counted.pop("cp_mobile_small") == (57_454, 29_539_392)
    assert set(counted.values()) == {(57_442, 29_539_392)}
    options = yaml.safe_load((conf / "model_rep_mobile_kxk_only.yaml").read_text())["options"]
    assert options == {"dw_branches": ["kxk"], "stem_branches": ["kxk"]}      # the rest from its base


@pytest.mark.parametrize("deployed", [False, True])
def test_command_on_a_checkpoint(tmp_path, capsys, deployed):
    options = {"stem_channels": [4, 8], "stage_channels": [8, 16], "n_blocks": [1, 1],
               "strides": [[1, 1], [2, 2]]}
    model = build_model("rep_mobile", **options)
    saved = reparameterize(model).half() if deployed else model
    torch.save({"model_name": "rep_mobile", "model_options": options,
                "state_dict": saved.state_dict(), "deployed": deployed}, tmp_path / "model.pt")
    code, report, _ = run(capsys, "--checkpoint", str(tmp_path / "model.pt"))
    expected = count_complexity(model)
    assert code == 0 and (report["params"], report["macs"]) == (expected.params, expected.macs)


@pytest.mark.parametrize("argv, message", [
    (["--model", "no_such_model"], "unknown model 'no_such_model'"),
    (["--model", "baseline", "--input-shape", "256,65"], "expected channels,mels,frames"),
    (["--model", "baseline", "--input-shape", "2,256,65"], "cannot run model 'baseline'"),
    (["--config", "/nonexistent/model.yaml"], "config file not found"),
])
def test_command_errors_are_one_line(capsys, argv, message):
    code, _, err = run(capsys, *argv)
    assert code == 1 and err.startswith("complexity: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_readme_table_is_what_the_models_count_now(tmp_path, capsys):
    """README's complexity section is exactly what `--readme` writes today, and its rows say what DCASE
    and the papers publish (the baseline's figures, the limits' verdicts)."""
    readme = Path(__file__).resolve().parents[1] / "README.md"
    begin, end = "<!-- complexity:begin -->\n", "<!-- complexity:end -->"
    text = readme.read_text()
    assert text.count(begin) == 1 and text.count(end) == 1, "README lost its complexity markers"
    section = text.split(begin, 1)[1].split(end, 1)[0]
    table = cli.readme_table()
    assert section == table, "README's complexity table is stale: python -m asc.bin.complexity --readme README.md"
    rows = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:] for line in table.splitlines()
            if line.startswith("| ") and "`model_" in line}
    assert len(rows) == len(cli.README_MODELS) == 6
    baseline = rows["DCASE2024 baseline (`model_baseline.yaml`)"]
    assert baseline[0] == "61,148" and baseline[2] == "29,419,156"    # as published
    assert rows["Rep-Mobile, default (`model_rep_mobile.yaml`)"][3].startswith("yes")
    assert rows["CP-Mobile, DCASE2023 as published (`model_cp_mobile.yaml`)"][3].startswith("no")
    assert rows["Rep-Mobile, wide start of int8 pruning (`model_rep_mobile_wide_int8.yaml`)"][3].startswith("no")
    # the command fills a copy and leaves text outside the markers alone; a file without markers is refused
    copy = tmp_path / "README.md"
    copy.write_text(f"# T\n\n{begin}old\n{end}\n\nafter\n")
    assert cli.main(["--readme", str(copy)]) == 0
    assert copy.read_text() == f"# T\n\n{begin}{table}{end}\n\nafter\n"
    copy.write_text("# no markers\n")
    assert cli.main(["--readme", str(copy)]) == 1
    assert "complexity:begin" in capsys.readouterr().err
