"""The calibration check: the baseline's figures per split over seeds, and each criterion judged on them."""
from __future__ import annotations

import json

from asc.bin import calibration


def write_run(exp, seed, split, macro, seen, unseen, system="baseline"):
    path = exp / f"seed{seed}" / f"split{split}" / "score" / system / "scores.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"system": system, "split": split, "macro_accuracy": macro,
                                "seen_devices": seen, "unseen_devices": unseen}))
    (path.parent / "score.done").write_text("{}")         # a finished scoring, as asc.eval.scoring leaves it


def checks(capsys):
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("calibration: ")]


def test_a_calibrated_corpus_passes_every_check(tmp_path, capsys):
    exp = tmp_path / "exp"
    for seed, top in enumerate((0.42, 0.46, 0.44)):
        write_run(exp, seed, 100, top, top + 0.04, top - 0.08)
        write_run(exp, seed, 5, 0.20, 0.23, 0.14)
    write_run(exp, 0, 100, 0.99, 0.99, 0.99, system="rep_mobile")       # another system: not judged
    out = exp / "calibration.md"
    assert calibration.main(["--exp", str(exp), "--out", str(out), "--strict"]) == 0
    text = out.read_text()
    assert "| 100 % | 3 | 44.00 ± 2.00 | 48.00 ± 2.00 | 36.00 ± 2.00 | 12.00 |" in text
    assert "| 5 % | 3 | 20.00 ± 0.00 |" in text
    lines = checks(capsys)
    assert len(lines) == 4 and all(": pass: " in line for line in lines[:3])
    assert "split 100: unseen devices at least 5 points below seen (12.00 points)" in lines[1]
    assert "split 5 at least 5 points below split 100 (24.00 points)" in lines[2]


def test_each_failed_criterion_is_named(tmp_path, capsys):
    exp = tmp_path / "exp"
    write_run(exp, 0, 100, 0.90, 0.91, 0.89)          # too easy, and unseen devices no harder
    write_run(exp, 0, 5, 0.88, 0.88, 0.88)            # no data efficiency to study (no device gap: not judged)
    out = exp / "calibration.md"
    assert calibration.main(["--exp", str(exp), "--out", str(out)]) == 0      # reports, does not fail
    assert calibration.main(["--exp", str(exp), "--out", str(out), "--strict"]) == 1
    failed = [line for line in checks(capsys) if "FAIL" in line]
    assert len(failed) == 3 * 2          # three criteria fail, printed by each of the two runs
    assert "split 100: macro accuracy in [40, 85] % (90.00 %)" in failed[0]
    assert "**FAIL**: split 100: unseen devices at least 5 points below seen (2.00 points)" in out.read_text()


def test_no_scores_of_the_system_is_a_clear_error(tmp_path, capsys):
    exp = tmp_path / "exp"
    write_run(exp, 0, 100, 0.5, 0.5, 0.4, system="rep_mobile")
    assert calibration.main(["--exp", str(exp), "--out", str(exp / "c.md")]) == 1
    assert "no scores of system 'baseline'" in capsys.readouterr().err
    assert not (exp / "c.md").exists()
