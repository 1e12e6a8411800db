"""What the inputs of an evaluation were, so that a finished job is skipped only while they are unchanged.

A job records `inputs` (a dict of digests) in its done marker; the next run computes them again and
redoes the work when any differs: a retrained checkpoint, a rebuilt feature store, an edited data
directory or label list. File digests are SHA-256 of the content (model files are small; even a
PaSST checkpoint hashes in about a second), never modification times, which copies and clusters change.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from asc.atomic import done_marker

CHUNK = 1 << 20


def file_digest(path: str | os.PathLike) -> str:
    """SHA-256 (first 16 hex digits) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def files_digest(paths) -> str:
    """One digest over several files (name and content of each; absent files count as absent)."""
    digest = hashlib.sha256()
    for path in paths:
        path = Path(path)
        digest.update(path.name.encode() + b"\0")
        digest.update(file_digest(path).encode() if path.is_file() else b"-")
    return digest.hexdigest()[:16]


def previous_inputs(directory: str | os.PathLike, name: str) -> dict | None:
    """The `inputs` recorded in the done marker `name` of `directory`, or None if there is none."""
    marker = done_marker(directory, name)
    if not marker.is_file():
        return None
    try:
        info = json.loads(marker.read_text() or "{}")
    except ValueError:
        return None
    return info.get("inputs")


def unchanged(directory: str | os.PathLike, name: str, inputs: dict, outputs) -> bool:
    """True if the job `name` finished with exactly `inputs` and every one of `outputs` still exists."""
    return previous_inputs(directory, name) == inputs and all(Path(p).is_file() for p in outputs)


def marker_digest(path: str | os.PathLike) -> str | None:
    """Digest of the done marker beside a finished output (`dump/x/feats.h5` -> `feats.done`, an
    experiment folder -> its `train.done`): the identity of what a stage built, cheap to compute
    however large the output, and new whenever the output is rebuilt. None if there is no marker."""
    path = Path(path)
    marker = path / "train.done" if path.is_dir() else path.parent / f"{path.name.removesuffix('.h5')}.done"
    return file_digest(marker) if marker.is_file() else None


def audio_digest(paths) -> str:
    """One digest over audio files by name, size and modification time (content digests of 230,000
    clips would take minutes at every run; a file rewritten under the same name changes its
    mtime). A missing file counts as missing, so the reader's error names it later."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path).encode() + b"\0")
        try:
            stat = os.stat(path)
        except OSError:
            digest.update(b"-\n")
            continue
        digest.update(f"{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


def datadir_digest(folder: str | os.PathLike) -> str:
    """Digest of a data directory's files (wav.scp, utt2*): what a stage reading it was given."""
    folder = Path(folder)
    return files_digest(sorted(p for p in folder.iterdir() if p.is_file())) if folder.is_dir() else "-"


# Libraries whose version changes the features: librosa makes the mel filterbank, soxr resamples.
FEATURE_LIBRARIES = ("librosa", "soxr")


def library_versions(names=FEATURE_LIBRARIES) -> dict[str, str | None]:
    """Installed versions of `names` (None for one that is not installed)."""
    from importlib import metadata

    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def changed_inputs(recorded: dict | None, now: dict) -> list[str]:
    """Names of the inputs whose digest differs between a done marker's record and now."""
    recorded = recorded or {}
    return [key for key in now if recorded.get(key) != now[key]]
