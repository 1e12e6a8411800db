"""Exit 1, saying why, if the installed torch (or --version V) is older than the project allows.

    tools/venv/bin/python tools/torch_check.py              # the installed torch
    python3 tools/torch_check.py --version 2.5.1            # any version string

Checkpoints are read with torch.load(weights_only=True), the safe loader; torch up to 2.5.1 lets a
crafted file run code through it anyway (CVE-2025-32434), and a later advisory covers releases below
2.10. Used by tools/install.sh, so that a venv keeping an old torch is caught, not trusted.
"""
from __future__ import annotations

import argparse
import re
import sys

MINIMUM = (2, 10)


def release(version: str) -> tuple[int, ...]:
    """(major, minor, patch) of a version string such as '2.13.0+cpu' or '2.10.0a0'."""
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version)
    if not match:
        raise ValueError(f"not a torch version: {version!r}")
    return tuple(int(x or 0) for x in match.groups())


def problem(version: str) -> str | None:
    """Why `version` is not acceptable, or None."""
    if release(version)[:2] < MINIMUM:
        return (f"torch {version} is older than {MINIMUM[0]}.{MINIMUM[1]}: its torch.load(weights_only=True) "
                f"can be bypassed by a crafted checkpoint (CVE-2025-32434 up to 2.5.1, a later advisory below "
                f"2.10); install torch>={MINIMUM[0]}.{MINIMUM[1]} (TORCH_SPEC=... tools/install.sh)")
    return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--version", help="check this version string instead of the installed torch")
    args = p.parse_args(argv)
    version = args.version
    if version is None:
        try:
            import torch
        except ImportError:
            print("torch_check: torch is not installed", file=sys.stderr)
            return 1
        version = torch.__version__
    why = problem(version)
    if why:
        print(f"torch_check: {why}", file=sys.stderr)
        return 1
    print(f"torch_check: torch {version} ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
