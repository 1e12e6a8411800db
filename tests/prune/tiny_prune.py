"""A tiny pruning set-up: a data directory with its feature store and stored teacher logits, a small
Rep-Mobile start checkpoint and a prune.yaml, written with the project's own writers so that the real
readers are exercised. Inputs are 32 mel bins × 24 frames; complexity is counted at that size too."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

from asc.data.datadir import DataDir, save_datadir
from asc.data.feature_store import write_store
from asc.data.logit_store import write_logit_store
from asc.features.logmel import FeatureConfig
from asc.models import build_model
from asc.models.checkpoint_file import save_checkpoint

LABELS = ["airport", "bus", "park", "tram"]
DEVICES = ["a", "b"]
N_MELS, N_FRAMES = 32, 24
INPUT_SHAPE = [1, N_MELS, N_FRAMES]
# one block of each kind: shortcut, strided without shortcut, shortcut; expansion 24, 24, 48
TINY = dict(n_classes=len(LABELS), stem_channels=[4, 8], stage_channels=[8, 16], n_blocks=[1, 2],
            strides=[[1, 1], [2, 2], [1, 1]], expansion_rate=3.0)

PRUNE_YAML = {
    "steps": 2, "epochs_per_step": 1, "criterion": "l2", "min_channels": 2, "input_shape": INPUT_SHAPE,
    "finetune": {"batch_size": 32, "lr": 0.005, "warmup_epochs": 0.0, "val_fraction": 0.25,
                 "eval_batch_size": 64, "kd": {"lambda_ce": 0.5, "temperature": 2.0}},
}


@dataclass
class TinyPrune:
    """Paths of the tiny set-up."""
    root: Path
    data: Path
    feats: Path
    labels: Path
    logits: Path
    init: Path
    config: Path

    def argv(self, exp: Path, *overrides: str, deploy: Path | None = None) -> list[str]:
        """Arguments of `asc.bin.prune` for this set-up (the training clips double as test clips)."""
        args = ["--config", str(self.config), "--init", str(self.init), "--exp", str(exp),
                "--train-data", str(self.data), "--feats", str(self.feats), "--labels", str(self.labels),
                "--teacher-logits", str(self.logits)]
        if deploy is not None:
            args += ["--deploy-dir", str(deploy), "--test-data", str(self.data), "--test-feats", str(self.feats)]
        return args + list(overrides)


def make_tiny_prune(root: Path, recordings_per_label: int = 6, pieces: int = 3, seed: int = 0,
                    options: dict | None = None) -> TinyPrune:
    """Write the set-up under `root`."""
    rng = np.random.default_rng(seed)
    data = DataDir(wav={})
    for label in LABELS:
        for r in range(recordings_per_label):
            rec = f"{label}-city{r % 3}-{100 + r}-{2000 + r}"
            for piece in range(pieces):
                for device in DEVICES:
                    utt = f"{rec}-{piece}-{device}"
                    data.wav[utt] = f"audio/{utt}.wav"
                    data.label[utt], data.device[utt] = label, device
                    data.city[utt], data.rec[utt] = f"city{r % 3}", rec
    save_datadir(root / "data" / "train", data)
    (root / "data" / "labels.txt").write_text("".join(label + "\n" for label in LABELS))

    utts = data.utts
    feats = rng.normal(0.0, 1.0, (len(utts), N_MELS, N_FRAMES)).astype(np.float32)
    band = N_MELS // len(LABELS)
    for i, utt in enumerate(utts):
        k = LABELS.index(data.label[utt])
        feats[i, k * band:(k + 1) * band] += 1.5
    front = FeatureConfig(n_mels=N_MELS)
    write_store(root / "dump" / "feats.h5", utts, feats, front.to_yaml(), front.hash(), "data/train")

    teacher = np.stack([np.eye(len(LABELS))[LABELS.index(data.label[u])] * 4.0 for u in utts])
    members = rng.normal(0.0, 0.5, (2, len(utts), len(LABELS))) + teacher
    write_logit_store(root / "exp" / "logits.h5", utts, members, ["t1", "t2"], LABELS)

    torch.manual_seed(seed)
    model = build_model("rep_mobile", **(options or TINY))
    init = root / "exp" / "start.pt"
    save_checkpoint(init, model, "rep_mobile", model.options())

    config = root / "prune.yaml"
    config.write_text(yaml.safe_dump(PRUNE_YAML))
    return TinyPrune(root, root / "data" / "train", root / "dump" / "feats.h5", root / "data" / "labels.txt",
                     root / "exp" / "logits.h5", init, config)
