"""Reading and checking a corpus in the layout of TAU Urban Acoustic Scenes 2022 Mobile.

A development corpus folder holds `audio/*.wav`, `meta.csv` (tab-separated: filename, scene_label,
identifier, source_label) and, beside it or in another folder, the DCASE2024 split files
`split5.csv` ... `split100.csv` and `test.csv` (tab-separated, a `filename` column matched against
meta.csv). An evaluation folder holds `audio/*.wav` and a `meta.csv` with a `filename` column only.
The real corpus and the generated one go through this same code. Every problem is an InputError that
names the file and line, because a bad row found by a later stage costs far more to trace.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from asc.data.datadir import DataDir
from asc.errors import InputError

LABELS = ["airport", "bus", "metro", "metro_station", "park", "public_square", "shopping_mall",
          "street_pedestrian", "street_traffic", "tram"]
META_COLUMNS = ("filename", "scene_label", "identifier", "source_label")
SPLIT_FILES = {"train_split5": "split5.csv", "train_split10": "split10.csv", "train_split25": "split25.csv",
               "train_split50": "split50.csv", "train_split100": "split100.csv", "test": "test.csv"}
SPLITS_URL = "https://github.com/CPJKU/dcase2024_task1_baseline/releases/download/files/"


@dataclass(frozen=True)
class Clip:
    """One row of meta.csv: a 1-s audio file and what is known about it."""
    filename: str
    scene: str
    identifier: str
    device: str
    line: int

    @property
    def utt(self) -> str:
        """Utterance id: the file name without folder and extension."""
        return PurePosixPath(self.filename).stem

    @property
    def rec(self) -> str:
        """The 10-s recording the clip was cut from (device and piece index dropped)."""
        return self.utt.rsplit("-", 2)[0]

    @property
    def city(self) -> str:
        """City of the recording location (first part of `identifier`)."""
        return self.identifier.split("-", 1)[0]


def read_tsv(path: str | os.PathLike, required: tuple[str, ...]):
    """Yield (line number, row as dict) of a tab-separated file with a header line, checking that the
    `required` columns exist and that every line has as many fields as the header."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found")
    with open(path, newline="") as f:
        header_line = f.readline().rstrip("\r\n")
        if not header_line:
            raise InputError(path, f"empty file; expected a tab-separated header with {', '.join(required)}", line=1)
        header = header_line.split("\t")
        missing = [c for c in required if c not in header]
        if missing:
            raise InputError(path, f"missing column(s) {', '.join(missing)}: the header is {header_line!r} "
                                   "(fields must be separated by tabs)", line=1)
        for number, raw in enumerate(f, 2):
            text = raw.rstrip("\r\n")
            if not text.strip():
                continue
            fields = text.split("\t")
            if len(fields) != len(header):
                raise InputError(path, f"malformed line: expected {len(header)} tab-separated fields "
                                       f"({', '.join(header)}), found {len(fields)}: {text!r}", line=number)
            row = dict(zip(header, fields))
            empty = [c for c in required if not row[c].strip()]
            if empty:
                raise InputError(path, f"malformed line: empty {', '.join(empty)}: {text!r}", line=number)
            yield number, row


def check_relative(path: Path, line: int, filename: str) -> None:
    """Refuse a file name from metadata that is absolute or climbs out of the corpus folder."""
    pure = PurePosixPath(filename.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (len(filename) > 1 and filename[1] == ":"):
        raise InputError(path, f"file name {filename!r} points outside the corpus folder "
                               "(absolute paths and '..' are not allowed)", line=line)


def meta_path(corpus: str | os.PathLike) -> Path:
    """`<corpus>/meta.csv`, or an error saying what a corpus folder must hold."""
    path = Path(corpus) / "meta.csv"
    if not path.is_file():
        raise InputError(path, "file not found; --corpus must be a folder in the TAU22 development "
                               "layout (audio/, meta.csv); the embedded one is made by stage 0")
    return path


def read_meta(corpus: str | os.PathLike) -> dict[str, Clip]:
    """The rows of `<corpus>/meta.csv`, keyed by filename, each checked: known label, safe path,
    a file name whose device suffix matches source_label, no duplicate file or utterance id."""
    path = meta_path(corpus)
    clips: dict[str, Clip] = {}
    utts: dict[str, int] = {}
    for line, row in read_tsv(path, META_COLUMNS):
        clip = Clip(row["filename"].strip(), row["scene_label"].strip(), row["identifier"].strip(),
                    row["source_label"].strip(), line)
        _check_clip(path, clip)
        if clip.filename in clips:
            raise InputError(path, f"duplicate filename {clip.filename!r} (first on line "
                                   f"{clips[clip.filename].line})", line=line)
        if clip.utt in utts:
            raise InputError(path, f"duplicate utterance id {clip.utt!r} (file name stem also on line "
                                   f"{utts[clip.utt]})", line=line)
        clips[clip.filename] = clip
        utts[clip.utt] = line
    if not clips:
        raise InputError(path, "no rows after the header")
    return clips


def _check_clip(path: Path, clip: Clip) -> None:
    check_relative(path, clip.line, clip.filename)
    if clip.scene not in LABELS:
        raise InputError(path, f"unknown scene label {clip.scene!r} (expected one of {', '.join(LABELS)})",
                         line=clip.line)
    if any(c.isspace() for c in clip.utt):
        raise InputError(path, f"file name {clip.filename!r} contains white space", line=clip.line)
    parts = clip.utt.split("-")
    if len(parts) < 3:
        raise InputError(path, f"file name {clip.filename!r} is not scene-city-location-segment-index-device",
                         line=clip.line)
    if parts[-1] != clip.device:
        raise InputError(path, f"file name {clip.filename!r} ends in device {parts[-1]!r} but source_label is "
                               f"{clip.device!r}", line=clip.line)


def check_audio(corpus: str | os.PathLike, clips, meta_path: str | os.PathLike) -> None:
    """Every clip's audio file exists (one directory listing per folder, not one stat per file)."""
    corpus = Path(corpus)
    listings: dict[Path, set[str]] = {}
    for clip in clips:
        full = corpus / clip.filename
        folder = full.parent
        if folder not in listings:
            listings[folder] = set(os.listdir(folder)) if folder.is_dir() else set()
        if full.name not in listings[folder]:
            raise InputError(meta_path, f"audio file {full} not found", line=clip.line)


def find_split_files(split_dir: str | os.PathLike) -> dict[str, Path]:
    """The DCASE2024 split files in `split_dir` (or its split_setup/ folder, where the baseline keeps
    them); an error listing those missing and where to get them."""
    split_dir = Path(split_dir)
    found, missing = {}, []
    for name, filename in SPLIT_FILES.items():
        candidates = [split_dir / filename, split_dir / "split_setup" / filename]
        hit = next((c for c in candidates if c.is_file()), None)
        if hit is None:
            missing.append(filename)
        else:
            found[name] = hit
    if missing:
        raise InputError(split_dir, f"missing DCASE2024 split file(s) {', '.join(missing)}; the official "
                                    f"ones are published at {SPLITS_URL}<name>; put them beside meta.csv or "
                                    "name their folder with --split-dir")
    return found


def read_split(path: str | os.PathLike, meta: dict[str, Clip],
               meta_path: str | os.PathLike) -> list[tuple[int, Clip]]:
    """(line, clip) for every row of a split file, each checked against meta.csv (present, same scene
    label, listed once)."""
    path = Path(path)
    seen: dict[str, int] = {}
    clips = []
    for line, row in read_tsv(path, ("filename",)):
        filename = row["filename"].strip()
        check_relative(path, line, filename)
        if filename in seen:
            raise InputError(path, f"duplicate filename {filename!r} (first on line {seen[filename]})", line=line)
        seen[filename] = line
        clip = meta.get(filename)
        if clip is None:
            raise InputError(path, f"{filename!r} is not in {meta_path}", line=line)
        label = row.get("scene_label", "").strip()
        if label and label != clip.scene:
            raise InputError(path, f"scene_label {label!r} of {filename!r} disagrees with {meta_path} "
                                   f"line {clip.line} ({clip.scene!r})", line=line)
        clips.append((line, clip))
    return clips


def check_disjoint(train: dict[str, list], test: list, paths: dict[str, Path]) -> None:
    """No recording is both in the test split and in a training split (rows are (line, clip))."""
    owner = {}
    for name, rows in train.items():
        for _, clip in rows:
            owner.setdefault(clip.rec, name)
    for line, clip in test:
        if clip.rec in owner:
            raise InputError(paths["test"], f"recording {clip.rec} ({clip.filename}) is also in "
                                            f"{paths[owner[clip.rec]]}; a recording must not be in both "
                                            "training and test", line=line)


def to_datadir(clips, corpus: str | os.PathLike) -> DataDir:
    """A Kaldi-style data directory of `clips` with absolute audio paths."""
    root = Path(corpus).resolve()
    data = DataDir(wav={})
    for clip in clips:
        data.wav[clip.utt] = str(root / clip.filename)
        data.label[clip.utt] = clip.scene
        data.device[clip.utt] = clip.device
        data.city[clip.utt] = clip.city
        data.rec[clip.utt] = clip.rec
    return data


def load_corpus(corpus: str | os.PathLike, split_dir: str | os.PathLike | None = None) -> dict[str, DataDir]:
    """Read and check a TAU22-format development corpus with the DCASE2024 splits; returns the data
    directories train_split5 ... train_split100 and test, keyed by those names."""
    corpus = Path(corpus)
    meta = read_meta(corpus)
    paths = find_split_files(split_dir or corpus)
    splits = {name: read_split(path, meta, corpus / "meta.csv") for name, path in paths.items()}
    check_disjoint({k: v for k, v in splits.items() if k != "test"}, splits["test"], paths)
    used = {clip.filename: clip for rows in splits.values() for _, clip in rows}
    check_audio(corpus, sorted(used.values(), key=lambda c: c.line), corpus / "meta.csv")
    return {name: to_datadir([clip for _, clip in rows], corpus) for name, rows in splits.items()}


def load_eval(folder: str | os.PathLike) -> DataDir:
    """Read and check an unlabeled evaluation folder (audio/, meta.csv with a `filename` column); the
    data directory has wav.scp only, plus utt2device where meta.csv gives source_label."""
    folder = Path(folder)
    meta_path = folder / "meta.csv"
    if not meta_path.is_file():
        raise InputError(meta_path, "file not found; the evaluation folder must hold audio/ and meta.csv")
    rows: dict[str, Clip] = {}
    root = folder.resolve()
    data = DataDir(wav={})
    for line, row in read_tsv(meta_path, ("filename",)):
        filename = row["filename"].strip()
        check_relative(meta_path, line, filename)
        clip = Clip(filename, "", "", row.get("source_label", "").strip(), line)
        if any(c.isspace() for c in clip.utt):
            raise InputError(meta_path, f"file name {filename!r} contains white space", line=line)
        if clip.utt in data.wav:
            raise InputError(meta_path, f"duplicate file or utterance id {clip.utt!r}", line=line)
        rows[filename] = clip
        data.wav[clip.utt] = str(root / filename)
        if clip.device:
            data.device[clip.utt] = clip.device
    check_audio(folder, rows.values(), meta_path)
    if data.device and len(data.device) != len(data.wav):
        data.device = {}
    return data


def input_digest(corpus: str | os.PathLike, files) -> str:
    """Hash of what a data preparation read: the corpus location and the bytes of its metadata files."""
    h = hashlib.sha256(str(Path(corpus).resolve()).encode())
    for path in files:
        h.update(str(Path(path).resolve()).encode())
        h.update(Path(path).read_bytes())
    return h.hexdigest()
