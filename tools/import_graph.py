#!/usr/bin/env python3
"""The package graph of asc/: list every import that points up (from a lower floor to a higher one).

Floors, lowest first: errors, atomic, config, expdir, fingerprint, metrics, plots, readme_section,
rerun, launch, lock, finite | data, features, augment | models, complexity, download | train | prune | eval, export | bin. A module may
import its own floor and those below. Exit status 1 if any import points up.

    python tools/import_graph.py            # from the repository root
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

FLOORS = [
    {"errors", "atomic", "config", "expdir", "fingerprint", "metrics", "plots", "readme_section", "rerun",
     "launch", "lock", "finite"},
    {"data", "features", "augment"},
    {"models", "complexity", "download"},
    {"train"},
    {"prune"},
    {"eval", "export"},
    {"bin"},
]


def floor(module: str) -> int:
    """The floor of `asc.<part>...`."""
    part = module.split(".")[1] if "." in module else ""
    for level, names in enumerate(FLOORS):
        if part in names:
            return level
    raise SystemExit(f"import_graph: {module}: unknown part '{part}'; add it to FLOORS")


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every `asc.` import in a file, at any depth (lazy imports count too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] if node.module != "asc" else [f"asc.{a.name}" for a in node.names]
            found += [(node.lineno, n) for n in names if n.startswith("asc.")]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("asc.")]
    return found


def upward_imports(root: Path) -> list[str]:
    """One line per import that points up, in the tree at `root`."""
    upward = []
    for path in sorted((root / "asc").rglob("*.py")):
        rel = path.relative_to(root)
        module = ".".join(rel.with_suffix("").parts)
        if module.count(".") < 1 or module == "asc.__init__":
            continue
        here = floor(module)
        for line, target in imports(path):
            if floor(target) > here:
                upward.append(f"{rel}:{line}: {module} imports {target} (floor {floor(target)} > {here})")
    return upward


def main() -> int:
    upward = upward_imports(Path(__file__).resolve().parent.parent)
    print("\n".join(upward) or "no upward imports")
    return 1 if upward else 0


if __name__ == "__main__":
    sys.exit(main())
