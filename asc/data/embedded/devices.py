"""Recording devices: real-like microphones (a, b, c, d) and simulated devices (s1, s2, ...).

As in TAU22, devices a, b and c recorded the same scene at the same time, each through its own chain
(frequency response, band limits, self-noise, automatic gain and soft clipping); the simulated devices
s<N> are made from device a's audio by a device impulse response and dynamic range compression.
Device models do not depend on the corpus seed: a device is the same hardware in every corpus.

A second, distinct family of impulse responses (`dir_response`) is written for device impulse
response augmentation; it shares no member and no parameter law with the simulated devices.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from asc.data.embedded import dsp

DEVICE_SEED = 20240601      # devices are fixed hardware: not drawn from the corpus seed
DIR_SEED = 20240602
TRAIN_DEVICES = ("a", "b", "c", "s1", "s2", "s3")
UNSEEN_DEVICES = ("s4", "s5", "s6")
DEV_DEVICES = TRAIN_DEVICES + UNSEEN_DEVICES
IR_FFT = 8192
IR_TAPS = 2048


@dataclass(frozen=True)
class Device:
    """One device chain. `source` is 'scene' for a microphone, 'a' for a device simulated from
    device a's audio."""
    name: str
    source: str
    hp_hz: float
    hp_order: int
    lp_hz: float
    lp_order: int
    tilt: float
    peaks: tuple            # (Hz, dB, width in octaves)
    gain_db: float
    noise_dbfs: float | None
    noise_tilt: float
    compressor: tuple | None   # (threshold dBFS, ratio, make-up dB)
    clip: float | None
    handling_db: float      # hand-held: the response wanders a little from recording to recording


def known_device(name: str) -> bool:
    """True for a device this generator can model: a, b, c, d, or s<N>."""
    return name in ("a", "b", "c", "d") or (name.startswith("s") and name[1:].isdigit() and int(name[1:]) >= 1)


def is_unseen(name: str) -> bool:
    """True for devices that never appear in training (s4-s6 and the evaluation-only ones)."""
    return name not in TRAIN_DEVICES


def device_model(name: str, severity: float) -> Device:
    """The model of device `name`, its deviation from a flat response scaled by `severity`."""
    if name == "a":
        return Device("a", "scene", 20.0, 2, 20000.0, 4, 0.0, ((3000.0, 1.5, 0.6),), 0.0, -88.0, 0.0, None, None, 0.0)
    if name == "b":
        base = Device("b", "scene", 160.0, 3, 11000.0, 6, -0.5, ((2500.0, 4.0, 0.5), (6000.0, -4.0, 0.4), (800.0, -2.0, 0.8)),
                      -2.0, -66.0, 3.0, (-28.0, 3.0, 4.0), 0.6, 1.5)
    elif name == "c":
        base = Device("c", "scene", 90.0, 2, 15500.0, 8, 0.8, ((1200.0, 2.5, 0.5), (4500.0, 3.5, 0.4), (9000.0, -5.0, 0.3)),
                      3.0, -72.0, 0.0, (-22.0, 2.0, 2.0), 0.8, 1.5)
    elif name == "d":
        base = _phone(dsp.rng_for(DEVICE_SEED, "device", name), name)
    elif known_device(name):
        base = _simulated(dsp.rng_for(DEVICE_SEED, "device", name), name)
    else:
        raise ValueError(f"unknown device {name!r}")
    return _scaled(base, severity)


def _phone(rng: np.random.Generator, name: str) -> Device:
    peaks = tuple((float(np.exp(rng.uniform(np.log(500), np.log(9000)))), float(rng.normal(0, 4)),
                   float(rng.uniform(0.3, 0.8))) for _ in range(3))
    return Device(name, "scene", float(rng.uniform(100, 250)), 3, float(rng.uniform(8000, 14000)), 6,
                  float(rng.normal(0, 0.8)), peaks, float(rng.uniform(-3, 3)), float(rng.uniform(-70, -62)),
                  float(rng.uniform(0, 3)), (float(rng.uniform(-30, -20)), float(rng.uniform(2, 4)), 3.0),
                  float(rng.uniform(0.5, 0.8)), 1.5)


def _simulated(rng: np.random.Generator, name: str) -> Device:
    peaks = tuple((float(np.exp(rng.uniform(np.log(200), np.log(8000)))), float(rng.normal(0, 5)),
                   float(rng.uniform(0.3, 1.2))) for _ in range(int(rng.integers(2, 5))))
    threshold = float(rng.uniform(-35, -15))
    ratio = float(rng.uniform(1.5, 4.0))
    return Device(name, "a", float(np.exp(rng.uniform(np.log(50), np.log(300)))), int(rng.integers(2, 5)),
                  float(np.exp(rng.uniform(np.log(6000), np.log(16000)))), int(rng.integers(4, 9)),
                  float(rng.normal(0, 1.0)), peaks, float(rng.uniform(-4, 4)), None, 0.0,
                  (threshold, ratio, float(rng.uniform(0, 6))), None, 0.0)


def _scaled(d: Device, severity: float) -> Device:
    """Move a device's response away from (severity > 1) or toward (< 1) a flat, full-band one."""
    s = severity
    return Device(
        d.name, d.source, 20.0 * (d.hp_hz / 20.0) ** s, d.hp_order, 20000.0 * (d.lp_hz / 20000.0) ** s, d.lp_order,
        d.tilt * s, tuple((hz, db * s, width) for hz, db, width in d.peaks), d.gain_db * s,
        None if d.noise_dbfs is None else d.noise_dbfs + 10.0 * np.log10(max(s, 1e-3)) * 2.0, d.noise_tilt,
        None if d.compressor is None else (d.compressor[0], 1.0 + (d.compressor[1] - 1.0) * s, d.compressor[2]),
        None if d.clip is None else d.clip / max(s, 1e-3) ** 0.5, d.handling_db * s)


def magnitude(d: Device, freqs: np.ndarray) -> np.ndarray:
    """Magnitude response of the device's linear part at `freqs`."""
    db = dsp.tilt_db(freqs, d.tilt) + d.gain_db
    for hz, gain, width in d.peaks:
        db = db + gain * dsp.log_bell(freqs, hz, width)
    return dsp.from_db(db) * dsp.highpass(freqs, d.hp_hz, d.hp_order) * dsp.lowpass(freqs, d.lp_hz, d.lp_order)


@functools.lru_cache(maxsize=64)
def _impulse_response(name: str, severity: float, sr: int) -> np.ndarray:
    """The device's minimum-phase impulse response (IR_TAPS taps)."""
    d = device_model(name, severity)
    return dsp.min_phase_ir(magnitude(d, np.fft.rfftfreq(IR_FFT, 1.0 / sr)), IR_TAPS)


@functools.lru_cache(maxsize=4)
def _full_response(name: str, severity: float, n: int, sr: int) -> np.ndarray:
    """rfft (length `n`) of the device's impulse response."""
    return dsp.rfft(_impulse_response(name, severity, sr), n)


PRE_ROLL = 0.25    # s of signal before a piece, so that compressors have settled when it starts


def record(scene: np.ndarray, pieces: dict, n: int, sr: int, severities: dict, rng_of) -> dict:
    """The 1-s pieces (float, full scale 1) of scene spectrum `scene` as each device recorded them:
    `pieces[device]` lists the piece indices wanted; returns {device: {piece: samples}}.
    Device a is rendered over the whole recording (the simulated devices are made from it), the
    others only around their pieces. `severities[device]` scales each device; `rng_of(device)` gives
    its random generator for this recording (self-noise, handling)."""
    a_model = device_model("a", severities["a"])
    a_signal = dsp.irfft(scene * _full_response("a", severities["a"], n, sr)
                         + _self_noise(rng_of("a"), a_model, n, sr), n)
    scene_signal = None
    out = {}
    for name, wanted in pieces.items():
        if name == "a":
            out[name] = {p: a_signal[p * sr:(p + 1) * sr] for p in wanted}
            continue
        d = device_model(name, severities[name])
        rng = rng_of(name)
        if d.source == "scene":
            if scene_signal is None:
                scene_signal = dsp.irfft(scene, n)
            ir = _with_handling(rng, d, severities[name], sr)
            windows = _filter_windows(scene_signal, ir, wanted, sr)
            windows += _window_noise(rng, d, windows.shape[1], sr, len(wanted))
        else:
            windows = _filter_windows(a_signal, _impulse_response(name, severities[name], sr), wanted, sr)
        out[name] = {p: _nonlinear(d, w, sr)[-sr:] for p, w in zip(wanted, windows)}
    return out


def _filter_windows(source: np.ndarray, ir: np.ndarray, wanted, sr: int) -> np.ndarray:
    """Rows of the circular convolution of `source` and `ir` over [p s - PRE_ROLL, (p + 1) s) for each
    piece p, computed from those stretches alone (one batched FFT)."""
    pre = int(PRE_ROLL * sr)
    length = sr + pre
    m = dsp.fast_length(length + ir.size)
    starts = np.array([p * sr - pre - ir.size for p in wanted])
    segments = np.take(source, starts[:, None] + np.arange(length + ir.size)[None, :], mode="wrap")
    return dsp.irfft(dsp.rfft(segments, m) * dsp.rfft(ir, m), m)[:, ir.size:ir.size + length]


def _nonlinear(d: Device, y: np.ndarray, sr: int) -> np.ndarray:
    """The device's automatic gain / compression and soft clipping."""
    if d.compressor is not None:
        threshold, ratio, makeup = d.compressor
        y = dsp.compress(y, sr, threshold, ratio, makeup)
    if d.clip is not None:
        y = dsp.soft_clip(y, d.clip)
    return y


def _with_handling(rng: np.random.Generator, d: Device, severity: float, sr: int) -> np.ndarray:
    """The device's impulse response for this recording: a hand-held device's response wanders a
    little from recording to recording (gain and tilt)."""
    if d.handling_db == 0:
        return _impulse_response(d.name, severity, sr)
    gain, tilt = rng.normal(0, d.handling_db), rng.normal(0, 0.3 * d.handling_db)
    freqs = np.fft.rfftfreq(IR_FFT, 1.0 / sr)
    return dsp.min_phase_ir(magnitude(d, freqs) * dsp.from_db(gain + dsp.tilt_db(freqs, tilt)), IR_TAPS)


def _noise_gains(d: Device):
    return lambda f: dsp.from_db(dsp.tilt_db(f, d.noise_tilt, 4000.0).clip(-30, 12)) * dsp.lowpass(f, d.lp_hz, 2)


def _self_noise(rng: np.random.Generator, d: Device, n: int, sr: int) -> np.ndarray | float:
    """Spectrum of the microphone's own noise over a whole recording."""
    if d.noise_dbfs is None:
        return 0.0
    return np.float32(dsp.from_db(d.noise_dbfs)) * dsp.noise_spectrum(rng, n, dsp.response(n, sr, _noise_gains(d)))


def _window_noise(rng: np.random.Generator, d: Device, length: int, sr: int, rows: int) -> np.ndarray | float:
    """The microphone's own noise for `rows` stretches of `length` samples (added before its
    automatic gain and clipping)."""
    if d.noise_dbfs is None:
        return 0.0
    m = dsp.fast_length(length)
    gains = dsp.response(m, sr, _noise_gains(d))
    return dsp.from_db(d.noise_dbfs) * np.stack([dsp.shaped_noise(rng, m, gains)[:length] for _ in range(rows)])


def dir_response(index: int, length: int, sr: int) -> np.ndarray:
    """Impulse response number `index` of the augmentation family: band limits, narrow housing
    resonances and notches, and a comb from a reflection off the device body; minimum phase, unit
    energy. Distinct from the simulated devices, which have broad peaks and no comb."""
    rng = dsp.rng_for(DIR_SEED, "dir", index)
    nfft = max(IR_FFT, 4 * length)
    freqs = np.fft.rfftfreq(nfft, 1.0 / sr)
    db = dsp.tilt_db(freqs, rng.normal(0, 0.5))
    for _ in range(int(rng.integers(1, 4))):
        db += rng.uniform(3, 12) * dsp.log_bell(freqs, np.exp(rng.uniform(np.log(1500), np.log(12000))), rng.uniform(0.05, 0.2))
    for _ in range(int(rng.integers(0, 3))):
        db -= rng.uniform(5, 15) * dsp.log_bell(freqs, np.exp(rng.uniform(np.log(400), np.log(10000))), rng.uniform(0.05, 0.15))
    delay, echo = rng.uniform(0.05e-3, 0.6e-3), rng.uniform(0.1, 0.5)
    comb = np.abs(1.0 + echo * np.exp(-2j * np.pi * freqs * delay))
    mag = (dsp.from_db(db) * comb * dsp.highpass(freqs, np.exp(rng.uniform(np.log(40), np.log(250))), int(rng.integers(1, 4)))
           * dsp.lowpass(freqs, np.exp(rng.uniform(np.log(5000), np.log(18000))), int(rng.integers(2, 7))))
    ir = dsp.min_phase_ir(mag, length)
    return ir / np.sqrt(np.sum(ir ** 2))
