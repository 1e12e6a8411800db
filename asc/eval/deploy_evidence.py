"""The int8-against-float16 evidence table: deployable models of the same start model, per split and seed.

local/deploy_evidence.sh prunes the recipe's start model (stage 5's KD-trained wide Rep-Mobile) once
to the float16 target (today's deployable model) and once to the int8 target (1 byte per parameter,
then quantisation-aware fine-tuning), for every split and seed, each into its own deploy folder:

    <root>/split<N>/<precision>/seed<S>/deploy/{deploy.done, precision.json, complexity.json}

Every figure comes from those files, written by stage 5 itself: the test macro accuracy of the
deployable file (precision.json: `file_float32` for a float16 file, i.e. as infer/score run it, and
`file_int8`), the same network in float32 (`float32`), and the stored size (complexity.json). A run
without deploy.done is counted as missing, never as a result.
"""
from __future__ import annotations

import json
import os
import statistics
from dataclasses import dataclass
from pathlib import Path

from asc.errors import InputError

PRECISIONS = ("float16", "int8")


@dataclass
class DeployRun:
    """One finished deployable model of the evidence."""
    split: int
    precision: str
    seed: int
    accuracy: float            # test macro accuracy of the deployable file, as infer/score run it
    float32_accuracy: float    # the same network in float32 (before storing it)
    params: int
    param_bytes: int
    macs: int


def read_run(folder: str | os.PathLike, split: int, precision: str, seed: int) -> DeployRun | None:
    """The run in `folder` (its deploy/ subfolder), or None if it has not finished."""
    deploy = Path(folder) / "deploy"
    if not (deploy / "deploy.done").is_file():
        return None
    try:
        check = json.loads((deploy / "precision.json").read_text())
        size = json.loads((deploy / "complexity.json").read_text())
    except (OSError, ValueError) as e:
        raise InputError(deploy, f"finished (deploy.done) but its precision.json or complexity.json is unreadable: {e}")
    stored = "file_int8" if precision == "int8" else "file_float32"
    if stored not in check:
        raise InputError(deploy / "precision.json", f"no '{stored}' scores: not a {precision} deployable model")
    return DeployRun(split, precision, seed, check[stored]["macro_accuracy"], check["float32"]["macro_accuracy"],
                     size["params"], size["param_bytes"], size["macs"])


def collect(root: str | os.PathLike, splits: list[int], seeds: list[int]) -> tuple[list[DeployRun], list[str]]:
    """The finished runs under `root`, and the folders of those that are missing."""
    runs, missing = [], []
    for split in splits:
        for precision in PRECISIONS:
            for seed in seeds:
                folder = Path(root) / f"split{split}" / precision / f"seed{seed}"
                run = read_run(folder, split, precision, seed)
                (runs.append(run) if run else missing.append(str(folder)))
    return runs, missing


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.mean(values):.2f} ± {100 * sd:.2f}" if len(values) > 1 else f"{100 * values[0]:.2f}"


def render(runs: list[DeployRun], missing: list[str], splits: list[int], seeds: list[int], command: str) -> str:
    """The markdown table (mean ± standard deviation over the seeds found) and the verdicts."""
    lines = [f"Deployable models of the same start model per split, over seeds {' '.join(map(str, seeds))} "
             f"(`{command}`; every figure from stage 5's own precision.json and complexity.json): test macro "
             f"accuracy (%) of the stored file as asc.bin.infer runs it, size as DCASE counts it.", "",
             "| Split | float16: params | bytes | accuracy | int8: params | bytes | accuracy | int8 − its float32 "
             "(points) | int8 − float16 (points) | runs (f16/int8) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    ahead = compared = 0
    for split in splits:
        f16 = [r for r in runs if r.split == split and r.precision == "float16"]
        i8 = [r for r in runs if r.split == split and r.precision == "int8"]
        gap = [100 * (r.accuracy - r.float32_accuracy) for r in i8]
        diff = "-"
        if f16 and i8:
            d = 100 * (statistics.mean(r.accuracy for r in i8) - statistics.mean(r.accuracy for r in f16))
            diff, compared, ahead = f"{d:+.2f}", compared + 1, ahead + (d > 0)
        lines.append(f"| {split} | {_first(f16, 'params')} | {_first(f16, 'param_bytes')} | "
                     f"{_mean_sd([r.accuracy for r in f16])} | {_first(i8, 'params')} | {_first(i8, 'param_bytes')} | "
                     f"{_mean_sd([r.accuracy for r in i8])} | "
                     f"{f'{statistics.mean(gap):+.2f}' if gap else '-'} | {diff} | {len(f16)}/{len(i8)} |")
    lines += ["", f"int8 ahead at {ahead} of {compared} splits compared (target: at least 4 of 5)."]
    if missing:
        lines.append(f"Not finished ({len(missing)} runs, not counted): " + ", ".join(f"`{m}`" for m in missing[:10])
                     + (" ..." if len(missing) > 10 else "") + ".")
    return "\n".join(lines) + "\n"


def _first(runs: list[DeployRun], key: str) -> str:
    """A size figure (the seeds' mean; sizes vary little between seeds)."""
    return f"{round(statistics.mean(getattr(r, key) for r in runs)):,}" if runs else "-"
