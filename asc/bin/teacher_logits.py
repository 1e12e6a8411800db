"""Run trained teachers once over every clip of a split and store their ensemble logits (stage 3).

    python -m asc.bin.teacher_logits --data data/train_split25 --labels data/labels.txt \
        --out exp/teach/split25/logits.h5 exp/teach/split25/cp_resnet exp/teach/split25/passt

Each teacher is an experiment directory of `asc.bin.train`; its resolved config names the features
it reads (CP-ResNet the student's 256-mel store, PaSST its own 128-mel one), and its best checkpoint
is run in eval mode. The file holds the mean of the members' logits and each member's logits
(layout in asc.data.logit_store); `<out stem>.done` is written last and records digests of the
members' train.done (new at every retraining), the data directory and the label list, so that a
retrained teacher or an edited data directory makes the logits computed again. `--feats-set test` runs the
teachers on another set of the same feature configs (dump/<features>/test/feats.h5), e.g. to score
the ensemble.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from asc.atomic import done_marker, mark_done
from asc.config import load_config
from asc.data.datadir import load_datadir, read_labels
from asc.data.dataset import FeatureDataset
from asc.data.feature_store import FeatureStore
from asc.data.logit_store import read_logits, write_logit_store
from asc.errors import AscError, InputError
from asc.expdir import ExpDir
from asc.fingerprint import datadir_digest, file_digest, marker_digest
from asc.models.checkpoint_file import load_model
from asc.train.config import TrainConfig
from asc.train.predict import EVAL_BATCH_SIZE, predict_logits


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m asc.bin.teacher_logits", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("teachers", nargs="+", help="experiment directories of trained teachers")
    p.add_argument("--data", required=True, help="data directory whose clips get logits")
    p.add_argument("--out", required=True, help="HDF5 file to write (e.g. exp/teach/split25/logits.h5)")
    p.add_argument("--labels", help="label list; checked against the teachers' class order")
    p.add_argument("--feats-set", help="read dump/<features>/<SET>/feats.h5 instead of the teachers' "
                                       "training store (same feature config, checked)")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best")
    p.add_argument("--batch-size", type=int, default=EVAL_BATCH_SIZE)
    p.add_argument("--num-workers", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Compute, average and store the teachers' logits unless the same members already did."""
    args = parse_args(argv)
    out = Path(args.out)
    name = out.name.removesuffix(".h5")
    try:
        info = {"members": list(args.teachers), "data": args.data, "feats_set": args.feats_set,
                "checkpoint": args.checkpoint, "member_hashes": [marker_digest(t) for t in args.teachers],
                "inputs": {"data": datadir_digest(args.data),
                           "labels": file_digest(args.labels) if args.labels else None}}
        marker = done_marker(out.parent, name)
        data = load_datadir(args.data)
        if out.is_file() and marker.is_file() and json.loads(marker.read_text() or "{}") == info:
            problem = _unreadable(out, data.utts)
            if problem is None:
                print(f"teacher_logits: {out} is complete for these teachers; nothing to do", file=sys.stderr)
                return 0
            print(f"teacher_logits: {problem}; computing it again", file=sys.stderr)
            marker.unlink()
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        member_logits, labels = [], None
        for teacher in args.teachers:
            logits, labels = run_teacher(Path(teacher), data, args, device, labels)
            member_logits.append(logits)
            _report(teacher, logits, data, labels)
        mean = write_logit_store(out, data.utts, torch.stack(member_logits).numpy(), args.teachers, labels)
        _report("ensemble", torch.from_numpy(mean), data, labels)
        mark_done(out.parent, name, info)
    except AscError as e:
        print(f"teacher_logits: {e}", file=sys.stderr)
        return 1
    return 0


def run_teacher(exp: Path, data, args: argparse.Namespace, device: torch.device,
                labels: list[str] | None) -> tuple[torch.Tensor, list[str]]:
    """Logits [clips, classes] of the teacher in experiment `exp` for every clip of `data` (sorted)."""
    paths = ExpDir(exp)
    if not paths.done.is_file():
        raise InputError(exp, "teacher not finished (no train.done); train it first")
    cfg = load_config(TrainConfig, paths.config)
    model, ckpt = load_model(paths.best if args.checkpoint == "best" else paths.last, device)
    own = list(ckpt.get("labels") or [])
    if args.labels and own != read_labels(args.labels):
        raise InputError(exp, f"teacher's class order {own} differs from {args.labels}")
    if labels is not None and own != labels:
        raise InputError(exp, f"teacher's class order {own} differs from the other teachers' {labels}")
    feats = _feats_path(cfg.feats, args.feats_set)
    store = FeatureStore(feats)
    if args.feats_set and store.config_hash != ckpt.get("feats_hash"):
        raise InputError(feats, f"feature config hash {store.config_hash} differs from the one the teacher was "
                         f"trained on ({ckpt.get('feats_hash')})")
    dataset = FeatureDataset(data, store, own, source=args.data)
    logits = predict_logits(model, dataset, device, args.batch_size, args.num_workers,
                            amp=cfg.amp, channels_last=cfg.channels_last)
    return logits, own


def _feats_path(feats: str, feats_set: str | None) -> Path:
    """The teacher's store, or the store of another set beside it (dump/<features>/<set>/feats.h5)."""
    path = Path(feats)
    return path if not feats_set else path.parent.parent / feats_set / path.name


def _unreadable(out: Path, utts: list[str]) -> str | None:
    """Why a finished logits file cannot be trusted (truncated, damaged, other clips), or None."""
    try:
        read_logits(out, utts)
    except InputError as e:
        return str(e)
    return None


def _report(who: str, logits: torch.Tensor, data, labels: list[str]) -> None:
    known = [(i, labels.index(data.label[u])) for i, u in enumerate(data.utts) if data.label.get(u) in labels]
    if not known:
        return
    rows, targets = map(list, zip(*known))
    correct = (logits[rows].argmax(dim=1) == torch.tensor(targets)).double().mean().item()
    print(f"teacher_logits: {who}: {len(data.utts)} clips, accuracy {100 * correct:.2f}% on this set "
          f"(clips the teachers trained on included)",
          file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
