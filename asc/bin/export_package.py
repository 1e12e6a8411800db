"""Export the DCASE2025 Task 1 inference package of a general model and its device models (stage 7 of
egs/dcase2025_task1; asc.export.dcase2025_package says what the folder holds).

    python -m asc.bin.export_package --general exp/deploy/split25/model.pt --name Asc_Recipe_task1 \
        --out exp/package/split25 --test-csv corpus/embedded/test.csv \
        a=exp/device/split25/a/deploy/model.pt b=exp/device/split25/b/deploy/model.pt ...

Then, without asc: pip install -e exp/package/split25; cd exp/package/split25; python test_complexity.py
--submission_name Asc_Recipe_task1 --submission_index 1; python evaluate_submission.py ... (its README).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asc.errors import AscError

PROG = "export_package"


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog=f"python -m asc.bin.{PROG}", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--general", required=True, type=Path, help="the general deployed model (model.pt)")
    p.add_argument("--name", required=True, help="package name, DCASE's submission label: <Name>_<Inst>_task1")
    p.add_argument("--out", required=True, type=Path, help="the package folder (replaced whole)")
    p.add_argument("--test-csv", type=Path, help="the test split (test.csv) for the package's sanity check")
    p.add_argument("device_models", nargs="*", metavar="DEVICE=MODEL", help="a deployed model per device")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Export; exit 1 with one line naming the bad input."""
    args = parse_args(argv)
    try:
        from asc.eval.device_routing import parse_device_models
        from asc.export.dcase2025_package import export_package

        models = parse_device_models(args.device_models)
        meta = export_package(args.general, models, args.name, args.out, args.test_csv)
    except AscError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    devices = ", ".join(meta["devices"]) or "none"
    print(f"{PROG}: {args.out}/{args.name}: general model + device models ({devices}), {len(meta['labels'])} "
          f"classes; pip install -e {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
