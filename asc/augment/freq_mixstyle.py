"""Freq-MixStyle (Schmid et al., DCASE2022/2023; the CP-JKU DCASE2024 baseline's device remedy).

A recording device shows in a log-mel spectrogram mostly as a per-frequency gain and noise floor,
i.e. in the mean and spread of each frequency band. Freq-MixStyle normalizes every band of a clip
by its own statistics (over channels and time) and re-scales it with a convex mix of its own and
another clip's statistics, so the network sees the scene under many "devices".

As in the CP-JKU implementation: the whole batch is augmented with probability p (one coin per
batch), the weights are Beta(alpha, alpha) per clip, the partner is a random permutation of the
batch, the variance is the unbiased one, eps 1e-6 is added before the square root, and the
statistics are detached so no gradient flows through them.
"""
from __future__ import annotations

import torch

from asc.augment import sampling


def mix_band_stats(x: torch.Tensor, lam: torch.Tensor, perm: torch.Tensor,
                   eps: float = 1e-6) -> torch.Tensor:
    """Re-style every clip's frequency bands with lam·own + (1−lam)·partner statistics.

    x: [B, C, F, T]; lam: [B] weights of the clip's own statistics; perm: [B] partner index.
    The deterministic core of Freq-MixStyle, exposed for tests and for callers with their own draws.
    """
    if x.dim() != 4:
        raise ValueError(f"expected a batch [B, C, F, T], found shape {tuple(x.shape)}")
    work = x.float()
    mu = work.mean(dim=(1, 3), keepdim=True).detach()
    sig = (work.var(dim=(1, 3), keepdim=True) + eps).sqrt().detach()
    lam = lam.to(device=x.device, dtype=torch.float32).view(-1, 1, 1, 1)
    perm = perm.to(x.device)
    mu_mix = lam * mu + (1 - lam) * mu[perm]
    sig_mix = lam * sig + (1 - lam) * sig[perm]
    return ((work - mu) / sig * sig_mix + mu_mix).to(x.dtype)


def freq_mixstyle(x: torch.Tensor, p: float, alpha: float, generator: torch.Generator,
                  eps: float = 1e-6) -> torch.Tensor:
    """With probability p, mix per-frequency-band statistics across the batch (Freq-MixStyle).

    Returns `x` itself when the coin says no (or the batch has one clip), a new tensor otherwise.
    """
    batch = x.size(0)
    coin = torch.rand((), generator=generator, device=generator.device).item()
    if coin >= p or batch < 2:
        return x
    lam = sampling.beta(alpha, (batch,), generator, x.device)
    perm = sampling.randperm(batch, generator, x.device)
    return mix_band_stats(x, lam, perm, eps)
