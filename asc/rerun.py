"""The script each experiment folder keeps that re-runs the command that made it (a Kaldi/ESPnet habit:
anyone can see, and repeat, exactly how a result was produced)."""
from __future__ import annotations

import os
import shlex
from pathlib import Path

from asc.atomic import write_text


def write_rerun_script(exp: Path, module: str, argv: list[str]) -> None:
    """Write <exp>/run.sh running `python -m module argv` from the current folder; re-running it resumes
    an unfinished experiment or skips a finished one. An unchanged script is not rewritten."""
    text = ("#!/usr/bin/env bash\n# Re-runs this experiment (resumes if unfinished, skips if finished).\n"
            f"cd {shlex.quote(os.getcwd())} && python -m {module} {shlex.join(argv)} \"$@\"\n")
    script = Path(exp) / "run.sh"
    if not script.is_file() or script.read_text() != text:
        write_text(script, text)
        script.chmod(0o755)
