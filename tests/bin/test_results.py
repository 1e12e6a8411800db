"""exp/RESULTS.md from the scores.json files of an experiment tree, never by hand."""
from __future__ import annotations

import json

import pytest

from asc.bin import results, score
from eval_helpers import FEATS, make_test_set, save_deployed, tiny_model

SPLITS = (5, 10, 25, 50, 100)


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # tests/conftest.py


def write_scores(path, system, split, accuracy, params=50_000, macs=20_000_000, **extra):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"system": system, "split": split, "macro_accuracy": accuracy, "params": params,
                                "macs": macs, "data": "data/test", "n_clips": 2970, **extra}))
    (path.parent / "score.done").write_text("{}")         # a finished scoring, as asc.eval.scoring leaves it


def table_rows(text: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and cells[0] not in ("system",):
            rows[cells[0]] = cells[1:]
    return rows


def test_every_system_gets_a_row_with_its_splits_mean_and_complexity(tmp_path, capsys):
    exp = tmp_path / "exp"
    for k, split in enumerate(SPLITS):
        write_scores(exp / "kd" / f"split{split}" / "rep_mobile_kd" / "score_test" / "scores.json",
                     "rep_mobile_kd", split, 0.50 + 0.01 * k, params=57_442, macs=29_539_392)
        write_scores(exp / "kd" / f"split{split}" / "baseline" / "score_test" / "scores.json",
                     "baseline", split, 0.40 + 0.01 * k, params=61_148, macs=29_419_156)
        write_scores(exp / "deploy" / f"split{split}" / "score_test" / "scores.json",
                     "rep_mobile_pruned", split, 0.52, params=40_000 + split, macs=25_000_000)
    write_scores(exp / "kd" / "split5" / "rep_mobile" / "score_test" / "scores.json", "rep_mobile", 5, 0.3)
    write_scores(exp / "other" / "scores.json", "teacher", None, 0.9)         # no split: not in the table
    out = exp / "RESULTS.md"
    assert results.main(["--exp", str(exp), "--out", str(out)]) == 0
    text = out.read_text()
    rows = table_rows(text)
    assert list(rows) == ["baseline", "rep_mobile", "rep_mobile_kd", "rep_mobile_pruned"]
    assert rows["rep_mobile_kd"] == ["57,442", "29.54 M", "50.00", "51.00", "52.00", "53.00", "54.00", "52.00"]
    assert rows["baseline"][0:2] == ["61,148", "29.42 M"] and rows["baseline"][-1] == "42.00"
    assert rows["rep_mobile"][2:] == ["30.00", "–", "–", "–", "–", "30.00*"]   # not a ranking score
    assert rows["rep_mobile_pruned"][0] == "40,005–40,100"                         # pruned per split
    assert "`rep_mobile_kd`: Rep-Mobile trained with knowledge distillation" in text
    assert "data/test (2970 clips)" in text and "- torch: `" in text
    assert f"skipped {exp / 'other' / 'scores.json'}: no training split recorded" in capsys.readouterr().err


def test_the_table_is_rewritten_only_when_the_scores_change(tmp_path, capsys):
    exp = tmp_path / "exp"
    write_scores(exp / "a" / "split5" / "x" / "scores.json", "x", 5, 0.5)
    out = tmp_path / "RESULTS.md"
    assert results.main(["--exp", str(exp), "--out", str(out)]) == 0
    stamp = out.stat().st_mtime_ns
    assert results.main(["--exp", str(exp), "--out", str(out)]) == 0
    assert out.stat().st_mtime_ns == stamp and "up to date" in capsys.readouterr().out
    write_scores(exp / "a" / "split5" / "x" / "scores.json", "x", 5, 0.6)
    assert results.main(["--exp", str(exp), "--out", str(out)]) == 0
    assert table_rows(out.read_text())["x"][2] == "60.00"


def test_the_systems_option_puts_rows_first_without_dropping_others(tmp_path):
    exp = tmp_path / "exp"
    for system in ("b_sys", "a_sys", "rep_mobile_kd"):
        write_scores(exp / system / "split5" / "scores.json", system, 5, 0.5)
    out = tmp_path / "RESULTS.md"
    assert results.main(["--exp", str(exp), "--out", str(out), "--systems", "b_sys"]) == 0
    assert list(table_rows(out.read_text())) == ["b_sys", "a_sys", "rep_mobile_kd"]


def test_only_lists_the_named_systems_and_counts_their_files_alone(tmp_path, capsys):
    exp = tmp_path / "exp"
    for system in ("b_sys", "a_sys", "rep_mobile_kd"):
        write_scores(exp / system / "split5" / "scores.json", system, 5, 0.5)
    out = tmp_path / "RESULTS.md"
    assert results.main(["--exp", str(exp), "--out", str(out), "--systems", "rep_mobile_kd b_sys", "--only"]) == 0
    text = out.read_text()
    assert list(table_rows(text)) == ["rep_mobile_kd", "b_sys"] and "from 2 scores.json files" in text
    assert results.main(["--exp", str(exp), "--out", str(out), "--systems", "c_sys", "--only"]) == 1
    assert "no scores of the systems c_sys" in capsys.readouterr().err


@pytest.mark.parametrize("case, message", [
    ("empty", "no scores.json of a training split found"),
    ("broken", "scores.json: cannot read scores"),
    ("foreign", "scores.json: not a scores.json of asc.bin.score: missing system"),
    ("missing", "experiment folder not found"),
])
def test_nothing_to_tabulate_or_a_bad_file_is_one_clear_line(tmp_path, capsys, case, message):
    exp = tmp_path / "exp"
    if case != "missing":
        exp.mkdir()
    if case == "broken":
        (exp / "scores.json").write_text("{not json")
    elif case == "foreign":
        (exp / "scores.json").write_text('{"accuracy": 1}')
    if case in ("broken", "foreign"):
        (exp / "score.done").write_text("{}")
    assert results.main(["--exp", str(exp), "--out", str(tmp_path / "R.md")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("results: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "R.md").exists()


def test_scores_written_by_the_scoring_stage_reach_the_table(tmp_path):
    sets = make_test_set(tmp_path, per_cell=1)
    model_file = save_deployed(tmp_path / "exp" / "deploy" / "split50" / "model.pt", tiny_model())
    out = tmp_path / "exp" / "deploy" / "split50" / "score_test"
    assert score.main(["--checkpoint", str(model_file), "--data", str(sets["data"]), "--feats", str(sets["feats"]),
                       "--labels", str(sets["labels"]), "--out", str(out), "--system", "rep_mobile_pruned"]) == 0
    scored = json.loads((out / "scores.json").read_text())
    assert results.main(["--exp", str(tmp_path / "exp"), "--out", str(tmp_path / "exp" / "RESULTS.md")]) == 0
    row = table_rows((tmp_path / "exp" / "RESULTS.md").read_text())["rep_mobile_pruned"]
    assert row[0] == f"{scored['params']:,}" and row[5] == f"{100 * scored['macro_accuracy']:.2f}"
    assert FEATS.hash() == scored["feature_config_hash"]


def test_the_unseen_device_table_reads_that_figure_and_averages_seeds(tmp_path, capsys):
    exp = tmp_path / "exp"
    for seed, unseen in ((0, 0.30), (1, 0.40)):
        write_scores(exp / f"seed{seed}" / "split100" / "rep_mobile_kd" / "scores.json", "rep_mobile_kd", 100, 0.5,
                     unseen_devices=unseen, seen_devices=0.6)
    write_scores(exp / "seed0" / "split100" / "ensemble" / "scores.json", "ensemble", 100, 0.7, params=None,
                 macs=None, unseen_devices=None)
    out = tmp_path / "unseen.md"
    assert results.main(["--exp", str(exp), "--out", str(out), "--metric", "unseen_devices",
                         "--title", "KD ablation"]) == 0
    text = out.read_text()
    rows = table_rows(text)
    assert rows["rep_mobile_kd"][2:] == ["–", "–", "–", "–", "35.00 ± 7.07", "35.00*"]
    assert "ensemble" not in rows and "no unseen_devices figure" in capsys.readouterr().err
    assert text.startswith("# KD ablation") and "never seen in training (s4-s6) by training split" in text
    header = next(line for line in text.splitlines() if line.startswith("| system"))
    assert header.endswith("| mean |")               # another figure than the DCASE ranking score


def test_a_compact_table_has_no_headings_for_another_document(tmp_path):
    exp = tmp_path / "exp"
    write_scores(exp / "split5" / "baseline" / "scores.json", "baseline", 5, 0.4)
    out = tmp_path / "section.md"
    assert results.main(["--exp", str(exp), "--out", str(out), "--compact"]) == 0
    text = out.read_text()
    assert text.startswith("**DCASE2024 Task 1: macro class-averaged accuracy")
    assert not any(line.startswith("#") for line in text.splitlines()) and table_rows(text)["baseline"][2] == "40.00"
    assert "Built by" in text
    assert results.main(["--exp", str(exp), "--out", str(out), "--compact", "--no-notes"]) == 0
    assert "Built by" not in out.read_text() and table_rows(out.read_text())["baseline"][2] == "40.00"


def test_only_the_named_folders_are_read(tmp_path):
    exp = tmp_path / "exp"
    write_scores(exp / "kd" / "split5" / "rep_mobile" / "score_test" / "scores.json", "rep_mobile", 5, 0.30)
    write_scores(exp / "deploy" / "split5" / "score_test" / "scores.json", "rep_mobile_pruned", 5, 0.35)
    write_scores(exp / "ablation_kd" / "seed1" / "split5" / "score" / "rep_mobile" / "scores.json",
                 "rep_mobile", 5, 0.90)
    out = exp / "RESULTS.md"
    assert results.main(["--exp", str(exp / "kd"), str(exp / "deploy"), "--out", str(out)]) == 0
    rows = table_rows(out.read_text())
    assert rows["rep_mobile"][2] == "30.00" and rows["rep_mobile_pruned"][2] == "35.00"


def test_a_cell_with_fewer_runs_than_the_others_says_how_many(tmp_path):
    exp = tmp_path / "exp"
    for seed in (0, 1):
        write_scores(exp / f"seed{seed}" / "split100" / "rep_mobile" / "scores.json", "rep_mobile", 100, 0.4 + seed / 10)
    write_scores(exp / "seed0" / "split50" / "rep_mobile" / "scores.json", "rep_mobile", 50, 0.3)
    out = tmp_path / "t.md"
    assert results.main(["--exp", str(exp), "--out", str(out)]) == 0
    text = out.read_text()
    assert table_rows(text)["rep_mobile"][5:7] == ["30.00 (n=1)", "45.00 ± 7.07"]
    assert "(n=k): k runs only, where other cells have 2." in text


def test_scores_without_their_done_marker_are_left_out_and_named(tmp_path, capsys):
    exp = tmp_path / "exp"
    for split in SPLITS:
        write_scores(exp / "kd" / f"split{split}" / "baseline" / "score_test" / "scores.json", "baseline", split, 0.4)
    interrupted = exp / "kd" / "split5" / "rep_mobile" / "score_test"
    write_scores(interrupted / "scores.json", "rep_mobile", 5, 0.9)
    (interrupted / "score.done").unlink()                  # scoring killed while rewriting its outputs
    out = exp / "RESULTS.md"
    assert results.main(["--exp", str(exp), "--out", str(out)]) == 0
    assert list(table_rows(out.read_text())) == ["baseline"]
    err = capsys.readouterr().err
    assert f"skipped {interrupted / 'scores.json'}: no score.done" in err
