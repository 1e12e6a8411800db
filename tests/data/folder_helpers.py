"""A generated folder of labelled recordings, `<root>/<label>/<files>`, for the audio-folder tests:
three classes of distinct synthetic sound (a label with a space among them), files of varied sample
rates, channel counts, lengths and formats (wav, flac, ogg)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

CLASSES = ("city park", "hum", "noise")
# per class: (file stem, seconds, sample rate, channels, format)
FILES = (("a", 3.2, 16000, 1, "wav"), ("b", 2.6, 22050, 2, "flac"), ("c", 4.1, 32000, 1, "ogg"),
         ("d", 2.2, 44100, 1, "wav"))


def sound(label: str, seconds: float, rate: int, seed: int) -> np.ndarray:
    """Mono samples of a class: 'hum' a low tone with harmonics, 'noise' white noise, 'city park'
    chirping bursts over soft pink-ish noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    if label == "hum":
        f0 = 100 + 10 * seed % 7
        return 0.3 * sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3)) + 0.01 * rng.standard_normal(len(t))
    if label == "noise":
        return 0.2 * rng.standard_normal(len(t))
    soft = np.cumsum(rng.standard_normal(len(t))) * 0.002
    soft -= np.convolve(soft, np.ones(200) / 200, mode="same")
    chirp = np.sin(2 * np.pi * (3000 + 1500 * np.sin(2 * np.pi * 6 * t)) * t) * (np.sin(2 * np.pi * 2 * t) > 0.3)
    return 0.25 * chirp + soft


def write_recording(path: Path, wave: np.ndarray, rate: int, channels: int, fmt: str) -> Path:
    """Write `wave` (mono) with `channels` channels in format `fmt` to path.<fmt>."""
    data = np.stack([wave * (0.9 + 0.1 * c) for c in range(channels)], axis=1) if channels > 1 else wave
    path = path.with_suffix(f".{fmt}")
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.clip(data, -1, 1).astype(np.float32), rate,
             subtype={"wav": "PCM_16", "flac": "PCM_16", "ogg": "VORBIS"}[fmt])
    return path


def make_folder(root: Path, files=FILES, classes=CLASSES, seed: int = 0) -> Path:
    """root/<class>/<file> for every class and file spec; returns root."""
    for c, label in enumerate(classes):
        for f, (stem, seconds, rate, channels, fmt) in enumerate(files):
            wave = sound(label, seconds, rate, seed + 10 * c + f)
            write_recording(root / label / stem, wave, rate, channels, fmt)
    return root
