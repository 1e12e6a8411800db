"""Tiny saved models and a tiny labeled test set for the scoring, results, inference and submission
tests, written with the project's own writers and in the agreed file formats."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from asc.complexity import complexity_report, count_complexity
from asc.data.datadir import DataDir, save_datadir
from asc.data.feature_store import write_store
from asc.metrics import LABELS
from asc.features.logmel import FeatureConfig
from asc.models import build_model, reparameterize
from asc.models.checkpoint_file import save_checkpoint
from random_weights import randomize  # tests/random_weights.py

LABELS = list(LABELS)
# a small Rep-Mobile: two stem convolutions, one plain and one strided block
TINY = dict(stem_channels=[4, 8], stage_channels=[8, 16], n_blocks=[1, 1], strides=[[1, 1], [2, 2]],
            expansion_rate=1.5)
# a small front end, unlike the default, so that a test sees the model file's own config being used
FEATS = FeatureConfig(sample_rate=16000, n_fft=512, win_length=400, hop_length=160, n_mels=32)
DEVICES = ["a", "b", "s1", "s4"]


def tiny_model(seed: int = 0) -> nn.Module:
    """A tiny Rep-Mobile (training form) with random weights and BatchNorm statistics, in eval mode."""
    torch.manual_seed(seed)
    return randomize(build_model("rep_mobile", **TINY), seed, kernels=False)


def save_deployed(path: Path, model: nn.Module, features: FeatureConfig = FEATS,
                  labels: list[str] = LABELS) -> Path:
    """The deployable file of stage 5 in the agreed format: fused, float16, front end and labels inside."""
    deployed = reparameterize(model)
    figures = complexity_report(count_complexity(deployed, (1, features.n_mels, features.clip_frames)))
    state = {k: (v.half() if v.is_floating_point() else v) for k, v in deployed.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"model_name": "rep_mobile", "model_options": dict(TINY), "state_dict": state, "deployed": True,
                "precision": "float16", "features": dataclasses.asdict(features), "labels": list(labels),
                "complexity": figures}, path)
    return path


def save_experiment(exp: Path, model: nn.Module, feats_hash: str | None, labels: list[str] = LABELS,
                    finished: bool = True) -> Path:
    """An experiment directory of asc.bin.train: checkpoints/best.pt (+ train.done when finished)."""
    extra = {"labels": list(labels)}
    if feats_hash is not None:
        extra["feats_hash"] = feats_hash
    save_checkpoint(exp / "checkpoints" / "best.pt", model, "rep_mobile", dict(TINY), epoch=1, **extra)
    if finished:
        (exp / "train.done").write_text("{}")
    return exp


def make_test_set(root: Path, per_cell: int = 2, seed: int = 0, features: FeatureConfig = FEATS) -> dict:
    """data/test (every label x DEVICES x per_cell clips), its feature store and data/labels.txt."""
    rng = np.random.default_rng(seed)
    data = DataDir(wav={})
    for label in LABELS:
        for device in DEVICES:
            for k in range(per_cell):
                utt = f"{label}-lyon-{100 + k}-{4000 + k}-0-{device}"
                data.wav[utt] = f"audio/{utt}.wav"
                data.label[utt], data.device[utt] = label, device
                data.city[utt], data.rec[utt] = "lyon", f"{label}-lyon-{100 + k}-{4000 + k}"
    save_datadir(root / "data" / "test", data)
    (root / "data" / "labels.txt").write_text("".join(label + "\n" for label in LABELS))
    feats = rng.normal(0.0, 1.0, (len(data), features.n_mels, features.clip_frames)).astype(np.float32)
    store = root / "dump" / "test" / "feats.h5"
    write_store(store, data.utts, feats, features.to_yaml(), features.hash(), "test")
    return {"data": root / "data" / "test", "feats": store, "labels": root / "data" / "labels.txt",
            "utts": data.utts, "array": feats}
