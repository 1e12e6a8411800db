"""A fresh virtual environment holding exactly what a package declares (and what those need), for
tests that install something with `pip install -e` and must prove it runs without `asc`.

Installing torch into a new venv takes minutes (a 1 GB wheel unpacked), too long for the suite; and
`--system-site-packages` would show it every package of the machine. So the new venv gets one extra
site folder (a .pth line) holding links to the installed files of the requirement closure only (read
from the package metadata of this interpreter's environment: each distribution's RECORD), dist-info
included, so that pip sees the requirements as installed and nothing else is importable. `asc` is not
in the closure: the caller checks that `import asc` fails there.
"""
from __future__ import annotations

import importlib.metadata as metadata
import re
import subprocess
import sys
from pathlib import Path

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def requirement_closure(names: list[str]) -> list[metadata.Distribution]:
    """The installed distributions of `names` and, recursively, of their unconditional requirements."""
    found: dict[str, metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue                      # an optional one this environment does not have
        found[name] = dist
        for requirement in dist.requires or []:
            if "extra ==" in requirement:
                continue
            match = _NAME.match(requirement)
            if match:
                todo.append(match.group(1))
    return list(found.values())


def link_site(folder: Path, dists: list[metadata.Distribution]) -> None:
    """`folder` with one link per top-level entry (module, package, dist-info) of each distribution."""
    folder.mkdir(parents=True)
    for dist in dists:
        base = Path(dist.locate_file(""))
        for top in sorted({Path(f).parts[0] for f in dist.files or [] if not str(f).startswith("..")}):
            source, target = base / top, folder / top
            if source.exists() and not target.exists() and top not in ("__pycache__",):
                target.symlink_to(source)


def make_clean_venv(root: Path, requirements: list[str]) -> Path:
    """A venv at `root` whose python sees `requirements` (and their closure) only; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=120)
    python = root / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True, timeout=60).stdout.strip())
    closure = requirement_closure(requirements + ["pip", "setuptools", "wheel"])
    link_site(root / "requirements-site", closure)
    (site / "requirements.pth").write_text(str(root / "requirements-site") + "\n")
    return python
