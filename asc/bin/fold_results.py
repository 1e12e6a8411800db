"""Build exp/RESULTS.md of a cross-validated recipe from its scores.json files (egs/audio_folder, stage 6).

    python -m asc.bin.fold_results --exp exp/kd exp/deploy --out exp/RESULTS.md --folds "1 2 3 4" \
        [--systems "baseline rep_mobile_kd ..."]

Two tables, per segment and per recording (asc.eval.fold_results); the file is rewritten only when its
content changes.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asc.errors import AscError


def fold_list(text: str) -> list[int]:
    """[1, 2] from "1 2" (run.sh's $folds)."""
    try:
        folds = [int(f) for f in text.split()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--folds {text!r}: expected fold numbers, e.g. \"1 2 3 4\"") from None
    if not folds:
        raise argparse.ArgumentTypeError("--folds: no fold given")
    return folds


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m asc.bin.fold_results", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", required=True, type=Path, nargs="+", help="experiment folder(s) with scores.json files")
    p.add_argument("--out", required=True, type=Path, help="the Markdown file to write (exp/RESULTS.md)")
    p.add_argument("--folds", required=True, type=fold_list, help="the folds of the table's columns")
    p.add_argument("--systems", default="", help="systems to list first, in this order (the others follow)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Collect, build, write if changed; exit 1 with one line for bad input."""
    args = parse_args(argv)
    try:
        from asc.atomic import write_text
        from asc.eval.collect import environment
        from asc.eval.fold_results import collect_folds, fold_results_markdown

        found = collect_folds(args.exp, args.folds)
        for path, reason in found.skipped:
            print(f"fold_results: skipped {path}: {reason}", file=sys.stderr)
        text = fold_results_markdown(found, args.folds, args.systems.split(), environment=environment())
        if args.out.is_file() and args.out.read_text() == text:
            print(f"fold_results: {args.out} is up to date ({len(found.cells)} scores)")
        else:
            write_text(args.out, text)
            print(f"fold_results: {len(found.cells)} scores -> {args.out}")
    except AscError as e:
        print(f"fold_results: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
