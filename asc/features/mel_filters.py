"""librosa's mel filterbank (`librosa.filters.mel`), computed with numpy alone.

Why not call librosa: importing `librosa.filters` loads numba and LLVM, about 180 MB resident, for a
matrix of a few dozen lines of arithmetic; inference of a deployed model (asc.bin.infer) must stay
within 500 MB on any recording. The operations below are librosa 0.10/0.11's, in the same order and
precision, and tests/features/test_mel_filters.py checks bit-for-bit equality with the installed
librosa over many configs, so the two cannot drift unnoticed (librosa's version is also recorded
with every feature store).
"""
from __future__ import annotations

import numpy as np

F_SP = 200.0 / 3              # Slaney: linear below 1 kHz at 3 bands per 200 Hz...
MIN_LOG_HZ = 1000.0
MIN_LOG_MEL = MIN_LOG_HZ / F_SP
LOGSTEP = np.log(6.4) / 27.0  # ...logarithmic above it


def hz_to_mel(frequencies, htk: bool = False) -> np.ndarray:
    """Mel value of frequencies in Hz (librosa.hz_to_mel)."""
    frequencies = np.asanyarray(frequencies)
    if htk:
        return 2595.0 * np.log10(1.0 + frequencies / 700.0)
    mels = (frequencies - 0.0) / F_SP
    if frequencies.ndim:
        log_t = frequencies >= MIN_LOG_HZ
        mels[log_t] = MIN_LOG_MEL + np.log(frequencies[log_t] / MIN_LOG_HZ) / LOGSTEP
    elif frequencies >= MIN_LOG_HZ:
        mels = MIN_LOG_MEL + np.log(frequencies / MIN_LOG_HZ) / LOGSTEP
    return mels


def mel_to_hz(mels, htk: bool = False) -> np.ndarray:
    """Frequency in Hz of mel values (librosa.mel_to_hz)."""
    mels = np.asanyarray(mels)
    if htk:
        return 700.0 * (10.0 ** (mels / 2595.0) - 1.0)
    freqs = 0.0 + F_SP * mels
    if mels.ndim:
        log_t = mels >= MIN_LOG_MEL
        freqs[log_t] = MIN_LOG_HZ * np.exp(LOGSTEP * (mels[log_t] - MIN_LOG_MEL))
    elif mels >= MIN_LOG_MEL:
        freqs = MIN_LOG_HZ * np.exp(LOGSTEP * (mels - MIN_LOG_MEL))
    return freqs


def mel_filters(sr: float, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None,
                htk: bool = False, norm: str | None = "slaney", dtype=np.float32) -> np.ndarray:
    """Triangular mel filters [n_mels, 1 + n_fft // 2] (librosa.filters.mel; norm 'slaney' or None)."""
    if norm not in ("slaney", None):
        raise ValueError(f"mel filter norm must be 'slaney' or None, found {norm!r}")
    fmax = float(sr) / 2 if fmax is None else fmax
    n_mels = int(n_mels)
    weights = np.zeros((n_mels, int(1 + n_fft // 2)), dtype=dtype)
    fftfreqs = np.fft.rfftfreq(n=n_fft, d=1.0 / sr)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin, htk=htk), hz_to_mel(fmax, htk=htk), n_mels + 2), htk=htk)
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    if norm == "slaney":
        enorm = 2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels])
        weights *= enorm[:, np.newaxis]
    return weights
