"""Quantisation-aware fine-tuning of the pruned network, for the int8 deployable model (stage 5).

After the last pruning step, when the target precision is int8, the pruned Rep-Mobile is fused and
made quantisation-aware (asc.models.quantized: model `rep_mobile_int8`), saved as the start
checkpoint, and fine-tuned by the project's one training loop with the same KD recipe as the pruning
steps (`finetune` of prune.yaml, at the rate `qat.lr`) for `qat.epochs` epochs, so that the network learns around the int8
rounding of its weights and activations. The trainer resumes a killed run; a finished one is reused.

    exp/prune/split<N>/qat/init.pt           the fused pruned weights in QAT form (start)
    exp/prune/split<N>/qat/checkpoints/...   the trainer's experiment directory
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from asc.models.quantized import from_float
from asc.prune.config import PruneConfig
from asc.prune.finetune import finetune_config, run_finetune
from asc.train.checkpoint import load_model, save_checkpoint
from asc.train.distributed import DistEnv

QAT_DIR = "qat"


def run_qat(cfg: PruneConfig, pruned: str | Path, exp: str | Path, env: DistEnv | None = None) -> Path:
    """Fine-tune the pruned model at `pruned` with fake int8 quantisation; returns the QAT checkpoint."""
    env = env or DistEnv(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    folder = Path(exp) / QAT_DIR
    init = folder / "init.pt"
    model, ckpt = load_model(pruned)
    if ckpt["model_name"] != "rep_mobile":
        raise ValueError(f"{pruned}: int8 quantisation-aware training is implemented for rep_mobile, "
                         f"not {ckpt['model_name']}")
    options = dict(ckpt["model_options"])
    if not init.is_file():
        save_checkpoint(init, from_float(model.cpu().float()), "rep_mobile_int8", options)
    train_cfg = dataclasses.replace(finetune_config(cfg.finetune, "rep_mobile_int8", options, init, cfg.qat.epochs,
                                                    cfg.seed * 1000 + 999), lr=cfg.qat.lr)
    return run_finetune(train_cfg, folder, env).best
