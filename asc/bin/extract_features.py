"""Extract log-mel features of one shard of a data directory (stage 2), or report whether any work is left.

    python -m asc.bin.extract_features --config conf/common/feats_student.yaml \\
        --data data/test --out dump/student/test --shard 2 --num-shards 4
    python -m asc.bin.extract_features --status --config ... --data data/test --out dump/student/test

Shard J of N covers a contiguous part of the sorted utterances and is written atomically to
OUT/shards/feats.J.h5 with a done marker; a finished shard (or a finished merged store) is not
recomputed. `asc.bin.merge_features` joins the shards into OUT/feats.h5. The features do not depend on
N. `--status` exits 0 if OUT/feats.h5 is complete for this config and data directory, 2 if work is
left (and 1 on an error), so that a recipe launches no jobs when there is nothing to do.
"""
from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path

import torch

from asc.data.datadir import load_datadir
from asc.errors import AscError
from asc.features.extract import extract_shard, store_path, store_status
from asc.features.logmel import load_feature_config

PROG = "extract_features"


def main(argv: list[str] | None = None) -> int:
    """Parse the options, then report the store's status or extract one shard."""
    args = _parser().parse_args(argv)
    _one_line_warnings(PROG)
    try:
        cfg = load_feature_config(args.config)
        data = load_datadir(args.data)
        if args.status:
            problem = store_status(cfg, data, args.out)
            print(f"{store_path(args.out)}: " + (f"to do: it {problem}" if problem else "complete"))
            return 2 if problem else 0
        torch.set_num_threads(args.threads)
        extract_shard(cfg, data, Path(args.data).name, args.out, args.shard, args.num_shards, args.device)
    except AscError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    return 0


def _one_line_warnings(prog: str) -> None:
    """Warnings (e.g. a stereo file mixed down) as one line each in the job log, naming the file."""
    warnings.formatwarning = lambda message, category, *rest, **kw: f"{prog}: warning: {message}\n"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"python -m asc.bin.{PROG}", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, required=True, help="feature config YAML (conf/*/feats_*.yaml)")
    p.add_argument("--data", type=Path, required=True, help="data directory (wav.scp)")
    p.add_argument("--out", type=Path, required=True, help="output folder, e.g. dump/student/train_split100")
    p.add_argument("--shard", type=int, default=1, help="which shard to extract, 1-based (default: 1)")
    p.add_argument("--num-shards", type=int, default=1, help="number of shards (default: 1)")
    p.add_argument("--status", action="store_true",
                   help="only report: exit 0 if OUT/feats.h5 is complete, 2 if work is left")
    p.add_argument("--device", default="cpu", help="torch device of the front end (default: cpu)")
    p.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")),
                   help="torch CPU threads of this job (default: $OMP_NUM_THREADS, else 1: jobs run "
                        "side by side)")
    return p


if __name__ == "__main__":
    sys.exit(main())
