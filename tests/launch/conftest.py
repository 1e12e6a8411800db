"""Fixtures of the launcher tests (helpers in launch_helpers.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

from launch_helpers import RECIPE, FakeScheduler


@pytest.fixture
def fake_scheduler(tmp_path: Path) -> FakeScheduler:
    """Fake sbatch/qsub on PATH (through `.env()`), recording their arguments."""
    return FakeScheduler(tmp_path)


@pytest.fixture
def recipe_cwd(tmp_path: Path) -> Path:
    """A working folder with the recipe's scheduler configs in conf/, as a recipe's cwd."""
    cwd = tmp_path / "recipe"
    (cwd / "conf").mkdir(parents=True)
    for name in ("slurm.conf", "queue.conf"):
        (cwd / "conf" / name).write_text((RECIPE / "conf" / name).read_text())
    return cwd
