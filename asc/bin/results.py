"""Build exp/RESULTS.md from every scores.json under an experiment folder (end of stage 6).

    python -m asc.bin.results --exp exp/kd exp/deploy --out exp/RESULTS.md [--splits "5 10 25 50 100"]
        [--systems "baseline rep_mobile_kd ..." [--only]]

One row per system (named by its scores.json; the recipe's order first), one column per training split
the recipe names (macro class-averaged accuracy on the test set), the mean over the splits (the ranking score) and each
system's params and MACs. The file is rewritten only when its content changes.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asc.errors import AscError
from asc.eval.results_table import split_list


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m asc.bin.results", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", required=True, type=Path, nargs="+",
                   help="experiment folder(s) to search for scores.json (e.g. exp/kd exp/deploy)")
    p.add_argument("--out", required=True, type=Path, help="the Markdown file to write (exp/RESULTS.md)")
    p.add_argument("--systems", help="systems to list first, in this order, space-separated (the recipe's "
                                     "order); the others follow alphabetically")
    p.add_argument("--only", action="store_true",
                   help="list the systems of --systems alone (a study's folder holds the scores of several tables)")
    p.add_argument("--splits", type=split_list,
                   help="the training splits of the table's columns, space-separated (the recipe's list, e.g. "
                        "\"5 10 25 50 100\"); scores of other splits are skipped (default: the five of DCASE2024)")
    p.add_argument("--metric", default="macro_accuracy", choices=("macro_accuracy", "seen_devices", "unseen_devices"),
                   help="the figure of each cell (default: %(default)s, the DCASE ranking figure)")
    p.add_argument("--title", default="RESULTS", help="the document's heading (default: %(default)s)")
    p.add_argument("--compact", action="store_true",
                   help="a section for another document (README): no title, environment or headings")
    p.add_argument("--no-notes", action="store_true",
                   help="the table and its footnotes alone (no system list, test set or provenance lines)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Collect, build the table, write it if it changed; exit 1 with one line for bad input."""
    args = parse_args(argv)
    try:
        from asc.atomic import write_text
        from asc.eval.collect import build_results

        text, found = build_results(args.exp, args.systems.split() if args.systems else None,
                                    args.metric, args.title, args.compact, not args.no_notes,
                                    args.splits, args.only)
        for path, reason in found.skipped:
            print(f"results: skipped {path}: {reason}", file=sys.stderr)
        if args.out.is_file() and args.out.read_text() == text:
            print(f"results: {args.out} is up to date ({len(found.records)} scores)")
        else:
            write_text(args.out, text)
            print(f"results: {len(found.records)} scores -> {args.out}")
    except AscError as e:
        print(f"results: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
