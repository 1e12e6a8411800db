"""Reading audio for the front end: any file libsndfile reads (wav, flac, ...), any rate and length.

Every problem with a file becomes an InputError naming it (missing, unreadable, empty, truncated,
not audio, NaN or infinite samples), never a bare library traceback. Multichannel files are mixed
down to mono with a warning. `load_audio` is the one path from a file to a waveform at the feature
rate, used by feature extraction and by inference alike, so both resample with the same resampler.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
import soxr

from asc.errors import InputError

# libsoxr's "HQ" quality, librosa's default resampler ("soxr_hq"), called directly: the same output
# without librosa's seconds of first-call set-up in every extraction job.
RESAMPLER_QUALITY = "HQ"


class AudioWarning(UserWarning):
    """A file was read, but changed on the way (mixed down to mono, cut or padded)."""


# Longer files are read in blocks of this many seconds (at the file's rate), so that memory stays
# bounded whatever their length: a 1-hour 6-channel file at 48 kHz is 4 GB of float32 samples.
STREAM_BLOCK_SECONDS = 10.0


def read_audio(path: str | os.PathLike, max_frames: int | None = None, start: int = 0) -> tuple[np.ndarray, int]:
    """Mono float32 samples in [-1, 1] and the file's sample rate; InputError for a bad file.
    `max_frames` reads only the start (a clip of a longer file, without decoding the rest); `start`
    skips that many frames first (a segment of a long recording)."""
    path = Path(path)
    _check_file(path)
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True, start=start,
                             frames=-1 if max_frames is None else max_frames)
    except (sf.SoundFileError, RuntimeError, ValueError) as e:
        raise InputError(path, f"not a readable audio file (unknown format, or a corrupt or truncated "
                               f"header): {_libsndfile_reason(e)}") from None
    if data.shape[0] == 0:
        raise InputError(path, "contains no audio samples (zero length)")
    return _mono(data, path), rate


def _mono(data: np.ndarray, path: Path) -> np.ndarray:
    """Samples [frames, channels] checked for NaN/infinity and mixed down (warning once per call)."""
    bad = ~np.isfinite(data)
    if bad.any():
        raise InputError(path, f"contains NaN or infinite samples ({int(bad.sum())} of {data.size})")
    if data.shape[1] > 1:
        warnings.warn(f"{path}: has {data.shape[1]} channels; mixed down to mono by averaging",
                      AudioWarning, stacklevel=3)
        return data.mean(axis=1, dtype=np.float32)
    return data[:, 0]


def stream_audio(path: str | os.PathLike, sample_rate: int,
                 block_seconds: float | None = None) -> Iterator[np.ndarray]:
    """Mono float32 pieces of `path` at `sample_rate`, in order, block by block: what `load_audio`
    returns, without ever holding the whole file. A file of at most one block is read and resampled in
    one piece, exactly as `load_audio`; longer ones go through libsoxr's streaming resampler (the same
    filter) and come to the same length."""
    path = Path(path)
    _check_file(path)
    try:
        source = sf.SoundFile(path)
    except (sf.SoundFileError, RuntimeError, ValueError) as e:
        raise InputError(path, f"not a readable audio file (unknown format, or a corrupt or truncated "
                               f"header): {_libsndfile_reason(e)}") from None
    with source:
        seconds = STREAM_BLOCK_SECONDS if block_seconds is None else block_seconds
        rate, block = source.samplerate, max(1, int(seconds * source.samplerate))
        if 0 <= source.frames <= block:
            wave, _ = read_audio(path)
            yield resample(wave, rate, sample_rate)
            return
        with warnings.catch_warnings():
            stream = None if rate == sample_rate else soxr.ResampleStream(
                rate, sample_rate, 1, dtype="float32", quality=RESAMPLER_QUALITY)
            frames = emitted = 0
            while True:
                data = source.read(block, dtype="float32", always_2d=True)
                if len(data) == 0:
                    break
                if frames:
                    warnings.simplefilter("ignore", AudioWarning)    # the mix-down is said once
                wave = _mono(data, path)
                frames += len(wave)
                out = wave if stream is None else stream.resample_chunk(wave, last=False)
                emitted += len(out)
                yield out
        if frames == 0:
            raise InputError(path, "contains no audio samples (zero length)")
        if stream is not None:
            length = -(-frames * sample_rate // rate)       # as `resample`
            tail = stream.resample_chunk(np.zeros(0, np.float32), last=True)
            tail = np.pad(tail, (0, max(0, length - emitted - len(tail))))[:max(0, length - emitted)]
            yield np.ascontiguousarray(tail, dtype=np.float32)


def audio_length(path: str | os.PathLike) -> tuple[int, int] | None:
    """(frames, sample rate) from the file's header, or None if it cannot be read (`read_audio` then
    says why)."""
    try:
        info = sf.info(str(path))
    except Exception:                    # any failure is reported by read_audio with its reason
        return None
    return (info.frames, info.samplerate) if info.frames >= 0 else None


def resample(wave: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """`wave` (last axis = time) at `target_rate`, float32; the project's only resampler."""
    wave = np.asarray(wave, dtype=np.float32)
    if orig_rate == target_rate:
        return wave
    length = -(-wave.shape[-1] * target_rate // orig_rate)      # ceil, as librosa.resample
    out = soxr.resample(wave.T, orig_rate, target_rate, quality=RESAMPLER_QUALITY).T
    if out.shape[-1] < length:
        out = np.pad(out, [(0, 0)] * (out.ndim - 1) + [(0, length - out.shape[-1])])
    return np.ascontiguousarray(out[..., :length], dtype=np.float32)


def load_audio(path: str | os.PathLike, sample_rate: int) -> np.ndarray:
    """Read `path` and resample it once to `sample_rate` (mono float32, any length)."""
    wave, rate = read_audio(path)
    return resample(wave, rate, sample_rate)


def _check_file(path: Path) -> None:
    """Fail early with a precise message for the file-level problems libsndfile reports vaguely."""
    if not path.exists():
        raise InputError(path, "audio file not found")
    if path.is_dir():
        raise InputError(path, "is a directory, not an audio file")
    if not os.access(path, os.R_OK):
        raise InputError(path, "cannot read the audio file (permission denied)")
    size = path.stat().st_size
    if size == 0:
        raise InputError(path, "empty file (0 bytes), not audio")
    with open(path, "rb") as f:
        head = f.read(12)
    # libsndfile reads a WAV whose data stops early without complaint, returning fewer samples;
    # the RIFF header says how long the file should be, so a cut-off copy is caught here.
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        declared = int.from_bytes(head[4:8], "little") + 8
        if declared not in (8, 0xFFFFFFFF + 8) and size < declared:
            raise InputError(path, f"truncated WAV file: the header declares {declared} bytes, "
                                   f"the file holds {size}")


def _libsndfile_reason(error: Exception) -> str:
    """libsndfile's own words without the path it repeats."""
    text = str(error)
    return text.split(": ", 1)[1] if text.startswith("Error opening") and ": " in text else text
