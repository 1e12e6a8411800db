"""Time rolling: shift each clip along time by a random number of frames.

A scene has no preferred time origin, so a shifted clip is as plausible as the original (the
CP-JKU baseline rolls the waveform by up to 0.1 s, i.e. about 6 frames at hop 500 and 32 kHz).
"""
from __future__ import annotations

import torch

from asc.augment import sampling


def roll_time(x: torch.Tensor, max_shift: int, generator: torch.Generator, wrap: bool = True,
              p: float = 1.0) -> torch.Tensor:
    """Shift every clip of x [B, C, F, T] by its own uniform shift in [−max_shift, max_shift] frames.

    A positive shift moves content later (as torch.roll). With `wrap` the frames pushed out come
    back at the other end; without it the edge frame is repeated into the gap. Each clip is
    shifted with probability p.
    """
    if x.dim() != 4:
        raise ValueError(f"expected a batch [B, C, F, T], found shape {tuple(x.shape)}")
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, found {max_shift}")
    batch, frames = x.size(0), x.size(-1)
    shift = sampling.randint(-max_shift, max_shift + 1, (batch,), generator, x.device)
    shift = shift * (sampling.uniform((batch,), generator, x.device) < p)
    index = torch.arange(frames, device=x.device)[None, :] - shift[:, None]
    index = index.remainder(frames) if wrap else index.clamp(0, frames - 1)
    return x.gather(-1, index[:, None, None, :].expand_as(x))
