"""The job array of one launcher call: `JOB=1:N`, the log file template and the command template.

The command is one shell string built the way Kaldi's run.pl/queue.pl build it, so that recipes
written for Kaldi behave the same: shell operators given as separate arguments (`|`, `>`, `2>&1`)
act as operators, plain words pass as they are, and every other argument is quoted (unlike Kaldi,
which quotes only white space: a `;` or `$` in a path would run or expand). `JOB` (or whatever name the range gives) is replaced by the job's index in the log file name
and the command wherever it stands as a word of its own (`extract.JOB.log`, `--shard JOB`,
`split/JOB/`), as in Kaldi, but not inside a longer name such as `$SLURM_JOB_ID`.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

_RANGE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(\d+):(\d+)$")


def is_job_range(arg: str) -> bool:
    """True if `arg` looks like a job range such as `JOB=1:4`."""
    return _RANGE.match(arg) is not None


# Arguments passed to the shell as they are: words of only these characters, and shell operators
# given as arguments of their own (`|`, `&&`, `2>&1`, `>`, `>>log`), as Kaldi's launchers pass them.
_PLAIN = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+$")
_OPERATOR = re.compile(r"^(\|\|?|&&|;|\d*(>>?|<)(&\d+|[A-Za-z0-9_@%+=:,./-]+)?|&>)$")
# A word that is one variable and nothing else (`$SGE_TASK_ID`) is left for the job's shell to expand,
# as Kaldi's launchers let it; a `$` anywhere else (a path) is quoted.
_VARIABLE = re.compile(r"^\$(\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)$")


def shell_command(argv: list[str]) -> str:
    """Join a command's arguments into one shell string: plain words, shell operators and a lone
    `$VARIABLE` as they are, anything else quoted (white space, `;`, `$` inside a word, quotes, globs),
    so a path never runs as code."""
    return " ".join(arg if _PLAIN.match(arg) or _OPERATOR.match(arg) or _VARIABLE.match(arg) else shlex.quote(arg)
                    for arg in argv)


def index_ranges(indices: list[int]) -> list[tuple[int, int]]:
    """Runs of consecutive indices: [1, 2, 3, 5] -> [(1, 3), (5, 5)]."""
    ranges: list[tuple[int, int]] = []
    for index in sorted(indices):
        if ranges and index == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], index)
        else:
            ranges.append((index, index))
    return ranges


@dataclass(frozen=True)
class JobArray:
    """Jobs `first..last` of one launcher call (one job, index None, when no range was given)."""

    log_template: str
    command_template: str
    var: str | None = None
    first: int = 1
    last: int = 1

    @classmethod
    def parse(cls, job_range: str | None, log_template: str, command: str) -> "JobArray":
        """Build the array from the command line's `[JOB=a:b] LOGFILE` and the command string."""
        if job_range is None:
            return cls(log_template, command)
        match = _RANGE.match(job_range)
        if match is None:
            raise ValueError(f"bad job range '{job_range}' (expected e.g. JOB=1:4)")
        var, first, last = match.group(1), int(match.group(2)), int(match.group(3))
        if first < 1 or last < first:
            raise ValueError(f"bad job range '{job_range}': need 1 <= first <= last")
        if cls(log_template, command, var).expand(log_template, first) == log_template:
            raise ValueError(f"the log file name '{log_template}' does not contain {var}, "
                             f"so the {last - first + 1} jobs would share one log")
        return cls(log_template, command, var, first, last)

    @property
    def indices(self) -> list[int | None]:
        """The job indices, or [None] for a single job without a range."""
        return list(range(self.first, self.last + 1)) if self.var else [None]

    @property
    def range_text(self) -> str:
        """The range as the user wrote it (`JOB=1:4`), or '' for a single job."""
        return f"{self.var}={self.first}:{self.last}" if self.var else ""

    def expand(self, text: str, index: int | str | None) -> str:
        """`text` with the job variable replaced by `index` (unchanged for a single job)."""
        if self.var is None or index is None:
            return text
        return re.sub(rf"(?<![A-Za-z0-9_]){self.var}(?![A-Za-z0-9_])", str(index), text)

    def log(self, index: int | None) -> Path:
        """The log file of job `index`."""
        return Path(self.expand(self.log_template, index))

    def command(self, index: int | None) -> str:
        """The shell command of job `index`."""
        return self.expand(self.command_template, index)

    @property
    def name(self) -> str:
        """A short job name for the scheduler, from the log file name (`extract.JOB.log` -> `extract`)."""
        base = self.expand(Path(self.log_template).name, "")
        base = re.sub(r"\.log$", "", base)
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", base).strip("._-") or "job"
        return base if base[0].isalpha() else f"j{base}"

    @property
    def queue_dir(self) -> Path:
        """Folder beside the logs for the scheduler's job script and its own output (Kaldi's `q/`)."""
        parent = Path(self.log_template).parent
        while self.expand(str(parent), 0) != str(parent):
            parent = parent.parent
        return parent / "q"


@dataclass(frozen=True)
class Resources:
    """What each job asks for; None means 'not given' (the scheduler config's default applies)."""

    mem: str | None = None
    num_threads: int | None = None
    gpu: int | None = None
    time: str | None = None
    max_jobs_run: int | None = None
    extra: tuple[str, ...] = ()

    def generic(self, with_max_jobs_run: bool) -> dict[str, str | None]:
        """The options a scheduler config maps to flags, by their config names."""
        names = ["mem", "num_threads", "gpu", "time"] + (["max_jobs_run"] if with_max_jobs_run else [])
        values = {name: getattr(self, name) for name in names}
        return {name: None if value is None else str(value) for name, value in values.items()}
