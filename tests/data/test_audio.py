"""Reading audio: every bad file is an InputError naming it; mixdown warns; resampling is right."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from asc.data.audio import AudioWarning, load_audio, read_audio, resample
from asc.errors import InputError


def write_wav(path, wave, rate=44100, subtype="PCM_16"):
    sf.write(path, wave, rate, subtype=subtype)
    return path


def sine(freq, rate, seconds=1.0, amp=0.5):
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def good_bytes(tmp_path) -> bytes:
    return write_wav(tmp_path / "good.wav", sine(440, 44100)).read_bytes()


def make_bad(tmp_path, kind):
    """A file with a .wav name that is broken in the way `kind` says."""
    path = tmp_path / f"{kind.replace(' ', '_')}.wav"
    if kind == "missing":
        pass
    elif kind == "directory":
        path.mkdir()
    elif kind == "zero bytes":
        path.write_bytes(b"")
    elif kind == "not audio":
        path.write_text("scene,label\nairport,1\n" * 20)
    elif kind == "truncated header":
        path.write_bytes(good_bytes(tmp_path)[:20])
    elif kind == "corrupt header":
        data = good_bytes(tmp_path)
        path.write_bytes(data[:12] + b"junk" * 6 + data[36:])
    elif kind == "truncated data":
        path.write_bytes(good_bytes(tmp_path)[:5000])
    elif kind == "no samples":
        write_wav(path, np.zeros(0, dtype=np.float32))
    elif kind in ("nan", "inf"):
        wave = sine(440, 44100)
        wave[100] = np.nan if kind == "nan" else np.inf
        write_wav(path, wave, subtype="FLOAT")
    return path


@pytest.mark.parametrize("kind, words", [
    ("missing", "not found"),
    ("directory", "directory"),
    ("zero bytes", "empty file"),
    ("not audio", "not a readable audio file"),
    ("truncated header", "truncated"),
    ("corrupt header", "not a readable audio file"),
    ("truncated data", "truncated"),
    ("no samples", "no audio samples"),
    ("nan", "NaN or infinite"),
    ("inf", "NaN or infinite"),
])
def test_bad_file_is_an_input_error_naming_it(tmp_path, kind, words):
    path = make_bad(tmp_path, kind)
    with pytest.raises(InputError) as err:
        load_audio(path, 32000)
    assert str(path) in str(err.value)
    assert words in str(err.value)


def test_stereo_is_mixed_down_with_a_warning_naming_the_file(tmp_path):
    left, right = sine(440, 44100), sine(1000, 44100, amp=0.25)
    path = write_wav(tmp_path / "stereo.wav", np.stack([left, right], axis=1), subtype="FLOAT")
    with pytest.warns(AudioWarning, match="stereo.wav: has 2 channels"):
        wave, rate = read_audio(path)
    assert rate == 44100
    np.testing.assert_allclose(wave, (left + right) / 2, atol=1e-7)


def test_resample_44k1_to_32k_keeps_frequency_and_level(tmp_path):
    path = write_wav(tmp_path / "tone.wav", sine(1000, 44100), subtype="FLOAT")
    wave = load_audio(path, 32000)
    assert wave.dtype == np.float32 and wave.shape == (32000,)
    spectrum = np.abs(np.fft.rfft(wave * np.hanning(len(wave))))
    assert np.argmax(spectrum) == 1000          # 1-Hz bins
    middle = wave[1000:-1000]                   # away from the edges of the filter
    assert abs(np.sqrt(np.mean(middle ** 2)) - 0.5 / np.sqrt(2)) < 1e-3
    np.testing.assert_array_equal(wave, resample(read_audio(path)[0], 44100, 32000))


def test_any_rate_and_length(tmp_path):
    flac = tmp_path / "clip.flac"
    sf.write(flac, sine(440, 48000, seconds=0.37), 48000)
    wave = load_audio(flac, 32000)
    assert wave.shape == (int(np.ceil(0.37 * 48000 * 32000 / 48000)),)
    same = write_wav(tmp_path / "at32k.wav", sine(440, 32000), rate=32000, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(same, 32000), sine(440, 32000))


def test_resample_batch_equals_one_by_one():
    waves = np.stack([sine(300, 44100), sine(5000, 44100)])
    batch = resample(waves, 44100, 32000)
    assert batch.shape == (2, 32000)
    for i in range(2):
        np.testing.assert_array_equal(batch[i], resample(waves[i], 44100, 32000))
