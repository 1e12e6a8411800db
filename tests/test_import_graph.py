"""The package reads top-down: no module imports one of a higher floor (tools/import_graph.py)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_no_module_imports_upward():
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "import_graph.py")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == "no upward imports"


def test_an_upward_import_is_named(tmp_path):
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "import_graph.py").write_text((ROOT / "tools" / "import_graph.py").read_text())
    (tmp_path / "asc" / "train").mkdir(parents=True)
    (tmp_path / "asc" / "train" / "x.py").write_text("def f():\n    from asc.eval.scoring import score\n")
    run = subprocess.run([sys.executable, str(tmp_path / "tools" / "import_graph.py")], capture_output=True,
                         text=True)
    assert run.returncode == 1
    assert "asc/train/x.py:2: asc.train.x imports asc.eval.scoring" in run.stdout
