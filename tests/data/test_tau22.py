"""Reading a TAU22-format corpus with the DCASE2024 splits into data directories, and its checks."""
from __future__ import annotations

from pathlib import Path

import pytest

from asc.data.datadir import load_datadir, read_labels
from asc.data.tau22 import LABELS, load_corpus, load_eval
from asc.errors import InputError

HEADER = "filename\tscene_label\tidentifier\tsource_label\n"


def rows_of(scene: str, city: str, location: int, segment: int, devices=("a",), pieces=(0, 1)) -> list[str]:
    return [f"audio/{scene}-{city}-{location}-{segment}-{p}-{d}.wav\t{scene}\t{city}-{location}\t{d}\n"
            for p in pieces for d in devices]


def fake_corpus(root: Path) -> Path:
    """A corpus in TAU22's layout (empty audio files: data preparation never reads audio):
    two training recordings per scene and one test recording recorded by three devices."""
    train, test = [], []
    for i, scene in enumerate(LABELS):
        train += rows_of(scene, "lisbon", 10 * i, 100 * i) + rows_of(scene, "lyon", 10 * i + 1, 100 * i + 1,
                                                                      devices=("a", "b"))
        test += rows_of(scene, "milan", 10 * i + 2, 100 * i + 2, devices=("a", "b", "s4"))
    write(root / "meta.csv", HEADER + "".join(train + test))
    small = [r for r in train if "-lisbon-" in r]
    for share in (5, 10, 25, 50):
        write(root / f"split{share}.csv", split_text(small))
    write(root / "split100.csv", split_text(train))
    write(root / "test.csv", split_text(test))
    (root / "audio").mkdir()
    for row in train + test:
        (root / row.split("\t")[0]).touch()
    return root


def split_text(rows: list[str]) -> str:
    return "filename\tscene_label\n" + "".join("\t".join(r.split("\t")[:2]) + "\n" for r in rows)


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def edit(path: Path, line: int, new: str | None) -> None:
    """Replace (or with None, delete) 1-based `line` of a text file."""
    lines = path.read_text().splitlines(keepends=True)
    if new is None:
        del lines[line - 1]
    else:
        lines[line - 1] = new
    path.write_text("".join(lines))


def test_data_directories_hold_the_splits(tmp_path):
    corpus = fake_corpus(tmp_path / "corpus")
    dirs = load_corpus(corpus)
    assert sorted(dirs) == ["test", "train_split10", "train_split100", "train_split25", "train_split5",
                            "train_split50"]
    assert len(dirs["train_split100"]) == 10 * 6 and len(dirs["train_split5"]) == 10 * 2 and len(dirs["test"]) == 10 * 6
    utt = "park-lyon-41-401-1-b"
    d = dirs["train_split100"]
    assert d.wav[utt] == str((corpus / f"audio/{utt}.wav").resolve())
    assert (d.label[utt], d.device[utt], d.city[utt], d.rec[utt]) == ("park", "b", "lyon", "park-lyon-41-401")
    assert set(dirs["test"].device.values()) == {"a", "b", "s4"}


def test_prepare_data_writes_kaldi_directories_and_skips_a_rerun(tmp_path, capsys):
    from asc.bin.prepare_data import main

    corpus = fake_corpus(tmp_path / "corpus")
    out = tmp_path / "data"
    assert main(["--corpus", str(corpus), "--out", str(out)]) == 0
    assert read_labels(out / "labels.txt") == LABELS
    for name in ("train_split5", "train_split10", "train_split25", "train_split50", "train_split100", "test"):
        for table in ("wav.scp", "utt2label", "utt2device", "utt2city", "utt2rec"):
            lines = (out / name / table).read_text().splitlines()
            keys = [line.split(" ", 1)[0] for line in lines]
            assert keys == sorted(set(keys)) and all(" " in line for line in lines), (name, table)
    data = load_datadir(out / "test")
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in data.wav.values())
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    capsys.readouterr()
    assert main(["--corpus", str(corpus), "--out", str(out)]) == 0
    assert "up to date" in capsys.readouterr().out
    assert stamps == {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    # other inputs never overwrite finished outputs: the error says what to remove
    edit(corpus / "split5.csv", 2, None)
    assert main(["--corpus", str(corpus), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "prepared from other inputs" in err and "remove" in err
    assert stamps == {p: p.stat().st_mtime_ns for p in out.rglob("*")}


def test_a_truncated_output_is_detected_and_prepared_again(tmp_path, capsys):
    from asc.bin.prepare_data import main

    corpus = fake_corpus(tmp_path / "corpus")
    out = tmp_path / "data"
    assert main(["--corpus", str(corpus), "--out", str(out)]) == 0
    good = (out / "test" / "wav.scp").read_text()
    (out / "test" / "wav.scp").write_text(good[:100])
    capsys.readouterr()
    assert main(["--corpus", str(corpus), "--out", str(out)]) == 0
    assert "test/wav.scp missing or changed" in capsys.readouterr().out
    assert (out / "test" / "wav.scp").read_text() == good


def test_split_files_from_another_folder(tmp_path):
    corpus = fake_corpus(tmp_path / "corpus")
    elsewhere = tmp_path / "splits" / "split_setup"
    elsewhere.mkdir(parents=True)
    for name in ("split5.csv", "split10.csv", "split25.csv", "split50.csv", "split100.csv", "test.csv"):
        (corpus / name).rename(elsewhere / name)
    with pytest.raises(InputError, match=r"missing DCASE2024 split file\(s\) split5.csv.*test.csv.*"
                                         r"https://github.com/CPJKU/dcase2024_task1_baseline"):
        load_corpus(corpus)
    assert len(load_corpus(corpus, tmp_path / "splits")["test"]) == 60


META_ERRORS = {
    "missing column": (1, "filename\tscene_label\tsource_label\n", r"meta.csv line 1: missing column\(s\) identifier"),
    "malformed line": (5, "audio/x-a.wav\tpark\tlyon-1\n", r"meta.csv line 5: malformed line: expected 4"),
    "empty field": (5, "audio/park-lyon-1-2-0-a.wav\tpark\t\ta\n", r"meta.csv line 5: malformed line: empty identifier"),
    "duplicate filename": (3, None, r"meta.csv line 3: duplicate filename 'audio/airport-lisbon-0-0-0-a.wav' "
                                    r"\(first on line 2\)"),
    "unknown label": (4, "audio/parkk-lyon-1-2-0-a.wav\tparkk\tlyon-1\ta\n", r"meta.csv line 4: unknown scene label 'parkk'"),
    "parent path": (4, "../secret/park-lyon-1-2-0-a.wav\tpark\tlyon-1\ta\n", r"meta.csv line 4: .*outside the corpus"),
    "absolute path": (4, "/etc/park-lyon-1-2-0-a.wav\tpark\tlyon-1\ta\n", r"meta.csv line 4: .*outside the corpus"),
    "device mismatch": (4, "audio/park-lyon-1-2-0-a.wav\tpark\tlyon-1\tb\n", r"meta.csv line 4: .*ends in device 'a'"),
}


@pytest.mark.parametrize("case", sorted(META_ERRORS))
def test_bad_meta_is_refused_with_file_and_line(tmp_path, case):
    corpus = fake_corpus(tmp_path / "corpus")
    line, text, pattern = META_ERRORS[case]
    if case == "duplicate filename":
        text = (corpus / "meta.csv").read_text().splitlines(keepends=True)[1]
    edit(corpus / "meta.csv", line, text)
    with pytest.raises(InputError, match=pattern):
        load_corpus(corpus)


def test_split_row_not_in_meta(tmp_path):
    corpus = fake_corpus(tmp_path / "corpus")
    edit(corpus / "split25.csv", 3, "audio/park-oslo-9-9-0-a.wav\tpark\n")
    with pytest.raises(InputError, match=r"split25.csv line 3: 'audio/park-oslo-9-9-0-a.wav' is not in .*meta.csv"):
        load_corpus(corpus)


def test_split_label_disagreeing_with_meta(tmp_path):
    corpus = fake_corpus(tmp_path / "corpus")
    filename = (corpus / "split10.csv").read_text().splitlines()[1].split("\t")[0]
    edit(corpus / "split10.csv", 2, f"{filename}\tbus\n")
    with pytest.raises(InputError, match=r"split10.csv line 2: scene_label 'bus' .* disagrees"):
        load_corpus(corpus)


def test_split_without_filename_column(tmp_path):
    corpus = fake_corpus(tmp_path / "corpus")
    edit(corpus / "test.csv", 1, "file\tscene_label\n")
    with pytest.raises(InputError, match=r"test.csv line 1: missing column\(s\) filename"):
        load_corpus(corpus)


def test_missing_audio_names_meta_line(tmp_path):
    corpus = fake_corpus(tmp_path / "corpus")
    (corpus / "audio" / "bus-lyon-11-101-1-b.wav").unlink()
    line = 1 + next(i for i, row in enumerate((corpus / "meta.csv").read_text().splitlines())
                    if row.startswith("audio/bus-lyon-11-101-1-b.wav"))
    with pytest.raises(InputError, match=rf"meta.csv line {line}: audio file .*bus-lyon-11-101-1-b.wav not found"):
        load_corpus(corpus)


def test_recording_in_train_and_test_is_refused(tmp_path):
    corpus = fake_corpus(tmp_path / "corpus")
    lines = (corpus / "test.csv").read_text().splitlines(keepends=True)
    moved = (corpus / "split100.csv").read_text().splitlines(keepends=True)[1]
    (corpus / "test.csv").write_text("".join(lines[:3] + [moved] + lines[3:]))
    with pytest.raises(InputError, match=r"test.csv line 4: recording airport-lisbon-0-0 .* also in .*split5.csv"):
        load_corpus(corpus)


def test_missing_meta_says_what_a_corpus_is(tmp_path):
    with pytest.raises(InputError, match=r"meta.csv: file not found; --corpus must be a folder in the TAU22"):
        load_corpus(tmp_path)


def test_evaluation_set_becomes_a_wav_only_directory(tmp_path):
    folder = tmp_path / "eval"
    write(folder / "meta.csv", "filename\n" + "".join(f"audio/{i}.wav\n" for i in range(4)))
    (folder / "audio").mkdir()
    for i in range(4):
        (folder / "audio" / f"{i}.wav").touch()
    data = load_eval(folder)
    assert data.utts == ["0", "1", "2", "3"] and not data.label and not data.device
    assert data.wav["2"] == str((folder / "audio" / "2.wav").resolve())
    edit(folder / "meta.csv", 3, "../2.wav\n")
    with pytest.raises(InputError, match=r"eval/meta.csv line 3: .*outside the corpus"):
        load_eval(folder)
