"""Write the DCASE2024 Task 1 submission output of a deployable model for an unlabeled evaluation set.

    python -m asc.bin.submission --model exp/deploy/split100/model.pt \
        --eval-dir corpus/embedded_eval --out exp/submission/split100

--eval-dir is a TAU-format evaluation folder (audio/ and meta.csv with a `filename` column; the
embedded generator's evaluation set has the same layout). Writes into --out:
  output.csv       tab-separated: filename (without audio/), scene_label, one probability column
                   per class in the official order
  complexity.yaml  the complexity figures of the submission form (total_model_size in bytes,
                   total_parameters, total_parameters_non_zero, macs, precision)
  submission.done  written last; a second run with the same model and listing does nothing.
Every clip is classified from its audio with the model file alone (as asc.bin.infer does). If any
file cannot be classified, the others are written to output.partial.csv (never output.csv, which
must list every file), each failure is named on stderr and the exit status is 1.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asc.errors import AscError

PROG = "submission"


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m asc.bin.submission", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, type=Path, help="deployable model file (exp/deploy/split<N>/model.pt)")
    p.add_argument("--eval-dir", required=True, type=Path, help="evaluation set folder (audio/, meta.csv)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=16,
                   help="clips per forward pass (default: %(default)s; memory grows by ~2.5 MB per clip)")
    p.add_argument("--compute-dtype", choices=("float32", "float16"), default="float32",
                   help="what the model computes in, whatever its file stores (default: %(default)s: full speed "
                        "on a CPU; float16 arithmetic is emulated there and ~15x slower)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Classify the evaluation set, write the submission files; exit 1 if anything failed."""
    args = parse_args(argv)
    try:
        from asc.eval.submission import PARTIAL, make_submission

        done = make_submission(args.model, args.eval_dir, args.out, args.device, args.batch_size,
                               compute_dtype=args.compute_dtype,
                               log=lambda m: print(f"{PROG}: {m}", flush=True),
                               warn=lambda m: print(f"{PROG}: {m}", file=sys.stderr, flush=True))
    except AscError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    if done.failed:
        print(f"{PROG}: {done.failed} of {done.failed + done.written} files failed (see the errors above); the "
              f"other {done.written} are in {args.out / PARTIAL}; output.csv was not written", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
