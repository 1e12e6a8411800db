"""The stage layer (steps/): every path from --expdir/--dumpdir in steps/layout.sh, and each step's
arguments checked before anything runs (what a recipe calls them with is exercised by test_run_sh.py)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "egs" / "dcase2024_task1"


def layout(expression: str) -> str:
    run = subprocess.run(["bash", "-c", f". steps/layout.sh && {expression}"], cwd=RECIPE, capture_output=True,
                         text=True, check=True, timeout=60)
    return run.stdout.strip()


def test_layout_names_every_folder_from_its_arguments_only():
    assert layout("feats_h5 dump student train_split100") == "dump/student/train_split100/feats.h5"
    assert layout("teach_dir exp/x/seed1 5") == "exp/x/seed1/teach/split5"
    assert layout("kd_dir exp 100; kd_dir exp; deploy_dir e 25; prune_dir e 25") == \
        "exp/kd/split100\nexp/kd\ne/deploy/split25\ne/prune/split25"
    assert layout("expdir=elsewhere; kd_dir exp 5") == "exp/kd/split5"      # no caller variable is read
    assert layout("unit_name 25; unit_name fold2; teach_dir exp fold2") == "split25\nfold2\nexp/teach/fold2"
    assert layout("device_dir e 25; device_score_dir e 25; package_dir e") == \
        "e/device/split25\ne/device_score/split25\ne/package"


def test_a_study_uses_the_recipe_run_for_the_recipe_seed_only():
    assert layout("seed_expdir exp/study 0 0 exp") == "exp"
    assert layout("seed_expdir exp/study 1 0 exp") == "exp/study/seed1"
    assert layout("seed_expdir exp/study 0 '' exp") == "exp/study/seed0"  # no recipe seed: never reused
    assert layout("seed_expdir exp/study 0") == "exp/study/seed0"


@pytest.mark.parametrize("step", ["train", "teacher_logits", "prune", "score"])
def test_a_step_without_its_arguments_prints_its_usage_and_fails(step):
    run = subprocess.run([f"steps/{step}.sh", "only-one-argument"], cwd=RECIPE, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 1 and f"Usage: steps/{step}.sh" in run.stderr
    run = subprocess.run([f"steps/{step}.sh", "--no-such-option", "1"], cwd=RECIPE, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 1 and "unknown option --no-such-option" in run.stderr
