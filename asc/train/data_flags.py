"""The flags that say where a training run's inputs are (data directory, features, labels, teacher logits,
impulse responses), shared by the commands that train: asc.bin.train, and asc.bin.prune for its KD
fine-tuning. Each flag sets one key of the training config, under `prefix` where that config is nested."""
from __future__ import annotations

import argparse

# flag (argparse dest) -> key of asc.train.config.TrainConfig
KEYS = {"train_data": "train_data", "feats": "feats", "labels": "labels",
        "teacher_logits": "kd.teacher_logits", "dir_folder": "augment.device_ir.folder"}


def add_data_flags(p: argparse.ArgumentParser) -> None:
    """--train-data, --feats, --labels, --teacher-logits, --dir-folder."""
    p.add_argument("--train-data", help="data directory of the training split")
    p.add_argument("--feats", help="feature store (feats.h5) covering the training split")
    p.add_argument("--labels", help="label list (data/labels.txt)")
    p.add_argument("--teacher-logits", help="stored teacher logits (HDF5) for distillation")
    p.add_argument("--dir-folder", help="folder of device impulse responses (wav) for the DIR augmentation")


def data_overrides(args: argparse.Namespace, prefix: str = "") -> dict[str, str]:
    """The config overrides {prefix + key: value} of the data flags given."""
    return {prefix + key: getattr(args, flag) for flag, key in KEYS.items() if getattr(args, flag)}
