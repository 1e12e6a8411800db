"""Safe, reproducible installs: a torch whose safe loader holds, Python >= 3.10, the CI-tested versions."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def setup_kwargs() -> dict:
    text = (ROOT / "setup.py").read_text()
    requires = re.search(r"install_requires=\[(.*?)\]", text, re.S).group(1)
    return {"python_requires": re.search(r'python_requires="([^"]+)"', text).group(1),
            "install_requires": [Requirement(r) for r in re.findall(r'"([^"]+)"', requires)]}


def constraints() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "tools" / "constraints.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = Version(version)
    return pins


def test_floors_keep_the_safe_loader_and_the_configs_python():
    kwargs = setup_kwargs()
    assert kwargs["python_requires"] == ">=3.10"
    torch = next(r for r in kwargs["install_requires"] if r.name == "torch")
    assert not torch.specifier.contains("2.5.1") and not torch.specifier.contains("2.9.1")
    assert torch.specifier.contains("2.10.0") and torch.specifier.contains("2.13.0")


def test_every_dependency_is_pinned_in_the_constraints_within_its_range_and_bounded_above():
    pins = constraints()
    for requirement in setup_kwargs()["install_requires"]:
        if requirement.name == "torch":
            assert "torch" not in pins                 # TORCH_SPEC chooses the build (CPU, CUDA)
            continue
        assert requirement.name.lower() in pins, f"{requirement.name} has no CI-tested version"
        assert requirement.specifier.contains(pins[requirement.name.lower()]), requirement
        assert any(s.operator in ("<", "==") for s in requirement.specifier), f"{requirement} has no upper bound"


def test_install_checks_the_torch_version():
    check = [sys.executable, str(ROOT / "tools" / "torch_check.py"), "--version"]
    old = subprocess.run(check + ["2.5.1"], capture_output=True, text=True, timeout=60)
    assert old.returncode == 1 and "CVE-2025-32434" in old.stderr
    assert subprocess.run(check + ["2.9.1+cu126"], capture_output=True, timeout=60).returncode == 1
    assert subprocess.run(check + ["2.13.0+cpu"], capture_output=True, timeout=60).returncode == 0
    install = (ROOT / "tools" / "install.sh").read_text()
    assert "torch_check.py" in install and '-c "$constraints"' in install
