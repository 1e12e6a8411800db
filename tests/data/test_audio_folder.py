"""A folder of labelled recordings as data directories: finding the files, cutting segments, silence and
short recordings as the config says, folds grouped by recording and stratified by class, and a clear
error naming the file or folder for every kind of bad input."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asc.bin import prepare_folder
from asc.data.audio_folder import FolderConfig, SilenceConfig, prepare, segment_bounds
from asc.data.datadir import load_datadir, read_labels
from asc.errors import AscError, InputError
from folder_helpers import CLASSES, make_folder, sound, write_recording


def quiet(message: str) -> None:
    pass


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return make_folder(tmp_path_factory.mktemp("recordings"))


@pytest.mark.parametrize("seconds, hop, expected", [
    (3.2, 1.0, [(0, 1), (1, 2), (2, 3)]),                  # 0.2 s left: too little for another
    (2.6, 1.0, [(0, 1), (1, 2), (1.6, 2.6)]),              # 0.6 s left: one more, ending at the end
    (2.0, 0.5, [(0, 1), (0.5, 1.5), (1, 2)]),              # overlapping segments
    (0.4, 1.0, [(0, 1)]),                                  # shorter than a segment: one, padded
    (1.0, 1.0, [(0, 1)]),
])
def test_segments_cover_the_recording_every_hop(seconds, hop, expected):
    assert segment_bounds(seconds, FolderConfig(hop_seconds=hop)) == [(float(a), float(b)) for a, b in expected]


def test_every_recording_is_cut_and_tested_in_exactly_one_fold(folder):
    prepared = prepare(folder, FolderConfig(folds=2), log=quiet)
    assert prepared.labels == sorted(CLASSES) and "city park" in prepared.labels
    per_rec: dict[str, int] = {}
    for rec in prepared.all.rec.values():
        per_rec[rec] = per_rec.get(rec, 0) + 1
    # a 3.2-s wav, a 2.6-s stereo flac, a 4.1-s ogg, a 2.2-s wav per class, at 16 to 44.1 kHz
    assert sorted(per_rec.values()) == sorted([3, 3, 4, 2] * 3)
    tested: list[str] = []
    for train, test in prepared.folds.values():
        train_recs, test_recs = set(train.rec.values()), set(test.rec.values())
        assert not train_recs & test_recs                                   # no recording on both sides
        assert set(train.utts) | set(test.utts) == set(prepared.all.utts)
        assert {test.label[u] for u in test.utts} == set(CLASSES)          # stratified: every class tested
        tested += sorted(test_recs)
    assert sorted(tested) == sorted(per_rec)                                # each recording tested once
    utt = next(u for u in prepared.all.utts if prepared.all.rec[u].endswith("-b"))
    assert prepared.all.wav[utt].endswith(".flac") and prepared.all.span(utt) is not None


def test_the_entry_point_writes_data_dirs_and_skips_a_second_run(folder, tmp_path, capsys):
    out = tmp_path / "data"
    assert prepare_folder.main(["--folder", str(folder), "--out", str(out), "folds=3"]) == 0
    assert (out / "folds").read_text().split() == ["1", "2", "3"]
    assert read_labels(out / "labels.txt") == sorted(CLASSES)
    data = load_datadir(out / "test_fold2")
    assert not data.device and set(data.label.values()) <= set(CLASSES)
    assert data.span(data.utts[0])[1] - data.span(data.utts[0])[0] == pytest.approx(1.0)
    capsys.readouterr()
    assert prepare_folder.main(["--folder", str(folder), "--out", str(out), "folds=3"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert prepare_folder.main(["--folder", str(folder), "--out", str(out), "folds=2"]) == 0   # new config: redone
    assert not (out / "test_fold3").exists()


def test_groups_stay_on_one_side_of_every_fold(tmp_path):
    for label in ("a", "b"):
        for session in range(3):
            for part in range(2):
                write_recording(tmp_path / label / f"s{session}_part{part}", sound("noise", 1.5, 8000, session),
                                8000, 1, "wav")
    prepared = prepare(tmp_path, FolderConfig(folds=3, group_pattern=r"^(s\d+)_part\d+$"), log=quiet)
    for _, test in prepared.folds.values():
        sessions = {rec.rsplit("_part", 1)[0] for rec in test.rec.values()}
        assert len(sessions) == 2 and len(set(test.rec.values())) == 4     # both parts of one session per class


def test_a_separate_test_folder_is_the_one_fold(folder, tmp_path):
    test_root = tmp_path / "test"
    write_recording(test_root / "hum" / "t1", sound("hum", 2.0, 48000, 7), 48000, 1, "flac")
    prepared = prepare(folder, FolderConfig(), test_root, log=quiet)
    (train, test), = prepared.folds.values()
    assert len(train) == len(prepared.all) - 2 and len(test) == 2
    assert set(test.label.values()) == {"hum"}
    write_recording(test_root / "birds" / "t2", sound("hum", 2.0, 48000, 7), 48000, 1, "flac")
    with pytest.raises(InputError, match="birds"):
        prepare(folder, FolderConfig(), test_root, log=quiet)


def test_silent_segments_are_kept_or_dropped_as_the_config_says(tmp_path):
    for label in ("x", "y"):
        for n in range(2):
            wave = sound("noise", 4.0, 16000, n)
            wave[16000:3 * 16000] = 0.0                                   # seconds 1-3 silent
            write_recording(tmp_path / label / f"r{n}", wave, 16000, 1, "wav")
    kept = prepare(tmp_path, FolderConfig(folds=2), log=quiet)
    dropped = prepare(tmp_path, FolderConfig(folds=2, silence=SilenceConfig(policy="drop", threshold_db=-50)),
                      log=quiet)
    assert len(kept.all) == 16 and len(dropped.all) == 8
    assert {dropped.all.span(u) for u in dropped.all.utts} == {(0.0, 1.0), (3.0, 4.0)}


def test_short_recordings_are_padded_skipped_or_refused(tmp_path):
    for label in ("x", "y"):
        for n in range(2):
            write_recording(tmp_path / label / f"long{n}", sound("noise", 2.0, 16000, n), 16000, 1, "wav")
    short = write_recording(tmp_path / "x" / "short", sound("noise", 0.3, 16000, 9), 16000, 1, "wav")
    notes: list[str] = []
    padded = prepare(tmp_path, FolderConfig(folds=2), log=notes.append)
    assert any("x-short" in rec for rec in padded.all.rec.values()) and "zero-padded" in notes[0]
    skipped = prepare(tmp_path, FolderConfig(folds=2, short_recordings="skip"), log=quiet)
    assert not any("short" in rec for rec in skipped.all.rec.values())
    with pytest.raises(InputError, match=f"{short}: 0.300 s long, shorter than one 1-s segment"):
        prepare(tmp_path, FolderConfig(folds=2, short_recordings="error"), log=quiet)


@pytest.mark.parametrize("make, message", [
    (lambda root: (root / "empty").mkdir(), "empty: class folder holds no audio files"),
    (lambda root: (root / "x" / "broken.ogg").write_bytes(b"OggS" + bytes(60)), "broken.ogg: not a readable audio file"),
    (lambda root: (root / "x" / "cut.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk"), "cut.wav: truncated WAV file"),
    (lambda root: (root / "x" / "empty.flac").write_bytes(b""), "empty.flac: empty file"),
    (lambda root: sf.write(root / "stray.wav", np.zeros(800), 8000), "audio files directly in the folder"),
    (lambda root: (root / "y " / "a.wav").parent.mkdir() or sf.write(root / "y " / "a.wav", np.zeros(800), 8000),
     "leading/trailing blanks"),
])
def test_bad_input_is_an_error_naming_the_file_or_folder(tmp_path, make, message):
    for label in ("x", "y"):
        write_recording(tmp_path / label / "ok", sound("noise", 1.2, 8000, 0), 8000, 1, "wav")
    make(tmp_path)
    with pytest.raises(InputError, match=message):
        prepare(tmp_path, FolderConfig(folds=2), log=quiet)


def test_config_values_that_cannot_work_are_refused(folder):
    with pytest.raises(AscError, match="folds must be at least 2"):
        prepare(folder, FolderConfig(folds=1), log=quiet)
    with pytest.raises(AscError, match="hop_seconds 2.0 > segment_seconds"):
        prepare(folder, FolderConfig(hop_seconds=2.0), log=quiet)
    with pytest.raises(AscError, match="fold 13 has no test recording"):
        prepare(folder, FolderConfig(folds=13), log=quiet)                  # 12 recordings
