"""Train any registered model on the cached features of a data directory (stages 3, 4 and 5 use it).

    python -m asc.bin.train --config conf/embedded/train_rep_mobile_kd.yaml \
        --train-data data/train_split25 --feats dump/student/train_split100/feats.h5 \
        --labels data/labels.txt --exp exp/kd/split25/rep_mobile_kd \
        --teacher-logits exp/teach/split25/logits.h5 [key=value ...]

    torchrun --nproc_per_node 4 -m asc.bin.train …   # the same on several GPUs (or CPU processes)

Writes the experiment directory: config.yaml (resolved), train.log, metrics.jsonl,
checkpoints/{best,last}.pt, run.sh (the command again) and train.done. A finished experiment of the
same config is skipped; an unfinished one resumes from checkpoints/last.pt.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from asc.train.data_flags import add_data_flags, data_overrides
from asc.config import parse_override
from asc.errors import AscError
from asc.lock import folder_lock
from asc.train.config import load_train_config
from asc.train.distributed import cleanup_distributed, setup_distributed
from asc.train.trainer import finished, train
from asc.rerun import write_rerun_script



def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m asc.bin.train", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="training YAML (conf/<profile>/train_*.yaml)")
    p.add_argument("--exp", required=True, help="experiment directory to write (or resume)")
    add_data_flags(p)
    p.add_argument("--init-checkpoint", help="weights to start from (e.g. a local PaSST AudioSet checkpoint)")
    p.add_argument("--pretrained-dir", help="folder of official pretrained files (db.sh's PRETRAINED_DIR), "
                                            "read when the config names one (pretrained: mn04_as_mAP_432.pt)")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config overrides, e.g. epochs=5 kd.temperature=3 model_options.base_channels=16")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Parse, resolve the config, skip if finished, train (on one process or under torchrun)."""
    args = parse_args(argv)
    try:
        overrides = data_overrides(args)
        if args.init_checkpoint:
            overrides["init_checkpoint"] = args.init_checkpoint
        if args.pretrained_dir:
            overrides["pretrained_dir"] = args.pretrained_dir
        overrides.update(parse_override(text) for text in args.overrides)
        cfg = load_train_config(args.config, overrides)
        if finished(args.exp, cfg):
            print(f"train: {args.exp} already finished with this config (train.done); nothing to do",
                  file=sys.stderr)
            return 0
        env = setup_distributed()
        try:
            # One training per experiment folder: a second one would interleave checkpoints and metrics.
            with folder_lock(args.exp, "asc.bin.train " + " ".join(argv if argv is not None else sys.argv[1:])) \
                    if env.is_main else contextlib.nullcontext():
                if env.is_main:
                    write_rerun_script(Path(args.exp), "asc.bin.train", argv if argv is not None else sys.argv[1:])
                train(cfg, args.exp, env)
        finally:
            cleanup_distributed()
    except AscError as e:
        print(f"train: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
