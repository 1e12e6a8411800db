"""Learning-rate schedule: linear warm-up, then a cosine decay (or a constant rate), stepped per batch.

The factor is a pure function of the step, so a resumed run continues on exactly the same curve.
"""
from __future__ import annotations

import math

import torch


def lr_factor(step: int, warmup_steps: int, total_steps: int, kind: str = "cosine",
              min_ratio: float = 0.0) -> float:
    """Multiplier of the base learning rate at optimizer step `step` (0-based)."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    if kind == "constant":
        return 1.0
    if kind != "cosine":
        raise ValueError(f"unknown schedule '{kind}' (cosine, constant)")
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(optimizer: torch.optim.Optimizer, steps_per_epoch: int, epochs: int,
                    warmup_epochs: float, kind: str = "cosine",
                    min_ratio: float = 0.0) -> torch.optim.lr_scheduler.LambdaLR:
    """A per-step LambdaLR following `lr_factor` over `epochs` epochs of `steps_per_epoch` steps."""
    total = steps_per_epoch * epochs
    warmup = int(round(warmup_epochs * steps_per_epoch))
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, warmup, total, kind, min_ratio))
