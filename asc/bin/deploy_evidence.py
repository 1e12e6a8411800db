"""Render the int8-against-float16 evidence table from the runs of local/deploy_evidence.sh.

    python -m asc.bin.deploy_evidence --root exp/deploy_evidence --splits "5 10 25 50 100" --seeds "0 1 2" \
        [--out exp/deploy_evidence/README.md] [--readme ../../README.md]

Reads each run's deploy folder (asc.eval.deploy_evidence); with --readme, fills the file's
`deploy_evidence` section. Exit 1 if a finished run's files are unreadable.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asc.errors import AscError


def main(argv=None) -> int:
    """Collect, render, print and write."""
    p = argparse.ArgumentParser(prog="python -m asc.bin.deploy_evidence", description=__doc__.split("\n\n")[0])
    p.add_argument("--root", required=True, type=Path, help="exp/deploy_evidence")
    p.add_argument("--splits", required=True, help="splits, space separated")
    p.add_argument("--seeds", required=True, help="seeds, space separated")
    p.add_argument("--command", default="local/deploy_evidence.sh", help="the command named in the table")
    p.add_argument("--out", type=Path, help="also write the table here")
    p.add_argument("--readme", type=Path, help="fill this file's deploy_evidence section")
    args = p.parse_args(argv)
    try:
        from asc.atomic import write_text
        from asc.eval.deploy_evidence import collect, render
        from asc.readme_section import fill_section

        splits, seeds = [int(s) for s in args.splits.split()], [int(s) for s in args.seeds.split()]
        runs, missing = collect(args.root, splits, seeds)
        text = render(runs, missing, splits, seeds, args.command)
        print(text, end="")
        if args.out:
            write_text(args.out, text)
        if args.readme:
            fill_section(args.readme, "deploy_evidence", text)
    except (AscError, ValueError) as e:
        print(f"deploy_evidence: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
