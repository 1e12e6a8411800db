"""The command line of utils/launch.sh: options, then `[JOB=1:N] LOGFILE COMMAND...`, as in Kaldi."""
from __future__ import annotations

import shlex
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

from asc.errors import ConfigError
from asc.launch.batch import SubmitResult, scheduler_output
from asc.launch.joblog import last_output_lines, read_exit_code
from asc.launch.jobs import JobArray, Resources, is_job_range, shell_command
from asc.launch.local import run_local
from asc.launch.schedconf import SchedulerConfig
from asc.launch import sge, slurm

USAGE = """\
Usage: utils/launch.sh [options] [JOB=1:N] LOGFILE COMMAND...

Runs COMMAND once, or once per index of JOB=1:N with JOB replaced by the index in LOGFILE and in
COMMAND, on this machine, on Slurm or on SGE, and waits for all the jobs. Each job's output goes to
its LOGFILE, which begins with the command, the host and the start time and ends with the exit code
and the run time. Exit status 0 if every job succeeded; 1 if any failed (their logs are named); 2 for
a usage error. Options come before JOB=...; everything after LOGFILE is the command.

Options (also as --name=value):
  --backend local|slurm|sge  where the jobs run (default local; a recipe sets it in cmd.sh)
  --config FILE              scheduler config (default: conf/slurm.conf or conf/queue.conf in the
                             current folder if present, else the built-in defaults)
  --mem SIZE                 memory per job, e.g. 4G
  --num-threads N            CPU threads per job (the job also gets OMP_NUM_THREADS=N)
  --gpu N                    GPUs per job (one job holding N GPUs: run torchrun inside it)
  --time HH:MM:SS            time limit per job
  --max-jobs-run N           jobs running at once (local default: CPUs / threads per job)
  --extra "FLAGS"            more flags for sbatch/qsub, after those of the config
  --pick all|failed          failed: run only the jobs whose log does not end with exit code 0

Examples:
  utils/launch.sh JOB=1:4 dump/log/extract.JOB.log python -m asc.bin.extract_features --shard JOB ...
  utils/launch.sh --backend slurm --gpu 2 --time 24:00:00 exp/log/train.log \\
      torchrun --standalone --nproc-per-node 2 -m asc.bin.train --config conf/train.yaml
"""

_VALUE_OPTIONS = {"backend", "config", "mem", "num-threads", "gpu", "time", "max-jobs-run", "extra", "pick"}
_CHOICES = {"backend": ("local", "slurm", "sge"), "pick": ("all", "failed")}
_CONFIG_FILES = {"slurm": ("conf/slurm.conf", slurm.DEFAULT_CONFIG), "sge": ("conf/queue.conf", sge.DEFAULT_CONFIG)}
_MAX_DETAILED = 5


class UsageError(Exception):
    """The command line is malformed."""


class Interrupted(BaseException):
    """The launcher got SIGTERM or SIGHUP (Ctrl-C arrives as KeyboardInterrupt)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@dataclass
class Request:
    """One launcher call, parsed."""

    jobs: JobArray
    backend: str = "local"
    config: str | None = None
    pick: str = "all"
    resources: Resources = field(default_factory=Resources)


def _positive_int(name: str, value: str, minimum: int) -> int:
    try:
        number = int(value)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise UsageError(f"--{name} needs a whole number >= {minimum}, got '{value}'")
    return number


def _options(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """Split the leading `--name value` / `--name=value` options off the command line."""
    options: dict[str, str] = {}
    rest = list(argv)
    while rest and rest[0].startswith("--"):
        name, eq, value = rest.pop(0)[2:].partition("=")
        if name not in _VALUE_OPTIONS:
            raise UsageError(f"unknown option --{name}")
        if not eq:
            if not rest:
                raise UsageError(f"option --{name} needs a value")
            value = rest.pop(0)
        if name in _CHOICES and value not in _CHOICES[name]:
            raise UsageError(f"--{name} must be one of {', '.join(_CHOICES[name])}, got '{value}'")
        options[name] = value
    return options, rest


def parse_command_line(argv: list[str]) -> Request:
    """Parse `[options] [JOB=a:b] LOGFILE COMMAND...` into a Request."""
    options, rest = _options(argv)
    job_range = rest.pop(0) if rest and is_job_range(rest[0]) else None
    if len(rest) < 2:
        raise UsageError("expected [JOB=1:N] LOGFILE COMMAND...")
    try:
        jobs = JobArray.parse(job_range, rest[0], shell_command(rest[1:]))
    except ValueError as err:
        raise UsageError(str(err)) from None
    ints = {name: _positive_int(name, options[name], 0 if name == "gpu" else 1)
            for name in ("num-threads", "gpu", "max-jobs-run") if name in options}
    try:
        extra = tuple(shlex.split(options.get("extra", "")))
    except ValueError as err:
        raise UsageError(f"--extra: {err}") from None
    resources = Resources(mem=options.get("mem"), num_threads=ints.get("num-threads"), gpu=ints.get("gpu"),
                          time=options.get("time"), max_jobs_run=ints.get("max-jobs-run"), extra=extra)
    return Request(jobs, options.get("backend", "local"), options.get("config"), options.get("pick", "all"),
                   resources)


def scheduler_config(backend: str, path: str | None) -> SchedulerConfig:
    """The config given by --config, else the recipe's conf/ file, else the built-in default."""
    default_path, default_text = _CONFIG_FILES[backend]
    if path is not None:
        return SchedulerConfig.load(path)
    if Path(default_path).is_file():
        return SchedulerConfig.load(default_path)
    return SchedulerConfig.parse(default_text, f"the built-in {backend} config")


def run_backend(request: Request, indices: list[int | None]) -> list[SubmitResult]:
    """Run the jobs `indices` on the chosen back end and wait for them."""
    resources = request.resources
    if request.backend == "local":
        run_local(request.jobs, indices, resources.num_threads, resources.max_jobs_run)
        return []
    conf = scheduler_config(request.backend, request.config)
    run = slurm.run_slurm if request.backend == "slurm" else sge.run_sge
    return run(request.jobs, indices, resources, conf)


def failure_report(jobs: JobArray, indices: list[int | None], failed: list[int | None],
                   submits: list[SubmitResult]) -> str:
    """What went wrong, naming each failed job's log with its last lines."""
    logs = [str(jobs.log(index)) for index in failed]
    lines = [f"launch.sh: {len(failed)} of {len(indices)} jobs failed: {' '.join(logs)}"]
    never_ended = False
    for index in failed[:_MAX_DETAILED]:
        log = jobs.log(index)
        code = read_exit_code(log)
        if code is None:
            never_ended = True
            where = "" if not submits else f"; the scheduler's output: {scheduler_output(jobs, index)}"
            lines.append(f"launch.sh: {log}: no exit code in the log: the job was killed or never ran{where}")
            continue
        lines.append(f"launch.sh: {log}: exit code {code}; last lines:")
        lines += [f"    {line}" for line in last_output_lines(log)]
    if len(failed) > _MAX_DETAILED:
        lines.append(f"launch.sh: ... and {len(failed) - _MAX_DETAILED} more")
    for submit in submits:
        if submit.code != 0 and never_ended:
            said = last_output_lines(submit.output)
            lines.append(f"launch.sh: {submit.program} exited with code {submit.code} ({submit.output}): "
                         + " | ".join(said))
    lines.append("launch.sh: to run only the failed jobs again, repeat the command with --pick failed")
    return "\n".join(lines)


def _raise_interrupted(signum, frame) -> None:
    raise Interrupted(signum)


def main(argv: list[str] | None = None) -> int:
    """Entry point of utils/launch.sh: run the jobs, wait, and report the failed ones."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE, end="", file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    try:
        request = parse_command_line(argv)
    except UsageError as err:
        print(f"launch.sh: {err}\n\n{USAGE}", end="", file=sys.stderr)
        return 2
    jobs = request.jobs
    indices = jobs.indices
    if request.pick == "failed":
        indices = [index for index in indices if read_exit_code(jobs.log(index)) != 0]
        if not indices:
            print(f"launch.sh: every job of {jobs.log_template} already succeeded; nothing to run", file=sys.stderr)
            return 0
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupted)
    try:
        for index in indices:  # a stale log must never pass for the result of this run
            jobs.log(index).unlink(missing_ok=True)
        submits = run_backend(request, indices)
    except (ConfigError, RuntimeError, OSError) as err:
        print(f"launch.sh: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("launch.sh: interrupted; the jobs were stopped", file=sys.stderr)
        return 130
    except Interrupted as err:
        print(f"launch.sh: got {signal.Signals(err.signum).name}; the jobs were stopped", file=sys.stderr)
        return 128 + err.signum
    failed = [index for index in indices if read_exit_code(jobs.log(index)) != 0]
    if failed:
        print(failure_report(jobs, indices, failed, submits), file=sys.stderr)
        return 1
    return 0
