"""The tables of the DCASE2025 recipe: the general model against the device-specific system, per test
device and seen/unseen, over one or several runs (seeds), and the complexity of every model deployed.

A run is an --expdir of egs/dcase2025_task1/run.sh: its <expdir>/device_score/split<N>/{general,
device_specific}/scores.json (stage 6). Over several runs each cell is mean ± standard deviation, and
the difference row is the mean of the per-run differences (paired: same seed, same general model).
"""
from __future__ import annotations

import json
import os
import statistics
from pathlib import Path
from typing import Sequence

from asc.errors import InputError
from asc.metrics import SEEN_DEVICES, UNSEEN_DEVICES

SYSTEMS = ("general", "device_specific")
DEVICES = SEEN_DEVICES + UNSEEN_DEVICES


def load_run(root: str | os.PathLike, split: int) -> dict[str, dict]:
    """{system: scores.json} of one run; InputError naming the first file that is missing."""
    runs = {}
    for system in SYSTEMS:
        path = Path(root) / "device_score" / f"split{split}" / system / "scores.json"
        if not path.is_file() or not (path.parent / "score.done").is_file():
            raise InputError(path, "missing or unfinished (run stage 6 of egs/dcase2025_task1/run.sh)")
        runs[system] = json.loads(path.read_text())
    return runs


def figures(scores: dict) -> dict[str, float | None]:
    """The columns of one system's row: macro accuracy, seen, unseen, then each device (fractions)."""
    row = {"macro": scores["macro_accuracy"], "seen": scores.get("seen_devices"),
           "unseen": scores.get("unseen_devices")}
    row.update({d: scores.get("per_device", {}).get(d) for d in DEVICES})
    return row


def _cell(values: list[float | None], signed: bool = False) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    mean = 100 * statistics.fmean(values)
    text = f"{mean:+.1f}" if signed else f"{mean:.1f}"
    if len(values) > 1:
        text += f" ± {100 * statistics.stdev(values):.1f}"
    return text


def device_table(runs: Sequence[dict[str, dict]]) -> str:
    """Markdown: one row per system and the row of their difference, columns as `figures` (%)."""
    if not runs:
        raise ValueError("no runs to tabulate")
    columns = ["macro", "seen", "unseen", *DEVICES]
    rows = {s: [figures(run[s]) for run in runs] for s in SYSTEMS}
    lines = ["| system | macro acc. | seen | unseen | " + " | ".join(DEVICES) + " |",
             "|---" * (len(columns) + 1) + "|"]
    for system in SYSTEMS:
        lines.append(f"| {system} | " + " | ".join(_cell([r[c] for r in rows[system]]) for c in columns) + " |")
    diffs = []
    for c in columns:
        pairs = [(d[c], g[c]) for d, g in zip(rows["device_specific"], rows["general"])]
        diffs.append(_cell([d - g if d is not None and g is not None else None for d, g in pairs], signed=True))
    lines.append("| device_specific − general | " + " | ".join(diffs) + " |")
    return "\n".join(lines) + "\n"


def own_model_devices(run: dict[str, dict]) -> list[str]:
    """The devices whose clips went to a model of their own (not the general one)."""
    routing = run["device_specific"].get("routing", {})
    general = run["device_specific"].get("checkpoint_file")
    return sorted(d for d, path in routing.items() if path != general)


def complexity_table(run: dict[str, dict]) -> str:
    """Markdown: params, bytes and MACs of the general model and of each device model of one run."""
    lines = ["| model | params | parameter memory | MACs | within the limits |", "|---|---|---|---|---|"]
    for name, c in run["device_specific"].get("device_complexity", {}).items():
        if not c:
            continue
        lines.append(f"| {name} | {c['params']:,} | {c['param_bytes']:,} B ({c['precision']}) | {c['macs']:,} | "
                     f"{'yes' if c.get('within_limits') else '**no**'} |")
    return "\n".join(lines) + "\n"


def results_markdown(runs: Sequence[dict[str, dict]], split: int, sources: Sequence[str]) -> str:
    """RESULTS.md of the recipe (one run) or the evidence section of its README (several)."""
    n = len(runs)
    own = own_model_devices(runs[0])
    text = [f"Accuracy (%) on the development test split, trained on split {split}"
            + (f", mean ± standard deviation over {n} runs" if n > 1 else "") + ": macro acc. is the mean of "
            f"the class accuracies, a device's column the accuracy on its clips, seen/unseen on those devices' "
            f"clips. "
            f"device_specific: each clip classified by the model of its device ({', '.join(own) or 'none'}: "
            f"the devices of the training split), by the general model for any other device; seen: "
            f"{', '.join(SEEN_DEVICES)}; unseen (never in training, always the general model): "
            f"{', '.join(UNSEEN_DEVICES)}.", "", device_table(runs),
            "Complexity of each deployed model" + (" (first run)" if n > 1 else "") + ":", "",
            complexity_table(runs[0]), "Runs: " + ", ".join(f"`{s}`" for s in sources)]
    return "\n".join(text) + "\n"
