"""The evidence table: progressive against one-shot runs of the same start, several seeds, per step."""
from __future__ import annotations

import pytest
import torch

from asc.bin.prune import main as prune
from asc.bin.prune_report import _macs, command_line, main as report
from asc.prune.report import ablation_markdown
from tiny_prune import make_tiny_prune


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_report_of_progressive_and_one_shot_runs(tmp_path, capsys):
    tiny = make_tiny_prune(tmp_path)
    runs = []
    for schedule, flag, seeds in (("progressive", "false", (0, 1)), ("one_shot", "true", (0,))):
        for seed in seeds:
            exp = tmp_path / schedule / f"seed{seed}"
            assert prune(tiny.argv(exp, "target.param_bytes=5000", "target.macs=60000", f"seed={seed}",
                                   f"one_shot={flag}")) == 0
            runs.append(str(exp))
    out = tmp_path / "README.md"
    argv = ["--test-data", str(tiny.data), "--test-feats", str(tiny.feats), "--labels", str(tiny.labels),
            "--out", str(out), *runs]
    assert report(argv) == 0
    text = out.read_text()
    assert "Progressive against one-shot pruning (train, to 5,000 B at float16 and 60,000 MACs)" in text
    rows = [line for line in text.splitlines() if line.startswith("| progressive |") or line.startswith("| one-shot |")]
    # per step: progressive 0, 1, 2 and one-shot 0, 1; final: one row each
    assert len(rows) == 5 + 2
    assert "| progressive | 2 × 1 |" in text and "| one-shot | 1 × 2 |" in text
    assert " ± " in rows[0] and " ± " not in rows[3]                   # two seeds: mean ± sd
    cache = tmp_path / "progressive" / "seed0" / "step2" / "test_scores.json"
    stamp = cache.stat().st_mtime_ns
    assert report(argv) == 0 and cache.stat().st_mtime_ns == stamp   # scored once
    assert report(argv[:-1] + [str(tmp_path / "missing")]) == 1
    assert "no prune.done" in capsys.readouterr().err


def test_markdown_of_single_values_has_no_spread():
    records = [{"schedule": "progressive", "seed": 0, "step": s, "params": 100 - s, "param_bytes": 200 - 2 * s,
                "macs": 1000 - s, "val_acc_pruned": None, "val_acc": 0.5, "test_acc": 0.4, "test_seen": 0.45,
                "test_unseen": 0.3, "epochs_per_step": 2} for s in (0, 1)]
    text = ablation_markdown(records, "T")
    assert "| progressive | 1 | 99 | 198 | 999 | – | 50.00 | 40.00 | 30.00 |" in text
    assert "| progressive | 1 × 2 | 99 | 999 | 40.00 | 45.00 | 30.00 |" in text


@pytest.mark.parametrize("macs, text", [(60_000, "60,000 MACs"), (999_999, "999,999 MACs"),
                                        (30_000_000, "30 M MACs"), (29_539_392, "29.54 M MACs")])
def test_mac_target_in_the_title_is_never_rounded_to_zero(macs, text):
    assert _macs(macs) == text


def test_command_line_writes_a_study_of_many_runs_as_one_pattern_and_a_few_runs_in_full():
    options = ["--schedules", "--out", "exp/s/README.md"]
    runs = [f"exp/s/split{n}/{c}/k{k}/seed{s}" for n in (25, 100) for c in ("l2", "bn_scale")
            for k in ("1x6", "6x1") for s in (0, 1, 2)]
    assert command_line(options + runs, runs) == ("python -m asc.bin.prune_report --schedules --out "
                                                  "exp/s/README.md exp/s/split*/*/k*/seed*  # 24 runs")
    few = runs[:2]
    assert command_line(options + few, few) == "python -m asc.bin.prune_report " + " ".join(options + few)
    assert command_line(options + ["a/b1", "a/bb1"] * 5, ["a/b1", "a/bb1"] * 5).endswith("a/b*1  # 10 runs")
    uneven = runs + ["exp/other"]       # no single pattern: every run is listed
    assert command_line(options + uneven, uneven).endswith("seed2 exp/other")
