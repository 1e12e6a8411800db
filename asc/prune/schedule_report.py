"""The evidence of the pruning-schedule study (the paper's claim 3): which K × E schedule wins.

Input: the records of asc.bin.prune_report (one per run and step) with the split, criterion, K (steps
as run), E (fine-tuning epochs per step as run), seed, complexity and test accuracy (fractions). Runs
of one (split, criterion, K·E) share the start model, the target and the total fine-tuning epochs, so
their final models are comparable: K = 1 is one-shot pruning, K > 1 progressive. Output: the table of
final models (mean ± standard deviation over seeds), one verdict per setting and one over all, and the
paths (MACs, accuracy after each step) that the plot draws. Built only from the runs' files.
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Iterable, Mapping

from asc.prune.report import accuracy_cell, count_cell


@dataclass(frozen=True)
class Schedule:
    """One schedule of one setting: split, criterion, K steps × E epochs."""
    split: int
    criterion: str
    steps: int
    epochs: int

    @property
    def total(self) -> int:
        return self.steps * self.epochs

    @property
    def name(self) -> str:
        kind = "one-shot" if self.steps == 1 else "progressive"
        return f"{self.steps} × {self.epochs} ({kind})"


@dataclass
class SchedulePath:
    """Mean MACs and test accuracy (%) after each step (step 0: the start model) over the seeds."""
    schedule: Schedule
    macs: list[float]
    accuracy: list[float]
    seeds: int


def schedules_of(records: Iterable[Mapping]) -> dict[Schedule, dict[int, list[Mapping]]]:
    """Records grouped by schedule, then by step."""
    grouped: dict[Schedule, dict[int, list[Mapping]]] = {}
    for r in records:
        key = Schedule(int(r["split"]), str(r["criterion"]), int(r["steps_run"]), int(r["epochs_per_step"]))
        grouped.setdefault(key, {}).setdefault(int(r["step"]), []).append(r)
    return grouped


def schedule_paths(records: Iterable[Mapping]) -> list[SchedulePath]:
    """Each schedule's path through (MACs, test accuracy), steps in order, for the plot."""
    paths = []
    for schedule, steps in sorted(schedules_of(records).items(), key=lambda kv: _order(kv[0])):
        order = sorted(steps)
        paths.append(SchedulePath(schedule, [statistics.fmean(float(r["macs"]) for r in steps[k]) for k in order],
                           [100 * statistics.fmean(float(r["test_acc"]) for r in steps[k]) for k in order],
                           len(steps[order[-1]])))
    return paths


def schedule_markdown(records: Iterable[Mapping], title: str, notes: Iterable[str] = ()) -> str:
    """The final models' table and the verdicts (see the module docstring)."""
    finals = _finals(records)
    seeds = sorted({r["seed"] for rows in finals.values() for r in rows})
    lines = [f"**{title}**", "",
             f"Final model of each schedule, mean ± standard deviation over seeds ({', '.join(map(str, seeds))}); "
             f"K × E: K pruning steps, E epochs of KD fine-tuning after each; accuracies macro class-averaged, %.", "",
             "| split | criterion | epochs in all | K × E | params | MACs | test acc | test acc, unseen devices | seeds |",
             "|---:|---|---:|---|---:|---:|---:|---:|---:|"]
    for s in sorted(finals, key=_order):
        rows = finals[s]
        lines.append("| " + " | ".join([f"{s.split} %", s.criterion, str(s.total), s.name, count_cell(rows, "params"),
                                        count_cell(rows, "macs"), accuracy_cell(rows, "test_acc"), accuracy_cell(rows, "test_unseen"),
                                        str(len(rows))]) + " |")
    lines += ["", "Which schedule wins (test accuracy of the final models, means over seeds):", ""]
    lines += verdicts(finals)
    lines += [""] + list(notes)
    return "\n".join(lines).rstrip("\n") + "\n"


def verdicts(finals: Mapping[Schedule, list[Mapping]]) -> list[str]:
    """One line per setting (split, criterion, total epochs) naming the best K, and one over all."""
    settings: dict[tuple[int, str, int], dict[Schedule, list[Mapping]]] = {}
    for s, rows in finals.items():
        settings.setdefault((s.split, s.criterion, s.total), {})[s] = rows
    lines, progressive_wins, compared, gains = [], 0, 0, []
    for (split, criterion, total) in sorted(settings, key=lambda k: (-k[0], k[1], k[2])):
        group = settings[(split, criterion, total)]
        means = {s: _mean(rows) for s, rows in group.items()}
        best = max(means, key=lambda s: (means[s], -s.steps))
        others = [f"K = {s.steps} {means[s] - means[best]:+.2f}" for s in sorted(group, key=lambda s: s.steps)
                  if s != best]
        spread = max((_stdev(rows) for rows in group.values()), default=0.0)
        margin = min((means[best] - means[s] for s in group if s != best), default=None)
        noise = (f"; the margin to the next ({margin:.2f} points) is below the largest standard deviation "
                 f"({spread:.2f}): not separable at these seeds" if margin is not None and margin < spread else "")
        lines.append(f"- split {split} %, {criterion}, {total} epochs: best K = {best.steps} ({best.name}, "
                     f"{means[best]:.2f} %)" + (f"; {', '.join(others)} points" if others else "") + noise + ".")
        one_shot = [s for s in group if s.steps == 1]
        progressive = [s for s in group if s.steps > 1]
        if one_shot and progressive:
            compared += 1
            top = max(progressive, key=lambda s: means[s])
            gains.append(means[top] - means[one_shot[0]])
            progressive_wins += means[top] > means[one_shot[0]]
    if compared:
        lines += ["", f"Progressive pruning (the best K > 1) beats one-shot (K = 1) in {progressive_wins} of "
                      f"{compared} settings (split, criterion, epochs in all), by {statistics.fmean(gains):+.2f} "
                      f"points on average (range {min(gains):+.2f} to {max(gains):+.2f})."]
    return lines


def _finals(records: Iterable[Mapping]) -> dict[Schedule, list[Mapping]]:
    """The last step's record of every run of each schedule."""
    return {s: steps[max(steps)] for s, steps in schedules_of(records).items() if max(steps) == s.steps}


def _order(s: Schedule) -> tuple:
    return (-s.split, s.criterion, s.total, s.steps)


def _values(rows, key: str) -> list[float]:
    return [float(r[key]) for r in rows if r.get(key) is not None]


def _mean(rows) -> float:
    return 100 * statistics.fmean(_values(rows, "test_acc"))


def _stdev(rows) -> float:
    values = _values(rows, "test_acc")
    return 100 * statistics.stdev(values) if len(values) > 1 else 0.0
