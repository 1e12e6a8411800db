"""Fetching the official pretrained files into the recipe's folder, verified, never half-written.

Each file is streamed to a temporary name beside its destination, checked (byte count, SHA-256, or
a strict load into its model where no digest is known: asc.models.pretrained_files) and only then
renamed into place; a failed, interrupted or refused download leaves nothing where the recipe reads.
A destination that already holds the verified file is left alone without touching the network, so a
folder filled beforehand (an offline copy named by db.sh's PRETRAINED_DIR) works offline.
"""
from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from asc.atomic import atomic_path, write_text
from asc.errors import AscError, InputError
from asc.models.pretrained_files import SIDECAR, PretrainedFile, verify

CHUNK = 1 << 20
TIMEOUT_S = 60

Log = Callable[[str], None]


def _print(message: str) -> None:
    print(message, flush=True)


def fetch(entry: PretrainedFile, out_dir: str | os.PathLike, url: str | None = None,
          source_dir: str | os.PathLike | None = None, log: Log = _print) -> Path:
    """Place the verified `entry` in `out_dir` and return its path.

    Already there and verified: nothing is done. Else it is copied from `source_dir` (a local folder)
    if given, or downloaded from `url` (default: the official release URL).
    """
    out_dir = Path(out_dir)
    dest = out_dir / entry.name
    if dest.is_file():
        try:
            verify(entry, dest)
            log(f"{dest}: present and verified; nothing to fetch")
            return dest
        except InputError as e:
            dest.unlink()           # never leave an unverified file where the recipe reads
            log(f"{e}; removed, fetching it again")
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.glob(f".{entry.name}.tmp*"):     # left by a download that was killed
        stale.unlink()
    where = str(Path(source_dir) / entry.name) if source_dir is not None else (url or entry.url)
    with atomic_path(dest, suffix=".part") as tmp:
        if source_dir is not None:
            _copy(Path(where), tmp)
        else:
            _download(where, tmp, entry, log)
        try:
            digest = verify(entry, tmp)
        except InputError as e:
            raise InputError(where, f"refused, nothing placed at {dest}: {e.problem}") from None
    if entry.sha256 is None:
        write_text(dest.with_name(dest.name + SIDECAR), f"{digest}  {entry.name}\n")
        log(f"{dest}: no published SHA-256 for {entry.name}; it loads strictly into {entry.model}, and its "
            f"digest {digest} is recorded in {dest.name}{SIDECAR} (trusted from now on)")
    else:
        log(f"{dest}: SHA-256 verified ({digest})")
    return dest


def _copy(source: Path, tmp: Path) -> None:
    if not source.is_file():
        raise InputError(source, "pretrained file not found in the source folder")
    shutil.copyfile(source, tmp)


def _download(url: str, tmp: Path, entry: PretrainedFile, log: Log) -> None:
    """Stream `url` into `tmp`; InputError naming the URL if the transfer fails or comes up short."""
    log(f"downloading {url}")
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(tmp, "wb") as out:
            announced = response.headers.get("Content-Length")
            received = 0
            while chunk := response.read(CHUNK):
                out.write(chunk)
                received += len(chunk)
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise InputError(url, f"download of {entry.name} failed ({reason}); nothing placed") from None
    if announced is not None and received != int(announced):
        raise InputError(url, f"download of {entry.name} ended after {received:,} of {int(announced):,} "
                              f"bytes; nothing placed")


def fetch_all(entries: list[PretrainedFile], out_dir: str | os.PathLike, base_url: str | None = None,
              source_dir: str | os.PathLike | None = None, log: Log = _print) -> list[Path]:
    """fetch() every entry; `base_url` replaces the release folder of each URL (a mirror)."""
    placed = []
    failed = []
    for entry in entries:
        url = base_url.rstrip("/") + "/" + entry.name if base_url else None
        try:
            placed.append(fetch(entry, out_dir, url=url, source_dir=source_dir, log=log))
        except AscError as e:
            failed.append(str(e))
    if failed:
        raise AscError(f"{len(failed)} of {len(entries)} file(s) not placed in {out_dir}:\n  " + "\n  ".join(failed))
    return placed


__all__ = ["fetch", "fetch_all"]
