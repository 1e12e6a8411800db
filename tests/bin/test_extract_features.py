"""Stage 2 end to end: sharded extraction, merge, skipping finished work, rebuilding damaged files."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import soundfile as sf
import torch

from asc.bin import extract_features, merge_features
from asc.data.audio import AudioWarning, load_audio
from asc.data.datadir import DataDir, load_datadir, save_datadir
from asc.data.feature_store import FeatureStore
from asc.errors import InputError
from asc.features import extract
from asc.features.logmel import LogMel, load_feature_config

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "egs" / "dcase2024_task1" / "conf" / "common"
STUDENT, TEACHER = CONF / "feats_student.yaml", CONF.parent / "embedded" / "feats_teacher.yaml"
N_CLIPS = 70            # three front-end batches of 32: shards of 1, 2 and 3 jobs differ


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """The entry point sets torch's thread count for its job; give the rest of the suite its own back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def make_datadir(root: Path, n: int = N_CLIPS, seed: int = 0) -> Path:
    """`n` 1-s 44.1-kHz clips (noise with a tone) and their data directory."""
    rng = np.random.default_rng(seed)
    audio = root / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    wav, label = {}, {}
    t = np.arange(44100) / 44100
    for i in range(n):
        scene = ("park", "bus", "tram")[i % 3]
        utt = f"{scene}-lyon-{i // 10}-{i}-0-a"
        wave = 0.05 * rng.standard_normal(44100) + 0.3 * np.sin(2 * np.pi * rng.uniform(100, 8000) * t)
        sf.write(audio / f"{utt}.wav", wave.astype(np.float32), 44100, subtype="PCM_16")
        wav[utt], label[utt] = str(audio / f"{utt}.wav"), scene
    save_datadir(root / "data", DataDir(wav=wav, label=label))
    return root / "data"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    return make_datadir(tmp_path_factory.mktemp("corpus"))


def run_stage(config: Path, data: Path, out: Path, num_shards: int, *extra: str) -> None:
    """What run.sh does: every shard job, then the merge (each must succeed)."""
    for j in range(1, num_shards + 1):
        assert extract_features.main(["--config", str(config), "--data", str(data), "--out", str(out),
                                      "--shard", str(j), "--num-shards", str(num_shards), *extra]) == 0
    assert merge_features.main(["--out", str(out), "--num-shards", str(num_shards), "--data", str(data),
                                "--config", str(config)]) == 0


def status(config: Path, data: Path, out: Path) -> int:
    return extract_features.main(["--status", "--config", str(config), "--data", str(data), "--out", str(out)])


def read_all(out: Path) -> tuple[list[str], np.ndarray]:
    with h5py.File(out / "feats.h5") as f:
        return list(f["utts"].asstr()[:]), f["feats"][:]


def mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory) -> tuple[list[str], np.ndarray]:
    """Student features of the corpus by one job (two torch threads, where batching would show)."""
    out = tmp_path_factory.mktemp("ref") / "student"
    threads = torch.get_num_threads()
    run_stage(STUDENT, corpus, out, 1, "--threads", "2")
    torch.set_num_threads(threads)
    return read_all(out)


def test_one_job_gives_the_front_end_of_each_clip(corpus, reference):
    utts, feats = reference
    data = load_datadir(corpus)
    assert utts == data.utts and feats.shape == (N_CLIPS, 256, 65) and feats.dtype == np.float16
    cfg = load_feature_config(STUDENT)
    for i in (0, 33, 69):
        wave = torch.from_numpy(load_audio(data.wav[utts[i]], cfg.sample_rate))
        np.testing.assert_allclose(feats[i], LogMel(cfg)(wave).numpy(), atol=0.02, rtol=2e-3)


def test_three_jobs_give_bit_identical_features(corpus, reference, tmp_path):
    out = tmp_path / "student"
    run_stage(STUDENT, corpus, out, 3, "--threads", "2")
    utts, feats = read_all(out)
    assert utts == reference[0]
    assert np.array_equal(feats, reference[1])
    assert not (out / "shards").exists()           # removed after the merge
    assert (out / "feats.done").is_file()
    assert FeatureStore(out / "feats.h5", config=load_feature_config(STUDENT)).utts == utts


def test_rerun_rewrites_nothing(corpus, tmp_path):
    out = tmp_path / "teacher"
    for j in (1, 2, 3):
        extract_features.main(["--config", str(TEACHER), "--data", str(corpus), "--out", str(out),
                               "--shard", str(j), "--num-shards", "3"])
    shards = mtimes(out)
    assert len(shards) == 6                        # three shards and their done markers
    time.sleep(0.01)
    extract_features.main(["--config", str(TEACHER), "--data", str(corpus), "--out", str(out),
                           "--shard", "2", "--num-shards", "3"])
    assert mtimes(out) == shards                   # a finished shard is skipped
    assert status(TEACHER, corpus, out) == 2
    run_stage(TEACHER, corpus, out, 3)
    merged = mtimes(out)
    assert set(merged) == {"feats.h5", "feats.done"}
    assert status(TEACHER, corpus, out) == 0
    time.sleep(0.01)
    run_stage(TEACHER, corpus, out, 3)             # run.sh launched again: nothing to do
    run_stage(TEACHER, corpus, out, 5)             # even with another number of jobs
    assert mtimes(out) == merged


def extract_shards(config: Path, data: Path, out: Path, num_shards: int) -> None:
    for j in range(1, num_shards + 1):
        assert extract_features.main(["--config", str(config), "--data", str(data), "--out", str(out),
                                      "--shard", str(j), "--num-shards", str(num_shards)]) == 0


def test_truncated_shard_is_rebuilt(corpus, reference, tmp_path):
    out = tmp_path / "student"
    extract_shards(STUDENT, corpus, out, 2)
    shard = out / "shards" / "feats.1.h5"
    shard.write_bytes(shard.read_bytes()[:100_000])
    assert merge_features.main(["--out", str(out), "--num-shards", "2"]) == 1   # refuses the damaged shard
    assert not (out / "feats.h5").exists()
    before = mtimes(out)
    time.sleep(0.01)
    extract_shards(STUDENT, corpus, out, 2)
    after = mtimes(out)
    assert after["shards/feats.1.h5"] != before["shards/feats.1.h5"]       # rebuilt
    assert after["shards/feats.2.h5"] == before["shards/feats.2.h5"]       # finished: left alone
    run_stage(STUDENT, corpus, out, 2)
    assert np.array_equal(read_all(out)[1], reference[1])


def test_truncated_store_is_detected_and_rebuilt(corpus, reference, tmp_path, capsys):
    out = tmp_path / "student"
    run_stage(STUDENT, corpus, out, 2)
    store = out / "feats.h5"
    store.write_bytes(store.read_bytes()[: store.stat().st_size // 3])
    assert status(STUDENT, corpus, out) == 2
    assert "truncated" in capsys.readouterr().out
    with pytest.raises(InputError, match="truncated"):
        FeatureStore(store)
    run_stage(STUDENT, corpus, out, 2)
    assert np.array_equal(read_all(out)[1], reference[1])
    assert status(STUDENT, corpus, out) == 0


def test_changed_config_makes_the_store_stale(corpus, tmp_path, capsys):
    out = tmp_path / "teacher"
    run_stage(TEACHER, corpus, out, 1)
    changed = tmp_path / "feats_teacher.yaml"
    changed.write_text(re.sub(r"fmax: [0-9.]+", "fmax: 14000.0", TEACHER.read_text()))
    assert status(changed, corpus, out) == 2
    assert "stale" in capsys.readouterr().out
    with pytest.raises(InputError, match="stale"):
        FeatureStore(out / "feats.h5", config=load_feature_config(changed))
    run_stage(changed, corpus, out, 1)             # the rebuild replaces it
    assert FeatureStore(out / "feats.h5", config=load_feature_config(changed))


def subset_datadir(corpus: Path, folder: Path, n: int) -> Path:
    data = load_datadir(corpus)
    save_datadir(folder, data.subset(data.utts[:n]))
    return folder


def test_store_of_another_data_dir_is_refused(corpus, tmp_path):
    out = tmp_path / "teacher"
    small = subset_datadir(corpus, tmp_path / "small", 40)
    run_stage(TEACHER, small, out, 1)
    store = FeatureStore(out / "feats.h5")
    with pytest.raises(InputError) as err:
        store.check_covers(load_datadir(corpus).utts, str(corpus))
    assert str(out / "feats.h5") in str(err.value) and f"30 of {N_CLIPS}" in str(err.value)
    assert status(TEACHER, corpus, out) == 2       # not the store of the full data directory


def test_merge_checks_the_shards_against_the_data_dir(corpus, tmp_path, capsys):
    out = tmp_path / "teacher"
    extract_shards(TEACHER, subset_datadir(corpus, tmp_path / "small", 40), out, 2)
    capsys.readouterr()
    assert merge_features.main(["--out", str(out), "--num-shards", "2", "--data", str(corpus)]) == 1
    err = capsys.readouterr().err
    assert "another list of utterances" in err and not (out / "feats.h5").exists()


def test_merge_needs_every_shard(corpus, tmp_path, capsys):
    out = tmp_path / "teacher"
    extract_features.main(["--config", str(TEACHER), "--data", str(corpus), "--out", str(out),
                           "--shard", "1", "--num-shards", "3"])
    assert merge_features.main(["--out", str(out), "--num-shards", "3"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("merge_features: ") and "feats.2.h5" in err and "shard 2 of 3" in err
    assert not (out / "feats.h5").exists()


def test_short_disk_fails_before_writing(corpus, tmp_path, capsys, monkeypatch):
    out = tmp_path / "student"
    monkeypatch.setattr(extract.shutil, "disk_usage", lambda path: type("U", (), {"free": 1000})())
    assert extract_features.main(["--config", str(STUDENT), "--data", str(corpus), "--out", str(out)]) == 1
    assert "not enough free disk space" in capsys.readouterr().err
    assert not list((out / "shards").glob("*.h5"))


def test_bad_audio_stops_the_job_naming_the_file(tmp_path, capsys):
    data = make_datadir(tmp_path, n=3)
    bad = Path(load_datadir(data).wav["bus-lyon-0-1-0-a"])
    bad.write_text("not a wav file")
    out = tmp_path / "dump"
    assert extract_features.main(["--config", str(TEACHER), "--data", str(data), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("extract_features: ") and str(bad) in err and len(err.strip().splitlines()) == 1
    assert not (out / "shards" / "feats.1.h5").exists()
    assert not list((out / "shards").glob(".*tmp*"))


def test_stereo_and_short_clips_warn_naming_the_file(tmp_path):
    data = make_datadir(tmp_path, n=2)
    wav = load_datadir(data).wav
    stereo, short = (Path(wav[u]) for u in sorted(wav))
    sf.write(stereo, np.zeros((44100, 2), np.float32), 44100)
    sf.write(short, np.zeros(22050, np.float32), 44100)
    with pytest.warns(AudioWarning) as record:
        assert extract_features.main(["--config", str(TEACHER), "--data", str(data), "--out",
                                      str(tmp_path / "dump")]) == 0
    messages = [str(w.message) for w in record]
    assert any(str(stereo) in m and "2 channels" in m for m in messages)
    assert any(str(short) in m and "zero-padded" in m for m in messages)


def test_killed_extraction_resumes_without_redoing_finished_shards(corpus, reference, tmp_path):
    """SIGKILL while shard 2 is being written; the same commands again finish the job.

    The process kills itself while reading the 40th clip (the 8th of shard 2), so the moment does
    not depend on timing.
    """
    out = tmp_path / "student"
    script = f"""
import os, signal
from asc.bin import extract_features
from asc.features import extract
read_clip, calls = extract.read_clip, [0]
def killed_at_40(*args):
    calls[0] += 1
    if calls[0] == 40:
        os.kill(os.getpid(), signal.SIGKILL)
    return read_clip(*args)
extract.read_clip = killed_at_40
for j in (1, 2, 3):
    extract_features.main(['--config', {str(STUDENT)!r}, '--data', {str(corpus)!r}, '--out', {str(out)!r},
                           '--shard', str(j), '--num-shards', '3'])
"""
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    first, shards = out / "shards" / "feats.1.done", out / "shards"
    assert first.exists() and not (shards / "feats.2.h5").exists()
    assert list(shards.glob(".feats.2.h5.tmp*"))                             # killed half-way
    before = mtimes(out)
    extract_shards(STUDENT, corpus, out, 3)
    assert mtimes(out)["shards/feats.1.h5"] == before["shards/feats.1.h5"]   # not redone
    assert not list((out / "shards").glob(".*tmp*"))                         # the killed job's leftovers
    run_stage(STUDENT, corpus, out, 3)
    assert np.array_equal(read_all(out)[1], reference[1])


def test_merge_without_options_does_not_drop_a_newer_extraction(corpus, tmp_path):
    out = tmp_path / "teacher"
    run_stage(TEACHER, corpus, out, 1)
    changed = tmp_path / "feats_teacher.yaml"
    changed.write_text(re.sub(r"fmax: [0-9.]+", "fmax: 14000.0", TEACHER.read_text()))
    extract_shards(changed, corpus, out, 2)
    assert merge_features.main(["--out", str(out), "--num-shards", "2"]) == 0
    assert FeatureStore(out / "feats.h5", config=load_feature_config(changed))


def test_a_wav_rewritten_under_its_name_or_another_librosa_makes_the_store_stale(tmp_path, capsys, monkeypatch):
    data = make_datadir(tmp_path, n=4)
    out = tmp_path / "dump"
    run_stage(TEACHER, data, out, 2)
    assert status(TEACHER, data, out) == 0
    wav = Path(load_datadir(data).wav[load_datadir(data).utts[2]])
    before = read_all(out)[1][2]
    sf.write(wav, (0.2 * np.random.default_rng(9).standard_normal(44100)).astype(np.float32), 44100,
             subtype="PCM_16")                               # same name, same size, other audio
    capsys.readouterr()
    assert status(TEACHER, data, out) == 2
    assert "sources.audio" in capsys.readouterr().out
    run_stage(TEACHER, data, out, 2)
    assert status(TEACHER, data, out) == 0 and not np.array_equal(read_all(out)[1][2], before)
    versions = extract.library_versions()
    monkeypatch.setattr(extract, "library_versions", lambda: {**versions, "librosa": "1.0.0"})
    assert status(TEACHER, data, out) == 2
    assert "sources.libraries" in capsys.readouterr().out


def test_non_finite_features_stop_the_job_naming_the_clip(tmp_path, capsys):
    data = make_datadir(tmp_path, n=3)
    huge = Path(load_datadir(data).wav["bus-lyon-0-1-0-a"])
    sf.write(huge, np.full(44100, 3e38, np.float32), 44100, subtype="FLOAT")
    out = tmp_path / "dump"
    assert extract_features.main(["--config", str(TEACHER), "--data", str(data), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert str(huge) in err and ("NaN or infinite" in err or "overflow" in err)
    assert not (out / "shards" / "feats.1.done").exists()


def test_only_a_clips_worth_of_a_long_file_is_read(tmp_path, monkeypatch):
    long = tmp_path / "long.wav"
    sf.write(long, np.zeros((44100 * 120, 2), np.float32), 44100)     # 2 minutes, stereo
    frames = []
    real_read = sf.read
    monkeypatch.setattr(sf, "read", lambda *a, **kw: frames.append(kw.get("frames")) or real_read(*a, **kw))
    cfg = load_feature_config(STUDENT)
    with pytest.warns(AudioWarning, match="120.000 s long, cut to 1 s"):
        wave = extract.read_clip(str(long), cfg)
    assert len(wave) == cfg.clip_samples and 0 < frames[0] <= 2 * 44100
