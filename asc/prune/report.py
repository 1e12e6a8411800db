"""The evidence table of progressive against one-shot pruning, as markdown for README.

Input: one record per (run, step) with the schedule, seed, step, complexity of the deployment form
and the accuracies (fractions) on the held-out validation recordings and on the test set. Output:
a table per step (mean ± standard deviation over seeds) and the comparison of the final models.
Built only from the files the runs wrote, never by hand.
"""
from __future__ import annotations

import statistics
from typing import Iterable, Mapping, Sequence

MISSING = "–"
SCHEDULES = ("progressive", "one-shot")


def ablation_markdown(records: Iterable[Mapping], title: str, notes: Sequence[str] = ()) -> str:
    """Markdown: per-step table and final comparison of the records (see the module docstring)."""
    records = list(records)
    by_key: dict[tuple[str, int], list[Mapping]] = {}
    for r in records:
        by_key.setdefault((r["schedule"], int(r["step"])), []).append(r)
    schedules = [s for s in SCHEDULES if any(k[0] == s for k in by_key)]
    schedules += sorted({k[0] for k in by_key} - set(schedules))
    seeds = sorted({r["seed"] for r in records})
    lines = [f"## {title}", "", f"Seeds: {', '.join(map(str, seeds))} (mean ± standard deviation over seeds; "
                                 f"accuracies are macro class-averaged, %).", ""]
    lines += ["### After each step", "",
              "| schedule | step | params | param bytes | MACs | val acc after pruning | val acc after fine-tuning "
              "| test acc | test acc, unseen devices |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for schedule in schedules:
        for step in sorted(k[1] for k in by_key if k[0] == schedule):
            rows = by_key[(schedule, step)]
            lines.append("| " + " | ".join([
                schedule, str(step), count_cell(rows, "params"), count_cell(rows, "param_bytes"), count_cell(rows, "macs"),
                accuracy_cell(rows, "val_acc_pruned"), accuracy_cell(rows, "val_acc"), accuracy_cell(rows, "test_acc"),
                accuracy_cell(rows, "test_unseen")]) + " |")
    lines += ["", "### Final models", "",
              "| schedule | steps × epochs | params | MACs | test acc | test acc, seen devices "
              "| test acc, unseen devices |", "|---|---|---:|---:|---:|---:|---:|"]
    for schedule in schedules:
        last = max(k[1] for k in by_key if k[0] == schedule)
        rows = by_key[(schedule, last)]
        epochs = sorted({r.get("epochs_per_step") for r in rows})
        plan = f"{last} × {epochs[0]}" if len(epochs) == 1 else f"{last} × {epochs}"
        lines.append("| " + " | ".join([schedule, plan, count_cell(rows, "params"), count_cell(rows, "macs"),
                                        accuracy_cell(rows, "test_acc"), accuracy_cell(rows, "test_seen"),
                                        accuracy_cell(rows, "test_unseen")]) + " |")
    lines += [""] + list(notes)
    return "\n".join(lines).rstrip("\n") + "\n"


def _values(rows: Sequence[Mapping], key: str) -> list[float]:
    return [float(r[key]) for r in rows if r.get(key) is not None]


def accuracy_cell(rows: Sequence[Mapping], key: str) -> str:
    """Mean ± standard deviation (%) of the fractions `key` of the rows; one value alone; – if none."""
    values = [100 * v for v in _values(rows, key)]
    if not values:
        return MISSING
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"


def count_cell(rows: Sequence[Mapping], key: str) -> str:
    """A count of the rows (params, MACs), or its range where they differ; – if none."""
    values = _values(rows, key)
    if not values:
        return MISSING
    low, high = int(min(values)), int(max(values))
    return f"{low:,}" if low == high else f"{low:,}–{high:,}"
