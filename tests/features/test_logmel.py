"""The torch log-mel front end against librosa, its frame counts and its configs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from asc.errors import ConfigError
from asc.features.logmel import FeatureConfig, LogMel, librosa_power_mel, load_feature_config

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "egs" / "dcase2024_task1" / "conf"
# The student's front end, and the librosa front end at the teacher's STFT sizes (the teacher YAMLs
# select the EfficientAT front end: tests/features/test_efficientat_mel.py).
CONFIGS = {"student": load_feature_config(CONF / "embedded" / "feats_student.yaml"),
           "teacher": FeatureConfig(n_fft=1024, win_length=800, hop_length=320, n_mels=128, fmax=15500.0)}
SR = 32000


def signals(seed: int = 0) -> dict[str, np.ndarray]:
    """Random (white and integrated noise) and tonal (pure and noisy sinusoids) 1-s test signals."""
    rng = np.random.default_rng(seed)
    t = np.arange(SR) / SR
    freqs, amps = rng.uniform(50, 15000, 4), rng.uniform(0.01, 0.5, 4)
    tones = sum(a * np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for a, f in zip(amps, freqs))
    return {
        "white noise": rng.standard_normal((3, SR)) * 0.1,
        "brown noise": np.cumsum(rng.standard_normal((2, SR)), axis=-1) * 1e-3,
        "tones": tones[None],
        "tones in noise": (tones + 1e-3 * rng.standard_normal(SR))[None],
        "chirp": 0.3 * np.sin(2 * np.pi * (100 * t + 7000 * t ** 2))[None],
        # noise of random colour and level under loud tones (bench/mel_frontend.py's clips): many mel
        # values lie just above the 50-dB floor, where a float32 FFT's rounding reached 1e-4
        "noise under tones": scene_like(np.random.default_rng(seed), 8),
    }


def relative_error(ours: np.ndarray, ref: np.ndarray) -> float:
    """The largest relative error within 50 dB of each clip's peak (below: against the 50-dB floor)."""
    peak = ref.max(axis=(-2, -1), keepdims=True)
    return float((np.abs(ours - ref) / np.maximum(ref, 1e-5 * peak)).max())


def scene_like(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` clips of white/brown noise at -60 to -10 dB under up to three tones of random level."""
    t = np.arange(SR) / SR
    level = 10 ** rng.uniform(-3, -0.5, (n, 1))
    brown = np.cumsum(rng.standard_normal((n, SR)), axis=-1)
    brown /= np.abs(brown).max(axis=-1, keepdims=True)
    mix = rng.uniform(0, 1, (n, 1))
    noise = level * (mix * rng.standard_normal((n, SR)) + (1 - mix) * brown)
    return noise + sum(rng.uniform(0, 0.3, (n, 1)) * np.sin(2 * np.pi * rng.uniform(50, 15000, (n, 1)) * t)
                       for _ in range(3))


@pytest.mark.parametrize("name", ["student", "teacher"])
@pytest.mark.parametrize("kind", ["white noise", "brown noise", "tones", "tones in noise", "chirp", "noise under tones"])
def test_power_mel_matches_librosa(name, kind):
    """Relative error below 1e-4 on every mel value within 50 dB of the clip's peak.

    Values below that are held to 1e-4 of the 50-dB floor (the float16 store quantises log-mels far
    more coarsely anyway). This runs with the suite's one thread; the next test with 1 and 2.
    """
    cfg = CONFIGS[name]
    wave = signals()[kind].astype(np.float32)
    ours = LogMel(cfg).power_mel(torch.from_numpy(wave)).double().numpy()
    ref = librosa_power_mel(wave, cfg)
    assert ours.shape == ref.shape
    error = relative_error(ours, ref)
    assert error < 1e-4, f"max relative error {error:.2e}"
    assert np.abs(ours - ref).max() / ref.max() < 1e-5


# Every signal through both front ends in a fresh process with the given number of intra-op threads;
# prints {"config/signal": max relative error}. Fresh processes, because the float32 FFT that the
# front end once used went wrong in only some processes with 2 threads (3 of 45).
_IN_A_FRESH_PROCESS = """
import json, sys
import numpy as np, torch
torch.set_num_threads(int(sys.argv[1]))
sys.path.insert(0, sys.argv[2])
from test_logmel import CONFIGS, relative_error, signals
from asc.features.logmel import LogMel, librosa_power_mel
errors = {}
for name, cfg in CONFIGS.items():
    front = LogMel(cfg)
    for kind, wave in signals().items():
        wave = wave.astype(np.float32)
        with torch.inference_mode():
            ours = front.power_mel(torch.from_numpy(wave)).double().numpy()
        errors[f"{name}/{kind}"] = relative_error(ours, librosa_power_mel(wave, cfg))
print(json.dumps({"threads": torch.get_num_threads(), "errors": errors}))
"""


def test_power_mel_matches_librosa_with_1_and_2_threads():
    """The 1e-4 promise holds whatever the thread count (the recipe extracts with several threads)."""
    here = Path(__file__).resolve().parent
    for threads in (1, 2, 2):      # each a fresh process
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        done = subprocess.run([sys.executable, "-c", _IN_A_FRESH_PROCESS, str(threads), str(here)], env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        result = json.loads(done.stdout.strip().splitlines()[-1])
        assert result["threads"] == threads
        assert len(result["errors"]) == 2 * len(signals())
        worst = max(result["errors"], key=result["errors"].get)
        assert result["errors"][worst] < 1e-4, f"{threads} threads: {worst}: {result['errors'][worst]:.2e}"
        # The margin that makes the promise independent of the FFT kernel: the float64 STFT rounds at
        # about 1e-6 here; a float32 one reached 2e-5 to 1e-4 on these signals, with any thread count.
        assert result["errors"][worst] < 1e-5, f"{threads} threads: {worst}: {result['errors'][worst]:.2e}"


@pytest.mark.parametrize("n_mels", [1, 5, 40])
def test_any_number_of_mel_bins_matches_librosa(n_mels):
    cfg = FeatureConfig(n_fft=512, win_length=400, hop_length=160, n_mels=n_mels, fmin=50.0, fmax=8000.0)
    wave = signals(3)["white noise"].astype(np.float32)
    ours = LogMel(cfg).power_mel(torch.from_numpy(wave)).double().numpy()
    ref = librosa_power_mel(wave, cfg)
    assert ours.shape == (3, n_mels, 201)
    assert (np.abs(ours - ref) / np.maximum(ref, 1e-5 * ref.max())).max() < 1e-4


@pytest.mark.parametrize("name, frames, mels", [("student", 65, 256), ("teacher", 101, 128)])
def test_frames_of_one_second(name, frames, mels):
    cfg = CONFIGS[name]
    assert cfg.clip_frames == frames
    out = LogMel(cfg)(torch.zeros(2, 3, SR))
    assert out.shape == (2, 3, mels, frames)
    assert LogMel(cfg)(torch.zeros(SR)).shape == (mels, frames)


def test_log_is_log_of_mel_plus_eps():
    cfg = CONFIGS["teacher"]
    wave = torch.from_numpy(signals(1)["white noise"].astype(np.float32))
    front = LogMel(cfg)
    expected = torch.log(front.power_mel(wave) + cfg.log_eps)
    assert torch.equal(front(wave), expected)
    silent = front(torch.zeros(1, SR))
    assert torch.allclose(silent, torch.full_like(silent, float(np.log(cfg.log_eps))))


def test_input_is_left_alone():
    wave = torch.randn(2, SR)
    copy = wave.clone()
    LogMel(CONFIGS["student"])(wave)
    assert torch.equal(wave, copy)


def test_configs_follow_the_published_front_ends():
    student, teacher = CONFIGS["student"], CONFIGS["teacher"]
    assert (student.sample_rate, student.n_fft, student.win_length, student.hop_length, student.n_mels) == \
        (32000, 4096, 3072, 500, 256)
    assert (teacher.sample_rate, teacher.n_fft, teacher.win_length, teacher.hop_length, teacher.n_mels) == \
        (32000, 1024, 800, 320, 128)
    assert student.fmin == 0.0 and student.fmax is None and student.log_eps == 1e-5
    # the real-data profile extracts the same student features
    assert load_feature_config(CONF / "tau22" / "feats_student.yaml") == student


def test_config_hash_tracks_every_setting():
    base = FeatureConfig()
    assert FeatureConfig(fmin=0).hash() == base.hash()          # int and float spellings agree
    assert FeatureConfig(fmax=15000.0).hash() != base.hash()
    assert FeatureConfig(log_eps=1e-6).hash() != base.hash()


def test_bad_configs_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="win_length"):
        FeatureConfig(win_length=5000)
    with pytest.raises(ConfigError, match="fmax"):
        FeatureConfig(fmax=20000.0)
    bad = tmp_path / "feats.yaml"
    bad.write_text("n_mels: 64\nhop: 100\n")
    with pytest.raises(ConfigError, match=r"feats\.yaml.*'hop'"):
        load_feature_config(bad)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_matches_cpu():
    cfg = CONFIGS["student"]
    wave = torch.from_numpy(signals(2)["white noise"].astype(np.float32))
    cpu = LogMel(cfg)(wave)
    gpu = LogMel(cfg).to("cuda")(wave.to("cuda")).cpu()
    assert torch.allclose(gpu, cpu, atol=1e-4)
