"""Device impulse response (DIR) augmentation in the feature domain.

Convolving a clip with a microphone's impulse response h multiplies its spectrum by H. When h is
much shorter than the analysis window, every STFT frame's power spectrum is multiplied by |H(f)|²,
so every mel band m gains the factor  G_m = Σ_k W[m,k]·|H_k|² / Σ_k W[m,k]  (a flat spectrum
within the band assumed), and the log-mel spectrogram gains the curve log G_m, the same for every
frame. The responses are therefore turned into one log-mel gain curve each, once, and the
augmentation adds a random curve to a random subset of the batch — no waveform, no convolution.
(With features log(mel + eps) the sum is exact wherever mel >> eps, i.e. everywhere but in
digital silence.) Measured against real filtering of white noise, the curve is within 0.02 of the
true log-mel change for IRs shorter than the window (tests/augment/test_device_ir.py).

The CP-JKU recipe (Morocutti et al., "Device-robust acoustic scene classification via impulse
response augmentation") applies DIRs with probability 0.6, only to clips of the reference device
`a`; the pipeline's `only_devices` option keeps that choice configurable.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import torch

from asc.augment import sampling
from asc.features import efficientat_mel
from asc.features.mel_filters import mel_filters
from asc.errors import InputError

AUDIO_SUFFIXES = (".wav", ".flac")
GAIN_FLOOR = 1e-10  # a band an IR silences completely gets log(1e-10) ≈ −23, not −inf


def ir_log_mel_gain(ir: np.ndarray, sample_rate: int, n_fft: int, n_mels: int, fmin: float,
                    fmax: float | None, *, htk: bool = False, power: float = 2.0,
                    db: bool = False, front_end: str = "librosa") -> np.ndarray:
    """The log-mel gain curve [n_mels] (natural log, or dB if `db`) of one impulse response.

    front_end "efficientat" (the pretrained teachers' features) weighs with Kaldi's filterbank and
    divides the curve by that front end's normalisation (its features are (log mel + 4.5) / 5).

    `ir` is mono at `sample_rate`; the mel filterbank is librosa's with the feature front end's
    settings, and `power` is the exponent of the front end's magnitude spectrum (2 = power mels).
    An IR longer than n_fft is measured on a finer FFT grid with the same filterbank shape, so its
    response is averaged over each band rather than truncated. A unit impulse gives all zeros.
    """
    ir = np.asarray(ir, dtype=np.float64).reshape(-1)
    grid = n_fft * max(1, math.ceil(len(ir) / n_fft))
    spectrum = np.abs(np.fft.rfft(ir, n=grid)) ** power
    if front_end == "efficientat":
        fbank = efficientat_mel.kaldi_mel_banks(n_mels, grid, sample_rate, fmin,
                                                fmax if fmax is not None else sample_rate / 2).astype(np.float64)
    else:
        fbank = mel_filters(sample_rate, grid, n_mels, fmin, fmax, htk=htk, dtype=np.float64)
    weight = fbank.sum(axis=1)
    band = fbank @ spectrum
    ratio = np.where(weight > 0, band / np.where(weight > 0, weight, 1.0), 1.0)
    gain = np.log(np.maximum(ratio, GAIN_FLOOR))
    if front_end == "efficientat":
        gain = gain * efficientat_mel.log_gain_scale()
    return (gain * (10.0 / np.log(10.0)) if db else gain).astype(np.float32)


def read_ir(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """One impulse response as mono float64 at `sample_rate`; InputError naming the file if unusable.

    Channels are averaged; resampling keeps the frequency response (the DC gain Σh is preserved).
    """
    import soundfile

    path = Path(path)
    try:
        audio, rate = soundfile.read(str(path), dtype="float64", always_2d=True)
    except Exception as e:  # libsndfile raises several types for missing, truncated or non-audio files
        raise InputError(path, f"cannot read impulse response: {e}") from None
    if audio.shape[0] == 0:
        raise InputError(path, "impulse response is empty (0 samples)")
    if not np.all(np.isfinite(audio)):
        raise InputError(path, "impulse response has NaN or infinite samples")
    ir = audio.mean(axis=1)
    if not np.any(ir):
        raise InputError(path, "impulse response is silent (all samples zero)")
    if rate != sample_rate:
        # an IR's samples are h(t)·(1/rate): keep its frequency response, not its sample values
        ir = resample(ir, rate, sample_rate) * (rate / sample_rate)
    return ir


def resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    """librosa.resample's default (soxr 'soxr_hq', length fixed to ceil(n·target/rate)) without importing
    librosa, whose numba and LLVM stay resident (~230 MB) in the trainer that reads the IRs."""
    import soxr

    y = soxr.resample(x, rate, target, quality="soxr_hq")
    n = int(np.ceil(len(x) * float(target) / rate))
    return np.pad(y, (0, max(0, n - len(y))))[:n].astype(x.dtype, copy=False)


def list_irs(folder: str | os.PathLike) -> list[Path]:
    """The impulse-response files (*.wav, *.flac) of `folder`, sorted; InputError if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "impulse response folder not found")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise InputError(folder, f"no impulse responses ({', '.join(AUDIO_SUFFIXES)} files) in folder")
    return files


def load_dir_gains(folder: str | os.PathLike, sample_rate: int, n_fft: int, n_mels: int,
                   fmin: float, fmax: float | None, *, htk: bool = False, power: float = 2.0,
                   db: bool = False, front_end: str = "librosa") -> torch.Tensor:
    """Log-mel gains [n_irs, n_mels] (float32) of every IR file in `folder`, in sorted file order.

    Computed once per run (a few ms per IR); the trainer keeps the tensor and passes it to
    `Augmenter`. The keyword options must match the feature front end (see `ir_log_mel_gain`).
    """
    gains = [ir_log_mel_gain(read_ir(path, sample_rate), sample_rate, n_fft, n_mels, fmin, fmax,
                             htk=htk, power=power, db=db, front_end=front_end)
             for path in list_irs(folder)]
    return torch.from_numpy(np.stack(gains))


def gains_for_front_end(folder: str | os.PathLike, front) -> torch.Tensor:
    """`load_dir_gains` with the settings of a front end (a FeatureConfig, e.g. a feature store's)."""
    return load_dir_gains(folder, front.sample_rate, front.n_fft, front.n_mels, front.fmin, front.fmax,
                          htk=front.htk, front_end=front.front_end)


def apply_device_ir(x: torch.Tensor, gains: torch.Tensor, p: float, generator: torch.Generator,
                    eligible: torch.Tensor | None = None) -> torch.Tensor:
    """Add a random IR's log-mel gain to each eligible clip of x [B, C, n_mels, T] with probability p.

    `eligible` [B] (bool) limits the augmentation to some clips (e.g. device `a` only); the
    draws are the same whatever it holds, so the random stream does not depend on the batch's devices.
    """
    if x.dim() != 4:
        raise ValueError(f"expected a batch [B, C, F, T], found shape {tuple(x.shape)}")
    if gains.dim() != 2 or gains.size(1) != x.size(2) or gains.size(0) == 0:
        raise ValueError(f"gains of shape {tuple(gains.shape)} do not fit batch of shape "
                         f"{tuple(x.shape)}: expected [n_irs >= 1, {x.size(2)}]")
    batch = x.size(0)
    chosen = sampling.uniform((batch,), generator, x.device) < p
    which = sampling.randint(0, gains.size(0), (batch,), generator, x.device)
    if eligible is not None:
        chosen &= eligible.to(device=x.device, dtype=torch.bool)
    curve = gains.to(device=x.device, dtype=torch.float32)[which] * chosen[:, None]
    return (x.float() + curve[:, None, :, None]).to(x.dtype)
