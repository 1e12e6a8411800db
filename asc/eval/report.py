"""A scores dict (scores.json) as a plain-text table people can read in a terminal or a log."""
from __future__ import annotations

from typing import Mapping

MISSING = "–"


def percent(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage string; '–' for a missing value."""
    return MISSING if value is None else f"{100 * value:.{digits}f}"


def format_scores(scores: Mapping, title: str | None = None) -> str:
    """The summary figures, then a class × device accuracy table (%) with pooled totals.

    The `all` column is each class's accuracy over every device, the `all classes` row each
    device's accuracy over every class, and their corner the accuracy over all clips.
    A set without devices (no `devices`) shows no device lines and one accuracy column; a
    `per_recording` block (segments of longer recordings) adds the same figures per recording.
    """
    lines = [title, "=" * len(title), ""] if title else []
    seen = scores.get("seen_devices")
    unseen = scores.get("unseen_devices")
    has_devices = bool(scores.get("devices"))
    lines += [
        f"macro accuracy  {percent(scores['macro_accuracy'], 2):>7} %  (mean of the class accuracies)",
        f"accuracy        {percent(scores.get('accuracy'), 2):>7} %  (all clips)",
    ]
    if has_devices:
        lines += [f"seen devices    {percent(seen, 2):>7} %  {_group(scores, 'seen')}",
                  f"unseen devices  {percent(unseen, 2):>7} %  {_group(scores, 'unseen')}"]
    lines += [
        f"log loss        {scores['log_loss']:>7.4f}",
        f"clips           {scores['n_clips']:>7d}",
        "",
        "accuracy (%) by class and device" if has_devices else "accuracy (%) by class",
    ]
    lines += _table(scores)
    per_rec = scores.get("per_recording")
    if per_rec:
        lines += ["", f"per recording (segment probabilities aggregated: {per_rec['aggregation']})",
                  f"macro accuracy  {percent(per_rec['macro_accuracy'], 2):>7} %",
                  f"accuracy        {percent(per_rec['accuracy'], 2):>7} %",
                  f"log loss        {per_rec['log_loss']:>7.4f}",
                  f"recordings      {per_rec['n_recordings']:>7d}"]
        width = max(len(label) for label in per_rec["per_class"])
        lines += [f"  {label:<{width}} {percent(value):>6}" for label, value in per_rec["per_class"].items()]
    return "\n".join(lines) + "\n"


def _group(scores: Mapping, name: str) -> str:
    devices = scores.get("device_groups", {}).get(name)
    return f"({' '.join(devices)})" if devices else ""


def _table(scores: Mapping) -> list[str]:
    devices = list(scores["devices"])
    labels = list(scores["labels"])
    per_device_class = scores["per_device_class"]
    counts = scores.get("device_counts", {})
    name_width = max(len("all classes"), *(len(name) for name in labels))
    cols = devices + ["all"]
    width = max(6, *(len(c) + 1 for c in cols))

    def row(name: str, cells: list[str]) -> str:
        return f"{name:<{name_width}}" + "".join(f"{c:>{width}}" for c in cells)

    out = [row("class", cols), "-" * (name_width + width * len(cols))]
    for label in labels:
        cells = [percent(per_device_class[d].get(label)) for d in devices]
        out.append(row(label, cells + [percent(scores["per_class"].get(label))]))
    out.append("-" * (name_width + width * len(cols)))
    totals = [percent(scores["per_device"].get(d)) for d in devices]
    out.append(row("all classes", totals + [percent(scores.get("accuracy"))]))
    out.append(row("clips", [str(counts.get(d, MISSING)) for d in devices] + [str(scores["n_clips"])]))
    return out
