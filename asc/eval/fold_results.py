"""RESULTS.md of a cross-validated recipe (egs/audio_folder): one row per system, one column per fold.

Two tables from the scores.json files under the experiment folders (asc.eval.scoring; a file without
its score.done is skipped and named): macro class-averaged accuracy per segment, and per recording
(the segments' probabilities aggregated per recording, scores.json's `per_recording`). A cell is one
fold's figure on that fold's test recordings; the mean is over the folds present (starred when some
fold is missing). A scores.json's `split` is the fold it was trained for (run.sh scores fold k with
--split k). With a separate test folder there is one fold.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from asc.errors import AscError, InputError

SCORE_DONE = "score.done"
MISSING = "–"
FIGURES = {"segment": "per segment", "recording": "per recording"}


@dataclass
class FoldScores:
    """Figures (fractions) per (system, fold) and what was left out."""
    cells: dict[tuple[str, int], dict[str, float | None]] = field(default_factory=dict)
    complexity: dict[str, list[tuple[int | None, int | None]]] = field(default_factory=dict)   # one per fold
    recordings: dict[int, int] = field(default_factory=dict)
    segments: dict[int, int] = field(default_factory=dict)
    aggregation: set[str] = field(default_factory=set)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def collect_folds(exp_roots: Sequence[str | Path], folds: Sequence[int]) -> FoldScores:
    """Every finished scores.json of a fold in `folds` under `exp_roots`."""
    found = FoldScores()
    roots = [Path(r) for r in exp_roots]
    for root in roots:
        if not root.is_dir():
            raise InputError(root, "experiment folder not found")
    for path in sorted(p for root in roots for p in root.rglob("scores.json")):
        if not (path.parent / SCORE_DONE).is_file():
            found.skipped.append((path, f"no {SCORE_DONE} beside it: its scoring did not finish; score it again"))
            continue
        try:
            scores = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise InputError(path, f"cannot read scores: {e}") from None
        fold = scores.get("split")
        if fold not in folds:
            found.skipped.append((path, f"fold {fold} is not one of the table's folds {list(folds)}"))
            continue
        per_rec = scores.get("per_recording") or {}
        system = str(scores["system"])
        found.cells[(system, int(fold))] = {"segment": scores["macro_accuracy"],
                                            "recording": per_rec.get("macro_accuracy")}
        found.complexity.setdefault(system, []).append((scores.get("params"), scores.get("macs")))
        found.segments[int(fold)] = int(scores.get("n_clips", 0))
        if per_rec:
            found.recordings[int(fold)] = int(per_rec["n_recordings"])
            found.aggregation.add(per_rec["aggregation"])
    if not found.cells:
        raise AscError(f"{', '.join(map(str, roots))}: no scores.json of the folds {list(folds)} found; "
                       f"score the systems first (run.sh --stage 6)")
    return found


def fold_table(found: FoldScores, folds: Sequence[int], systems: Sequence[str], figure: str) -> list[str]:
    """Markdown rows of one figure ('segment' or 'recording'): system, params, MACs, a cell per fold, mean."""
    header = ["system", "params", "MACs"] + [f"fold {f} %" for f in folds] + ["mean %"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" + "---:|" * (len(header) - 1)]
    for system in systems:
        values = [found.cells.get((system, f), {}).get(figure) for f in folds]
        present = [v for v in values if v is not None]
        mean = MISSING
        if present:
            mean = f"{100 * statistics.fmean(present):.2f}"
            if len(present) > 1:
                mean += f" ± {100 * statistics.stdev(present):.2f}"
            if len(present) < len(folds):
                mean += "*"
        folds_of = found.complexity.get(system, [])
        row = [system, _spread([p for p, _ in folds_of], lambda v: f"{v:,}"),
               _spread([m for _, m in folds_of], lambda v: f"{v / 1e6:.2f} M")]
        row += [MISSING if v is None else f"{100 * v:.2f}" for v in values] + [mean]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _spread(values: list, fmt) -> str:
    """One value, or the range over folds (a model pruned per fold differs in size)."""
    values = [v for v in values if v is not None]
    if not values:
        return MISSING
    low, high = min(values), max(values)
    return fmt(low) if low == high else f"{fmt(low)}–{fmt(high)}"


def fold_results_markdown(found: FoldScores, folds: Sequence[int], systems: Sequence[str] = (),
                          title: str = "RESULTS", environment: dict[str, str] | None = None) -> str:
    """The whole RESULTS.md: both tables, the test set sizes and how recordings were scored."""
    present = {s for s, _ in found.cells}
    order = [s for s in systems if s in present] + sorted(present - set(systems))
    lines = [f"# {title}", ""]
    if environment:
        lines += ["## Environments"] + [f"- {k}: `{v}`" for k, v in environment.items()] + [""]
    for figure, caption in FIGURES.items():
        lines += [f"## Macro class-averaged accuracy (%) {caption}, by fold", ""]
        lines += fold_table(found, folds, order, figure) + [""]
    lines += ["\\* mean over the folds present only; ± standard deviation over folds.", "",
              "Test sets: " + ", ".join(f"fold {f}: {found.segments.get(f, 0)} segments of "
                                        f"{found.recordings.get(f, MISSING)} recordings" for f in folds) + ".",
              f"Per recording: the segments' class probabilities aggregated by "
              f"{', '.join(sorted(found.aggregation)) or MISSING} (asc.eval.recording_scores). Params and MACs: "
              f"the deployment form (torchinfo, one segment, front end excluded).", "",
              "Built by `python -m asc.bin.fold_results`; do not edit by hand."]
    return "\n".join(lines) + "\n"
