"""Fine-tuning a pruned network with knowledge distillation, through the project's one training loop.

No second loop: a pruned Rep-Mobile is fully described by its options (`model.options()` records
the pruned widths) and its weights, so a step saves the pruned network as a checkpoint and hands the
trainer (asc.train.trainer) a config that builds exactly that network and starts from that file
(`init_checkpoint`, strictly matched). The trainer then does what it does for every stage: KD from
the stored teacher logits, augmentation, per-epoch validation on held-out recordings, best/last
checkpoints, and resume of a killed run from its last epoch.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from asc.expdir import ExpDir
from asc.train.config import TrainConfig
from asc.train.distributed import DistEnv
from asc.train.trainer import finished, train


def finetune_config(base: TrainConfig, model_name: str, model_options: dict, init: str | os.PathLike,
                    epochs: int, seed: int) -> TrainConfig:
    """The training config of one step: `base`'s options for the network saved at `init`."""
    return dataclasses.replace(base, model_config=None, model=model_name, model_options=dict(model_options),
                               init_checkpoint=str(init), epochs=epochs, seed=seed)


def run_finetune(cfg: TrainConfig, exp: str | os.PathLike, env: DistEnv) -> ExpDir:
    """Train `cfg` into `exp` unless it already finished there (resuming an interrupted run)."""
    if not finished(exp, cfg):
        train(cfg, exp, env)
    return ExpDir(Path(exp))
