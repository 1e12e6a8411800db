"""Comparisons of two systems from scores.json files: A − B per split, over seeds, stated with the count of wins."""
from __future__ import annotations

import json

import pytest

from asc.bin import compare


def write_run(exp, seed, split, system, macro, unseen):
    path = exp / f"seed{seed}" / f"split{split}" / "score" / system / "scores.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"system": system, "split": split, "macro_accuracy": macro,
                                "seen_devices": macro + 0.05, "unseen_devices": unseen}))
    (path.parent / "score.done").write_text("{}")         # a finished scoring, as asc.eval.scoring leaves it


def test_differences_of_means_per_split_and_the_wins(tmp_path, capsys):
    exp = tmp_path / "exp"
    for seed in (0, 1):
        write_run(exp, seed, 100, "teacher", 0.50 + 0.02 * seed, 0.40)
        write_run(exp, seed, 100, "student", 0.40, 0.42)
        write_run(exp, seed, 5, "teacher", 0.10, 0.12)
        write_run(exp, seed, 5, "student", 0.20, 0.10)
    write_run(exp, 0, 50, "teacher", 0.9, 0.9)                   # the student has no split 50: not compared
    out = exp / "compare.md"
    assert compare.main(["--exp", str(exp), "--out", str(out), "teacher:student"]) == 0
    text = out.read_text()
    assert "| `teacher` − `student` | all devices | -10.00 | – | – | – | +11.00 | +0.50 |" in text
    assert "| `teacher` − `student` | unseen devices | +2.00 | – | – | – | -2.00 | +0.00 |" in text
    assert "`teacher` beats `student` at 1 of 2 splits on all devices and at 1 of 2 on the unseen devices." in text


def test_a_pair_without_common_scores_is_a_clear_error(tmp_path, capsys):
    exp = tmp_path / "exp"
    write_run(exp, 0, 100, "teacher", 0.5, 0.4)
    assert compare.main(["--exp", str(exp), "--out", str(exp / "c.md"), "teacher:student"]) == 1
    assert "no split has scores of both 'teacher' and 'student'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        compare.parse_args(["--exp", str(exp), "--out", "x", "teacher"])


def test_partial_lists_a_pair_not_measured_yet_beside_the_others(tmp_path):
    exp = tmp_path / "exp"
    write_run(exp, 0, 100, "teacher", 0.5, 0.4)
    write_run(exp, 0, 100, "student", 0.4, 0.4)
    out = exp / "c.md"
    assert compare.main(["--exp", str(exp), "--out", str(out), "--partial", "teacher:student",
                         "teacher:variant"]) == 0
    text = out.read_text()
    assert "| `teacher` − `variant` | all devices | – | – | – | – | – | – |" in text
    assert "- `teacher` against `variant`: not measured yet (no split has scores of both)." in text
    assert "`teacher` beats `student` at 1 of 1 splits" in text
