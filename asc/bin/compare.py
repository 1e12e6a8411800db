"""Does A beat B? Differences of mean test accuracy per split, from scores.json files (asc.eval.compare).

    python -m asc.bin.compare --exp exp/ablation_kd --out exp/ablation_kd/compare.md \\
        ensemble:rep_mobile rep_mobile_kd_ensemble:rep_mobile

Each pair A:B gives two rows (all devices, unseen devices) of A − B per split and the count of splits
where A is better. A pair with no split scored for both is an error, or with --partial a line saying so.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asc.errors import AscError
from asc.eval.results_table import DCASE2024_SPLITS, split_list


def pair(text: str) -> tuple[str, str]:
    """'a:b' -> ('a', 'b')."""
    better, sep, than = text.partition(":")
    if not sep or not better or not than:
        raise argparse.ArgumentTypeError(f"expected A:B (two system names), got {text!r}")
    return better, than


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m asc.bin.compare", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--exp", required=True, type=Path, nargs="+", help="experiment folder(s) holding scores.json files")
    p.add_argument("--out", required=True, type=Path, help="the Markdown file to write")
    p.add_argument("--splits", type=split_list, default=DCASE2024_SPLITS,
                   help="the training splits of the table's columns, space-separated (the recipe's list; "
                        "default: the five of DCASE2024 Task 1)")
    p.add_argument("--partial", action="store_true",
                   help="a pair without a split scored for both is listed as not measured yet instead of an "
                        "error (the tables of a study still running)")
    p.add_argument("pairs", nargs="+", type=pair, metavar="A:B", help="systems to compare, A against B")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        from asc.atomic import write_text
        from asc.eval.compare import compare, comparisons_markdown

        comparisons = [compare(args.exp, better, than) for better, than in args.pairs]
        for c in comparisons:
            if not c.diffs["macro_accuracy"] and not args.partial:
                raise AscError(f"no split has scores of both {c.better!r} and {c.than!r} under "
                               f"{', '.join(map(str, args.exp))}")
        write_text(args.out, comparisons_markdown(comparisons, args.splits))
    except AscError as e:
        print(f"compare: {e}", file=sys.stderr)
        return 1
    print(f"compare: {len(comparisons)} comparison(s) -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
