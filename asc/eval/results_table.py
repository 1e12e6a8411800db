"""exp/RESULTS.md in the manner of ESPnet: one table over the five DCASE2024 training splits.

A row per system, a column per training split (macro accuracy on the test set, %), the mean over
the splits (the DCASE2024 ranking score) and each system's parameters and MACs. Built only from
records taken from scores.json files, never by hand. Several records of one system and split
(seeds) are averaged and shown as mean ± standard deviation.
"""
from __future__ import annotations

import argparse
import statistics
from typing import Iterable, Mapping, Sequence

DCASE2024_SPLITS = (5, 10, 25, 50, 100)   # the default columns when a caller names none
MISSING = "–"


def split_number(split) -> int:
    """5 from 5, "5", "split5" or "train_split5"."""
    text = str(split)
    digits = text[text.rfind("split") + 5:] if "split" in text else text
    try:
        return int(digits)
    except ValueError:
        raise ValueError(f"cannot read a training split from {split!r} (expected e.g. 5 or 'split5')") from None


def split_list(text: str) -> list[int]:
    """[5, 10] from "5 10" (a recipe's $splits), for a --splits option."""
    try:
        return [split_number(s) for s in text.split()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--splits {text!r}: {e}") from None


def results_markdown(records: Iterable[Mapping], splits: Sequence[int] = DCASE2024_SPLITS,
                     systems: Sequence[str] | None = None, title: str = "RESULTS",
                     environment: Mapping[str, str] | None = None,
                     notes: Sequence[str] = (),
                     figure: str = "macro class-averaged accuracy (%) on the test set",
                     ranking: bool = True, compact: bool = False) -> str:
    """The RESULTS.md text for records {system, split, macro_accuracy, params, macs}.

    macro_accuracy is a fraction in [0, 1]; params and macs may be None. Rows follow `systems`
    if given, else the order in which systems first appear; missing cells show '–'. The mean is
    over the splits present; a mean over fewer than all splits is starred, since it is not the
    ranking score. `figure` names what the cells are (another metric than macro accuracy: `ranking`
    False, and the mean is not called the ranking score). `compact`: a section for another document
    (README): no title, environment or headings, the figure named in bold above the table.
    """
    cells, complexity, order = _collect(records, splits)
    order = list(systems) if systems is not None else order
    caption = f"DCASE2024 Task 1: {figure} by training split"
    if compact:
        lines = [f"**{caption[0].upper()}{caption[1:]}**", ""]
    else:
        lines = [f"# {title}", ""]
        if environment:
            lines += ["## Environments"] + [f"- {key}: `{value}`" for key, value in environment.items()] + [""]
        lines += [f"## {caption}", ""]
    header = ["system", "params", "MACs"] + [f"{s} %" for s in splits] + ["mean (ranking score)" if ranking else "mean"]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" + "---:|" * (len(header) - 1)]
    starred = seeded = partial = False
    full = max((len(r) for r in cells.values()), default=0)   # runs per cell of a complete table
    for system in order:
        runs = [cells.get((system, s), []) for s in splits]
        partial |= any(0 < len(r) < full for r in runs)
        means = [statistics.fmean(r) for r in runs if r]
        mean = MISSING
        if means:
            mean = f"{100 * statistics.fmean(means):.2f}"
            if len(means) < len(splits):
                mean, starred = mean + "*", True
        seeded |= any(len(r) > 1 for r in runs)
        params, macs = complexity.get(system, ([], []))
        row = [system, _spread(params, _count), _spread(macs, _mega)] + [_cell(r, full) for r in runs] + [mean]
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    if starred:
        lines.append("\\* mean over the splits present only, not the DCASE ranking score.")
    if seeded:
        lines.append("± standard deviation over runs (seeds) of the same system and split.")
    if partial:
        lines.append(f"(n=k): k runs only, where other cells have {full}.")
    lines += list(notes)
    return "\n".join(lines).rstrip("\n") + "\n"


def _collect(records: Iterable[Mapping], splits: Sequence[int]):
    cells: dict[tuple[str, int], list[float]] = {}
    complexity: dict[str, tuple[list, list]] = {}
    order: list[str] = []
    for record in records:
        system, split = str(record["system"]), split_number(record["split"])
        if split not in splits:
            raise ValueError(f"system {system!r}: split {split} is not one of the table's splits {list(splits)}")
        accuracy = float(record["macro_accuracy"])
        if not 0.0 <= accuracy <= 1.0:
            raise ValueError(f"system {system!r} split {split}: macro_accuracy {accuracy} is not a "
                             f"fraction in [0, 1]")
        if system not in complexity:
            order.append(system)
            complexity[system] = ([], [])
        cells.setdefault((system, split), []).append(accuracy)
        for values, key in zip(complexity[system], ("params", "macs")):
            if record.get(key) is not None:
                values.append(record[key])
    return cells, complexity, order


def _cell(runs: list[float], full: int = 1) -> str:
    """Mean ± spread of a cell's runs; the count where it falls short of the table's (`full`)."""
    if not runs:
        return MISSING
    mean = f"{100 * statistics.fmean(runs):.2f}"
    text = mean if len(runs) == 1 else f"{mean} ± {100 * statistics.stdev(runs):.2f}"
    return text if len(runs) >= full else f"{text} (n={len(runs)})"


def _spread(values: list, fmt) -> str:
    """One value, or the range when a system's splits differ (e.g. pruned per split)."""
    if not values:
        return MISSING
    low, high = min(values), max(values)
    return fmt(low) if low == high else f"{fmt(low)}–{fmt(high)}"


def _count(value) -> str:
    return f"{int(value):,}"


def _mega(value) -> str:
    return f"{value / 1e6:.2f} M"
