"""Vectorized signal tools the scene and device models are built from (numpy and scipy.fft, no per-sample loops).

Conventions: signals are float64 arrays at the corpus sample rate; spectra are `np.fft.rfft` spectra of
the full recording length `n`; gains are magnitudes per rfft bin. Filtering a whole recording is a
multiplication of spectra (circular: a recording is a piece of a scene that goes on before and after
it, so a tail that wraps around stands for sound from before the start).
"""
from __future__ import annotations

import functools
import hashlib

import numpy as np
import scipy.fft

TABLE_SIZE = 4096


def rng_for(seed: int, *keys) -> np.random.Generator:
    """A random generator determined by (seed, keys) alone, so that what one recording draws does not
    depend on which others were generated before it or in which process."""
    digest = hashlib.sha256(repr((int(seed),) + tuple(keys)).encode()).digest()
    return np.random.default_rng(np.frombuffer(digest[:16], dtype=np.uint32))


def from_db(db):
    """Amplitude factor of a level in dB."""
    return 10.0 ** (np.asarray(db, dtype=float) / 20.0)


def rms(x: np.ndarray) -> float:
    """Root mean square (0 for an empty or silent signal)."""
    return float(np.sqrt(np.mean(x * x))) if x.size else 0.0


def log_bell(freqs: np.ndarray, center: float, width_oct: float) -> np.ndarray:
    """A bump of height 1 at `center` Hz, Gaussian in octaves with standard deviation `width_oct`."""
    octaves = np.log2(np.maximum(freqs, 1.0) / center)
    return np.exp(-0.5 * (octaves / width_oct) ** 2)


def highpass(freqs: np.ndarray, cutoff: float, order: int) -> np.ndarray:
    """Butterworth high-pass magnitude."""
    r = (np.maximum(freqs, 1e-3) / cutoff) ** order
    return r / np.sqrt(1.0 + r * r)


def lowpass(freqs: np.ndarray, cutoff: float, order: int) -> np.ndarray:
    """Butterworth low-pass magnitude."""
    return 1.0 / np.sqrt(1.0 + (freqs / cutoff) ** (2 * order))


def tilt_db(freqs: np.ndarray, db_per_octave: float, pivot: float = 1000.0) -> np.ndarray:
    """A straight line in dB over log-frequency through 0 dB at `pivot` (clamped below 20 Hz)."""
    return db_per_octave * np.log2(np.maximum(freqs, 20.0) / pivot)


GRID_POINTS = 1024


def response(n: int, sr: int, curve) -> np.ndarray:
    """`curve(freqs)` (a smooth magnitude response) at the rfft bins of length `n`: evaluated on a
    log-spaced grid and interpolated, which is many times cheaper than evaluating it at every bin."""
    grid, log_grid = _grid(sr)
    return np.interp(_log_bins(n, sr), log_grid, curve(grid)).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _grid(sr: int) -> tuple[np.ndarray, np.ndarray]:
    grid = np.geomspace(5.0, sr / 2.0, GRID_POINTS)
    return grid, np.log(grid)


@functools.lru_cache(maxsize=32)
def _log_bins(n: int, sr: int) -> np.ndarray:
    return np.log(np.maximum(np.fft.rfftfreq(n, 1.0 / sr), 5.0))


def rfft(x: np.ndarray, n: int | None = None) -> np.ndarray:
    """Real FFT in single precision (twice as fast as double here, and ample for 16-bit audio)."""
    return scipy.fft.rfft(np.asarray(x, dtype=np.float32), n, workers=1)


def irfft(spectrum: np.ndarray, n: int) -> np.ndarray:
    """Inverse real FFT of length `n` in single precision, returned as float64."""
    return scipy.fft.irfft(np.asarray(spectrum, dtype=np.complex64), n, workers=1).astype(np.float64)


def fast_length(n: int) -> int:
    """The smallest length >= n whose FFT is fast (lengths with a large prime factor are slow)."""
    return scipy.fft.next_fast_len(n, real=True)


def noise_spectrum(rng: np.random.Generator, n: int, gains: np.ndarray) -> np.ndarray:
    """Spectrum of random noise of length `n` shaped by `gains`, scaled to unit RMS in time. The bins
    are uniform random (cheaper than Gaussian); every time sample sums all of them, so the signal is
    Gaussian all the same."""
    spec = (rng.random(2 * gains.size, dtype=np.float32) - np.float32(0.5)).view(np.complex64) * gains
    spec[0] = 0.0
    power = (2.0 * np.vdot(spec, spec).real - abs(spec[-1]) ** 2) / n ** 2
    return spec / np.float32(np.sqrt(max(power, 1e-30)))


def shaped_noise(rng: np.random.Generator, n: int, gains: np.ndarray) -> np.ndarray:
    """Noise of length `n` with magnitude spectrum `gains` (rfft bins of `n`), unit RMS."""
    return irfft(noise_spectrum(rng, n, gains), n)


def low_noise(rng: np.random.Generator, n: int, sr: int, curve, top_hz: float) -> np.ndarray:
    """Unit-RMS noise of `n` samples with the smooth magnitude response `curve(freqs)`, which must be
    negligible above `top_hz`: rendered at a rate of about 4 x `top_hz` and linearly interpolated
    (images of the interpolation lie above `top_hz` and are more than 30 dB down)."""
    factor = int(sr // (4.0 * top_hz))
    if factor < 4:
        return shaped_noise(rng, n, response(n, sr, curve))
    m = fast_length(n // factor + 2)
    low = shaped_noise(rng, m, response(m, int(round(sr / factor)), curve))
    return np.interp(np.arange(n) * (1.0 / factor), np.arange(m), low)


def band_noise(rng: np.random.Generator, n: int, sr: int, low: float, high: float,
               tilt: float = 0.0) -> np.ndarray:
    """Unit-RMS noise of any length between `low` and `high` Hz with a tilt in dB/octave."""
    m = fast_length(n)
    gains = response(m, sr, lambda f: highpass(f, low, 2) * lowpass(f, high, 2) * from_db(tilt_db(f, tilt)))
    x = shaped_noise(rng, m, gains)[:n]
    r = rms(x)
    return x / r if r > 1e-12 else x


CONTROL_HZ = 100.0


def control_curve(rng: np.random.Generator, seconds: float, rate_hz: float) -> np.ndarray:
    """A smooth random curve (zero mean, unit std) varying at about `rate_hz`, sampled at CONTROL_HZ:
    random knots every 1/rate_hz s, linearly joined, then smoothed."""
    points = max(8, int(np.ceil(seconds * CONTROL_HZ)) + 1)
    knots = max(3, int(np.ceil(seconds * rate_hz)) + 2)
    curve = np.interp(np.linspace(0, knots - 1, points), np.arange(knots), rng.standard_normal(knots))
    width = int(CONTROL_HZ / rate_hz / 2)
    if width >= 1:
        kernel = np.hanning(2 * width + 3)[1:-1]
        curve = np.convolve(np.pad(curve, width, mode="edge"), kernel / kernel.sum(), mode="valid")
    std = curve.std()
    return (curve - curve.mean()) / (std if std > 1e-9 else 1.0)


def to_samples(curve: np.ndarray, n: int) -> np.ndarray:
    """A control-rate curve stretched over `n` samples by linear interpolation."""
    return np.interp(np.linspace(0, curve.size - 1, n), np.arange(curve.size), curve)


def smooth_random(rng: np.random.Generator, n: int, sr: int, rate_hz: float) -> np.ndarray:
    """A smooth random curve of `n` samples (zero mean, unit std) varying at about `rate_hz`."""
    return to_samples(control_curve(rng, n / sr, rate_hz), n)


def harmonic_table(amplitudes) -> np.ndarray:
    """One period of sum_k a_k sin(2 pi k x), sampled at TABLE_SIZE points."""
    return _table(tuple(float(a) for a in amplitudes))


@functools.lru_cache(maxsize=256)
def _table(amplitudes: tuple) -> np.ndarray:
    x = np.arange(TABLE_SIZE) / TABLE_SIZE
    k = np.arange(1, len(amplitudes) + 1)[:, None]
    return (np.asarray(amplitudes)[:, None] * np.sin(2 * np.pi * k * x)).sum(axis=0)


def oscillator(freq, n: int, sr: int, amplitudes, phase: float = 0.0) -> np.ndarray:
    """Wavetable oscillator: a harmonic tone following the frequency track `freq` (Hz, scalar or per
    sample); harmonics that would pass the Nyquist frequency are dropped."""
    scalar = np.ndim(freq) == 0
    top = max(float(freq if scalar else np.max(freq)), 1.0)
    keep = max(1, min(len(amplitudes), int(0.45 * sr / top)))
    table = harmonic_table(list(amplitudes)[:keep])
    offset = phase * TABLE_SIZE
    if scalar:
        position = np.arange(n) * (float(freq) * TABLE_SIZE / sr) + offset
    else:
        position = np.cumsum(freq) * (TABLE_SIZE / sr) + offset
    return table[position.astype(np.int64) & (TABLE_SIZE - 1)]


def place(out: np.ndarray, start: int, x: np.ndarray) -> None:
    """Add `x` into `out` starting at sample `start`, cutting what falls outside."""
    lo, hi = max(start, 0), min(start + x.size, out.size)
    if hi > lo:
        out[lo:hi] += x[lo - start:hi - start]


def place_many(n: int, starts: np.ndarray, kernel: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """A signal of length `n` holding copies of `kernel` at `starts` scaled by `gains`."""
    if starts.size == 0:
        return np.zeros(n)
    idx = starts.astype(np.int64)[:, None] + np.arange(kernel.size)[None, :]
    vals = gains[:, None] * kernel[None, :]
    keep = (idx >= 0) & (idx < n)
    return np.bincount(idx[keep], weights=vals[keep], minlength=n)[:n]


def decay_envelope(n: int, sr: int, attack: float, decay: float) -> np.ndarray:
    """Linear attack over `attack` s, then exponential decay with time constant `decay` s."""
    t = np.arange(n) / sr
    env = np.exp(-np.maximum(t - attack, 0.0) / max(decay, 1e-4))
    if attack > 0:
        env *= np.minimum(t / attack, 1.0)
    return env


def fade(x: np.ndarray, sr: int, seconds: float = 0.01) -> np.ndarray:
    """Raised-cosine fade in and out, so that placed events start and end without a click."""
    m = min(int(seconds * sr), x.size // 2)
    if m > 0:
        ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, m))
        x = x.copy()
        x[:m] *= ramp
        x[-m:] *= ramp[::-1]
    return x


def framewise_filter(x: np.ndarray, gains: np.ndarray, frame: int) -> np.ndarray:
    """Filter `x` with a magnitude response that changes every frame (square-root Hann windows, 50 %
    overlap, overlap-add). `gains` has one row of frame // 2 + 1 bins per frame of `frame_count(x)`."""
    hop = frame // 2
    count = gains.shape[0]
    padded = np.zeros((count + 1) * hop)
    padded[hop:hop + x.size] = x
    window = np.sqrt(np.hanning(frame + 1)[:frame])
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame)[::hop][:count] * window
    shaped = np.fft.irfft(np.fft.rfft(frames, axis=1) * gains, frame, axis=1) * window
    out = np.zeros((count + 1) * hop)
    out[:count * hop] += shaped[:, :hop].reshape(-1)
    out[hop:(count + 1) * hop] += shaped[:, hop:].reshape(-1)
    return out[hop:hop + x.size]


def frame_count(n: int, frame: int) -> int:
    """Number of frames `framewise_filter` uses for a signal of `n` samples."""
    return n // (frame // 2) + 1


def min_phase_ir(magnitude: np.ndarray, length: int) -> np.ndarray:
    """Minimum-phase impulse response (first `length` taps) of a magnitude response given on the rfft
    bins of an even FFT size, by the real-cepstrum method."""
    nfft = 2 * (magnitude.size - 1)
    cepstrum = np.fft.irfft(np.log(np.maximum(magnitude, 1e-5)), nfft)
    fold = np.zeros(nfft)
    fold[0] = cepstrum[0]
    fold[1:nfft // 2] = 2.0 * cepstrum[1:nfft // 2]
    fold[nfft // 2] = cepstrum[nfft // 2]
    ir = np.fft.irfft(np.exp(np.fft.rfft(fold)), nfft)[:length]
    taper = max(1, length // 8)
    ir[-taper:] *= np.hanning(2 * taper)[taper:]
    return ir


def compress(x: np.ndarray, sr: int, threshold_db: float, ratio: float, makeup_db: float = 0.0,
             window_s: float = 0.03, release_s: float = 0.15) -> np.ndarray:
    """Feed-forward dynamic range compression on frame levels (dBFS): above `threshold_db` the level
    grows 1/`ratio` as fast; gains are smoothed over `release_s` and interpolated per sample."""
    hop = max(16, int(0.005 * sr))
    count = int(np.ceil(x.size / hop))
    padded = np.zeros(count * hop)
    padded[:x.size] = x
    power = (padded.reshape(count, hop) ** 2).mean(axis=1)
    power = _moving_average(power, max(1, int(window_s * sr / hop)))
    level = 10.0 * np.log10(power + 1e-12)
    gain_db = -np.maximum(level - threshold_db, 0.0) * (1.0 - 1.0 / ratio)
    gain = from_db(_moving_average(gain_db, max(1, int(release_s * sr / hop))) + makeup_db)
    return x * np.interp(np.arange(x.size) * (1.0 / hop) - 0.5, np.arange(count), gain)


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    if width <= 1:
        return x
    kernel = np.ones(width) / width
    return np.convolve(np.pad(x, (width // 2, width - 1 - width // 2), mode="edge"), kernel, mode="valid")


def soft_clip(x: np.ndarray, limit: float) -> np.ndarray:
    """tanh saturation that leaves small signals unchanged and never exceeds `limit`."""
    return limit * np.tanh(x / limit)
