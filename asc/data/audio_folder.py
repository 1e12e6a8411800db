"""A folder of labelled recordings, `<root>/<label>/<files>`, as the recipe's data directories.

Any folder a user has: one sub-folder per class (its name is the label; spaces allowed), audio files
below it (wav, flac, ogg, mp3: whatever libsndfile reads; any rate, channel count and length). Each
file is one recording; each recording is cut into fixed-length segments (`segment_seconds` every
`hop_seconds`), and the segments are the clips every later stage trains and scores on:

  wav.scp      utt -> the recording's file          utt2segment  utt -> "start end" (seconds)
  utt2label    utt -> the class folder's name        utt2rec      utt -> the recording's id

Evaluation is either on a separate test folder of the same layout (one fold: train on <root>, test on
<test>) or by k-fold cross-validation over <root> whose folds are drawn by recording group (a file, or
the files whose names share `group_pattern`'s match, e.g. one session cut into several files): no
group is on both sides of a fold, and each class's groups are spread over the folds as evenly as
their segment counts allow (stratified). Written under <out>: all/ (every segment, the one data
directory features are extracted for), train_fold<k>/ and test_fold<k>/ (subsets of all/),
labels.txt (the classes, sorted) and folds (the fold numbers, one line).

Bad input is an InputError naming the file or folder: an empty class folder, an unreadable file,
audio files outside any class folder, a label that cannot be written on one line. A recording shorter
than one segment is zero-padded, skipped or refused as `short_recordings` says; silent segments (RMS
below `silence.threshold_db` dBFS) are kept or dropped as `silence.policy` says.
"""
from __future__ import annotations

import math
import re
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

import numpy as np

from asc.data.audio import AudioWarning, audio_length, read_audio, stream_audio
from asc.data.datadir import DataDir, save_datadir
from asc.errors import AscError, InputError

FRAME_SECONDS = 0.01        # resolution of the silence measure (energy per 10 ms of audio)
SILENT_DB = -200.0          # the level written for digital silence (log of zero)

Log = Callable[[str], None]


@dataclass
class SilenceConfig:
    """What happens to segments without sound: `keep` them (they train and score like any other) or
    `drop` them from every data directory."""
    policy: Literal["keep", "drop"] = "keep"
    threshold_db: float = -60.0     # a segment whose RMS is below this (dBFS) is silent


@dataclass
class FolderConfig:
    """How a folder of recordings becomes segments and folds (conf/data.yaml)."""
    segment_seconds: float = 1.0    # must equal the feature configs' clip_seconds (checked in stage 2)
    hop_seconds: float = 1.0        # < segment_seconds: overlapping segments
    extensions: list[str] = field(default_factory=lambda: ["wav", "flac", "ogg", "mp3"])
    short_recordings: Literal["pad", "skip", "error"] = "pad"   # shorter than one segment
    silence: SilenceConfig = field(default_factory=SilenceConfig)
    folds: int = 4                  # k of the cross-validation (without a test folder)
    seed: int = 0                   # draws the folds
    group_pattern: str | None = None   # regex on the file name (no suffix): its match (or first group)
                                       # names the recording group kept on one side of a fold

    def check(self, source: str = "config") -> None:
        """Refuse values that would only fail later."""
        if not self.segment_seconds > 0 or not self.hop_seconds > 0:
            raise AscError(f"{source}: segment_seconds and hop_seconds must be positive "
                           f"(found {self.segment_seconds}, {self.hop_seconds})")
        if self.hop_seconds > self.segment_seconds:
            raise AscError(f"{source}: hop_seconds {self.hop_seconds} > segment_seconds {self.segment_seconds} "
                           f"would leave audio between segments unused")
        if self.folds < 2:
            raise AscError(f"{source}: folds must be at least 2 (found {self.folds}); for one train/test "
                           f"division give a separate test folder")
        if not self.extensions:
            raise AscError(f"{source}: extensions is empty")
        if self.group_pattern is not None:
            try:
                re.compile(self.group_pattern)
            except re.error as e:
                raise AscError(f"{source}: group_pattern {self.group_pattern!r} is not a regular expression: "
                               f"{e}") from None


@dataclass
class Recording:
    """One audio file of the folder and what was measured in it."""
    path: Path
    label: str
    rec_id: str                     # unique, no spaces: the key of utt2rec
    group: str                      # recordings of one group stay on one side of a fold
    test: bool = False              # from the separate test folder
    seconds: float = 0.0
    segments: list[tuple[float, float]] = field(default_factory=list)   # (start, end) kept


# ----------------------------------------------------------------------------- finding the files

def find_recordings(root: Path, cfg: FolderConfig, test: bool = False) -> list[Recording]:
    """The recordings of `<root>/<label>/...`, sorted by label and path; InputError for a folder that
    is not laid out that way or a class folder without audio."""
    if not root.is_dir():
        raise InputError(root, "not a folder (expected <folder>/<label>/<audio files>)")
    suffixes = {"." + e.lower().lstrip(".") for e in cfg.extensions}
    stray = sorted(p.name for p in root.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if stray:
        raise InputError(root, f"audio files directly in the folder ({', '.join(stray[:3])}"
                               f"{', ...' if len(stray) > 3 else ''}); expected one sub-folder per class "
                               f"(<folder>/<label>/<files>)")
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise InputError(root, "no class folders (expected <folder>/<label>/<audio files>)")
    found: list[Recording] = []
    for folder in classes:
        label = check_label(folder)
        files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
                       and not any(part.startswith(".") for part in p.relative_to(folder).parts))
        if not files:
            raise InputError(folder, f"class folder holds no audio files ({', '.join(sorted(suffixes))}); "
                                     f"add recordings or remove the folder")
        for path in files:
            found.append(Recording(path=path.resolve(), label=label, rec_id="",
                                   group=_group(path, folder, label, cfg.group_pattern, test), test=test))
    return found


def check_label(folder: Path) -> str:
    """The label of a class folder: its name, which must fit on one line of labels.txt."""
    label = folder.name
    if label != label.strip() or any(c in label for c in "\t\n\r"):
        raise InputError(folder, f"class folder name {label!r} has leading/trailing blanks, tabs or line "
                                 f"breaks; rename it (labels are written one per line)")
    return label


def _group(path: Path, folder: Path, label: str, pattern: str | None, test: bool) -> str:
    """The recording group of a file: the file itself, or what `pattern` matches in its name."""
    name = path.relative_to(folder).with_suffix("").as_posix()
    if pattern is not None:
        match = re.search(pattern, path.stem)
        if match is None:
            raise InputError(path, f"group_pattern {pattern!r} does not match the file name {path.stem!r}")
        name = match.group(1) if match.groups() else match.group(0)
    return f"{'test' if test else 'dev'}/{label}/{name}"


def assign_ids(recordings: list[Recording]) -> None:
    """A unique id without blanks for every recording, readable: <label>-<path in its class folder>
    with other characters than letters, digits, '.', '_', '-' made '_' (a clash gets -2, -3, ...)."""
    taken: set[str] = set()
    for r in recordings:
        base = _slug(("test-" if r.test else "") + r.label + "-" + r.path.stem)
        rec_id, n = base, 1
        while rec_id in taken:
            n += 1
            rec_id = f"{base}-{n}"
        taken.add(rec_id)
        r.rec_id = rec_id


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


# ----------------------------------------------------------------------------- segments

def measure(recording: Recording) -> np.ndarray:
    """Read `recording` once, streaming, and return its energy per FRAME_SECONDS of audio (mono mean
    square); sets its length in seconds. InputError (naming it) for a file that cannot be read."""
    length = audio_length(recording.path)
    if length is None:
        read_audio(recording.path, max_frames=1)      # raises the reader's own error naming the file
        raise InputError(recording.path, "cannot read the audio header")
    rate = length[1]
    frame = max(1, int(round(FRAME_SECONDS * rate)))
    energies, carry, samples = [], np.zeros(0, np.float64), 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AudioWarning)           # the mix-down is said by stage 2
        for piece in stream_audio(recording.path, rate):
            samples += len(piece)
            buffer = np.concatenate([carry, piece.astype(np.float64) ** 2])
            whole = len(buffer) // frame * frame
            energies.append(buffer[:whole].reshape(-1, frame).mean(axis=1))
            carry = buffer[whole:]
    if len(carry):
        energies.append(np.array([carry.mean()]))
    recording.seconds = samples / rate
    return np.concatenate(energies) if energies else np.zeros(0)


def segment_bounds(seconds: float, cfg: FolderConfig) -> list[tuple[float, float]]:
    """(start, end) of the segments of a recording `seconds` long: every hop while a whole segment
    fits, then, if at least half a segment of audio is left unused, one more ending at the
    recording's end (overlapping the one before, never padded). A recording shorter than one segment
    gives one segment zero-padded in stage 2 (`short_recordings` decides before whether to keep it)."""
    seg, hop = cfg.segment_seconds, cfg.hop_seconds
    eps = 1e-6
    if seconds < seg - eps:
        return [(0.0, round(seg, 3))]
    count = int(math.floor((seconds - seg) / hop + eps)) + 1
    starts = [round(k * hop, 3) for k in range(count)]
    if seconds - (starts[-1] + seg) >= seg / 2 - eps:
        starts.append(round(seconds - seg, 3))
    return [(s, round(s + seg, 3)) for s in starts]


def segment_level_db(energies: np.ndarray, start: float, end: float, seconds: float) -> float:
    """RMS level (dBFS) of the audio of [start, end) (its padded part, past the end, left out)."""
    a = int(start / FRAME_SECONDS)
    b = max(a + 1, int(math.ceil(min(end, seconds) / FRAME_SECONDS)))
    part = energies[a:b]
    mean = float(part.mean()) if part.size else 0.0
    return 10 * math.log10(mean) if mean > 0 else SILENT_DB


def cut(recording: Recording, cfg: FolderConfig, log: Log) -> None:
    """Measure `recording` and keep its segments as `cfg` says (short recordings, silence)."""
    energies = measure(recording)
    if recording.seconds < cfg.segment_seconds - 1e-6:
        if cfg.short_recordings == "error":
            raise InputError(recording.path, f"{recording.seconds:.3f} s long, shorter than one "
                                             f"{cfg.segment_seconds:g}-s segment (short_recordings: error; "
                                             f"'pad' zero-pads it, 'skip' leaves it out)")
        if cfg.short_recordings == "skip":
            log(f"warning: {recording.path}: {recording.seconds:.3f} s, shorter than one segment; skipped")
            return
        log(f"warning: {recording.path}: {recording.seconds:.3f} s, shorter than one segment; zero-padded")
    bounds = segment_bounds(recording.seconds, cfg)
    if cfg.silence.policy == "drop":
        loud = [(s, e) for s, e in bounds
                if segment_level_db(energies, s, e, recording.seconds) >= cfg.silence.threshold_db]
        if not loud:
            log(f"warning: {recording.path}: every segment is below {cfg.silence.threshold_db:g} dBFS; "
                f"left out (silence.policy: drop)")
        bounds = loud
    recording.segments = bounds


def utt_id(recording: Recording, start: float) -> str:
    """<rec_id>-<start in ms, 9 digits>: sorted utterance ids keep a recording's segments in order."""
    return f"{recording.rec_id}-{int(round(start * 1000)):09d}"


# ----------------------------------------------------------------------------- folds

def assign_folds(recordings: list[Recording], k: int, seed: int) -> dict[str, int]:
    """Fold (1..k) of every recording group, stratified by label: each label's groups, in an order
    drawn with `seed`, largest first, go one by one to the fold holding the fewest of that label's
    segments so far (ties: the fewest segments of any label, then the lowest number)."""
    size: dict[str, int] = {}
    label_of: dict[str, str] = {}
    for r in recordings:
        size[r.group] = size.get(r.group, 0) + len(r.segments)
        label_of.setdefault(r.group, r.label)
    rng = np.random.default_rng(seed)
    fold_of: dict[str, int] = {}
    total = [0] * k
    for label in sorted(set(label_of.values())):
        groups = sorted(g for g in size if label_of[g] == label)
        groups = [groups[i] for i in rng.permutation(len(groups))]
        groups.sort(key=lambda g: -size[g])         # stable: the drawn order breaks ties
        mine = [0] * k
        for g in groups:
            f = min(range(k), key=lambda j: (mine[j], total[j], j))
            fold_of[g] = f + 1
            mine[f] += size[g]
            total[f] += size[g]
    return fold_of


# ----------------------------------------------------------------------------- data directories

@dataclass
class Prepared:
    """The data directories of a folder: every segment, and each fold's training and test subsets."""
    all: DataDir
    folds: dict[int, tuple[DataDir, DataDir]]
    labels: list[str]
    notes: list[str] = field(default_factory=list)


def prepare(root: Path, cfg: FolderConfig, test_root: Path | None = None, log: Log = print) -> Prepared:
    """Find, measure and cut the recordings of `root` (and `test_root`) and divide them into folds."""
    cfg.check()
    recordings = find_recordings(root, cfg)
    if test_root is not None:
        tests = find_recordings(test_root, cfg, test=True)
        unknown = sorted({r.label for r in tests} - {r.label for r in recordings})
        if unknown:
            raise InputError(test_root, f"class folder(s) {unknown} have no counterpart in {root}; a model "
                                        f"trained there cannot predict them")
        recordings += tests
    assign_ids(recordings)
    for n, r in enumerate(recordings, 1):
        cut(r, cfg, log)
        if n % 200 == 0:
            log(f"measured {n}/{len(recordings)} recordings")
    kept = [r for r in recordings if r.segments]
    labels = sorted({r.label for r in recordings if not r.test})
    for label in labels:
        if not any(r.label == label and not r.test for r in kept):
            raise InputError(root / label, "no segment is left of this class's recordings (all shorter than "
                                           "one segment and skipped, or silent and dropped); check "
                                           "short_recordings / silence in the data config")
    everything = _datadir(kept)
    notes: list[str] = []
    if test_root is not None:
        train = [r for r in kept if not r.test]
        folds = {1: (_datadir(train), _datadir([r for r in kept if r.test]))}
    else:
        fold_of = assign_folds(kept, cfg.folds, cfg.seed)
        folds = {}
        for f in range(1, cfg.folds + 1):
            test = [r for r in kept if fold_of[r.group] == f]
            train = [r for r in kept if fold_of[r.group] != f]
            notes += _fold_notes(f, train, test, labels)
            folds[f] = (_datadir(train), _datadir(test))
    return Prepared(all=everything, folds=folds, labels=labels, notes=notes)


def _fold_notes(fold: int, train: list[Recording], test: list[Recording], labels: list[str]) -> list[str]:
    """Warnings for a fold that cannot test or train some class (too few recording groups)."""
    notes = []
    for label in labels:
        if not any(r.label == label for r in test):
            notes.append(f"fold {fold}: no test recording of class '{label}' (fewer recording groups than folds)")
        if not any(r.label == label for r in train):
            notes.append(f"fold {fold}: no training recording of class '{label}' (its only recording group "
                         f"is tested in this fold)")
    if not test:
        raise AscError(f"fold {fold} has no test recording: fewer recording groups than folds; lower folds")
    return notes


def _datadir(recordings: list[Recording]) -> DataDir:
    data = DataDir(wav={})
    for r in recordings:
        for start, end in r.segments:
            utt = utt_id(r, start)
            data.wav[utt] = str(r.path)
            data.label[utt] = r.label
            data.rec[utt] = r.rec_id
            data.segment[utt] = f"{start:.3f} {end:.3f}"
    return data


def write_prepared(prepared: Prepared, out: Path) -> list[Path]:
    """Write all/, train_fold<k>/, test_fold<k>/, labels.txt and folds under `out` (fold folders of an
    earlier preparation with more folds are removed); returns the files written."""
    from asc.atomic import write_text

    out.mkdir(parents=True, exist_ok=True)
    names = {"all": prepared.all}
    for f, (train, test) in prepared.folds.items():
        names[f"train_fold{f}"], names[f"test_fold{f}"] = train, test
    for stale in sorted(out.glob("*_fold*")):
        if stale.is_dir() and stale.name not in names and re.fullmatch(r"(train|test)_fold\d+", stale.name):
            shutil.rmtree(stale)
    written = []
    for name, data in names.items():
        for old in (out / name).glob("*") if (out / name).is_dir() else ():
            if old.is_file():
                old.unlink()        # a table this preparation does not write must not linger
        save_datadir(out / name, data)
        written += sorted((out / name).iterdir())
    write_text(out / "labels.txt", "".join(f"{label}\n" for label in prepared.labels))
    write_text(out / "folds", " ".join(str(f) for f in prepared.folds) + "\n")
    return written + [out / "labels.txt", out / "folds"]
