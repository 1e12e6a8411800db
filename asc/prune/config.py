"""The config of a pruning run (conf/<profile>/prune.yaml), as dataclasses with every default visible.

`finetune` holds the training options of every step's knowledge-distillation fine-tuning, as for
`asc.bin.train` (asc.train.config.TrainConfig: batch size, learning rate, augmentation, kd, ...). The
pruner sets the model, its options, the weights it starts from, the epochs and the seed of each step
itself, so those keys are refused there; the data paths come from the command line as for training.
`finetune: {base: train_rep_mobile_kd.yaml, ...}` shares a training config's settings (its KD block,
augmentation, batch size) instead of copying them; the model, epochs and seed of that base are the
pruner's to set and are left out.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any, Literal

from asc.complexity import MAX_MACS, MAX_PARAM_BYTES
from asc.config import apply_overrides, from_dict, read_config, read_yaml
from asc.errors import ConfigError
from asc.prune.importance import CRITERIA
from asc.prune.plan import Target
from asc.prune.schedule import step_epochs
from asc.prune.structured import KINDS
from asc.train.config import RUNTIME_KEYS, TrainConfig, validate
from asc.train.predict import EVAL_BATCH_SIZE

# finetune keys that the pruner sets per step
PRUNER_KEYS = ("model_config", "model", "model_options", "init_checkpoint", "epochs", "seed")


@dataclass
class TargetConfig:
    """The budget of the pruned deployment form (default: the DCASE2024 Task 1 limits at float16)."""
    param_bytes: int = MAX_PARAM_BYTES
    macs: int = MAX_MACS
    precision: Literal["float16", "float32", "int8"] = "float16"   # storage type counted, and saved by deploy
    # int8: counted at 1 byte per parameter while pruning; the deployed int8 file also stores float32
    # biases and per-channel scales (asc.models.quantized.int8_memory: 9 bytes per output channel,
    # ~15-20 % of a Rep-Mobile), so leave that margin in param_bytes (e.g. 108000); deploy checks exactly.


@dataclass
class DeployConfig:
    """The deployable model written after the last step."""
    check_precision: bool = True      # measure test accuracy in float16 against float32 (needs --test-*)
    max_accuracy_drop: float = 0.5    # percentage points the float16 model may lose against float32
    # int8 rounds every weight and activation, so a correct conversion costs more than float16's rounding:
    # up to 1.2 points on the embedded test set in local/deploy_evidence.sh's runs; a broken one costs tens
    max_int8_accuracy_drop: float = 2.0
    batch_size: int = EVAL_BATCH_SIZE

    def allowed_drop(self, precision: str) -> float:
        """The largest float32 - stored-precision difference, in points, deploy accepts for `precision`."""
        return self.max_int8_accuracy_drop if precision == "int8" else self.max_accuracy_drop


@dataclass
class QatConfig:
    """Quantisation-aware fine-tuning after the last step (only when target.precision is int8)."""
    epochs: int = 2                   # KD fine-tuning epochs with fake int8 quantisation
    lr: float = 0.0005                # the fused network has no BatchNorm left: a tenth of the pruning rate


@dataclass
class PruneConfig:
    """Everything one call of `python -m asc.bin.prune` needs besides its paths."""
    steps: int = 5                    # K: pruning steps (progressive); one_shot: a single step
    epochs_per_step: int = 2          # E: KD fine-tuning epochs after each step
    one_shot: bool = False            # one step to the target, then steps·epochs_per_step epochs
    criterion: Literal["l1", "l2", "bn_scale"] = "l2"
    scopes: list[str] = field(default_factory=lambda: ["expansion", "residual"])  # + "stem"
    min_channels: int = 8             # no channel group is pruned below this width
    target: TargetConfig = field(default_factory=TargetConfig)
    input_shape: list[int] = field(default_factory=lambda: [1, 256, 65])  # one clip, as DCASE counts
    select: Literal["best", "last"] = "best"  # which fine-tuned epoch a step keeps (held-out validation)
    seed: int = 0                     # step k fine-tunes with seed·1000 + k
    finetune: TrainConfig = field(default_factory=TrainConfig)
    deploy: DeployConfig = field(default_factory=DeployConfig)
    qat: QatConfig = field(default_factory=QatConfig)

    def target_budget(self) -> Target:
        """The final budget as a Target."""
        return Target(self.target.param_bytes, self.target.macs, self.target.precision)


def load_prune_config(path: str | os.PathLike, overrides: dict[str, Any] | None = None) -> PruneConfig:
    """Defaults, then the YAML file, then `overrides` (dotted keys, e.g. finetune.lr); checked."""
    finetune = read_yaml(path).get("finetune") or {}
    given = list(finetune) if isinstance(finetune, dict) else []
    given += [key.split(".")[1] for key in overrides or {} if key.startswith("finetune.")]
    taken = sorted(set(given) & set(PRUNER_KEYS))
    if taken:
        raise ConfigError(f"{path}: finetune.{taken[0]} is set by the pruner for each step "
                          f"(use steps, epochs_per_step and seed instead)")
    data = read_config(path)
    if isinstance(data.get("finetune"), dict):   # what is left of them came from a base training config
        data["finetune"] = {k: v for k, v in data["finetune"].items() if k not in PRUNER_KEYS}
    return from_dict(PruneConfig, apply_overrides(data, overrides), source=str(path))


def check_prune_config(cfg: PruneConfig, source: str = "config") -> None:
    """Refuse values that would only fail later (after hours of fine-tuning)."""
    checks = [
        (cfg.steps >= 1, "steps must be at least 1"),
        (cfg.epochs_per_step >= 1, "epochs_per_step must be at least 1"),
        (cfg.criterion in CRITERIA, f"criterion must be one of {', '.join(CRITERIA)}"),
        (bool(cfg.scopes) and set(cfg.scopes) <= set(KINDS), f"scopes must be a non-empty subset of {list(KINDS)}"),
        (cfg.min_channels >= 1, "min_channels must be at least 1"),
        (cfg.target.param_bytes > 0 and cfg.target.macs > 0, "target.param_bytes and target.macs must be positive"),
        (len(cfg.input_shape) == 3 and min(cfg.input_shape) >= 1, "input_shape must be [channels, mels, frames]"),
        (cfg.deploy.max_accuracy_drop >= 0, "deploy.max_accuracy_drop must be >= 0"),
        (cfg.deploy.max_int8_accuracy_drop >= 0, "deploy.max_int8_accuracy_drop must be >= 0"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"{source}: {message}")
    _, epochs = step_epochs(cfg.steps, cfg.epochs_per_step, cfg.one_shot)
    # the model comes from the start checkpoint; any name lets the trainer's checks run now
    validate(dataclasses.replace(cfg.finetune, epochs=epochs, model="rep_mobile"), f"{source} (finetune)")


def prune_hash(cfg: PruneConfig, init: str) -> str:
    """A short hash of everything that changes the steps' results (deploy and runtime options excluded)."""
    data = dataclasses.asdict(cfg)
    data.pop("deploy")
    if cfg.target.precision != "int8":      # QAT runs only for int8: float16 runs keep their hash
        data.pop("qat")
    for key in RUNTIME_KEYS:
        data["finetune"].pop(key, None)
    data["init"] = str(init)
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
