"""One run per folder: a second run is refused naming the first; a dead run's lock is taken over."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from asc.lock import LockHeld, acquire, lock_path, release

ROOT = Path(__file__).resolve().parents[1]


def dead_pid() -> int:
    """The id of a process that has finished."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=60)
    return proc.pid


def test_second_holder_is_refused_naming_the_first(tmp_path):
    acquire(tmp_path, os.getppid(), "./run.sh --stage 3")
    with pytest.raises(LockHeld, match=rf"pid {os.getppid()} on .*running: ./run.sh --stage 3"):
        acquire(tmp_path, os.getpid(), "another")


def test_lock_of_a_dead_process_is_taken_over_and_released(tmp_path):
    acquire(tmp_path, dead_pid(), "killed run")
    acquire(tmp_path, os.getpid(), "me")
    assert json.loads(lock_path(tmp_path).read_text())["pid"] == os.getpid()
    release(tmp_path)
    assert not lock_path(tmp_path).exists()


def recipe_copy(tmp: Path) -> Path:
    (tmp / "egs" / "r").mkdir(parents=True)
    for name in ("tools", "utils"):
        (tmp / name).symlink_to(ROOT / name)
    for entry in (ROOT / "egs" / "dcase2024_task1").iterdir():
        (tmp / "egs" / "r" / entry.name).symlink_to(entry)
    return tmp / "egs" / "r"


def run_sh(recipe: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    return subprocess.run(["./run.sh", "--stage", "7", "--stop-stage", "6"], cwd=recipe, env=env, text=True,
                          capture_output=True, timeout=120)


def test_run_sh_refuses_a_second_run_in_its_folder_and_takes_over_a_dead_ones_lock(tmp_path):
    recipe = recipe_copy(tmp_path)
    acquire(recipe, os.getppid(), "./run.sh (the first)")
    busy = run_sh(recipe)
    assert busy.returncode != 0 and f"pid {os.getppid()}" in busy.stderr and "the first" in busy.stderr
    shown = subprocess.run(["./run.sh", "--help"], cwd=recipe, text=True, capture_output=True, timeout=120)
    assert shown.returncode == 0 and "Usage:" in shown.stdout + shown.stderr     # --help needs no lock
    lock_path(recipe).unlink()
    acquire(recipe, dead_pid(), "./run.sh (killed)")
    free = run_sh(recipe)
    assert free.returncode == 0, free.stderr
    assert not lock_path(recipe).exists()                  # released when run.sh exits


def test_a_fresh_lock_taken_in_between_is_not_removed_as_stale(tmp_path):
    from asc.lock import _remove_stale

    acquire(tmp_path, os.getppid(), "the run that took over first")
    _remove_stale(lock_path(tmp_path), {"pid": dead_pid(), "host": "h"})   # a slower taker's judgement
    assert json.loads(lock_path(tmp_path).read_text())["pid"] == os.getppid()
