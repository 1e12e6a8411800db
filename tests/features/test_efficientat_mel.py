"""The pretrained teachers' front end: Kaldi's filterbank against hand-derived values, the whole
pipeline against an independent numpy computation, and its selection from the feature YAML."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from asc.errors import ConfigError
from asc.features.efficientat_mel import EfficientATMel, kaldi_mel_banks
from asc.features.logmel import FeatureConfig, LogMel, load_feature_config, make_front_end

CONF = Path(__file__).resolve().parents[2] / "egs" / "dcase2024_task1" / "conf"
SR = 32000

# Filter weights worked out with `bc -l` from Kaldi's formulas (mel(f) = 1127 ln(1 + f/700); 128
# triangles spaced by delta = mel(fmax)/129 from 0 Hz; FFT bin k at k * 31.25 Hz; weight
# min((mel_k - left)/delta, (right - mel_k)/delta), clipped at 0), not by the code under test.
# (filter, FFT bin) -> weight, for fmax = 15,000 Hz (EfficientAT):
HAND_15000 = {
    (0, 0): 0.0, (0, 1): 0.18859318914852, (0, 2): 0.0,      # bin 1 is 1.81 deltas up: on the falling side
    (64, 82): 0.0, (64, 83): 0.23181882654949, (64, 84): 0.62346124005293, (64, 85): 0.98856003355789,
    (64, 86): 0.60417708387466, (64, 87): 0.22332387135257, (64, 88): 0.0,
    (127, 470): 0.83385646291538, (127, 479): 0.08263526025677, (127, 480): 0.0,
}
# for fmax = 15,500 Hz (PaSST): filter 10 spans 193.0 .. 237.6 Hz, so only bin 7 (218.75 Hz) is inside
HAND_15500 = {(10, 6): 0.0, (10, 7): 0.83419691892402, (10, 8): 0.0}


def test_kaldi_filterbank_matches_hand_derived_values():
    banks = kaldi_mel_banks(128, 1024, SR, 0.0, 15000.0)
    assert banks.shape == (128, 513) and banks.dtype == np.float32
    for (m, k), weight in HAND_15000.items():
        assert banks[m, k] == pytest.approx(weight, abs=2e-6), (m, k)
    for (m, k), weight in HAND_15500.items():
        assert kaldi_mel_banks(128, 1024, SR, 0.0, 15500.0)[m, k] == pytest.approx(weight, abs=2e-6), (m, k)


def test_kaldi_filterbank_shape_facts():
    """Peaks of at most 1 (no area normalisation; the lowest filters, narrower than an FFT bin, catch
    only a slope), every filter sees some bin, and the Nyquist column and everything above fmax are zero."""
    banks = kaldi_mel_banks(128, 1024, SR, 0.0, 15000.0)
    assert np.all(banks[:, -1] == 0)
    assert np.all(banks[:, 481:] == 0) and np.all(banks[:, 480] < 1e-6)   # bin 480 is 15 kHz: the edge
    assert banks.max() <= 1.0 and np.all(banks.max(axis=1) > 0) and np.all(banks[64:].max(axis=1) > 0.8)
    assert banks[:, 0].sum() == 0                       # DC: mel 0 is every filter's left edge or outside


def _reference(wave: np.ndarray, fmax: float) -> np.ndarray:
    """AugmentMelSTFT.eval() written out in float64 numpy: explicit framing, no torch.stft."""
    x = wave[1:] - 0.97 * wave[:-1]
    n_fft, win, hop = 1024, 800, 320
    x = np.pad(x, n_fft // 2, mode="reflect")
    n = np.arange(win)
    window = np.zeros(n_fft)
    window[(n_fft - win) // 2:(n_fft - win) // 2 + win] = 0.5 - 0.5 * np.cos(2 * np.pi * n / (win - 1))
    frames = 1 + (len(x) - n_fft) // hop
    spec = np.stack([np.fft.rfft(x[t * hop:t * hop + n_fft] * window) for t in range(frames)], axis=1)
    mel = kaldi_mel_banks(128, n_fft, SR, 0.0, fmax).astype(np.float64) @ np.abs(spec) ** 2
    return (np.log(mel + 1e-5) + 4.5) / 5


@pytest.mark.parametrize("fmax", [15000.0, 15500.0])
def test_front_end_matches_numpy_reference(fmax):
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    wave = 0.1 * rng.standard_normal(SR) + 0.3 * np.sin(2 * np.pi * 440 * t)
    ours = EfficientATMel(fmax=fmax)(torch.from_numpy(wave.astype(np.float32))).double().numpy()
    ref = _reference(wave.astype(np.float32).astype(np.float64), fmax)
    assert ours.shape == ref.shape == (128, 100)      # pre-emphasis drops a sample: 100 frames per second
    assert np.max(np.abs(ours - ref)) < 2e-4


def test_front_end_batches_and_counts_frames():
    front = EfficientATMel()
    batch = torch.randn(2, 3, SR)
    out = front(batch)
    assert out.shape == (2, 3, 128, 100)
    assert torch.allclose(out[1, 2], front(batch[1, 2]), atol=1e-5)
    assert front(torch.zeros(10 * SR)).shape == (128, 1000)
    with pytest.raises(ValueError, match="too short"):
        front(torch.zeros(400))


def test_teacher_configs_select_it_and_change_the_hash():
    for profile, fmax in (("embedded", 15000.0), ("tau22", 15500.0)):
        cfg = load_feature_config(CONF / profile / "feats_teacher.yaml")
        assert cfg.front_end == "efficientat" and cfg.fmax == fmax
        assert cfg.clip_frames == 100
        assert isinstance(make_front_end(cfg), EfficientATMel)
    student = load_feature_config(CONF / "embedded" / "feats_student.yaml")
    assert student.front_end == "librosa" and isinstance(make_front_end(student), LogMel)
    teacher = load_feature_config(CONF / "embedded" / "feats_teacher.yaml")
    as_librosa = FeatureConfig(**{**teacher.__dict__, "front_end": "librosa", "mel_norm": None})
    assert as_librosa.hash() != teacher.hash()


def test_default_front_end_keeps_old_hashes():
    """Stores built before the key existed stay valid: the default is left out of the hash."""
    old = dataclasses.asdict(FeatureConfig())
    del old["front_end"]
    assert FeatureConfig().hash() == hashlib.sha256(json.dumps(old, sort_keys=True).encode()).hexdigest()[:16]


def test_efficientat_refuses_librosa_filterbank_options():
    with pytest.raises(ConfigError, match="mel_norm"):
        FeatureConfig(front_end="efficientat", n_fft=1024, win_length=800, hop_length=320, n_mels=128,
                      fmax=15000.0, mel_norm="slaney")
