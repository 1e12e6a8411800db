"""Random draws for the augmentations, all from one caller-given `torch.Generator`.

Draws happen on the generator's own device (a CPU generator can drive CUDA batches) and the small
results are moved to the batch's device, so the stream of numbers, and therefore a training run,
does not depend on where the batch lives.
"""
from __future__ import annotations

import numpy as np
import torch


def uniform(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Uniform [0, 1) float32 numbers of `shape` on `device`."""
    return torch.rand(shape, generator=generator, device=generator.device).to(device)


def randint(low: int, high: int, shape: tuple[int, ...], generator: torch.Generator,
            device: torch.device) -> torch.Tensor:
    """Integers uniform in [low, high) of `shape` on `device` (int64)."""
    return torch.randint(low, high, shape, generator=generator, device=generator.device).to(device)


def randperm(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """A random permutation of range(n) on `device`."""
    return torch.randperm(n, generator=generator, device=generator.device).to(device)


def beta(alpha: float, shape: tuple[int, ...], generator: torch.Generator,
         device: torch.device) -> torch.Tensor:
    """Beta(alpha, alpha) samples of `shape` (float32) on `device`.

    torch's Beta distribution takes no generator, so a numpy generator seeded from `generator`
    draws them: still one stream, still reproducible.
    """
    if alpha <= 0:
        raise ValueError(f"Beta(alpha, alpha) needs alpha > 0, found {alpha}")
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device).item())
    values = np.random.default_rng(seed).beta(alpha, alpha, size=shape).astype(np.float32)
    return torch.from_numpy(values).to(device)
