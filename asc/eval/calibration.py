"""Whether a corpus is calibrated for the recipe: the DCASE2024 baseline, trained without KD, should learn
the scenes without finding them easy, lose accuracy on the devices it never heard, and gain from data.

The embedded corpus is generated, so its difficulty is a choice; these checks keep that choice honest
when the generator changes (or when a user adapts the recipe to a corpus of their own):
  - on the largest split, macro accuracy on the test set between FLOOR and CEILING,
  - on the largest split, the unseen devices (s4-s6) at least GAP points below the seen ones,
  - the smallest split at least GAP points below the largest.
All figures are means over the runs (seeds) found; the spread is reported beside them. The device gap
is judged where the baseline has learned the scenes: near chance (the smallest splits of a small
corpus) every device is at chance alike, and the table shows it without judging it.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass

from asc.errors import AscError
from asc.eval.collect import Roots, runs_by_split

FLOOR, CEILING, GAP = 40.0, 85.0, 5.0
FIGURES = ("macro_accuracy", "seen_devices", "unseen_devices")


@dataclass
class SplitFigures:
    """One split's runs: each figure (%) of every run found."""
    split: int
    runs: dict[str, list[float]]

    def mean(self, figure: str) -> float:
        return statistics.fmean(self.runs[figure])

    def spread(self, figure: str) -> float:
        values = self.runs[figure]
        return statistics.stdev(values) if len(values) > 1 else 0.0


@dataclass
class Check:
    """One criterion, the figure it was judged on and whether it held."""
    criterion: str
    value: str
    ok: bool


def calibration_figures(exp_roots: Roots, system: str = "baseline") -> list[SplitFigures]:
    """The figures of `system` per split (those with a score), from the scores.json files under `exp_roots`."""
    per_split = runs_by_split(exp_roots, system, FIGURES)
    if not per_split:
        raise AscError(f"no scores of system {system!r} found under {exp_roots}")
    return [SplitFigures(split, per_split[split]) for split in sorted(per_split)]


def check_calibration(splits: list[SplitFigures], floor: float = FLOOR, ceiling: float = CEILING,
                      gap: float = GAP) -> list[Check]:
    """The criteria of the module docstring, judged on the means over runs."""
    largest, smallest = splits[-1], splits[0]
    top = largest.mean("macro_accuracy")
    checks = [Check(f"split {largest.split}: macro accuracy in [{floor:g}, {ceiling:g}] %", f"{top:.2f} %",
                    floor <= top <= ceiling)]
    drop = largest.mean("seen_devices") - largest.mean("unseen_devices")
    checks.append(Check(f"split {largest.split}: unseen devices at least {gap:g} points below seen",
                        f"{drop:.2f} points", drop >= gap))
    if smallest.split != largest.split:
        drop = top - smallest.mean("macro_accuracy")
        checks.append(Check(f"split {smallest.split} at least {gap:g} points below split {largest.split}",
                            f"{drop:.2f} points", drop >= gap))
    return checks


def calibration_markdown(splits: list[SplitFigures], checks: list[Check], system: str = "baseline") -> str:
    """A table of the figures per split (mean ± sd over runs) and the list of checks."""
    def cell(s: SplitFigures, figure: str) -> str:
        return f"{s.mean(figure):.2f} ± {s.spread(figure):.2f}" if len(s.runs[figure]) > 1 else f"{s.mean(figure):.2f}"

    lines = [f"`{system}` on the test set (%), mean ± standard deviation over runs (seeds):", "",
             "| split | runs | macro accuracy | seen devices | unseen devices | seen − unseen |",
             "|---:|---:|---:|---:|---:|---:|"]
    for s in splits:
        gap = s.mean("seen_devices") - s.mean("unseen_devices")
        lines.append(f"| {s.split} % | {len(s.runs['macro_accuracy'])} | {cell(s, 'macro_accuracy')} | "
                     f"{cell(s, 'seen_devices')} | {cell(s, 'unseen_devices')} | {gap:.2f} |")
    lines += ["", "Checks (on the means):", ""]
    lines += [f"- {'pass' if c.ok else '**FAIL**'}: {c.criterion} ({c.value})" for c in checks]
    return "\n".join(lines) + "\n"
