"""The config of one training run, as a dataclass with every default visible.

A YAML file under `conf/<profile>/train_*.yaml` overrides the defaults, the command line overrides the
file (`--feats …`, `lr=1e-3`, `kd.temperature=3`); the resolved config is written into the experiment
directory and its hash guards resume and skip decisions.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from asc.augment.pipeline import AugmentConfig
from asc.config import load_config
from asc.data.datadir import read_labels
from asc.errors import ConfigError
from asc.models import ModelConfig
from asc.train.predict import EVAL_BATCH_SIZE

# Options that change how fast a run goes but not what it computes: left out of the config hash, so a
# run may be resumed with more loader workers or a different logging interval.
# pretrained_dir is only where a pretrained file is read from: the file itself is checked against its
# SHA-256 (asc.models.pretrained_files), so moving the folder changes nothing computed.
RUNTIME_KEYS = ("num_workers", "log_interval", "eval_batch_size", "pretrained_dir")
# KD options added after runs were made: at their default they are left out of the hash, so that a finished
# experiment from before them is still recognised as the same config (and not refused as another one).
NEW_KD_DEFAULTS = {"teacher_mode": "stored", "members": [], "teacher_temperature": None,
                   "logit_standardization": False}
# Model options added after runs were made (Rep-Mobile's train_form), left out of the hash the same way.
NEW_MODEL_DEFAULTS = {"train_form": "branch_bn"}


@dataclass
class KDConfig:
    """Knowledge distillation: loss = lambda_ce·CE + (1 − lambda_ce)·T²·KL(teacher ‖ student).

    The teacher's answer comes from the stored logits of stage 3 (`teacher_mode: stored`), or from the
    teachers themselves, frozen, run on the student's own augmented batch (`online`,
    asc.train.online_teacher): the teachers are the members the logits file names, or `members`.
    """
    lambda_ce: float = 0.02           # 1.0 = plain cross-entropy training (the no-KD ablation)
    temperature: float = 2.0
    teacher_logits: str | None = None  # HDF5 of stored ensemble logits (stage 3); needed when lambda_ce < 1
    teacher_mode: Literal["stored", "online"] = "stored"
    members: list[str] = field(default_factory=list)  # online only: teachers' experiment folders to run
                                                      # instead of the members of teacher_logits
    # what the student matches (asc.train.losses says why; the defaults are the CP-JKU loss as it was):
    teacher_temperature: float | None = None  # the teacher side's temperature; None: `temperature`.
                                              # Below it sharpens an under-confident teacher's targets
    logit_standardization: bool = False       # z-score teacher and student logits per clip before the
                                              # temperature softmax (Sun et al., CVPR 2024)


@dataclass
class TrainConfig:
    """Everything one call of `python -m asc.bin.train` needs; paths usually come from the command line."""
    # the model: a model config file (name, features, options; a path relative to the training YAML),
    # whose options `model_options` may override, or `model` and `model_options` given here
    model_config: str | None = None
    model: str = ""
    features: str = "student"         # which front end the model reads (documentation; --feats decides)
    model_options: dict[str, Any] = field(default_factory=dict)
    model_from_init: bool = False     # the model (name and options) is that of init_checkpoint: a network
                                      # whose widths no config states (a pruned one) is fine-tuned as it is
    # data
    train_data: str = ""              # Kaldi-style data directory of the training split
    feats: str = ""                   # HDF5 feature store holding every utterance of train_data
    labels: str = ""                  # label list (official order)
    val_fraction: float = 0.1         # share of the split's recordings held out for validation
    split_seed: int = 0               # chooses the held-out recordings (fixed across training seeds)
    devices: list[str] = field(default_factory=list)   # train and validate on these devices' clips only
                                      # (utt2device), e.g. [b] for a device-specific model; empty: all
    init_checkpoint: str | None = None  # weights to start from (e.g. a PaSST AudioSet checkpoint); the
                                        # classifier is re-initialized where the class count differs
    pretrained: str | None = None     # an official pretrained file to start from (asc.models.pretrained_files,
                                      # e.g. mn04_as_mAP_432.pt), read from pretrained_dir and checked by
                                      # its SHA-256; init_checkpoint, when given, wins
    pretrained_dir: str = ""          # folder of pretrained files (db.sh's PRETRAINED_DIR; --pretrained-dir)
    # optimization
    epochs: int = 10
    min_steps: int = 0                # at least this many optimizer steps: more epochs on small splits
                                      # (asc.train.trainer.epochs_to_run says why epochs)
    batch_size: int = 64              # global batch: divided among the processes of a DDP run
    lr: float = 1e-3
    weight_decay: float = 1e-3
    warmup_epochs: float = 1.0
    schedule: Literal["cosine", "constant"] = "cosine"
    min_lr_ratio: float = 0.0         # the cosine ends at lr·min_lr_ratio
    grad_clip: float | None = None    # max gradient norm; None: no clipping
    seed: int = 0
    # augmentation (mixup included; device IRs from augment.device_ir.folder) and distillation
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    kd: KDConfig = field(default_factory=KDConfig)
    # execution
    amp: bool = True                  # automatic mixed precision (CUDA only; ignored on the CPU)
    channels_last: bool = True        # NHWC activations: 1.5x faster CNN training on the CPU (bench/train_step.py)
    num_workers: int = 0
    eval_batch_size: int = EVAL_BATCH_SIZE   # clips per validation forward pass (memory, not speed)
    log_interval: int = 50            # steps between progress lines when not on a terminal


def load_train_config(path: str | os.PathLike, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Defaults, then the YAML file, then `overrides`; the model config file merged in; checked."""
    cfg = load_config(TrainConfig, path, overrides)
    model_from_init(cfg, str(path))
    resolve_model(cfg, Path(path).parent, str(path))
    validate(cfg, str(path))
    classes_from_labels(cfg, str(path))
    return cfg


def model_from_init(cfg: TrainConfig, source: str = "config") -> None:
    """With `model_from_init`, take `model` and `model_options` from the init checkpoint: a pruned
    network's widths are in its checkpoint only, and fine-tuning must keep them (a device-specific
    model of DCASE2025 has the general model's architecture). A model config or model named beside
    it would contradict the file and is refused."""
    if not cfg.model_from_init:
        return
    if not cfg.init_checkpoint:
        raise ConfigError(f"{source}: model_from_init is true but no init_checkpoint is given (--init-checkpoint)")
    if cfg.model_config or cfg.model or cfg.model_options:
        raise ConfigError(f"{source}: model_from_init takes the model from {cfg.init_checkpoint}; remove "
                          f"model_config/model/model_options (set model_config: null over a base file's)")
    from asc.expdir import resolve_checkpoint
    from asc.models.checkpoint_file import load_checkpoint

    ckpt = load_checkpoint(resolve_checkpoint(cfg.init_checkpoint)[0])
    if ckpt.get("deployed"):
        raise ConfigError(f"{source}: {cfg.init_checkpoint} is a deployed (fused) model; fine-tune the training "
                          f"form it was fused from (e.g. the last pruning step's model.pt)")
    cfg.model, cfg.model_options = str(ckpt["model_name"]), dict(ckpt.get("model_options", {}))


def resolve_model(cfg: TrainConfig, base: Path, source: str = "config") -> None:
    """Fill `model`, `features` and `model_options` from `cfg.model_config` (options given in the
    training config win), so that the resolved config holds the whole model and needs no other file."""
    if not cfg.model_config:
        return
    path = Path(cfg.model_config)
    path = path if path.is_absolute() else base / path
    model = load_config(ModelConfig, path)
    if cfg.model and cfg.model != model.name:
        raise ConfigError(f"{source}: model '{cfg.model}' contradicts model_config {path} (model '{model.name}')")
    cfg.model, cfg.features = model.name, model.features
    cfg.model_options = {**model.options, **cfg.model_options}
    cfg.model_config = None


def classes_from_labels(cfg: TrainConfig, source: str = "config") -> None:
    """Set `model_options.n_classes` to the number of classes in the label list (data/labels.txt), so
    that a new dataset needs no edit of the model configs; a config that states another number is
    refused with both named. Without a label file on disk yet the trainer sets it when it reads one."""
    if not cfg.labels or not Path(cfg.labels).is_file():
        return
    n = len(read_labels(cfg.labels))
    stated = cfg.model_options.setdefault("n_classes", n)
    if stated != n:
        raise ConfigError(f"{source}: the model config says n_classes: {stated} but {cfg.labels} lists {n} "
                          f"classes; remove n_classes from the model config (the label list decides it)")


def validate(cfg: TrainConfig, source: str = "config") -> None:
    """Refuse values that would only fail later, deep inside the loop."""
    if not cfg.model:
        raise ConfigError(f"{source}: no model: set model_config (a conf/*/model_*.yaml) or model")
    for key in ("train_data", "feats", "labels"):
        if not getattr(cfg, key):
            raise ConfigError(f"{source}: '{key}' is not set (give it in the YAML or on the command line)")
    checks = [
        (cfg.epochs >= 1, "epochs must be at least 1"),
        (cfg.batch_size >= 2, "batch_size must be at least 2 (BatchNorm needs two clips)"),
        (cfg.lr > 0, "lr must be positive"),
        (0.0 <= cfg.val_fraction < 1.0, "val_fraction must be in [0, 1)"),
        (0.0 <= cfg.warmup_epochs <= cfg.epochs, "warmup_epochs must be in [0, epochs]"),
        (0.0 <= cfg.kd.lambda_ce <= 1.0, "kd.lambda_ce must be in [0, 1]"),
        (cfg.kd.temperature > 0, "kd.temperature must be positive"),
        (cfg.kd.teacher_temperature is None or cfg.kd.teacher_temperature > 0,
         "kd.teacher_temperature must be positive (or null: the same as kd.temperature)"),
        (cfg.min_steps >= 0, "min_steps must be >= 0"),
        (cfg.num_workers >= 0, "num_workers must be >= 0"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"{source}: {message}")
    if cfg.kd.members and cfg.kd.teacher_mode != "online":
        raise ConfigError(f"{source}: kd.members names teachers to run in the loop, but kd.teacher_mode is "
                          f"'{cfg.kd.teacher_mode}'; set kd.teacher_mode=online (or drop kd.members)")
    if cfg.kd.lambda_ce < 1.0 and not cfg.kd.teacher_logits and not cfg.kd.members:
        where = ("kd.teacher_logits file (--teacher-logits) whose members are the teachers, nor kd.members"
                 if cfg.kd.teacher_mode == "online" else "kd.teacher_logits file is given (--teacher-logits)")
        raise ConfigError(f"{source}: kd.lambda_ce is {cfg.kd.lambda_ce} (distillation) but no {where}; "
                          f"set kd.lambda_ce=1 for plain training")


def config_hash(cfg: TrainConfig) -> str:
    """A short hash of everything that changes the result of a run (runtime-only options excluded)."""
    data = dataclasses.asdict(cfg)
    for key in RUNTIME_KEYS:
        data.pop(key, None)
    for key, default in NEW_KD_DEFAULTS.items():   # runs from before these options keep their hash
        if data["kd"].get(key) == default:
            data["kd"].pop(key)
    for key, default in NEW_MODEL_DEFAULTS.items():
        if data["model_options"].get(key) == default:
            data["model_options"].pop(key)
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
