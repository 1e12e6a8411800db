"""The stage layer (steps/): every path from --expdir/--dumpdir in steps/layout.sh, each step's arguments
checked before anything runs, the commands each stage's chain runs for one split (with `echo` as the
launcher: nothing trained) and steps/stages.sh's per_unit (one by one or a pool). What a recipe calls them
with is exercised by test_run_sh.py and test_audio_folder_recipe.py."""
from __future__ import annotations

import os
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


@pytest.mark.parametrize("step", ["train", "teacher_logits", "prune", "score", "extract_features", "teachers", "students",
                                  "prune_chain", "score_systems"])
def test_a_step_without_its_arguments_prints_its_usage_and_fails(step):
    run = subprocess.run([f"steps/{step}.sh", "only-one-argument"], cwd=RECIPE, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 1 and f"Usage: steps/{step}.sh" in run.stderr
    run = subprocess.run([f"steps/{step}.sh", "--no-such-option", "1"], cwd=RECIPE, capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 1 and "unknown option --no-such-option" in run.stderr


def chain(script: str, *args: str) -> tuple[list[str], list[str], subprocess.CompletedProcess]:
    """Run a chain of steps/ with `echo` as every launcher: the commands its jobs would run (log file
    first), its progress lines (without the time), and the run itself. Nothing is trained or written."""
    run = subprocess.run([f"steps/{script}.sh", *args], cwd=RECIPE, capture_output=True, text=True, timeout=60)
    lines = run.stdout.splitlines()
    progress = [line.split(" ", 2)[2] for line in lines if "[run.sh stage" in line]
    return [line for line in lines if "[run.sh stage" not in line], progress, run


def test_teachers_train_each_member_then_write_the_ensemble_logits():
    commands, progress, run = chain(
        "teachers", "--cmd", "echo", "--logits-cmd", "echo", "--threads", "2", "--seed", "1", "--train-opts",
        "epochs=1 batch_size=16", "--pretrained-dir", "pre", "--init", "passt=/ck/passt.pt", "conf/embedded",
        "data/train_split5", "dump", "train_split100", "data/labels.txt", "exp/teach/split5", "mn04:teacher",
        "passt:student")
    assert run.returncode == 0, run.stderr
    train = "python -m asc.bin.train --config conf/embedded/train_{0}.yaml --train-data data/train_split5 " \
            "--feats dump/{1}/train_split100/feats.h5 --labels data/labels.txt --exp exp/teach/split5/{0} {2} " \
            "augment.device_ir.enabled=false seed=1 epochs=1 batch_size=16"
    assert commands == [
        "--num-threads 2 exp/teach/split5/mn04/log/train.log " + train.format("mn04", "teacher", "--pretrained-dir pre"),
        "--num-threads 2 exp/teach/split5/passt/log/train.log "    # a checkpoint of --init: no pretrained files
        + train.format("passt", "student", "--init-checkpoint /ck/passt.pt"),
        "--num-threads 2 exp/teach/split5/log/logits.log python -m asc.bin.teacher_logits --data data/train_split5 "
        "--labels data/labels.txt --out exp/teach/split5/logits.h5 exp/teach/split5/mn04 exp/teach/split5/passt"]
    assert progress == [
        "[run.sh stage 3] teacher mn04 on data/train_split5 -> exp/teach/split5/mn04 "
        "(log: exp/teach/split5/mn04/log/train.log)",
        "[run.sh stage 3] teacher passt on data/train_split5 -> exp/teach/split5/passt "
        "(log: exp/teach/split5/passt/log/train.log)",
        "[run.sh stage 3] teacher ensemble logits ( exp/teach/split5/mn04 exp/teach/split5/passt ) -> "
        "exp/teach/split5/logits.h5"]
    commands, _, run = chain("teachers", "--cmd", "echo", "c", "d", "dump", "all", "l", "t", "mn04:teacher", "mn04")
    assert run.returncode == 1 and "teacher 'mn04' is not <name>:<features>" in run.stderr and not commands


def test_students_distil_the_kd_systems_only_and_need_their_logits():
    args = ["--cmd", "echo", "--stage", "5", "conf/embedded", "data/train_fold1", "dump/student/all/feats.h5",
            "data/labels.txt", "exp/kd/fold1", "baseline", "rep_mobile_kd"]
    commands, progress, run = chain("students", "--teacher-logits", "exp/teach/fold1/logits.h5", *args)
    assert run.returncode == 0, run.stderr
    train = "exp/kd/fold1/{0}/log/train.log python -m asc.bin.train --config conf/embedded/train_{0}.yaml " \
            "--train-data data/train_fold1 --feats dump/student/all/feats.h5 --labels data/labels.txt " \
            "--exp exp/kd/fold1/{0} {1}augment.device_ir.enabled=false seed=0"
    assert commands == [train.format("baseline", ""),
                        train.format("rep_mobile_kd", "--teacher-logits exp/teach/fold1/logits.h5 ")]
    assert progress[1] == ("[run.sh stage 5] rep_mobile_kd on data/train_fold1 -> exp/kd/fold1/rep_mobile_kd "
                           "(log: exp/kd/fold1/rep_mobile_kd/log/train.log)")
    commands, _, run = chain("students", *args)                 # checked before the baseline is trained
    assert run.returncode == 1 and "rep_mobile_kd is distilled (*_kd): give --teacher-logits" in run.stderr
    assert not commands
    commands, progress, run = chain("students", *args[:-2])     # no system (a recipe run with --students "")
    assert run.returncode == 0 and not commands and not progress


def test_prune_chain_trains_the_wide_student_then_prunes_and_deploys_it():
    args = ["conf/embedded", "data/train_split5", "dump/student/train_split100/feats.h5", "exp/teach/split5/logits.h5",
            "data/labels.txt", "exp/kd/split5", "exp/prune/split5", "exp/deploy/split5"]
    commands, progress, run = chain("prune_chain", "--cmd", "echo", "--prune-cmd", "echo", "--prune-opts", "steps=2",
                                    "--test-data", "data/test", "--test-feats", "dump/student/test/feats.h5", *args)
    assert run.returncode == 0, run.stderr
    assert commands == [
        "exp/kd/split5/rep_mobile_wide_kd/log/train.log python -m asc.bin.train --config "
        "conf/embedded/train_rep_mobile_wide_kd.yaml --train-data data/train_split5 --feats "
        "dump/student/train_split100/feats.h5 --labels data/labels.txt --exp exp/kd/split5/rep_mobile_wide_kd "
        "--teacher-logits exp/teach/split5/logits.h5 augment.device_ir.enabled=false seed=0",
        "exp/prune/split5/log/prune.log python -m asc.bin.prune --config conf/embedded/prune.yaml --init "
        "exp/kd/split5/rep_mobile_wide_kd --train-data data/train_split5 --feats dump/student/train_split100/feats.h5 "
        "--teacher-logits exp/teach/split5/logits.h5 --labels data/labels.txt --exp exp/prune/split5 --deploy-dir "
        "exp/deploy/split5 --test-data data/test --test-feats dump/student/test/feats.h5 "
        "finetune.augment.device_ir.enabled=false seed=0 steps=2"]
    assert progress == [
        "[run.sh stage 5] rep_mobile_wide_kd on data/train_split5 -> exp/kd/split5/rep_mobile_wide_kd "
        "(log: exp/kd/split5/rep_mobile_wide_kd/log/train.log)",
        "[run.sh stage 5] pruning exp/kd/split5/rep_mobile_wide_kd -> exp/prune/split5, deployable model -> "
        "exp/deploy/split5 (log: exp/prune/split5/log/prune.log)"]
    commands, _, run = chain("prune_chain", "--cmd", "echo", "--test-data", "data/test", *args)
    assert run.returncode == 1 and "--test-data data/test needs --test-feats" in run.stderr and not commands


def test_score_systems_scores_each_system_then_the_finished_deployable_model(tmp_path):
    deploy = tmp_path / "deploy"
    args = ["--cmd", "echo", "--split", "1", "data/test_fold1", "f.h5", "l.txt", "exp/kd/fold1", str(deploy),
            "baseline"]
    commands, progress, run = chain("score_systems", *args)     # stage 5 not finished: no deploy.done
    assert run.returncode == 1 and f"{deploy} is not finished (no deploy.done); run stage 5" in run.stderr
    score = "python -m asc.bin.score --checkpoint {0} --system {1} --split 1 --data data/test_fold1 --feats f.h5 " \
            "--labels l.txt --out {2}/score_test"
    assert commands == ["exp/kd/fold1/baseline/score_test/log/score.log "
                        + score.format("exp/kd/fold1/baseline", "baseline", "exp/kd/fold1/baseline")]
    deploy.mkdir()
    (deploy / "deploy.done").write_text("{}")
    commands, progress, run = chain("score_systems", *args)
    assert run.returncode == 0, run.stderr
    assert commands[1] == f"{deploy}/score_test/log/score.log " + score.format(f"{deploy}/model.pt",
                                                                               "rep_mobile_pruned", deploy)
    assert progress == ["[run.sh stage 6] scoring exp/kd/fold1/baseline on data/test_fold1 -> "
                        "exp/kd/fold1/baseline/score_test",
                        f"[run.sh stage 6] scoring {deploy}/model.pt on data/test_fold1 -> {deploy}/score_test"]


def per_unit(tmp_path: Path, call: str) -> subprocess.CompletedProcess:
    """`call` in a shell set up as run.sh's (set -e; a chain that fails for fold2 only); "after" once it returned."""
    script = "\n".join([". utils/job_pool.sh", ". steps/layout.sh", ". steps/stages.sh", "set -euo pipefail",
                        'chain() { echo "chain $1"; [ "$1" != fold2 ]; }', call, "echo after"])
    return subprocess.run(["bash", "-c", script], cwd=RECIPE, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LOG": str(tmp_path)})


def test_per_unit_runs_a_chain_for_every_split_or_fold_one_by_one_or_side_by_side(tmp_path):
    run = per_unit(tmp_path, "per_unit 3 1 $LOG chain 5 100")      # --jobs 1: in order, on the screen
    assert run.returncode == 0 and run.stdout == "chain 5\nchain 100\nafter\n"
    run = per_unit(tmp_path, "per_unit 3 2 $LOG chain 5 100")      # a pool: each split's output in its log
    assert run.returncode == 0, run.stderr
    assert run.stdout.split(" ", 2)[2] == (f"[run.sh stage 3] splits 5 100, 2 at once, largest first "
                                           f"(logs: {tmp_path}/stage3.split<N>.log)\nafter\n")
    assert (tmp_path / "stage3.split100.log").read_text() == "chain 100\n"
    run = per_unit(tmp_path, "per_unit 4 2 $LOG chain fold1 fold3")
    assert run.returncode == 0 and f"folds 1 3, 2 at once (logs: {tmp_path}/stage4.fold<k>.log)" in run.stdout
    assert (tmp_path / "stage4.fold3.log").read_text() == "chain fold3\n"
    assert per_unit(tmp_path, "per_unit 4 2 $LOG chain").stdout == "after\n"    # no unit: nothing to do


def test_per_unit_stops_the_recipe_when_a_chain_fails(tmp_path):
    run = per_unit(tmp_path, "per_unit 5 1 $LOG chain fold1 fold2 fold3")     # the first failure stops it
    assert run.returncode == 1 and run.stdout == "chain fold1\nchain fold2\n"
    run = per_unit(tmp_path, "per_unit 5 2 $LOG chain fold1 fold2 fold3")     # the others still finish
    assert run.returncode == 1 and "after" not in run.stdout
    assert f"pool: failed (exit 1): {tmp_path}/stage5.fold2.log" in run.stderr
    assert "stage 5 failed for a fold; its log is named above" in run.stderr
    assert (tmp_path / "stage5.fold3.log").read_text() == "chain fold3\n"
