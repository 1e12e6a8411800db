"""The package reads top-down: no module imports one of a higher floor (tools/import_graph.py)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tools" / "import_graph.py")
import_graph = importlib.util.module_from_spec(spec)
spec.loader.exec_module(import_graph)


def test_no_module_imports_upward():
    assert import_graph.upward_imports(ROOT) == []


def test_an_upward_import_is_named(tmp_path):
    (tmp_path / "asc" / "train").mkdir(parents=True)
    (tmp_path / "asc" / "train" / "x.py").write_text("def f():\n    from asc.eval.scoring import score\n")
    assert import_graph.upward_imports(tmp_path) == [
        "asc/train/x.py:2: asc.train.x imports asc.eval.scoring (floor 5 > 3)"]
