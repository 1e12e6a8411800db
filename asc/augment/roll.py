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
    return shift_frames(x, draw_shifts(x.size(0), max_shift, generator, x.device, p), wrap)


def draw_shifts(batch: int, max_shift: int, generator: torch.Generator, device: torch.device,
                p: float = 1.0) -> torch.Tensor:
    """The random part of `roll_time`: one shift [B] (int64, 0 for clips left alone) per clip.

    Separate from the shifting so that a second view of the same clips (a teacher's features at
    another frame rate, asc.train.online_teacher) can be shifted by the same time.
    """
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, found {max_shift}")
    shift = sampling.randint(-max_shift, max_shift + 1, (batch,), generator, device)
    return shift * (sampling.uniform((batch,), generator, device) < p)


def shift_frames(x: torch.Tensor, shift: torch.Tensor, wrap: bool = True) -> torch.Tensor:
    """Shift clip b of x [B, C, F, T] by shift[b] frames (wrapped, or the edge frame repeated)."""
    frames = x.size(-1)
    index = torch.arange(frames, device=x.device)[None, :] - shift.to(x.device)[:, None]
    index = index.remainder(frames) if wrap else index.clamp(0, frames - 1)
    return x.gather(-1, index[:, None, None, :].expand_as(x))
