"""Prune a KD-trained Rep-Mobile progressively to the DCASE2024 limits, then deploy it (stage 5).

    python -m asc.bin.prune --config conf/embedded/prune.yaml \
        --init exp/kd/split25/rep_mobile_wide_kd --train-data data/train_split25 \
        --feats dump/student/train_split100/feats.h5 --teacher-logits exp/teach/split25/logits.h5 \
        --labels data/labels.txt --exp exp/prune/split25 \
        [--deploy-dir exp/deploy/split25 --test-data data/test --test-feats dump/student/test/feats.h5] \
        [key=value ...]          # e.g. steps=3 one_shot=true criterion=bn_scale finetune.lr=5e-4

--init is a finished training experiment (its checkpoints/best.pt) or a checkpoint file of the
training form. Writes <exp>/step0 … step<K> (asc.prune.steps) and, with --deploy-dir, the deployable
model (asc.prune.deploy): model.pt, complexity.json, precision.json (float16 against float32 on the
test features given by --test-data/--test-feats), deploy.done. Finished work is skipped; an
interrupted run resumes at its last finished step. Exits 1 with one line on stderr on bad input, when
the target cannot be reached, or when the deployed model is outside the limits.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

from asc.train.data_flags import add_data_flags, data_overrides
from asc.config import parse_override
from asc.data.datadir import load_datadir, read_labels
from asc.data.dataset import FeatureDataset
from asc.data.feature_store import FeatureStore
from asc.errors import AscError, ConfigError, InputError
from asc.fingerprint import datadir_digest, file_digest, marker_digest
from asc.lock import folder_lock
from asc.prune.config import PruneConfig, check_prune_config, load_prune_config, prune_hash
from asc.prune.qat import run_qat
from asc.prune.deploy import run_deploy
from asc.prune.steps import finished, resolve_init, run_pruning
from asc.rerun import write_rerun_script



def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m asc.bin.prune", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="pruning YAML (conf/<profile>/prune.yaml)")
    p.add_argument("--init", required=True, help="start model: training experiment directory or checkpoint")
    p.add_argument("--exp", required=True, help="pruning experiment directory (exp/prune/split<N>)")
    add_data_flags(p)                                         # for the fine-tuning
    p.add_argument("--deploy-dir", help="write the deployable model here after the last step")
    p.add_argument("--test-data", help="data directory of the test set (float16 check of the deployed model)")
    p.add_argument("--test-feats", help="feature store of the test set")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. steps=3 one_shot=true")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Parse, resolve the config, run the steps (resuming), deploy."""
    args = parse_args(argv)
    try:
        overrides = data_overrides(args, prefix="finetune.")
        overrides.update(parse_override(text) for text in args.overrides)
        cfg = load_prune_config(args.config, overrides)
        check_prune_config(cfg, args.config)                          # inputs checked before any work
        resolve_init(args.init)
        test_set = _test_set(args, cfg) if args.deploy_dir else None
        if finished(args.exp, cfg, args.init):
            print(f"prune: {args.exp} already finished with this config (prune.done); nothing to do",
                  file=sys.stderr)
        else:
            write_rerun_script(Path(args.exp), "asc.bin.prune", argv if argv is not None else sys.argv[1:])
        # One pruning run per experiment folder (its steps fine-tune like a training).
        with folder_lock(args.exp, "asc.bin.prune " + " ".join(argv if argv is not None else sys.argv[1:])):
            final = run_pruning(cfg, args.init, args.exp)
        if cfg.target.precision == "int8":       # quantisation-aware fine-tuning of the pruned network
            final = run_qat(cfg, final, args.exp)
        if args.deploy_dir:
            info = run_deploy(final, args.deploy_dir, _features(cfg), read_labels(cfg.finetune.labels),
                              prune_hash(cfg, args.init), cfg.target.precision, cfg.input_shape, test_set,
                              cfg.deploy.allowed_drop(cfg.target.precision), cfg.deploy.batch_size,
                              device="cuda" if torch.cuda.is_available() else "cpu",
                              inputs=_deploy_inputs(final, args))
            print(_deploy_summary(args.deploy_dir, info), file=sys.stderr)
    except AscError as e:
        print(f"prune: {e}", file=sys.stderr)
        return 1
    return 0


def _deploy_inputs(final: Path, args: argparse.Namespace) -> dict:
    """Digests of what the deploy reads: the pruned model and the test set of the float16 check."""
    return {"model": file_digest(final),
            "test_feats": marker_digest(args.test_feats) if args.test_feats else None,
            "test_data": datadir_digest(args.test_data) if args.test_data else None}


def _features(cfg: PruneConfig) -> dict:
    """The front end the model was trained with, from the training feature store."""
    return dataclasses.asdict(FeatureStore(cfg.finetune.feats).feature_config)


def _test_set(args: argparse.Namespace, cfg: PruneConfig) -> FeatureDataset | None:
    """The labelled test clips for the float16 check (None when the check is switched off)."""
    if not cfg.deploy.check_precision:
        return None
    if not (args.test_data and args.test_feats):
        raise ConfigError("--deploy-dir needs --test-data and --test-feats for the float16 accuracy check "
                          "(or deploy.check_precision=false)")
    store = FeatureStore(args.test_feats)
    if cfg.finetune.feats and FeatureStore(cfg.finetune.feats).config_hash != store.config_hash:
        raise InputError(args.test_feats, f"built with another front end (config hash {store.config_hash}) than "
                                          f"the training features {cfg.finetune.feats}")
    labels = read_labels(cfg.finetune.labels) if cfg.finetune.labels else []
    return FeatureDataset(load_datadir(args.test_data), store, labels, source=args.test_data)


def _deploy_summary(out_dir: str, info: dict) -> str:
    c = info["complexity"]
    text = (f"prune: deployed {out_dir}/model.pt: {c['params']:,} params = {c['param_bytes']:,} B at "
            f"{c['precision']}, {c['macs']:,} MACs (within the DCASE2024 limits)")
    check = info.get("precision_check")
    if check:
        text += (f"; test macro accuracy float32 {100 * check['float32']:.2f} %, {c['precision']} "
                 f"{100 * check['file_' + c['precision']]:.2f} % ({check['difference_points']:+.2f} points)")
    return text


if __name__ == "__main__":
    sys.exit(main())
