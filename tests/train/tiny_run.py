"""A tiny training set-up for the trainer and entry-point tests: a data directory, a feature store
(class-dependent patterns + noise), stored teacher logits, device impulse responses and a training
YAML, all written with the project's own writers so the real readers are exercised."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import torch
import yaml

from asc.data.datadir import DataDir, save_datadir
from asc.data.feature_store import write_store
from asc.data.logit_store import write_logit_store
from asc.features.logmel import FeatureConfig

ROOT = Path(__file__).resolve().parents[2]
LABELS = ["airport", "bus", "park", "tram"]
DEVICES = ["a", "b"]
N_MELS, N_FRAMES = 48, 32
TIMING_KEYS = ("clips_per_s", "data_wait", "epoch_s")

TRAIN_YAML = {
    "model": "baseline",
    "model_options": {"base_channels": 8, "n_blocks": [1, 1, 1], "strides": [[1, 1], [1, 2], [2, 1]]},
    "epochs": 3, "batch_size": 16, "lr": 0.01, "warmup_epochs": 1, "val_fraction": 0.2,
    "augment": {"freq_mixstyle": {"p": 0.5}, "roll": {"max_shift": 2}, "freq_mask": {"max_width": 6},
                "device_ir": {"enabled": True, "p": 0.5}, "mixup": {"enabled": True, "p": 0.5}},
    "kd": {"lambda_ce": 0.5, "temperature": 2.0},
}


@dataclass
class Tiny:
    """Paths of the tiny set-up."""
    root: Path
    data: Path
    feats: Path
    labels: Path
    logits: Path
    dirs: Path
    config: Path

    def argv(self, exp: Path, *overrides: str, kd: bool = True) -> list[str]:
        """Arguments of `asc.bin.train` for this set-up."""
        args = ["--config", str(self.config), "--exp", str(exp), "--train-data", str(self.data),
                "--feats", str(self.feats), "--labels", str(self.labels), "--dir-folder", str(self.dirs)]
        if kd:
            args += ["--teacher-logits", str(self.logits)]
        return args + list(overrides)


def make_tiny(root: Path, recordings_per_label: int = 6, pieces: int = 4, seed: int = 0,
              train_yaml: dict | None = None) -> Tiny:
    """Write the tiny set-up under `root` (4 labels, 2 devices, `recordings_per_label` recordings)."""
    rng = np.random.default_rng(seed)
    data = DataDir(wav={})
    for k, label in enumerate(LABELS):
        for r in range(recordings_per_label):
            rec = f"{label}-city{r % 3}-{100 + r}-{2000 + r}"
            for piece in range(pieces):
                for device in DEVICES:
                    utt = f"{rec}-{piece}-{device}"
                    data.wav[utt] = f"audio/{utt}.wav"
                    data.label[utt], data.device[utt] = label, device
                    data.city[utt], data.rec[utt] = f"city{r % 3}", rec
    save_datadir(root / "data" / "train", data)
    (root / "data" / "labels.txt").write_text("".join(l + "\n" for l in LABELS))

    utts = data.utts
    write_features(root / "dump" / "feats.h5", data, N_MELS, N_FRAMES, rng)

    teacher = np.stack([np.eye(len(LABELS))[LABELS.index(data.label[u])] * 4.0 for u in utts])
    members = rng.normal(0.0, 0.5, (2, len(utts), len(LABELS))) + teacher
    write_logit_store(root / "exp" / "logits.h5", utts, members, ["t1", "t2"], LABELS)

    (root / "dirs").mkdir()
    for j in range(3):
        ir = np.zeros(256)
        ir[0] = 1.0
        ir[1:] = rng.normal(0.0, 0.05, 255) * np.exp(-np.arange(255) / 30)
        soundfile.write(root / "dirs" / f"ir{j}.wav", ir, 32000, subtype="FLOAT")

    config = root / "train.yaml"
    config.write_text(yaml.safe_dump(train_yaml or TRAIN_YAML))
    return Tiny(root, root / "data" / "train", root / "dump" / "feats.h5", root / "data" / "labels.txt",
                root / "exp" / "logits.h5", root / "dirs", config)


def write_features(path: Path, data: DataDir, n_mels: int, n_frames: int, rng: np.random.Generator) -> None:
    """A feature store of noise with a brighter band per class (learnable in a few epochs)."""
    feats = rng.normal(0.0, 1.0, (len(data.utts), n_mels, n_frames)).astype(np.float32)
    band = n_mels // len(LABELS)
    for i, utt in enumerate(data.utts):
        k = LABELS.index(data.label[utt])
        feats[i, k * band:(k + 1) * band] += 1.5
    front = FeatureConfig(n_mels=n_mels)
    write_store(path, data.utts, feats, front.to_yaml(), front.hash(), "data/train")


def subprocess_env(threads: int = 1) -> dict:
    """Environment of a child process: one compute thread (fast and reproducible on a loaded CPU)."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    return env


def train_command(argv: list[str]) -> list[str]:
    """The command line of `python -m asc.bin.train` with this interpreter."""
    return [sys.executable, "-m", "asc.bin.train", *argv]


def run_train(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the entry point in a child process and return its result (output captured)."""
    return subprocess.run(train_command(argv), cwd=ROOT, env=subprocess_env(), capture_output=True,
                          text=True, timeout=timeout)


def metrics(exp: Path) -> list[dict]:
    """metrics.jsonl of an experiment without the timing fields (which differ between runs)."""
    rows = [json.loads(line) for line in (exp / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in row.items() if k not in TIMING_KEYS} for row in rows]


def weights(path: Path) -> dict[str, torch.Tensor]:
    """The state dict of a checkpoint."""
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def assert_same_weights(a: Path, b: Path) -> None:
    """Checkpoints a and b hold bit-identical tensors."""
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    different = [k for k in wa if not torch.equal(wa[k], wb[k])]
    assert not different, f"tensors differ: {different[:5]}"
