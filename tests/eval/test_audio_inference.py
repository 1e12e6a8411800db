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


@pytest.mark.parametrize("length, hop, starts", [
    (100, 50, [0]),                  # one clip: no second start fits, nothing left uncovered
    (200, 50, [0, 50, 100]),         # overlapping clips every half clip
    (260, 50, [0, 50, 100, 150]),    # the last whole clip ends at 250: 10 uncovered samples dropped
    (320, 80, [0, 80, 160, 240]),    # 60 uncovered after 260 (>= half a clip): a clip from 240, padded
    (300, 80, [0, 80, 160]),         # 40 uncovered: dropped
    (230, 30, [0, 30, 60, 90, 120]), # 10 uncovered after the clip at 120: dropped
])
def test_a_hop_below_the_clip_length_gives_overlapping_clips(length, hop, starts):
    wave = np.arange(1, length + 1, dtype=np.float32)
    out, was_short = segment_wave(wave, CLIP, hop)
    assert not was_short and len(out) == len(starts)
    for clip, start in zip(out, starts):
        piece = wave[start:start + CLIP]
        np.testing.assert_array_equal(clip[:len(piece)], piece)
        assert not clip[len(piece):].any()


def test_streamed_pieces_cut_the_clips_of_the_whole_wave():
    """The reader streams a file in blocks; whatever the block sizes, the clips are those of the whole wave."""
    from asc.eval.audio_inference import ClipCutter

    wave = np.arange(1, 1001, dtype=np.float32)
    for hop in (100, 37):
        whole, _ = segment_wave(wave, CLIP, hop)
        cutter = ClipCutter(CLIP, hop)
        bounds = [0, 7, 150, 151, 420, 999, 1000]
        clips = [c.copy() for a, b in zip(bounds, bounds[1:]) for c in cutter.push(wave[a:b])]
        last = cutter.finish()
        clips += [] if last is None else [last]
        np.testing.assert_array_equal(np.stack(clips), whole)
    with pytest.raises(ValueError, match="hop must be in"):
        ClipCutter(CLIP, CLIP + 1)


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
