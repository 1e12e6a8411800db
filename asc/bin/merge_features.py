"""Merge the finished shards of a feature extraction into OUT/feats.h5 (stage 2).

    python -m asc.bin.merge_features --out dump/student/test --num-shards 4 \\
        [--data data/test] [--config conf/common/feats_student.yaml]

Every shard 1..N must be finished and come from the same config (and, with --config, from that
one); the merged store is written atomically, checked against the data directory (with --data),
marked done, and the shards are removed. Nothing is rewritten if OUT/feats.h5 is already complete.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asc.data.datadir import load_datadir
from asc.errors import AscError
from asc.features.extract import merge_shards
from asc.features.logmel import load_feature_config

PROG = "merge_features"


def main(argv: list[str] | None = None) -> int:
    """Parse the options and merge."""
    args = _parser().parse_args(argv)
    try:
        cfg = load_feature_config(args.config) if args.config else None
        data = load_datadir(args.data) if args.data else None
        merge_shards(args.out, args.num_shards, cfg, data)
    except AscError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"python -m asc.bin.{PROG}", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="output folder of the extraction")
    p.add_argument("--num-shards", type=int, required=True, help="number of shards the extraction used")
    p.add_argument("--data", type=Path, help="data directory whose utterances the store must hold")
    p.add_argument("--config", type=Path, help="feature config the shards must have been built with")
    return p


if __name__ == "__main__":
    sys.exit(main())
