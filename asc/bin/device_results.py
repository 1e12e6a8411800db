"""The DCASE2025 recipe's tables: general against device-specific, per device, over one or more runs.

    python -m asc.bin.device_results --runs exp --split 25 --out exp/RESULTS.md
    python -m asc.bin.device_results --runs exp exp/seeds/seed1 exp/seeds/seed2 --split 25 \
        --readme README.md --section dcase2025_devices

Each run is an --expdir of egs/dcase2025_task1/run.sh after stage 6 (asc.eval.device_report). --out
writes the tables to a file; --readme fills the section <!-- NAME:begin --> ... <!-- NAME:end -->.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asc.errors import AscError

PROG = "device_results"


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog=f"python -m asc.bin.{PROG}", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", nargs="+", required=True, type=Path, help="the --expdir of each run")
    p.add_argument("--split", type=int, default=25, help="the training split (default: %(default)s)")
    p.add_argument("--out", type=Path, help="write the tables to this file")
    p.add_argument("--readme", type=Path, help="fill a section of this Markdown file")
    p.add_argument("--section", default="dcase2025_devices", help="the section's name (default: %(default)s)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Tabulate; exit 1 with one line naming a missing run."""
    args = parse_args(argv)
    if not (args.out or args.readme):
        print(f"{PROG}: give --out and/or --readme", file=sys.stderr)
        return 1
    try:
        from asc.atomic import write_text
        from asc.eval.device_report import load_run, results_markdown
        from asc.readme_section import fill_section

        runs = [load_run(root, args.split) for root in args.runs]
        text = results_markdown(runs, args.split, [str(r) for r in args.runs])
        if args.out:
            write_text(args.out, text)
        if args.readme:
            fill_section(args.readme, args.section, text)
    except AscError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
