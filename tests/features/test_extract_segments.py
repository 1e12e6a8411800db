"""Segments of long recordings (utt2segment) in stage 2: each clip is its stretch of the file, at any
rate and format, padded past the file's end; segments of another length than the clips are refused."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asc.data.audio import load_audio
from asc.data.datadir import DataDir
from asc.errors import InputError
from asc.features import extract
from asc.features.logmel import load_feature_config

ROOT = Path(__file__).resolve().parents[2]
STUDENT = ROOT / "egs" / "dcase2024_task1" / "conf" / "common" / "feats_student.yaml"


@pytest.mark.parametrize("fmt, rate", [("wav", 32000), ("flac", 22050)])
def test_a_segment_is_its_stretch_of_the_file(tmp_path, fmt, rate):
    cfg = load_feature_config(STUDENT)
    rng = np.random.default_rng(0)
    path = tmp_path / f"long.{fmt}"
    sf.write(path, (0.3 * rng.standard_normal((int(3.5 * rate), 2))).astype(np.float32), rate)
    whole = load_audio(path, cfg.sample_rate)
    clip = extract.read_clip(str(path), cfg, span=(1.0, 2.0))
    assert clip.shape == (cfg.clip_samples,)
    middle = slice(cfg.sample_rate // 10, -cfg.sample_rate // 10)     # away from the resampler's edges
    np.testing.assert_allclose(clip[middle], whole[cfg.sample_rate:2 * cfg.sample_rate][middle], atol=2e-3)
    tail = extract.read_clip(str(path), cfg, span=(3.0, 4.0))       # half past the end: zero-padded
    assert not tail[cfg.sample_rate // 2 + 50:].any() and tail[:cfg.sample_rate // 2 - 50].any()


def test_segments_of_another_length_than_the_clips_are_refused(tmp_path):
    cfg = load_feature_config(STUDENT)
    data = DataDir(wav={"u": "x.wav"}, segment={"u": "0.000 2.000"})
    with pytest.raises(InputError, match="segments of 2 s, but the feature config cuts 1-s clips"):
        extract.check_segments(data, cfg, "data/all")
    extract.check_segments(DataDir(wav={"u": "x.wav"}, segment={"u": "3.000 4.000"}), cfg, "data/all")


def test_where_segments_are_cut_from_is_part_of_the_store_inputs():
    a = DataDir(wav={"u": "x.wav"}, segment={"u": "0.000 1.000"})
    b = DataDir(wav={"u": "x.wav"}, segment={"u": "0.500 1.500"})
    assert extract.store_sources(a) != extract.store_sources(b)
    assert "segments" not in extract.store_sources(DataDir(wav={"u": "x.wav"}))   # whole files: as before
