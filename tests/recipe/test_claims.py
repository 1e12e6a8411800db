"""The evidence scripts of the paper's claims 1 and 3 at tiny size, on the session's finished recipe run:
local/ablation_reparam.sh (Rep-Mobile against its single-branch twin and the baseline; the branch variants)
and local/ablation_prune_schedule.sh (K × E pruning schedules at equal total epochs, the table and plot)."""
from __future__ import annotations

import json

import yaml

from test_run_sh import TINY_ARGS, readme_with, run_local_script, table_row

# The recipe run's own options, so that its finished runs are found (same config hash), not trained again;
# the schedule study sets the pruning steps and epochs itself.
TRAIN_OPTS = TINY_ARGS[TINY_ARGS.index("--train-opts") + 1]
PRUNE_OPTS = " ".join(o for o in TINY_ARGS[TINY_ARGS.index("--prune-opts") + 1].split()
                      if not o.startswith(("steps=", "epochs_per_step=", "one_shot=", "criterion=")))


def test_reparam_ablation_compares_rep_mobile_with_its_twin_and_branch_variants(finished_recipe, tmp_path):
    r = finished_recipe
    readme = readme_with(tmp_path, "reparam_ablation")
    result = run_local_script(r, "ablation_reparam.sh", "--splits", "100", "--seeds", "0", "--jobs", "2",
                              "--variants", "kxk_only", "--train-opts", TRAIN_OPTS,
                              "--readme", str(readme))
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    # seed 0 is the recipe's run: its systems were found finished and scored as they are; the new ones
    # were trained into it by ./run.sh stage 4, the branch variant through steps/train.sh
    recipe = json.loads((r / "exp/kd/split100/rep_mobile/score_test/scores.json").read_text())
    study = json.loads((r / "exp/ablation_reparam/seed0/split100/score/rep_mobile/scores.json").read_text())
    assert study["macro_accuracy"] == recipe["macro_accuracy"]
    for system in ("baseline_kd", "cp_mobile_small", "cp_mobile_small_kd"):
        assert (r / f"exp/kd/split100/{system}/train.done").is_file()
    variant = yaml.safe_load((r / "exp/ablation_reparam/seed0/split100/rep_mobile_kd_kxk_only/config.yaml").read_text())
    assert variant["model_options"]["dw_branches"] == variant["model_options"]["stem_branches"] == ["kxk"]
    text = readme.read_text()
    assert "old" not in text and text.endswith("<!-- reparam_ablation:end -->\n\n## After\n")
    for system, params in (("baseline", "61,148"), ("cp_mobile_small", "57,454"), ("rep_mobile", "57,442"),
                           ("baseline_kd", "61,148"), ("cp_mobile_small_kd", "57,454"), ("rep_mobile_kd", "57,442")):
        row = table_row(text, system)
        assert row[0] == params and row[2] == "–" and row[6] != "–", row       # split 100 only
    assert table_row(text, "cp_mobile_small")[1] == table_row(text, "rep_mobile")[1] == "29.54 M"
    for pair in ("`rep_mobile` beats `cp_mobile_small`", "`rep_mobile_kd` beats `baseline_kd`",
                 "`rep_mobile_kd` beats `rep_mobile_kd_kxk_only`"):
        assert f"- {pair} at " in text
    row = table_row(text, "rep_mobile_kd_kxk_only")                           # the branch table: split 100 alone
    assert row[:2] == ["57,442", "29.54 M"] and len(row) == 4 and row[2] != "–", row
    assert "the comparison 0/100; the branch variants 0/100." in text


def test_prune_schedules_from_one_start_model_at_equal_epochs_with_table_and_plot(finished_recipe, tmp_path):
    r = finished_recipe
    readme = readme_with(tmp_path, "prune_schedules")
    # split 5, the recipe run's smallest: both pruning schedules fine-tune on the fewest clips
    args = ["--splits", "5", "--seeds", "0", "--criteria", "bn_scale", "--schedules", "1x2 2x1",
            "--train-opts", TRAIN_OPTS, "--prune-opts", PRUNE_OPTS, "--readme", str(readme)]
    result = run_local_script(r, "ablation_prune_schedule.sh", *args)
    assert result.returncode == 0, f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    root = r / "exp/ablation_prune_schedule/split5/bn_scale"
    for run in ("k1x2/seed0", "k2x1/seed0"):
        assert (root / run / "prune.done").is_file()
        assert json.loads((root / run / "summary.json").read_text())["init"].endswith("rep_mobile_wide_kd")
    text = readme.read_text()
    assert "| 5 % | bn_scale | 2 | 1 × 2 (one-shot) |" in text and "| 5 % | bn_scale | 2 | 2 × 1 (progressive) |" in text
    assert "- split 5 %, bn_scale, 2 epochs: best K = " in text
    assert "beats one-shot (K = 1) in " in text
    assert "![Test accuracy against MACs along each pruning schedule](doc/prune_schedules.png)" in text
    png = tmp_path / "doc/prune_schedules.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    # --train false: only the table and plot again, from the runs on disk (nothing trained or pruned)
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    again = run_local_script(r, "ablation_prune_schedule.sh", *args, "--train", "false")
    assert again.returncode == 0, again.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == stamps
    assert readme.read_text() == text
