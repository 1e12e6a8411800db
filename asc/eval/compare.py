"""Does system A beat system B? The difference of their mean test accuracy over seeds, per training split,
on all devices and on the unseen ones.

An ablation's claims ("the teacher ensemble beats the student trained without KD", "KD helps") are read
off its tables; this states them from the same scores.json files, so that no claim is typed by hand and
each one says where it holds and where it does not.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Sequence

from asc.eval.collect import Roots, runs_by_split
from asc.eval.results_table import DCASE2024_SPLITS

METRICS = {"macro_accuracy": "all devices", "unseen_devices": "unseen devices"}


@dataclass
class Comparison:
    """A minus B (percentage points of mean accuracy) per split where both have scores, per metric."""
    better: str
    than: str
    diffs: dict[str, dict[int, float]]

    def wins(self, metric: str) -> int:
        return sum(d > 0 for d in self.diffs[metric].values())

    def mean(self, metric: str) -> float | None:
        values = list(self.diffs[metric].values())
        return statistics.fmean(values) if values else None


def compare(exp_roots: Roots, better: str, than: str) -> Comparison:
    """`better` against `than` from the scores under `exp_roots` (means over the runs of each split)."""
    a, b = runs_by_split(exp_roots, better, tuple(METRICS)), runs_by_split(exp_roots, than, tuple(METRICS))
    diffs = {m: {s: statistics.fmean(a[s][m]) - statistics.fmean(b[s][m])
                 for s in sorted(set(a) & set(b)) if a[s][m] and b[s][m]} for m in METRICS}
    return Comparison(better, than, diffs)


def comparisons_markdown(comparisons: list[Comparison], splits: Sequence[int] = DCASE2024_SPLITS) -> str:
    """One table (a row per comparison and metric, a column per split of the recipe's `splits`) and one
    sentence per comparison."""
    lines = ["**Differences of mean test accuracy (percentage points, A − B; positive: A is better)**", "",
             "| A − B | devices | " + " | ".join(f"{s} %" for s in splits) + " | mean |",
             "|---|---|" + "---:|" * (len(splits) + 1)]
    for c in comparisons:
        for metric, devices in METRICS.items():
            cells = [f"{c.diffs[metric][s]:+.2f}" if s in c.diffs[metric] else "–" for s in splits]
            mean = c.mean(metric)
            lines.append(f"| `{c.better}` − `{c.than}` | {devices} | " + " | ".join(cells)
                         + f" | {'–' if mean is None else f'{mean:+.2f}'} |")
    lines.append("")
    for c in comparisons:
        n = len(c.diffs["macro_accuracy"])
        if n == 0:
            lines.append(f"- `{c.better}` against `{c.than}`: not measured yet (no split has scores of both).")
            continue
        lines.append(f"- `{c.better}` beats `{c.than}` at {c.wins('macro_accuracy')} of {n} splits on all devices "
                     f"and at {c.wins('unseen_devices')} of {len(c.diffs['unseen_devices'])} on the unseen devices.")
    return "\n".join(lines) + "\n"
