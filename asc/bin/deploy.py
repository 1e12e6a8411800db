"""Deploy a trained model: fuse it, check the DCASE limits, store it in float16 with its front end.

    python -m asc.bin.deploy --checkpoint exp/device/split25/b --feats dump/student/train_split100/feats.h5 \
        --labels data/labels.txt --out-dir exp/device/split25/b/deploy \
        [--test-data data/test --test-feats dump/student/test/feats.h5 [--test-device b]] [--max-accuracy-drop 0.5]

Stage 5 of the DCASE2024 recipe deploys the last pruning step inside asc.bin.prune; this command does
the same (asc.prune.deploy.run_deploy) for any other trained checkpoint, e.g. a device-specific model
fine-tuned from the pruned network (DCASE2025). --checkpoint is a finished training experiment (its
checkpoints/best.pt) or a checkpoint file of the training form. Writes model.pt, complexity.json,
precision.json (float16 against float32 on the test features, when given; with --test-device on that
device's clips only: float16 runs emulated on a CPU, and a device model serves only them) and deploy.done into
--out-dir; a deploy of the same checkpoint is skipped. Exits 1 with one line naming the checkpoint
when the model exceeds the limits (nothing is written then) or float16 loses too much accuracy.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from asc.errors import AscError


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m asc.bin.deploy", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, type=Path, help="training experiment directory or checkpoint")
    p.add_argument("--out-dir", required=True, type=Path, help="the deploy folder (model.pt, complexity.json)")
    p.add_argument("--feats", required=True, type=Path,
                   help="a feature store the model was trained on: its front end is stored with the model")
    p.add_argument("--labels", required=True, type=Path, help="label list (data/labels.txt)")
    p.add_argument("--test-data", type=Path, help="labelled data directory for the float16 check")
    p.add_argument("--test-feats", type=Path, help="its feature store")
    p.add_argument("--test-device", help="check float16 on this device's test clips only (those the model serves)")
    p.add_argument("--precision", choices=("float16", "float32"), default="float16",
                   help="storage precision counted and saved (default: %(default)s)")
    p.add_argument("--max-accuracy-drop", type=float, default=0.5,
                   help="largest float32 - float16 macro accuracy difference allowed, in points (default: %(default)s)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Deploy (or find it deployed); exit 1 with one line naming the checkpoint on any failure."""
    args = parse_args(argv)
    try:
        info = deploy(args)
    except AscError as e:
        print(f"deploy: {args.checkpoint}: {e}", file=sys.stderr)
        return 1
    c = info["complexity"]
    print(f"deploy: {args.checkpoint} -> {args.out_dir}/model.pt: {c['params']:,} params = {c['param_bytes']:,} B "
          f"at {c['precision']}, {c['macs']:,} MACs (within the limits)", file=sys.stderr)
    return 0


def deploy(args: argparse.Namespace) -> dict:
    """run_deploy on the resolved checkpoint, with the test set of the float16 check if given."""
    from asc.data.datadir import load_datadir, read_labels
    from asc.data.dataset import FeatureDataset
    from asc.data.feature_store import FeatureStore
    from asc.errors import ConfigError, InputError
    from asc.expdir import resolve_checkpoint
    from asc.fingerprint import datadir_digest, file_digest, marker_digest
    from asc.prune.deploy import run_deploy

    checkpoint, _ = resolve_checkpoint(args.checkpoint)
    if (args.test_data is None) != (args.test_feats is None):
        raise ConfigError("--test-data and --test-feats go together (the float16 check needs both)")
    labels = read_labels(args.labels)
    store = FeatureStore(args.feats)
    test_set = None
    if args.test_data is not None:
        test_store = FeatureStore(args.test_feats)
        if test_store.config_hash != store.config_hash:
            raise InputError(args.test_feats, f"built with another front end than {args.feats}")
        data = load_datadir(args.test_data)
        utts = None
        if args.test_device:
            from asc.data.dataset import select_devices
            utts = select_devices(data, data.utts, [args.test_device], str(args.test_data))
        test_set = FeatureDataset(data, test_store, labels, utts, source=str(args.test_data))
    inputs = {"model": file_digest(checkpoint),
              "test_feats": marker_digest(args.test_feats) if args.test_feats else None,
              "test_data": datadir_digest(args.test_data) if args.test_data else None,
              "test_device": args.test_device}
    return run_deploy(checkpoint, args.out_dir, dataclasses.asdict(store.feature_config), labels,
                      str(checkpoint.resolve()), args.precision, test_set=test_set,
                      max_drop_points=args.max_accuracy_drop, inputs=inputs)


if __name__ == "__main__":
    sys.exit(main())
