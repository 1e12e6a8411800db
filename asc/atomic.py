"""Writing files so that no later stage ever reads a half-written one.

Every output goes to a temporary name in the same folder and is renamed into place once complete
(rename is atomic on POSIX file systems; the file is fsynced first and its folder after, so that a
power cut cannot leave the new name on an empty file); a stage marks itself finished with a done marker, written
last. A killed process therefore leaves either the old file, nothing, or a `*.tmp*` file that no
reader looks at.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it to `path` if the block succeeds.

    The temporary keeps `suffix` (e.g. ".h5") for libraries that look at extensions.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        # mkstemp creates the file private (0600); give it the mode a plain open() would have, so that
        # others sharing a cluster's file system can read the outputs.
        os.chmod(tmp, 0o666 & ~_umask())
        _fsync(tmp)                     # the content reaches the disk before the name points at it
        os.replace(tmp, path)
        _fsync(path.parent)             # and the rename itself survives a power cut
    finally:
        if tmp.exists():
            tmp.unlink()


def _fsync(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to the disk. Without it a crash soon after a
    rename can leave the new name pointing at an empty file on ext4/XFS, which a later stage trusts."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:                     # some file systems cannot fsync a folder; the file was flushed
        if not path.is_dir():
            raise
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | os.PathLike, obj) -> None:
    """Write `obj` as indented JSON to `path` atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def torch_save(obj, path: str | os.PathLike) -> None:
    """torch.save to `path` atomically."""
    import torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def done_marker(directory: str | os.PathLike, name: str) -> Path:
    """Path of the marker that says the work `name` in `directory` finished."""
    return Path(directory) / f"{name}.done"


def mark_done(directory: str | os.PathLike, name: str, info: dict | None = None) -> None:
    """Write the done marker for `name` (last, after every output of the work is in place)."""
    write_json(done_marker(directory, name), info or {})


def is_done(directory: str | os.PathLike, name: str) -> bool:
    """True if the work `name` in `directory` wrote its done marker."""
    return done_marker(directory, name).exists()
