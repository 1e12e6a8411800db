"""Score a saved model on a labeled data directory from its cached features (stage 6).

    python -m asc.bin.score --checkpoint exp/kd/split25/rep_mobile_kd --data data/test \
        --feats dump/student/test/feats.h5 --labels data/labels.txt --out exp/kd/split25/rep_mobile_kd/score_test

--checkpoint takes an experiment directory (its checkpoints/best.pt; the run must be finished), a
training checkpoint, a deployable model file (exp/deploy/split<N>/model.pt), or a teacher-logits
file of the same clips (asc.bin.teacher_logits --feats-set test; --feats is then unused). The feature store
must be built with the front end the model reads (checked by config hash). Writes scores.json,
scores.txt, confusion.png, device_class.png, predictions.tsv and score.done into --out; a folder
already scored with the same inputs is skipped.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asc.errors import AscError


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m asc.bin.score", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, type=Path,
                   help="experiment directory, training checkpoint (.pt) or deployable model file")
    p.add_argument("--data", required=True, type=Path, help="labeled data directory (e.g. data/test)")
    p.add_argument("--feats", type=Path, help="feature store covering --data (feats.h5); needed unless "
                                              "--checkpoint is a logits file")
    p.add_argument("--labels", required=True, type=Path, help="label list (data/labels.txt)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--system", help="system name for RESULTS.md (default: the experiment directory's name)")
    p.add_argument("--split", type=int, help="training split (default: from a split<N> folder in the path)")
    p.add_argument("--batch-size", type=int,
                   help="clips per forward pass (default: asc.train.predict.EVAL_BATCH_SIZE, 64)")
    p.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")
    p.add_argument("--compute-dtype", choices=("float32", "float16"), default="float32",
                   help="what the model computes in, whatever its file stores (default: %(default)s: full speed "
                        "on a CPU; float16 arithmetic is emulated there and ~15x slower)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Score, or skip if already scored with the same inputs; exit 1 with one line for bad input."""
    args = parse_args(argv)
    try:
        from asc.eval.scoring import ScoreJob, is_logits_file, score

        if args.feats is None and not is_logits_file(args.checkpoint):
            raise AscError(f"{args.checkpoint}: a model needs --feats (the feature store of {args.data})")

        job = ScoreJob(checkpoint=args.checkpoint, data=args.data, feats=args.feats, labels=args.labels,
                       out=args.out, system=args.system, split=args.split, batch_size=args.batch_size,
                       device=args.device, compute_dtype=args.compute_dtype)
        score(job, log=lambda message: print(f"score: {message}", flush=True))
    except AscError as e:
        print(f"score: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
