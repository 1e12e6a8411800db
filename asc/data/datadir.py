"""Kaldi-style data directories: the one interface between corpora and every later stage.

A data directory holds text files with one `key value` line per utterance, sorted by key:
`wav.scp` (audio path), `utt2label`, `utt2device`, `utt2city`, `utt2rec` (the 10-s recording the
1-s segment was cut from). Adapting the recipe to a new dataset means writing these files.
`utt2label` may be absent for an unlabeled evaluation set. `utt2segment` (`utt start end`, seconds)
says that the utterance is that stretch of its wav.scp file, not the whole file (segments of long
recordings, asc.data.audio_folder); without it every utterance is its whole file.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from asc.atomic import write_text
from asc.errors import InputError

REQUIRED = ("wav.scp",)
OPTIONAL = ("utt2label", "utt2device", "utt2city", "utt2rec", "utt2segment")


@dataclass
class DataDir:
    """The contents of one data directory; every mapping has the same keys as `wav`."""
    wav: dict[str, str]
    label: dict[str, str] = field(default_factory=dict)
    device: dict[str, str] = field(default_factory=dict)
    city: dict[str, str] = field(default_factory=dict)
    rec: dict[str, str] = field(default_factory=dict)
    segment: dict[str, str] = field(default_factory=dict)

    @property
    def utts(self) -> list[str]:
        """Utterance ids, sorted (the order of every file and of every feature store)."""
        return sorted(self.wav)

    def __len__(self) -> int:
        return len(self.wav)

    def subset(self, utts) -> "DataDir":
        """A data directory holding only `utts` (which must all be present)."""
        keep = set(utts)
        missing = keep - set(self.wav)
        if missing:
            raise KeyError(f"{len(missing)} utterances not in the data directory, e.g. {sorted(missing)[:3]}")
        pick = lambda m: {k: v for k, v in m.items() if k in keep}
        return DataDir(pick(self.wav), pick(self.label), pick(self.device), pick(self.city), pick(self.rec),
                       pick(self.segment))

    def span(self, utt: str) -> tuple[float, float] | None:
        """(start, end) in seconds of the utterance within its file (utt2segment), or None: the whole file."""
        text = self.segment.get(utt)
        if text is None:
            return None
        try:
            start, end = (float(v) for v in text.split())
        except ValueError:
            raise InputError("utt2segment", f"utterance {utt}: expected 'start end' in seconds, found {text!r}") from None
        if not 0 <= start < end:
            raise InputError("utt2segment", f"utterance {utt}: segment {start}..{end} s is empty or negative")
        return start, end


_FILES = {"wav": "wav.scp", "label": "utt2label", "device": "utt2device", "city": "utt2city", "rec": "utt2rec",
          "segment": "utt2segment"}


def read_table(path: str | os.PathLike) -> dict[str, str]:
    """Read a `key value` file; a malformed line or a duplicate key is an error naming the line."""
    path = Path(path)
    table: dict[str, str] = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            parts = line.split(maxsplit=1)
            if len(parts) != 2:
                raise InputError(path, f"expected 'key value', found {line!r}", line=n)
            key, value = parts
            if key in table:
                raise InputError(path, f"duplicate key {key!r}", line=n)
            table[key] = value.strip()
    return table


def write_table(path: str | os.PathLike, table: dict[str, str]) -> None:
    """Write a `key value` file sorted by key, atomically."""
    write_text(path, "".join(f"{k} {table[k]}\n" for k in sorted(table)))


def load_datadir(path: str | os.PathLike) -> DataDir:
    """Read a data directory and check that every file has the keys of `wav.scp`."""
    path = Path(path)
    if not (path / "wav.scp").is_file():
        raise InputError(path, "not a data directory (no wav.scp); run the data preparation stage first")
    tables = {}
    wav = read_table(path / "wav.scp")
    for attr, name in _FILES.items():
        if attr == "wav" or not (path / name).is_file():
            continue
        table = read_table(path / name)
        if set(table) != set(wav):
            extra, missing = set(table) - set(wav), set(wav) - set(table)
            raise InputError(path / name, f"keys differ from wav.scp: {len(missing)} missing "
                             f"(e.g. {sorted(missing)[:2]}), {len(extra)} extra (e.g. {sorted(extra)[:2]})")
        tables[attr] = table
    return DataDir(wav=wav, **tables)


def save_datadir(path: str | os.PathLike, data: DataDir) -> None:
    """Write the non-empty tables of `data` into directory `path`."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for attr, name in _FILES.items():
        table = getattr(data, attr)
        if table:
            write_table(path / name, table)


def read_labels(path: str | os.PathLike) -> list[str]:
    """The class list (one label a line, in the official order)."""
    labels = [l.strip() for l in Path(path).read_text().splitlines() if l.strip()]
    if len(set(labels)) != len(labels):
        raise InputError(path, "duplicate label in the label list")
    return labels
