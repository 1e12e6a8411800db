"""Frequency masking (SpecAugment, Park et al. 2019): hide random bands of mel bins.

The network cannot lean on any single band, which also helps against device responses that
remove parts of the spectrum.
"""
from __future__ import annotations

from typing import Literal

import torch

from asc.augment import sampling

Fill = Literal["min", "mean", "zero"]


def freq_mask(x: torch.Tensor, n_masks: int, max_width: int, generator: torch.Generator,
              fill: Fill = "min", p: float = 1.0) -> torch.Tensor:
    """Mask `n_masks` bands of width uniform in [0, max_width] mel bins in each clip of x [B, C, F, T].

    Masks are drawn independently per clip (torchaudio's iid_masks) and may overlap. `fill`:
    "min" sets masked bins to the clip's minimum (what masking the power spectrum before the log
    gives, as in the CP-JKU baseline), "mean" to the clip's mean, "zero" to 0. Each clip is masked
    with probability p.
    """
    if x.dim() != 4:
        raise ValueError(f"expected a batch [B, C, F, T], found shape {tuple(x.shape)}")
    if n_masks < 0 or max_width < 0:
        raise ValueError(f"n_masks and max_width must be >= 0, found {n_masks}, {max_width}")
    batch, bins = x.size(0), x.size(2)
    max_width = min(max_width, bins)
    width = sampling.randint(0, max_width + 1, (batch, n_masks), generator, x.device)
    start = (sampling.uniform((batch, n_masks), generator, x.device) * (bins - width + 1)).long()
    chosen = sampling.uniform((batch,), generator, x.device) < p
    band = torch.arange(bins, device=x.device)[None, None, :]
    inside = (band >= start[..., None]) & (band < (start + width)[..., None])
    mask = inside.any(dim=1) & chosen[:, None]
    return torch.where(mask[:, None, :, None], _fill_value(x, fill), x)


def _fill_value(x: torch.Tensor, fill: Fill) -> torch.Tensor:
    if fill == "min":
        return x.amin(dim=(1, 2, 3), keepdim=True)
    if fill == "mean":
        return x.float().mean(dim=(1, 2, 3), keepdim=True).to(x.dtype)
    if fill == "zero":
        return torch.zeros((), dtype=x.dtype, device=x.device)
    raise ValueError(f"fill must be one of 'min', 'mean', 'zero', found {fill!r}")
