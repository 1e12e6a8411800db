"""Score a system of one model per device (DCASE2025 Task 1) on a labelled data directory.

    python -m asc.bin.score_devices --general exp/deploy/split25/model.pt --data data/test \
        --feats dump/student/test/feats.h5 --labels data/labels.txt --out exp/device_score/split25/device_specific \
        a=exp/device/split25/a/deploy/model.pt b=exp/device/split25/b/deploy/model.pt ...

Each clip is classified by the deployed model of its device (utt2device), by --general when its device
has none (asc.eval.device_routing). Every device model must have the general model's architecture (the
same tensors, other values). Writes what asc.bin.score writes (scores.json with per-device and
seen/unseen figures, scores.txt, predictions.tsv, pictures) plus `routing` (device -> model file) and
`device_complexity` (each model's stored complexity) in scores.json, and score.done; a folder scored
with the same inputs is skipped.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from asc.errors import AscError

PROG = "score_devices"
DONE = "score"


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog=f"python -m asc.bin.{PROG}", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--general", required=True, type=Path, help="the general deployed model (model.pt)")
    p.add_argument("--data", required=True, type=Path, help="labelled data directory (data/test)")
    p.add_argument("--feats", required=True, type=Path, help="its feature store")
    p.add_argument("--labels", required=True, type=Path, help="label list (data/labels.txt)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--system", default="device_specific", help="system name (default: %(default)s)")
    p.add_argument("--split", type=int, help="training split, for the tables")
    p.add_argument("--batch-size", type=int,
                   help="clips per forward pass (default: asc.train.predict.EVAL_BATCH_SIZE, 64)")
    p.add_argument("device_models", nargs="*", metavar="DEVICE=MODEL", help="a deployed model per device")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Score (or skip); exit 1 with one line on bad input."""
    args = parse_args(argv)
    try:
        from asc.eval.device_routing import parse_device_models

        models = parse_device_models(args.device_models)
        result = score_devices(args, models)
    except AscError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 1
    if result is None:
        print(f"{PROG}: {args.out} already holds these scores ({DONE}.done); nothing to do", file=sys.stderr)
    else:
        print(f"{PROG}: {args.system}: macro accuracy {100 * result['macro_accuracy']:.2f} % -> {args.out}",
              file=sys.stderr)
    return 0


def score_devices(args: argparse.Namespace, models: dict[str, Path]) -> dict | None:
    """The routed system's scores, written with the outputs of asc.bin.score; None if unchanged."""
    from asc.atomic import done_marker, mark_done
    from asc.data.datadir import load_datadir, read_labels
    from asc.data.feature_store import FeatureStore, read_marker
    from asc.eval.device_routing import check_same_architecture, routed_probs, routing_table
    from asc.eval.inference import check_store_matches, predict_probs
    from asc.eval.scoring import OUTPUTS, _truth, _write_outputs
    from asc.fingerprint import file_digest, files_digest, unchanged
    from asc.metrics import compute_scores
    from asc.models.model_file import load_deployable
    from asc.train.predict import EVAL_BATCH_SIZE

    labels = read_labels(args.labels)
    store = FeatureStore(args.feats)
    data = load_datadir(args.data)
    inputs = {"general": file_digest(args.general), "models": {d: file_digest(p) for d, p in sorted(models.items())},
              "feats": {k: read_marker(store.path).get(k) for k in ("bytes", "utts_hash", "config_hash")},
              "data": files_digest([args.data / n for n in ("wav.scp", "utt2label", "utt2device")]),
              "labels": file_digest(args.labels), "system": args.system, "split": args.split}
    if unchanged(args.out, DONE, inputs, [args.out / name for name in OUTPUTS]):
        return None
    done_marker(args.out, DONE).unlink(missing_ok=True)
    truth, devices = _truth(data, args.data, labels)
    general = load_deployable(args.general)
    check_store_matches(store, general.feats_hash, str(args.general))
    loaded = {}
    for device, path in models.items():
        loaded[device] = load_deployable(path)
        check_same_architecture(general.model.state_dict(), loaded[device].model.state_dict(), path)
        if loaded[device].labels != labels:
            raise AscError(f"{path}: its classes {loaded[device].labels} are not those of {args.labels}")
    utts = data.utts
    batch_size = args.batch_size or EVAL_BATCH_SIZE

    def predict_device(device, rows):
        if device not in loaded:
            return None
        return predict_probs(loaded[device].model, store, [utts[i] for i in rows], batch_size)

    probs = routed_probs(devices, predict_probs(general.model, store, utts, batch_size), predict_device)
    scores = compute_scores(truth, probs, devices, labels).to_dict()
    complexity = {GENERAL_KEY: general.complexity, **{d: m.complexity for d, m in loaded.items()}}
    result = {"system": args.system, "split": args.split, "checkpoint": str(args.general),
              "checkpoint_file": str(args.general), "model_name": general.model_name, "deployed": True,
              "data": str(args.data), "feats": str(args.feats), "feature_config_hash": store.config_hash,
              **scores, "params": general.complexity["params"], "macs": general.complexity["macs"],
              "complexity": general.complexity, "routing": routing_table(devices, models, args.general),
              "device_complexity": complexity}
    _write_outputs(args.out, result, utts, truth, devices, probs, labels)
    mark_done(args.out, DONE, {"inputs": inputs, "macro_accuracy": result["macro_accuracy"]})
    return result


GENERAL_KEY = "general"


if __name__ == "__main__":
    sys.exit(main())
