"""The recipe end to end: ./run.sh stages 0-6 on a tiny generated corpus with one epoch per training,
in a copy of the recipe folder, as CI and a new user would run it; then a re-run that must redo nothing."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "models"))
from shared_pretrained import shared_pretrained  # noqa: E402
RECIPE = ROOT / "egs" / "dcase2024_task1"

TINY_CORPUS = ("--set dev.cities=[lisbon,paris,lyon] --set dev.locations_per_city=1 "
               "--set dev.segments_per_location=2 --set dev.train_pieces=2 --set dev.test_pieces=1 "
               "--set eval.recordings_per_scene=1 --set dirs.count=4")
TINY_ARGS = ["--splits", "5 100", "--nj", "2", "--jobs", "2", "--corpus-opts", TINY_CORPUS,
             "--train-opts", "epochs=1 batch_size=16 min_steps=0",       # min_steps: the configs' would add epochs
             "--prune-opts", "steps=2 epochs_per_step=1 finetune.batch_size=16 finetune.min_steps=0"]


def recipe_copy(tmp: Path) -> Path:
    """A folder laid out like the repository (tools/, utils/, egs/r/) whose recipe files link to ours,
    so that the run writes corpus/, data/, dump/ and exp/ under tmp and leaves the repository alone."""
    (tmp / "egs" / "r").mkdir(parents=True)
    for name in ("tools", "utils"):
        (tmp / name).symlink_to(ROOT / name)
    for entry in RECIPE.iterdir():
        if entry.name in ("run.sh", "cmd.sh", "path.sh", "db.sh", "conf", "local", "utils", "steps"):
            (tmp / "egs" / "r" / entry.name).symlink_to(entry)
    return tmp / "egs" / "r"


def run_recipe(recipe: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    env.setdefault("PRETRAINED_DIR", str(shared_pretrained()))     # the mn04 teacher's AudioSet weights
    return subprocess.run(["./run.sh", *TINY_ARGS, *args], cwd=recipe, env=env, text=True,
                          capture_output=True, timeout=1200)


def output_mtimes(recipe: Path) -> dict[str, int]:
    return {str(p.relative_to(recipe)): p.stat().st_mtime_ns
            for top in ("corpus", "data", "dump", "exp") for p in (recipe / top).rglob("*")
            if p.is_file() and "/log/" not in str(p) and not p.name.endswith(".log")}


def test_every_stage_leaves_its_outputs(finished_recipe):
    r = finished_recipe
    assert (r / "corpus/embedded/meta.csv").is_file()
    for d in ("train_split5", "train_split100", "test"):
        assert (r / "data" / d / "wav.scp").is_file()
    for feats in ("student", "teacher"):
        assert (r / "dump" / feats / "train_split100" / "feats.h5").is_file()
    for split in (5, 100):
        assert (r / f"exp/teach/split{split}/logits.h5").is_file()
        for system in ("baseline", "rep_mobile", "rep_mobile_kd"):
            scores = json.loads((r / f"exp/kd/split{split}/{system}/score_test/scores.json").read_text())
            assert 0.0 <= scores["macro_accuracy"] <= 1.0
            assert set(scores["per_device"]) >= {"a", "s4", "s5", "s6"}
        complexity = json.loads((r / f"exp/deploy/split{split}/complexity.json").read_text())
        assert complexity["within_limits"] and complexity["param_bytes"] <= 128_000
        assert complexity["macs"] <= 30_000_000
    for folder in ("teach/split100/mn04", "kd/split5/rep_mobile_kd", "prune/split100/step1/finetune"):
        assert (r / "exp" / folder / "curves.png").read_bytes()[:4] == b"\x89PNG"    # learning curves
    results = (r / "exp/RESULTS.md").read_text()
    for system in ("baseline", "rep_mobile_kd", "rep_mobile_pruned"):
        assert system in results


def test_deployed_model_classifies_audio_alone(finished_recipe, tmp_path):
    wav = sorted((finished_recipe / "corpus/embedded/audio").glob("*.wav"))[0]
    model = finished_recipe / "exp/deploy/split100/model.pt"
    out = tmp_path / "labels.tsv"
    result = subprocess.run([str(ROOT / "tools/venv/bin/python"), "-m", "asc.bin.infer", "--model", str(model),
                             str(wav), "--out", str(out)], cwd=tmp_path, text=True, capture_output=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert wav.name in out.read_text()


def test_rerun_redoes_nothing(finished_recipe):
    """Every stage of the same command again, for split 5: stages 0-2 and split 5's chains of stages 3-6 find
    their outputs finished, and nothing of any split is rewritten. Split 100's chains are the same steps (per
    split in run.sh) and are re-run by the last test, which checks that only what reads the changed wav is
    redone there."""
    before = output_mtimes(finished_recipe)
    result = run_recipe(finished_recipe, "--splits", "5")          # the later --splits wins
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    after = output_mtimes(finished_recipe)
    rewritten = sorted(k for k in before if after.get(k) != before[k])
    assert not rewritten, f"re-run rewrote {rewritten[:10]}"


def run_local_script(recipe: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    env.setdefault("PRETRAINED_DIR", str(shared_pretrained()))     # scripts that run ./run.sh train mn04 too
    return subprocess.run([f"local/{script}", *args], cwd=recipe, env=env, text=True, capture_output=True,
                          timeout=1200)


def readme_with(tmp_path: Path, section: str) -> Path:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Project\n\n<!-- {section}:begin -->\nold\n<!-- {section}:end -->\n\n## After\n")
    return readme


def table_row(text: str, system: str) -> list[str]:
    return next([c.strip() for c in line.strip("|").split("|")][1:] for line in text.splitlines()
                if line.startswith(f"| {system} |"))


def test_kd_ablation_tabulates_teacher_families_and_students_over_seeds(finished_recipe, tmp_path):
    r = finished_recipe
    readme = readme_with(tmp_path, "kd_ablation")
    # split 5, the recipe run's smallest: seed 1's teachers, students and per-family students train on the
    # fewest clips; the study's steps are the same at every split
    result = run_local_script(r, "ablation_kd.sh", "--splits", "5", "--seeds", "0 1", "--jobs", "2",
                              "--train-opts", "epochs=1 batch_size=16 min_steps=0", "--readme", str(readme))
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    # seed 0 is the recipe's: its teachers and students were found finished, not trained again
    assert not (r / "exp/ablation_kd/seed0/split5/cp_resnet").exists()
    assert (r / "exp/ablation_kd/seed1/teach/split5/cp_resnet/train.done").is_file()   # ./run.sh --expdir
    recipe_kd = json.loads((r / "exp/kd/split5/rep_mobile_kd/score_test/scores.json").read_text())
    ablation_kd = json.loads((r / "exp/ablation_kd/seed0/split5/score/rep_mobile_kd_ensemble/scores.json").read_text())
    assert ablation_kd["macro_accuracy"] == pytest.approx(recipe_kd["macro_accuracy"])
    text = readme.read_text()
    assert "old" not in text and text.endswith("<!-- kd_ablation:end -->\n\n## After\n")
    for system in ("mn04", "cp_resnet", "ensemble", "rep_mobile", "rep_mobile_kd_mn04",
                   "rep_mobile_kd_cp_resnet", "rep_mobile_kd_ensemble"):
        row = table_row(text, system)
        assert "±" in row[2] and row[3:7] == ["–"] * 4, row      # split 5 only, two seeds
    assert "devices never seen in training" in text
    assert table_row(text, "ensemble")[:2] == ["–", "–"]  # no single network: no params or MACs
    for family in ("mn04", "cp_resnet", "ensemble"):     # each family and its student against rep_mobile
        row = table_row(text, f"`{family}` − `rep_mobile` | unseen devices")
        assert row[0] == "unseen devices" and row[1] != "–" and row[2:6] == ["–"] * 4, row
        assert f"- `rep_mobile_kd_{family}` beats `rep_mobile` at " in text


def test_prune_ablation_compares_progressive_and_one_shot(finished_recipe, tmp_path):
    readme = readme_with(tmp_path, "prune_ablation")
    # split 5: the four pruning runs fine-tune on its clips, the fewest of the recipe run's splits
    result = run_local_script(finished_recipe, "ablation_prune.sh", "--split", "5", "--seeds", "0 1",
                              "--prune-opts", "steps=2 epochs_per_step=1 finetune.batch_size=16 finetune.min_steps=0",
                              "--readme", str(readme))
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    text = readme.read_text()
    final = text.split("### Final models")[1]
    assert "| progressive | 2 × 1 |" in final and "| one-shot | 1 × 2 |" in final
    for run in ("progressive/seed0", "progressive/seed1", "one_shot/seed0", "one_shot/seed1"):
        assert (finished_recipe / "exp/ablation_prune/split5" / run / "prune.done").is_file()


def test_deploy_evidence_prunes_float16_and_int8_each_from_its_own_start(finished_recipe, tmp_path):
    r = finished_recipe
    readme = readme_with(tmp_path, "deploy_evidence")
    # split 5: the int8 start model and both pruning runs train on the fewest clips of the recipe run's splits
    result = run_local_script(r, "deploy_evidence.sh", "--splits", "5", "--seeds", "0", "--jobs", "2",
                              "--train-opts", "epochs=1 batch_size=16 min_steps=0",
                              "--prune-opts",
                              "steps=1 epochs_per_step=1 finetune.batch_size=16 finetune.min_steps=0 qat.epochs=1",
                              "--readme", str(readme))
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert (r / "exp/kd/split5/rep_mobile_wide_int8_kd/train.done").is_file()
    runs = r / "exp/deploy_evidence/split5"
    int8 = json.loads((runs / "int8/seed0/deploy/complexity.json").read_text())
    float16 = json.loads((runs / "float16/seed0/deploy/complexity.json").read_text())
    assert int8["within_limits"] and float16["within_limits"]
    assert int8["params"] > 1.5 * float16["params"]            # the int8 budget is spent, not left idle
    assert "int8" in readme.read_text() and "old" not in readme.read_text()


def test_readme_results_shows_the_split_tables_of_the_recipe(finished_recipe, tmp_path):
    readme = readme_with(tmp_path, "results")
    result = run_local_script(finished_recipe, "readme_results.sh", "--readme", str(readme))
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    text = readme.read_text()
    assert text.count("| system |") == 3 and "devices never seen in training" in text
    for system in ("baseline", "rep_mobile", "rep_mobile_kd", "rep_mobile_pruned"):
        assert len(table_row(text, system)) == 8
    assert "ablation" not in text and text.count("Built by") == 1


def test_calibration_judges_the_baseline_over_seeds(finished_recipe, tmp_path):
    r = finished_recipe
    readme = readme_with(tmp_path, "calibration")
    args = ["--splits", "5 100", "--seeds", "0 1", "--jobs", "2", "--train-opts", "epochs=1 batch_size=16 min_steps=0",
            "--readme", str(readme)]
    strict = run_local_script(r, "calibration.sh", *args)        # one epoch cannot reach 40 %: checks fail
    assert strict.returncode == 1 and "not calibrated" in strict.stderr, strict.stderr[-3000:]
    assert "**FAIL**: split 100: macro accuracy in [40, 85] %" in readme.read_text()
    assert not (r / "exp/calibration/seed0/split100/baseline").exists()          # the recipe's run is used
    assert not list((r / "exp/calibration/seed0").glob("*/split100/baseline/train.done"))
    assert (r / "exp/calibration/seed1/kd/split100/baseline/train.done").is_file()   # ./run.sh --expdir
    result = run_local_script(r, "calibration.sh", *args, "--strict", "false")
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "| 100 % | 2 |" in readme.read_text() and "| 5 % | 2 |" in readme.read_text()


def test_a_wav_changed_under_its_name_redoes_only_the_stages_that_read_it(finished_recipe):
    """Stages are chained by content: one test wav rewritten under the same name rebuilds the test
    features, re-runs what read them (the deploy's float16 check, the scoring, the table) and nothing
    else (corpus, data dirs, training features, teachers, students, pruning). For split 100 alone (the
    same stages, half the time); last in this file, as it changes the finished recipe."""
    import numpy as np
    import soundfile as sf

    r = finished_recipe
    wav = Path(Path(r / "data/test/wav.scp").read_text().split("\n")[0].split(maxsplit=1)[1])
    wav = wav if wav.is_absolute() else r / wav
    audio, rate = sf.read(wav, dtype="float32")
    before = output_mtimes(r)
    sf.write(wav, np.roll(audio, len(audio) // 3, axis=0) * 0.5, rate)     # other audio, same name
    result = run_recipe(r, "--stage", "1", "--splits", "100")
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    after = output_mtimes(r)
    redone = sorted(k for k in before if after.get(k) != before[k] and not k.startswith("corpus/"))
    expected = ("dump/student/test/", "dump/teacher/test/", "/score_test/", "exp/deploy/split100/", "exp/RESULTS.md")
    assert "dump/student/test/feats.h5" in redone and "exp/kd/split100/baseline/score_test/scores.json" in redone
    assert "exp/deploy/split100/deploy.done" in redone
    assert all(any(part in k for part in expected) for k in redone), redone
    assert not any(k.startswith(("data/", "dump/student/train", "dump/teacher/train", "exp/teach/", "exp/prune/"))
                   or "/checkpoints/" in k or "split5" in k for k in redone), redone
