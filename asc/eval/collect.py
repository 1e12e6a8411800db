"""Gathering the scores.json files of an experiment tree into the records of the RESULTS.md table.

Each scores.json (written by asc.eval.scoring) names its system and training split; one without
the `score.done` beside it (scoring interrupted or failed) is skipped and named; a file without a
split, or with one outside the splits the recipe asks for, cannot go into the table and is reported as
skipped. The recipe names the splits (the table's columns) and the order of the systems (its rows,
any other after them); without them, DCASE2024's five splits and the systems in alphabetical order.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from asc.errors import AscError, InputError
from asc.eval.results_table import DCASE2024_SPLITS, results_markdown

# What the systems the recipes train are (a table lists those of its rows).
SYSTEM_DESCRIPTIONS = {
    "baseline": "the DCASE2024 Task 1 baseline CNN (simplified CP-Mobile), trained without KD",
    "rep_mobile": "Rep-Mobile trained on the labels alone, without knowledge distillation",
    "rep_mobile_kd": "Rep-Mobile trained with knowledge distillation from the stored teacher-ensemble logits",
    "baseline_kd": "the DCASE2024 Task 1 baseline CNN trained with knowledge distillation from the stored "
                   "teacher-ensemble logits",
    "cp_mobile_small": "CP-Mobile at Rep-Mobile's deployed complexity (the same deployed layers plus GRN), "
                       "trained without branches and without KD",
    "cp_mobile_small_kd": "CP-Mobile at Rep-Mobile's deployed complexity, trained without branches, with "
                          "knowledge distillation",
    "rep_mobile_pruned": "Rep-Mobile with KD, progressively pruned, re-parameterized (fused) and stored in "
                         "float16: the deployable model of stage 5",
}
REQUIRED = ("system", "macro_accuracy")
SCORE_DONE = "score.done"      # asc.eval.scoring's marker: a scores.json without it is not trusted
# What a table can show: the DCASE ranking figure, or the same accuracy over the device groups.
METRICS = {"macro_accuracy": "macro class-averaged accuracy (%) on the test set",
           "seen_devices": "accuracy (%) on the test clips of the devices seen in training (a, b, c, s1-s3)",
           "unseen_devices": "accuracy (%) on the test clips of the devices never seen in training (s4-s6)"}


@dataclass
class Collected:
    """The table's records and what was left out (file, reason)."""
    records: list[dict] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    data: set[str] = field(default_factory=set)
    clips: set[int] = field(default_factory=set)


Roots = "str | os.PathLike | list[str | os.PathLike]"   # one experiment folder or several (a string: Python 3.9)


def _roots(exp_roots) -> list[Path]:
    return [Path(r) for r in exp_roots] if isinstance(exp_roots, (list, tuple)) else [Path(exp_roots)]


def collect_scores(exp_roots: Roots, metric: str = "macro_accuracy", splits: Sequence[int] | None = None) -> Collected:
    """Records {system, split, macro_accuracy, params, macs} of every scores.json under the folder(s)
    `exp_roots` (of a split in `splits`, when given); `macro_accuracy` holds the figure `metric` names
    (one of METRICS)."""
    if metric not in METRICS:
        raise AscError(f"unknown metric {metric!r}; one of {', '.join(METRICS)}")
    roots = _roots(exp_roots)
    for root in roots:
        if not root.is_dir():
            raise InputError(root, "experiment folder not found")
    found = Collected()
    for path in sorted(p for root in roots for p in root.rglob("scores.json")):
        if not (path.parent / SCORE_DONE).is_file():
            found.skipped.append((path, f"no {SCORE_DONE} beside it: its scoring did not finish (interrupted, "
                                        f"or failed while rewriting it); score it again"))
            continue
        scores = _read(path)
        split = scores.get("split")
        if split is None:
            found.skipped.append((path, "no training split recorded (scored with --split?)"))
            continue
        if splits is not None and split not in splits:
            found.skipped.append((path, f"split {split} is not one of the table's splits {list(splits)}"))
            continue
        if scores.get(metric) is None:
            found.skipped.append((path, f"no {metric} figure (no test clips of those devices?)"))
            continue
        found.records.append({"system": str(scores["system"]), "split": int(split),
                              "macro_accuracy": float(scores[metric]),
                              "params": scores.get("params"), "macs": scores.get("macs")})
        if scores.get("data") is not None:
            found.data.add(str(scores["data"]))
        if scores.get("n_clips") is not None:
            found.clips.add(int(scores["n_clips"]))
    if not found.records:
        raise AscError(f"{', '.join(map(str, roots))}: no scores.json of a training split found"
                       + (f" ({len(found.skipped)} skipped)" if found.skipped else "")
                       + "; score the systems first (run.sh --stage 6)")
    return found


def runs_by_split(exp_roots: Roots, system: str, metrics=tuple(METRICS)) -> dict[int, dict[str, list[float]]]:
    """Every run's figures (%) of `system` per training split: {split: {metric: [one per run]}}; splits
    without a score are absent. Several runs of a split are seeds."""
    per_split: dict[int, dict[str, list[float]]] = {}
    for metric in metrics:
        for record in collect_scores(exp_roots, metric).records:
            if record["system"] == system:
                runs = per_split.setdefault(record["split"], {m: [] for m in metrics})
                runs[metric].append(100.0 * record["macro_accuracy"])
    return per_split


def order_systems(records: list[dict], first: tuple[str, ...] = ()) -> list[str]:
    """The systems present: those of `first` in its order, then the others alphabetically."""
    present = {r["system"] for r in records}
    return [s for s in first if s in present] + sorted(present - set(first))


def build_results(exp_root: Roots, systems: list[str] | None = None,
                  metric: str = "macro_accuracy", title: str = "RESULTS",
                  compact: bool = False, notes: bool = True,
                  splits: Sequence[int] | None = None, only: bool = False) -> tuple[str, Collected]:
    """The RESULTS.md text for the scores under the folder(s) `exp_root`, and what was collected.

    Rows: the systems of `systems` that have scores, in that order, then the rest alphabetically
    (`only`: those of `systems` alone, e.g. one table of a study whose folder holds several).
    Columns: `splits`, as the recipe names them (default: the five of DCASE2024 Task 1).
    """
    splits = tuple(splits) if splits is not None else DCASE2024_SPLITS
    found = collect_scores(exp_root, metric, splits)
    if only:
        found.records = [r for r in found.records if r["system"] in set(systems or ())]
        if not found.records:
            raise AscError(f"{', '.join(map(str, _roots(exp_root)))}: no scores of the systems "
                           f"{' '.join(systems or ())} at the splits {' '.join(map(str, splits))}")
    order = order_systems(found.records, tuple(systems or ()))
    if not notes:
        return results_markdown(found.records, splits, order, title=title, figure=METRICS[metric],
                                ranking=metric == "macro_accuracy", compact=compact), found
    notes = [""]   # after the table's footnotes, if any
    described = [s for s in order if s in SYSTEM_DESCRIPTIONS]
    if described:
        notes += ["Systems:"] + [f"- `{s}`: {SYSTEM_DESCRIPTIONS[s]}" for s in described] + [""]
    test = ", ".join(sorted(found.data)) or "the test set"
    clips = ", ".join(str(c) for c in sorted(found.clips))
    notes += [f"Test set: {test}" + (f" ({clips} clips)" if clips else "") + ". Params and MACs: the deployment "
              f"form as DCASE counts it (torchinfo, one 1-s clip, front end excluded); the limits are 128,000 "
              f"bytes of parameters (64,000 at float16) and 30 M MACs.", "",
              f"Built by `python -m asc.bin.results` from {len(found.records)} scores.json files under "
              f"{', '.join(f'`{r}`' for r in _roots(exp_root))}; do not edit by hand."]
    text = results_markdown(found.records, splits, order, title=title, environment=environment(), notes=notes,
                            figure=METRICS[metric], ranking=metric == "macro_accuracy", compact=compact)
    return text, found


def environment() -> dict[str, str]:
    """What the table was built with (ESPnet's RESULTS.md habit): Python, torch, git revision."""
    import torch

    env = {"python": platform.python_version(), "torch": torch.__version__, "platform": platform.platform()}
    revision = _git_revision()
    if revision:
        env["git revision"] = revision
    return env


def _git_revision() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + (" (with local changes)" if dirty.stdout.strip() else "")


def _read(path: Path) -> dict:
    try:
        scores = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise InputError(path, f"cannot read scores: {e}") from None
    if not isinstance(scores, dict):
        raise InputError(path, "expected a JSON object of scores")
    missing = [key for key in REQUIRED if key not in scores]
    if missing:
        raise InputError(path, f"not a scores.json of asc.bin.score: missing {', '.join(missing)}")
    return scores
