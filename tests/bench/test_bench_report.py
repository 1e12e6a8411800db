"""bench/report.py on hand-made results (no benchmark is run): the training-step ratio and the memory
figure of the end-to-end run reach README's sections, with their targets (issue 21)."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def report():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import report as module
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return module


def e2e_results(stage5_mb: float) -> dict:
    stages = {"stage4": {"seconds": 300.0, "cpu_seconds": 590.0, "max_process_rss_mb": 1210.0,
                         "largest_process": "asc.bin.train --config conf/embedded/train_rep_mobile_kd.yaml"},
              "stage5": {"seconds": 400.0, "cpu_seconds": 790.0, "max_process_rss_mb": stage5_mb,
                         "largest_process": "asc.bin.train --config conf/embedded/train_rep_mobile_wide_kd.yaml"}}
    before = {"stage4": {"seconds": 881.0, "max_process_rss_mb": 1500.0},
              "stage5": {"seconds": 840.0, "max_process_rss_mb": 2855.0}}
    return {"e2e_max_process_rss_mb": max(s["max_process_rss_mb"] for s in stages.values()),
            "e2e": {"command": "./run.sh", "complete": True, "stages": stages, "at": "today",
                    "before": {"stages": before, "at": "yesterday"}}}


def test_e2e_section_names_the_largest_process_per_stage_and_against_the_target(report, tmp_path):
    over = report.e2e_section(e2e_results(1830.0), "python bench/e2e.py")
    assert "| stage5 | 840 | 400 | 790 | 2855 | 1830 | `asc.bin.train --config conf/embedded/train_rep_mobile_wide_kd" in over
    assert "| all | 1721 | 700 | 1380 | 2855 | 1830 |" in over
    assert ("Largest process of the run: 1,830 MB resident in stage5 (`asc.bin.train --config "
            "conf/embedded/train_rep_mobile_wide_kd.yaml`)") in over
    assert "**not met**" in over
    under = report.e2e_section(e2e_results(1400.0), "python bench/e2e.py")
    assert "1,400 MB resident in stage5" in under and "(1.5 GB), met." in under
    # a run before measured as a whole (no memory per stage): its largest process in the 'all' row
    whole = e2e_results(1400.0)
    whole["e2e"]["before"] = {"stage_seconds": {"stage4": 881, "stage5": 840}, "measured": {"max_process_rss_mb": 2855}}
    text = report.e2e_section(whole, "python bench/e2e.py")
    assert "| stage5 | 840 | 400 | 790 | - | 1400 |" in text and "| all | 1721 | 700 | 1380 | 2855 | 1400 |" in text
    # the same through the command line into a README's e2e section
    results = tmp_path / "results.json"
    results.write_text(json.dumps(e2e_results(1400.0)))
    readme = tmp_path / "README.md"
    readme.write_text("<!-- e2e:begin -->\nold\n<!-- e2e:end -->\n")
    assert report.main([str(results), "--section", "e2e", "--readme", str(readme)]) == 0
    assert "Largest process of the run: 1,400 MB" in readme.read_text() and "old" not in readme.read_text()


def test_headline_rows_carry_the_training_step_ratio_and_the_memory_target(report):
    results = e2e_results(1830.0) | {
        "train_step_speedup": 1.08, "train_step_speedup_2threads": 1.05,
        "train_step": {"rep_mobile": {"batch": 32, "samples_per_s_1thread": {"old": 50.0, "new": 54.0, "fused": 130.0,
                                                                             "orepa": 100.0},
                                      "samples_per_s_2threads": {"old": 80.0, "new": 84.0},
                                      "eval_samples_per_s_1thread": {"old": 100.0, "new": 190.0}, "eval_speedup": 1.9},
                       "teachers": {"mn04": {"channels_last_speedup": 1.15}}}}
    rows = {row[0]: row[1:] for row in report.headline_rows(results)}
    assert rows["Rep-Mobile training step (batch 32), 1 thread, CPU time"] == (
        "1.08x", "branch by branch, the path before (50 samples/s; now 54)", ">= 2x", "**no**")
    assert rows["... 2 threads, wall clock"][0] == "1.05x"
    assert rows["... fused single-convolution form (the ceiling), 1 thread"][0] == "2.60x"
    assert rows["... 'orepa' form, 1 thread"][0] == "2.00x"        # a training form added beside them shows too
    assert rows["Rep-Mobile validation forward, 1 thread"][0] == "1.90x"
    assert rows["Teacher mn04 training step, channels_last"][0] == "1.15x"
    memory = rows["End to end: largest process"]
    assert memory[0] == "1,830 MB" and "stage5" in memory[1] and memory[3] == "**no**"
    # a results file without these topics renders '-' rather than failing
    empty = {row[0]: row[1:] for row in report.headline_rows({})}
    assert empty["Rep-Mobile training step (batch ?), 1 thread, CPU time"][0] == "-"
    assert empty["End to end: largest process"][0] == "-"
