"""One run per folder: a lock file naming its holder, taken over when the holder has died.

Two `./run.sh` in one recipe folder, or two trainings of one experiment folder, would interleave
their files (one extraction deleted the other's temporary file; checkpoints and metrics of two runs
mixed). The lock is a file created exclusively (O_EXCL), holding the process id, host, start time
and command of its holder. A second run reads it and stops, naming the holder. A lock whose process
no longer runs on this host (killed, machine rebooted) is stale and taken over; one held on another
host cannot be checked from here and is reported, with the file to remove if that run is gone.

    python -m asc.lock acquire FOLDER --pid PID --what "run.sh ..."   (exit 1: held by another run)
    python -m asc.lock release FOLDER --pid PID
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Iterator

from asc.errors import AscError

LOCK = ".asc.lock"


class LockHeld(AscError):
    """Another live run holds the folder."""


def lock_path(folder: str | os.PathLike) -> Path:
    """The lock file of a folder."""
    return Path(folder) / LOCK


def acquire(folder: str | os.PathLike, pid: int | None = None, what: str = "") -> Path:
    """Take the lock of `folder` for process `pid` (default: this one); LockHeld naming the holder if
    a live process holds it; a stale lock (its process is gone) is taken over."""
    path = lock_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    pid = os.getpid() if pid is None else pid
    record = {"pid": pid, "host": socket.gethostname(), "since": time.strftime("%Y-%m-%d %H:%M:%S"),
              "what": what or " ".join(sys.argv)}
    for _ in range(3):          # a takeover races at most with another taker; then one of them wins
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _read(path)
            if holder is not None and holder.get("pid") == pid and holder.get("host") == record["host"]:
                return path                                          # ours already (re-entry)
            if holder is not None and _alive(holder):
                raise LockHeld(f"{folder}: another run holds this folder: {describe(holder)}; wait for it "
                               f"to finish (or stop it), then run again. Lock file: {path}") from None
            _remove_stale(path, holder)
            continue
        with os.fdopen(fd, "w") as f:
            json.dump(record, f)
            f.flush()
            os.fsync(f.fileno())
        return path
    raise LockHeld(f"{folder}: could not take the lock {path} (another run keeps taking it)")


def _remove_stale(path: Path, stale: dict | None) -> None:
    """Remove the lock `path` if it still holds the `stale` record. It is first moved aside (atomic), so
    that a lock another run has just taken in its place is put back, not deleted."""
    aside = path.with_name(f"{path.name}.stale.{os.getpid()}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    if _read(aside) != stale:                                      # someone else's fresh lock: put it back
        with contextlib.suppress(FileExistsError):
            os.link(aside, path)
    aside.unlink(missing_ok=True)


def release(folder: str | os.PathLike, pid: int | None = None) -> None:
    """Remove the lock of `folder` if process `pid` (default: this one) holds it."""
    path = lock_path(folder)
    holder = _read(path)
    pid = os.getpid() if pid is None else pid
    if holder is not None and holder.get("pid") == pid and holder.get("host") == socket.gethostname():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str = "") -> Iterator[Path]:
    """Hold the lock of `folder` for this process while the block runs."""
    path = acquire(folder, what=what)
    try:
        yield path
    finally:
        release(folder)


def describe(holder: dict) -> str:
    """`pid 123 on host, since ..., running: ...` for a lock record."""
    return (f"pid {holder.get('pid')} on {holder.get('host')}, since {holder.get('since')}, "
            f"running: {holder.get('what') or '?'}")


def _read(path: Path) -> dict | None:
    """The holder recorded in a lock file; None if it is gone, or unreadable (a holder killed while
    writing it: stale)."""
    try:
        holder = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _alive(holder: dict) -> bool:
    """True if the holder's process still runs (always True for another host: it cannot be checked)."""
    if holder.get("host") != socket.gethostname():
        return True
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True                                                  # alive, another user's
    return True


def main(argv=None) -> int:
    """The command line used by the recipes' shell scripts (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m asc.lock", description=__doc__.split("\n\n")[0])
    p.add_argument("action", choices=("acquire", "release"))
    p.add_argument("folder")
    p.add_argument("--pid", type=int, required=True, help="process that holds the lock (the shell's $$)")
    p.add_argument("--what", default="", help="what the holder runs (shown to a second run)")
    args = p.parse_args(argv)
    try:
        if args.action == "acquire":
            acquire(args.folder, args.pid, args.what)
        else:
            release(args.folder, args.pid)
    except AscError as e:
        print(f"lock: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
