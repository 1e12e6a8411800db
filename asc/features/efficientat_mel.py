"""The front end of the AudioSet-pretrained teachers: EfficientAT's / PaSST's `AugmentMelSTFT` in eval mode.

Official EfficientAT and PaSST checkpoints were trained on these features and on no others, so a
model fine-tuned from them must see exactly them (a librosa/Slaney log-mel differs enough that the
pretrained MobileNet no longer recognises speech or music). Per clip, as upstream computes it:

  1. pre-emphasis  y[n] = x[n+1] - 0.97 x[n]  (a valid 2-tap convolution: one sample shorter);
  2. a centred STFT (the signal reflect-padded by n_fft/2 on both sides), n_fft 1024, a symmetric
     Hann window of 800 samples zero-padded on both sides to n_fft, hop 320; power |X|^2;
  3. Kaldi's triangular mel filterbank (`torchaudio.compliance.kaldi.get_mel_banks`: mel = 1127
     ln(1 + f/700), triangles equally spaced in mel between fmin and fmax, evaluated at the FFT bin
     frequencies k * sr / n_fft for k < n_fft/2, no area normalisation) with a zero column appended
     for the Nyquist bin;
  4. log(mel + 1e-5), then (x + 4.5) / 5.

Upstream uses torchaudio for step 3, which does not import here; the filterbank is written from
Kaldi's formulas (mel-computations.cc) and checked against values derived by hand in the tests.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

PREEMPHASIS = 0.97      # y[n] = x[n+1] - 0.97 x[n]
NORM_SHIFT = 4.5        # features are (log(mel + eps) + 4.5) / 5
NORM_SCALE = 5.0


def kaldi_mel(freq):
    """Kaldi's mel scale, 1127 ln(1 + f / 700) (works on floats and numpy arrays)."""
    return 1127.0 * np.log1p(np.asarray(freq, dtype=np.float64) / 700.0)


def kaldi_mel_banks(n_mels: int, n_fft: int, sample_rate: float, fmin: float, fmax: float) -> np.ndarray:
    """Kaldi's mel filterbank [n_mels, n_fft // 2 + 1] (float32), with the appended zero Nyquist column.

    Filter m rises linearly in mel from left_m = mel(fmin) + m*delta to 1 at centre_m = left_m + delta
    and falls to 0 at right_m = left_m + 2*delta, delta = (mel(fmax) - mel(fmin)) / (n_mels + 1).
    """
    if n_mels <= 3:
        raise ValueError(f"Kaldi's filterbank needs more than 3 mel bins, found {n_mels}")
    if n_fft % 2:
        raise ValueError(f"n_fft must be even, found {n_fft}")
    nyquist = sample_rate / 2
    if not 0 <= fmin < fmax <= nyquist:
        raise ValueError(f"need 0 <= fmin < fmax <= {nyquist:g}, found fmin {fmin}, fmax {fmax}")
    low, high = kaldi_mel(fmin), kaldi_mel(fmax)
    delta = (high - low) / (n_mels + 1)
    left = low + np.arange(n_mels)[:, None] * delta
    centre, right = left + delta, left + 2 * delta
    bin_mel = kaldi_mel(np.arange(n_fft // 2) * (sample_rate / n_fft))[None, :]
    rising = (bin_mel - left) / (centre - left)
    falling = (right - bin_mel) / (right - centre)
    banks = np.maximum(0.0, np.minimum(rising, falling))
    return np.pad(banks, ((0, 0), (0, 1))).astype(np.float32)


def num_frames(num_samples: int, hop_length: int) -> int:
    """Frames of a clip of `num_samples` samples: pre-emphasis drops one sample, then a centred STFT."""
    return 1 + (num_samples - 1) // hop_length


class EfficientATMel(nn.Module):
    """Waveforms [..., samples] -> normalised log-mel [..., n_mels, frames] (float32), as AugmentMelSTFT.eval().

    Nothing is trained and nothing is random (upstream's fmin/fmax jitter and masking act in training
    mode only; the recipe's own augmentations act on the cached features instead).
    """

    def __init__(self, sample_rate: int = 32000, n_fft: int = 1024, win_length: int = 800,
                 hop_length: int = 320, n_mels: int = 128, fmin: float = 0.0, fmax: float = 15000.0,
                 log_eps: float = 1e-5, pad_mode: str = "reflect"):
        super().__init__()
        if win_length > n_fft:
            raise ValueError(f"win_length {win_length} exceeds n_fft {n_fft}")
        self.n_fft, self.win_length, self.hop_length = n_fft, win_length, hop_length
        self.n_mels, self.log_eps, self.pad_mode = n_mels, log_eps, pad_mode
        self.register_buffer("window", torch.hann_window(win_length, periodic=False), persistent=False)
        banks = kaldi_mel_banks(n_mels, n_fft, sample_rate, fmin, fmax)
        self.register_buffer("banks", torch.from_numpy(banks), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Normalised log-mel of a batch of waveforms (any leading shape)."""
        shape = wave.shape[:-1]
        x = wave.reshape(-1, wave.shape[-1]).to(self.window.dtype)
        if x.shape[-1] - 1 <= self.n_fft // 2 and self.pad_mode == "reflect":
            raise ValueError(f"a waveform of {x.shape[-1]} samples is too short for this front end "
                             f"(reflect padding needs more than n_fft/2 + 1 = {self.n_fft // 2 + 1})")
        x = x[:, 1:] - PREEMPHASIS * x[:, :-1]
        spec = torch.stft(x, n_fft=self.n_fft, hop_length=self.hop_length, win_length=self.win_length,
                          window=self.window, center=True, pad_mode=self.pad_mode, normalized=False,
                          return_complex=True)
        power = spec.real.square() + spec.imag.square()             # [B, n_fft/2 + 1, T]
        mel = torch.matmul(self.banks, power)                        # [B, n_mels, T]
        out = (torch.log(mel + self.log_eps) + NORM_SHIFT) / NORM_SCALE
        return out.reshape(*shape, self.n_mels, out.shape[-1])


def log_gain_scale() -> float:
    """How an additive log-mel gain g shows in these features: the normalisation divides it by 5."""
    return 1.0 / NORM_SCALE


__all__ = ["EfficientATMel", "kaldi_mel", "kaldi_mel_banks", "num_frames", "log_gain_scale",
           "PREEMPHASIS", "NORM_SHIFT", "NORM_SCALE"]
