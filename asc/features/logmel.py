"""The log-mel front end: one torch module used for the feature cache and for inference.

It computes what `librosa.feature.melspectrogram` computes with the same settings (centered STFT,
Hann window of `win_length` zero-padded to `n_fft`, power 2, librosa's mel filterbank), then
log(mel + eps). The filterbank is `librosa.filters.mel`'s, computed by asc.features.mel_filters
(numpy alone, kept bit-equal to librosa by a test, without loading numba at inference); the STFT and the projection onto the filterbank are batched torch operations, which is what
makes it several times faster than librosa on a CPU and lets it run on a GPU unchanged.

The STFT is computed in float64, as librosa computes it (its float64 window promotes the float32
frames before the FFT), and only the power is rounded to float32. A float32 FFT and a float32 Hann
window round by about 1e-7 of a frame's energy, which is 2e-5 to 1e-4 of a mel value near the 50-dB
floor under loud tones: no margin under the promised 1e-4, and whatever the FFT library's kernel for
a thread count rounds differently shows up there. In float64 it is about 1e-6, with 1 or 2 threads.
The mel projection sums only positive terms, so float32 is exact enough for it.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass
from typing import Literal

import librosa
import numpy as np
import torch
from torch import nn

from asc.config import dump_yaml, load_config
from asc.errors import ConfigError
from asc.features import efficientat_mel
from asc.features.mel_filters import mel_filters


@dataclass
class FeatureConfig:
    """Settings of the front end; defaults are the DCASE2024 baseline student front end.

    fmin/fmax default to the baseline's (0 Hz and the Nyquist frequency); htk/mel_norm default to
    librosa's Slaney filterbank; pad_mode is how the signal is padded for the centered STFT
    ("reflect", as torchaudio and PaSST pad; librosa >= 0.10 defaults to "constant").
    front_end chooses the computation: "librosa" (this module's LogMel) or "efficientat", the front end
    of the AudioSet-pretrained EfficientAT/PaSST checkpoints (asc.features.efficientat_mel: pre-emphasis,
    symmetric window, Kaldi filterbank, normalised; htk and mel_norm do not apply and must be false/null).
    """
    sample_rate: int = 32000
    n_fft: int = 4096
    win_length: int = 3072
    hop_length: int = 500
    n_mels: int = 256
    fmin: float = 0.0
    fmax: float | None = None
    htk: bool = False
    mel_norm: Literal["slaney"] | None = "slaney"
    pad_mode: Literal["constant", "reflect"] = "reflect"
    log_eps: float = 1e-5
    clip_seconds: float = 1.0
    front_end: Literal["librosa", "efficientat"] = "librosa"

    def __post_init__(self) -> None:
        # Floats are normalised so that `fmin: 0` and `fmin: 0.0` give the same hash.
        self.fmin, self.log_eps, self.clip_seconds = float(self.fmin), float(self.log_eps), float(self.clip_seconds)
        self.fmax = None if self.fmax is None else float(self.fmax)
        if self.win_length > self.n_fft:
            raise ConfigError(f"feature config: win_length {self.win_length} exceeds n_fft {self.n_fft}")
        nyquist = self.sample_rate / 2
        if not 0 <= self.fmin < (self.fmax if self.fmax is not None else nyquist) <= nyquist:
            raise ConfigError(f"feature config: need 0 <= fmin < fmax <= sample_rate/2 ({nyquist:g}), "
                              f"found fmin {self.fmin}, fmax {self.fmax}")
        if min(self.sample_rate, self.n_fft, self.hop_length, self.n_mels) <= 0 or self.clip_seconds <= 0:
            raise ConfigError("feature config: sample_rate, n_fft, hop_length, n_mels and clip_seconds "
                              "must be positive")
        if self.front_end == "efficientat" and (self.htk or self.mel_norm is not None):
            raise ConfigError("feature config: front_end efficientat uses Kaldi's mel filterbank; htk and "
                              f"mel_norm apply to the librosa front end only (set htk: false, mel_norm: null), "
                              f"found htk {self.htk}, mel_norm {self.mel_norm!r}")

    @property
    def clip_samples(self) -> int:
        """Samples of one clip at the feature rate (clips are padded or cut to this length)."""
        return int(round(self.clip_seconds * self.sample_rate))

    @property
    def clip_frames(self) -> int:
        """Frames of one clip (centered STFT): 65 for the student, 100 for the teachers (efficientat) on 1-s clips."""
        if self.front_end == "efficientat":
            return efficientat_mel.num_frames(self.clip_samples, self.hop_length)
        return num_frames(self.clip_samples, self.hop_length)

    def to_yaml(self) -> str:
        """The resolved config as YAML (stored in every feature file)."""
        return dump_yaml(self)

    def hash(self) -> str:
        """A short hash of every setting; a cache built with another hash is stale."""
        settings = dataclasses.asdict(self)
        if settings["front_end"] == "librosa":
            del settings["front_end"]   # the default keeps the hash of stores built before the key existed
        text = json.dumps(settings, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_feature_config(path: str | os.PathLike, overrides: dict | None = None) -> FeatureConfig:
    """The FeatureConfig of a YAML file (unknown keys and wrong types are refused)."""
    try:
        return load_config(FeatureConfig, path, overrides)
    except ConfigError as e:
        if str(path) in str(e):
            raise
        raise ConfigError(f"{path}: {e}") from None


def num_frames(num_samples: int, hop_length: int) -> int:
    """Frames of a centered STFT of `num_samples` samples."""
    return 1 + num_samples // hop_length


def mel_filterbank(cfg: FeatureConfig) -> np.ndarray:
    """librosa's mel filterbank for `cfg`, shape [n_mels, n_fft // 2 + 1], float32 (computed without
    importing librosa's numba-backed modules: asc.features.mel_filters, checked equal to librosa)."""
    return mel_filters(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin,
                       fmax=cfg.fmax, htk=cfg.htk, norm=cfg.mel_norm, dtype=np.float32)


class LogMel(nn.Module):
    """Waveforms [..., samples] at cfg.sample_rate -> log-mel [..., n_mels, frames] (float32).

    Runs on whatever device its buffers are on (`.to("cuda")`); no parameter is trained.
    """

    def __init__(self, cfg: FeatureConfig, bands: int = 8):
        super().__init__()
        self.cfg = cfg
        # float64: see the module docstring (the FFT runs at the window's precision).
        self.register_buffer("window", torch.hann_window(cfg.win_length, periodic=True, dtype=torch.float64),
                             persistent=False)
        # The filterbank is mostly zeros (each filter spans a few FFT bins), so the filters are cut
        # into `bands` groups of neighbours and each group is multiplied only with the FFT bins it
        # spans: the same sums as the dense product (the skipped terms are exact zeros), with about
        # `bands` times fewer multiplications.
        # Each weight appears twice, against the squared real and imaginary parts, so the power
        # |X|^2 = re^2 + im^2 is summed inside the matrix product.
        fb = torch.from_numpy(mel_filterbank(cfg))
        self.spans: list[tuple[int, int]] = []
        bands = max(1, min(bands, cfg.n_mels))
        for g in range(bands):
            rows = fb[g * cfg.n_mels // bands:(g + 1) * cfg.n_mels // bands]
            used = torch.nonzero(rows.abs().sum(0) > 0).flatten()
            lo, hi = (int(used[0]), int(used[-1]) + 1) if len(used) else (0, 1)
            self.spans.append((lo, hi))
            weights = rows[:, lo:hi].T.repeat_interleave(2, dim=0).contiguous()   # [2 * bins, mels]
            self.register_buffer(f"band{g}", weights, persistent=False)

    def power_mel(self, wave: torch.Tensor) -> torch.Tensor:
        """Mel power spectrogram (before the log), as librosa.feature.melspectrogram computes it."""
        cfg = self.cfg
        shape = wave.shape[:-1]
        if cfg.pad_mode == "reflect" and wave.shape[-1] <= cfg.n_fft // 2:
            raise ValueError(f"a waveform of {wave.shape[-1]} samples is too short for this front end "
                             f"(reflect padding needs more than n_fft/2 = {cfg.n_fft // 2})")
        x = wave.reshape(-1, wave.shape[-1]).to(self.window.dtype)
        spec = torch.stft(x, n_fft=cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
                          window=self.window, center=True, pad_mode=cfg.pad_mode, return_complex=True)
        ri = torch.view_as_real(spec.transpose(1, 2))            # [B, T, F, 2], a view
        sq = ri.square_() if not ri.requires_grad else ri.square()
        sq = sq.reshape(sq.shape[0], sq.shape[1], -1)            # [B, T, 2F]: re^2, im^2 interleaved
        sq = sq.to(self.band0.dtype)                             # float32 power: positive sums from here
        mel = torch.cat([torch.matmul(sq[..., 2 * lo:2 * hi], getattr(self, f"band{g}"))
                         for g, (lo, hi) in enumerate(self.spans)], dim=-1)   # [B, T, M]
        return mel.transpose(1, 2).reshape(*shape, cfg.n_mels, mel.shape[1])

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """log(mel + eps) of a batch of waveforms."""
        return torch.log(self.power_mel(wave) + self.cfg.log_eps)


def librosa_power_mel(wave: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """The reference: librosa.feature.melspectrogram with exactly the settings of `cfg`."""
    return librosa.feature.melspectrogram(
        y=wave, sr=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
        win_length=cfg.win_length, window="hann", center=True, pad_mode=cfg.pad_mode, power=2.0,
        n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax, htk=cfg.htk, norm=cfg.mel_norm)


def make_front_end(cfg: FeatureConfig) -> nn.Module:
    """The front-end module `cfg` names: waveforms [..., samples] -> features [..., n_mels, frames]."""
    if cfg.front_end == "efficientat":
        return efficientat_mel.EfficientATMel(
            sample_rate=cfg.sample_rate, n_fft=cfg.n_fft, win_length=cfg.win_length,
            hop_length=cfg.hop_length, n_mels=cfg.n_mels, fmin=cfg.fmin,
            fmax=cfg.fmax if cfg.fmax is not None else cfg.sample_rate / 2, log_eps=cfg.log_eps,
            pad_mode=cfg.pad_mode)
    return LogMel(cfg)


def fix_length(wave: np.ndarray, length: int) -> np.ndarray:
    """Cut or zero-pad the last axis to `length` samples (clips of a store share one shape)."""
    n = wave.shape[-1]
    if n >= length:
        return wave[..., :length]
    pad = [(0, 0)] * (wave.ndim - 1) + [(0, length - n)]
    return np.pad(wave, pad)


__all__ = ["FeatureConfig", "LogMel", "load_feature_config", "mel_filterbank", "librosa_power_mel", "num_frames",
           "fix_length", "make_front_end"]
