"""Check a corpus's calibration from the scores of the baseline trained without KD (asc.eval.calibration).

    python -m asc.bin.calibration --exp exp/calibration --out exp/calibration/README.md [--system baseline] [--strict]

Writes a Markdown table (per split: macro, seen-device and unseen-device accuracy, mean ± sd over the
runs found) and the checks, pass or fail; prints the checks. --strict: exit 1 when a check fails.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asc.errors import AscError


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m asc.bin.calibration", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", required=True, type=Path, nargs="+", help="experiment folder(s) holding scores.json files")
    p.add_argument("--out", required=True, type=Path, help="the Markdown file to write")
    p.add_argument("--system", default="baseline", help="the system judged (default: %(default)s)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a check fails")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        from asc.atomic import write_text
        from asc.eval.calibration import calibration_figures, calibration_markdown, check_calibration

        splits = calibration_figures(args.exp, args.system)
        checks = check_calibration(splits)
        write_text(args.out, calibration_markdown(splits, checks, args.system))
    except AscError as e:
        print(f"calibration: {e}", file=sys.stderr)
        return 1
    for c in checks:
        print(f"calibration: {'pass' if c.ok else 'FAIL'}: {c.criterion} ({c.value})")
    print(f"calibration: -> {args.out}")
    return 1 if args.strict and not all(c.ok for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
