"""The schedule study's table and verdicts: which K × E wins per setting at equal total epochs, and over all."""
from __future__ import annotations

from asc.prune.schedule_report import schedule_markdown, schedule_paths


def runs(split, criterion, k, e, seed, final_acc, unseen=0.3):
    """The records of one run as asc.bin.prune_report makes them: step 0 (the start) to step K."""
    macs = [42_000_000 - (12_000_000 * s) // k for s in range(k + 1)]
    return [{"split": split, "criterion": criterion, "steps_run": k, "epochs_per_step": e, "seed": seed,
             "step": s, "params": 80_000 - s, "macs": macs[s], "test_acc": 0.45 if s == 0 else final_acc,
             "test_unseen": unseen} for s in range(k + 1)]


def study():
    records = []
    for seed, noise in ((0, 0.0), (1, 0.01)):
        records += runs(100, "l2", 1, 6, seed, 0.46 + noise)          # one-shot wins at split 100
        records += runs(100, "l2", 3, 2, seed, 0.44 + noise)
        records += runs(25, "l2", 1, 6, seed, 0.30 + noise)            # progressive wins at split 25, by a hair
        records += runs(25, "l2", 2, 3, seed, 0.302 + 3 * noise)
    records += runs(100, "l2", 6, 2, 0, 0.50)                         # a larger budget, one seed
    return records


def test_table_rows_and_one_verdict_per_setting():
    text = schedule_markdown(study(), "Schedules", ["note"])
    assert "| 100 % | l2 | 6 | 1 × 6 (one-shot) | 79,999 | 30,000,000 | 46.50 ± 0.71 | 30.00 ± 0.00 | 2 |" in text
    assert "| 100 % | l2 | 12 | 6 × 2 (progressive) | 79,994 | 30,000,000 | 50.00 | 30.00 | 1 |" in text
    assert "- split 100 %, l2, 6 epochs: best K = 1 (1 × 6 (one-shot), 46.50 %); K = 3 -2.00 points." in text
    assert "- split 100 %, l2, 12 epochs: best K = 6 (6 × 2 (progressive), 50.00 %)." in text
    split25 = next(line for line in text.splitlines() if line.startswith("- split 25 %"))
    assert "best K = 2" in split25 and "not separable at these seeds" in split25   # 1.20 points, sd 2.12
    assert ("Progressive pruning (the best K > 1) beats one-shot (K = 1) in 1 of 2 settings (split, criterion, "
            "epochs in all), by -0.40 points on average (range -2.00 to +1.20).") in text
    assert text.rstrip().endswith("note")
    # rows: larger split first, then criterion, budget, K
    rows = [line.split(" | ")[:4] for line in text.splitlines() if line.startswith("| 1") or line.startswith("| 2")]
    assert rows == [["| 100 %", "l2", "6", "1 × 6 (one-shot)"], ["| 100 %", "l2", "6", "3 × 2 (progressive)"],
                    ["| 100 %", "l2", "12", "6 × 2 (progressive)"], ["| 25 %", "l2", "6", "1 × 6 (one-shot)"],
                    ["| 25 %", "l2", "6", "2 × 3 (progressive)"]]


def test_paths_follow_each_schedule_step_by_step_over_seeds():
    paths = {(p.schedule.split, p.schedule.steps, p.schedule.total): p for p in schedule_paths(study())}
    three = paths[(100, 3, 6)]
    assert three.macs == [42_000_000, 38_000_000, 34_000_000, 30_000_000] and three.seeds == 2
    assert three.accuracy[0] == 45.0 and abs(three.accuracy[-1] - 44.5) < 1e-9
    assert paths[(100, 6, 12)].seeds == 1 and len(paths[(100, 6, 12)].macs) == 7
