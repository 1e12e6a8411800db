"""Feature extraction and reading against odd input: a clip at another sample rate or with another
channel count is resampled or mixed down with a warning naming the file (the others unharmed), and
reading a feature store holds one clip at a time, whatever the store's size."""
from __future__ import annotations

import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from asc.bin import extract_features, merge_features
from asc.data.audio import AudioWarning
from asc.data.datadir import DataDir, load_datadir, save_datadir
from asc.data.dataset import FeatureDataset
from asc.data.feature_store import FeatureStore, write_store
from asc.features.logmel import FeatureConfig

ROOT = Path(__file__).resolve().parents[2]
TEACHER = ROOT / "egs" / "dcase2024_task1" / "conf" / "embedded" / "feats_teacher.yaml"


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tone(rate: int, freq: float, channels: int = 1) -> np.ndarray:
    t = np.arange(rate) / rate
    wave = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return wave if channels == 1 else np.stack([wave] * channels, axis=1)


def test_other_rate_and_channel_count_are_converted_and_named(tmp_path):
    """Eight 44.1-kHz mono clips, one at 22.05 kHz, one with 4 channels; all of the same 1-kHz tone."""
    audio = tmp_path / "audio"
    audio.mkdir()
    wav, label = {}, {}
    for i in range(10):
        utt = f"park-lyon-{i}-{i}-0-a"
        rate, channels = (22050, 1) if i == 3 else (44100, 4) if i == 6 else (44100, 1)
        sf.write(audio / f"{utt}.wav", tone(rate, 1000.0, channels), rate, subtype="PCM_16")
        wav[utt], label[utt] = str(audio / f"{utt}.wav"), "park"
    save_datadir(tmp_path / "data", DataDir(wav=wav, label=label))
    odd_rate, odd_channels = wav["park-lyon-3-3-0-a"], wav["park-lyon-6-6-0-a"]

    with pytest.warns(AudioWarning) as record:
        assert extract_features.main(["--config", str(TEACHER), "--data", str(tmp_path / "data"),
                                      "--out", str(tmp_path / "dump")]) == 0
    messages = [str(w.message) for w in record]
    assert [m for m in messages if "sample rate" in m] == [
        f"{odd_rate}: sample rate 22050 Hz, unlike the 44100 Hz of the other 9 clips of this job; "
        f"resampled to 32000 Hz"]
    assert [m for m in messages if "channels" in m] == [f"{odd_channels}: has 4 channels; mixed down to mono "
                                                          f"by averaging"]
    assert merge_features.main(["--out", str(tmp_path / "dump"), "--num-shards", "1",
                                "--data", str(tmp_path / "data"), "--config", str(TEACHER)]) == 0
    store = FeatureStore(tmp_path / "dump" / "feats.h5")
    reference = store.read_utt("park-lyon-0-0-0-a").astype(np.float32)
    # the same tone: a mixed-down clip gives the same features, a resampled one nearly the same
    np.testing.assert_array_equal(store.read_utt("park-lyon-6-6-0-a"), store.read_utt("park-lyon-0-0-0-a"))
    resampled = store.read_utt("park-lyon-3-3-0-a").astype(np.float32)
    peak = reference.mean(axis=1).argmax()
    assert resampled.mean(axis=1).argmax() == peak
    assert abs(resampled[peak].mean() - reference[peak].mean()) < 0.05


def test_one_rate_for_every_clip_gives_no_warning(tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    wav = {}
    for i in range(3):
        utt = f"bus-lyon-{i}-{i}-0-a"
        sf.write(audio / f"{utt}.wav", tone(48000, 500.0), 48000, subtype="PCM_16")
        wav[utt] = str(audio / f"{utt}.wav")
    save_datadir(tmp_path / "data", DataDir(wav=wav, label=dict.fromkeys(wav, "bus")))
    with warnings.catch_warnings():
        warnings.simplefilter("error", AudioWarning)
        assert extract_features.main(["--config", str(TEACHER), "--data", str(tmp_path / "data"),
                                      "--out", str(tmp_path / "dump")]) == 0


def test_reading_a_store_holds_one_clip_at_a_time(tmp_path):
    """A 200-clip store (6.7 MB of float16) read clip by clip, directly and through the dataset:
    the Python-side peak stays near one clip, not the store."""
    n, mels, frames = 200, 256, 65
    utts = [f"tram-lyon-{i:03d}-{i}-0-a" for i in range(n)]
    front = FeatureConfig(n_mels=mels)
    feats = np.random.default_rng(0).normal(size=(n, mels, frames)).astype(np.float32)
    path = tmp_path / "feats.h5"
    write_store(path, utts, feats, front.to_yaml(), front.hash(), "data/train")
    del feats
    data = DataDir(wav={u: f"audio/{u}.wav" for u in utts}, label=dict.fromkeys(utts, "tram"))
    save_datadir(tmp_path / "data", data)
    store_bytes = n * mels * frames * 2
    clip_bytes = mels * frames * 4

    store = FeatureStore(path)
    dataset = FeatureDataset(load_datadir(tmp_path / "data"), store, ["tram"], source=str(tmp_path / "data"))
    store.read(0)
    dataset[0]                                          # open the file outside the measurement
    tracemalloc.start()
    total = 0.0
    for i in range(n):
        total += float(store.read(i)[0, 0])
        total += float(dataset[i][0][0, 0, 0])
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert np.isfinite(total)
    assert peak < 8 * clip_bytes < store_bytes / 10, f"peak {peak} B while reading a {store_bytes} B store"
