"""Cutting recordings into the model's clips, and the table rows of a classified file."""
from __future__ import annotations

import numpy as np
import pytest

from asc.eval.audio_inference import FileResult, find_audio, header, result_lines, segment_wave

CLIP = 100


@pytest.mark.parametrize("length, clips, short", [
    (100, 1, False),     # exactly one clip
    (40, 1, True),       # shorter than a clip: padded, flagged
    (350, 4, False),     # 3 whole clips + a remainder of half a clip: kept
    (349, 3, False),     # remainder just under half a clip: dropped
    (200, 2, False),
])
def test_recordings_are_cut_into_whole_clips_and_a_long_enough_remainder(length, clips, short):
    wave = np.arange(1, length + 1, dtype=np.float32)
    out, was_short = segment_wave(wave, CLIP)
    assert out.shape == (clips, CLIP) and was_short is short
    flat = out.reshape(-1)
    kept = min(length, clips * CLIP)
    np.testing.assert_array_equal(flat[:kept], wave[:kept])          # in order, nothing shifted
    assert not flat[kept:].any()                                      # padding is zeros


def test_rows_average_the_clips_or_list_each_clip():
    labels = ["park", "bus", "tram"]
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.4, 0.3, 0.3]])
    result = FileResult("x.wav", probs=probs)
    (row,) = result_lines(result, labels, average=True)
    fields = row.split("\t")
    assert fields[0] == "x.wav" and fields[1] == "park" and fields[-1] == "3"
    geometric = np.exp(np.log(probs).mean(axis=0))
    np.testing.assert_allclose([float(v) for v in fields[2:5]], geometric / geometric.sum(), atol=1e-6)
    (row,) = result_lines(result, labels, average=True, aggregate="mean_prob")
    np.testing.assert_allclose([float(v) for v in row.split("\t")[2:5]], probs.mean(axis=0), atol=1e-6)
    assert header(labels).split("\t") == ["filename", "scene_label", "park", "bus", "tram", "clips"]
    rows = result_lines(result, labels, average=False)
    assert [r.split("\t")[:3] for r in rows] == [["x.wav", "0", "park"], ["x.wav", "1", "tram"], ["x.wav", "2", "park"]]
    assert header(labels, average=False).split("\t")[:3] == ["filename", "clip", "scene_label"]


def test_folders_are_searched_recursively_for_audio_of_any_case(tmp_path):
    for name in ("b.wav", "a.FLAC", "sub/c.ogg", "notes.txt", "sub/d.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    assert [p.relative_to(tmp_path).as_posix() for p in find_audio(tmp_path)] == ["a.FLAC", "b.wav", "sub/c.ogg"]
