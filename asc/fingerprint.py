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
