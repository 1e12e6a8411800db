"""egs/dcase2025_task1/run.sh end to end at tiny size: stages 0-4 through the DCASE2024 recipe (the
session's finished tiny recipe is its base: stages 0-2 are found done there), device models, the
per-device scores and tables, the inference package with its own checks, then a re-run of this
recipe's own stages that redoes nothing. The package's install into a clean environment is tests/export/test_dcase2025_package.py."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from test_run_sh import ROOT, TINY_ARGS, TINY_CORPUS, output_mtimes
from shared_pretrained import shared_pretrained

RECIPE = ROOT / "egs" / "dcase2025_task1"
# The 2024 recipe test's training and pruning options (min_steps=0: the embedded configs' min_steps would
# turn each one-epoch training into 100-150 steps, 20-30 epochs at split 25).
TRAIN_OPTS = TINY_ARGS[TINY_ARGS.index("--train-opts") + 1]
PRUNE_OPTS = TINY_ARGS[TINY_ARGS.index("--prune-opts") + 1]
ARGS = ["--nj", "2", "--corpus-opts", TINY_CORPUS, "--train-opts", TRAIN_OPTS, "--prune-opts", PRUNE_OPTS,
        "--device-opts", "batch_size=2 min_steps=0 val_fraction=0", "--devices", "b",
        "--package-name", "Tiny_Recipe_task1"]


def recipe_copy(tmp: Path) -> Path:
    """egs/dcase2025_task1 under tmp (tools/ and utils/ beside egs/), its files linked to ours."""
    (tmp / "egs" / "d25").mkdir(parents=True)
    for name in ("tools", "utils"):
        (tmp / name).symlink_to(ROOT / name)
    for entry in RECIPE.iterdir():
        if entry.name in ("run.sh", "cmd.sh", "path.sh", "db.sh", "conf", "local", "utils", "steps"):
            (tmp / "egs" / "d25" / entry.name).symlink_to(entry.resolve() if entry.name == "path.sh" else entry)
    return tmp / "egs" / "d25"


def run(recipe: Path, base: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    env.update(BASE_RECIPE=str(base), PRETRAINED_DIR=str(shared_pretrained()))
    return subprocess.run(["./run.sh", *ARGS, *args], cwd=recipe, env=env, text=True, capture_output=True,
                          timeout=1200)


@pytest.fixture(scope="module")
def finished(finished_recipe, tmp_path_factory):
    recipe = recipe_copy(tmp_path_factory.mktemp("dcase2025"))
    result = run(recipe, finished_recipe)
    assert result.returncode == 0, f"run.sh failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return recipe, finished_recipe, result


def test_general_and_device_models_are_scored_per_device_and_packaged(finished):
    recipe, base, result = finished
    exp = recipe / "exp"
    devices = ["b"]                           # --devices (default: every device of data/train_split25)
    assert not (exp / "kd/split25/rep_mobile_kd").exists()            # no DCASE2024 students
    general = json.loads((exp / "deploy/split25/complexity.json").read_text())
    for device in devices:
        complexity = json.loads((exp / f"device/split25/{device}/deploy/complexity.json").read_text())
        assert complexity["within_limits"] and complexity["params"] == general["params"]
        assert complexity["macs"] == general["macs"]                               # the same architecture
        config = (exp / f"device/split25/{device}/train/config.yaml").read_text()
        assert f"devices:\n- {device}" in config and "model_from_init: true" in config
    routed = json.loads((exp / "device_score/split25/device_specific/scores.json").read_text())
    plain = json.loads((exp / "device_score/split25/general/scores.json").read_text())
    assert {d for d, m in routed["routing"].items() if "/device/" in m} == set(devices)
    for unseen in ("s4", "s5", "s6"):
        assert routed["per_device"][unseen] == plain["per_device"][unseen]        # the general model's clips
    results = (exp / "RESULTS.md").read_text()
    assert "| device_specific − general |" in results and "| general |" in results

    pkg = exp / "package/split25"
    predictions = pkg / "predictions/Tiny_Recipe_task1_1"
    per_device = json.loads((predictions / "complexity.json").read_text())["per_device"]
    for device in devices + ["s4", "unknown"]:
        assert per_device[device]["MACs"] == general["macs"] and per_device[device]["Params"] == general["param_bytes"]
    accuracy = json.loads((predictions / "test_accuracy.json").read_text())
    assert abs(accuracy["macro_accuracy"] - 100 * routed["macro_accuracy"]) <= 0.5          # the sanity check
    n_eval = len((base / "corpus/embedded_eval/evaluation_setup/fold1_test.csv").read_text().splitlines()) - 1
    assert len((predictions / "output.csv").read_text().splitlines()) == n_eval + 1
    models = json.loads((pkg / "Tiny_Recipe_task1/ckpts/models.json").read_text())
    assert sorted(models["devices"]) == devices


def test_rerun_redoes_nothing(finished):
    recipe, base, _ = finished
    before = output_mtimes(recipe)
    result = run(recipe, base, "--stage", "5", "--stop-stage", "6")    # stages 0-4: the 2024 recipe's own tests
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    after = output_mtimes(recipe)
    rewritten = sorted(k for k in before if after.get(k) != before[k] and not k.endswith("RESULTS.md"))
    assert not rewritten, f"re-run rewrote {rewritten[:10]}"
