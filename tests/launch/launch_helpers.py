"""Helpers of the launcher tests: running utils/launch.sh, reading job logs, and fake sbatch/qsub
commands that record their arguments and run the job script they are given, task by task, as the
scheduler would (fixtures in conftest.py)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / "utils" / "launch.sh"
RECIPE = ROOT / "egs" / "dcase2024_task1"

# Runs a task of an array: sets the scheduler's variables, sends the job script's output to the -o/--output
# file; tasks named in FAKE_SCHED_SKIP "never start" (as if cancelled or lost by the scheduler);
# FAKE_SCHED_REFUSE makes sbatch refuse the submission with that message.
_FAKE_COMMON = """\
import json, os, subprocess, sys
args = sys.argv[1:]
with open(os.environ["FAKE_SCHED_CALLS"], "a") as f:
    f.write(json.dumps([os.path.basename(sys.argv[0])] + args) + "\\n")
skip = set(os.environ.get("FAKE_SCHED_SKIP", "").split())

def run_task(script, task, env, out):
    if str(task) in skip:
        return 0
    with open(out, "w") as o:
        return subprocess.call([script], env={**os.environ, **env}, stdout=o, stderr=subprocess.STDOUT)
"""

FAKE_SBATCH = _FAKE_COMMON + """
if os.environ.get("FAKE_SCHED_REFUSE"):
    sys.exit("sbatch: error: Batch job submission failed: " + os.environ["FAKE_SCHED_REFUSE"])
opts = dict(a[2:].split("=", 1) for a in args[:-1] if a.startswith("--") and "=" in a)
tasks = [None]
if "array" in opts:
    tasks = []
    for part in opts["array"].split("%")[0].split(","):
        first, _, last = part.partition("-")
        tasks += list(range(int(first), int(last or first) + 1))
print(4242, flush=True)
codes = [run_task(args[-1], t, {"SLURM_JOB_ID": "4242", "SLURM_ARRAY_JOB_ID": "4242",
                                 "SLURM_ARRAY_TASK_ID": str(t)} if t else {"SLURM_JOB_ID": "4242"},
                  opts["output"].replace("%a", str(t))) for t in tasks]
sys.exit(max(codes))
"""

FAKE_QSUB = _FAKE_COMMON + """
def value(flag):
    return args[args.index(flag) + 1] if flag in args else None
assert value("-sync") == "y", "the launcher must wait for its jobs"
tasks = [None]
if value("-t"):
    first, last = value("-t").split("-")
    tasks = list(range(int(first), int(last) + 1))
print('Your job-array 77.1-4:1 ("%s") has been submitted' % value("-N"), flush=True)
codes = [run_task(args[-1], t, {"JOB_ID": "77", "SGE_TASK_ID": str(t) if t else "undefined"},
                  value("-o").replace("$TASK_ID", str(t))) for t in tasks]
sys.exit(max(codes))
"""


def run_launch(args: list[str], cwd: Path, env: dict[str, str] | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess:
    """Run utils/launch.sh with `args` in `cwd`; return the finished process (text output)."""
    return subprocess.run([str(LAUNCH), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


class FakeScheduler:
    """A folder holding fake `sbatch` and `qsub`, and the calls they got."""

    def __init__(self, root: Path):
        self.bin = root / "fake-bin"
        self.calls_file = root / "scheduler-calls.jsonl"
        self.bin.mkdir()
        for name, body in (("sbatch", FAKE_SBATCH), ("qsub", FAKE_QSUB), ("scancel", ""), ("qdel", "")):
            path = self.bin / name
            path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(body))
            path.chmod(0o755)

    def env(self, **extra: str) -> dict[str, str]:
        """The environment that puts the fakes first on PATH."""
        return {**os.environ, "PATH": f"{self.bin}:{os.environ['PATH']}",
                "FAKE_SCHED_CALLS": str(self.calls_file), **extra}

    @property
    def calls(self) -> list[list[str]]:
        """Every call so far: [program, arg, ...]."""
        if not self.calls_file.exists():
            return []
        return [json.loads(line) for line in self.calls_file.read_text().splitlines()]


def job_log(path: Path) -> tuple[str, str, str]:
    """A job log split into header, output and footer (the launcher writes 4 and 3 lines of them)."""
    lines = path.read_text().splitlines(keepends=True)
    return "".join(lines[:4]), "".join(lines[4:-3]), "".join(lines[-3:])


def recipe_copy(root: Path) -> Path:
    """A recipe folder `root/egs/dcase2024_task1` that runs the real recipe but writes under `root`.

    Its scripts and conf/ are links to the real ones; `root/tools` links to the project's tools/, so
    that path.sh (which finds the venv two folders up from itself) activates the project's venv.
    """
    recipe = root / "egs" / RECIPE.name
    recipe.mkdir(parents=True)
    (root / "tools").symlink_to(ROOT / "tools")
    for entry in RECIPE.iterdir():
        if entry.name in ("utils", "steps", "path.sh", "run.sh", "cmd.sh", "db.sh", "conf", "local"):
            shared = entry.name in ("utils", "steps")          # the repository's shared shell layers
            (recipe / entry.name).symlink_to(ROOT / entry.name if shared else entry)
    return recipe
