"""Running one job into its log file, and reading the log back.

Every back end runs a job the same way, so that every log looks the same: a header with the command,
the host, the scheduler's job id and the start time; the command's output (stdout and stderr); a
footer with the exit code and the run time. The footer is how the launcher learns a job's exit code
on every back end, and how `--pick failed` finds the jobs to rerun: a log without a footer belongs to
a job that was killed or never ran. (A log is written as the job runs, so that it can be followed
with `tail -f`, not renamed into place: its footer is what marks it complete.)

Job scripts on a cluster call this module: `python -m asc.launch.joblog --log LOG ... -- COMMAND`.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from asc.launch.jobs import JobArray

_FOOTER = re.compile(r"^# Ended \(code (\d+)\)")
_FOOTER_LINES = 3  # "#", accounting, "# Ended (code N) ..."
_SCHEDULER_IDS = (("SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "slurm job"),
                  ("SLURM_JOB_ID", None, "slurm job"),
                  ("JOB_ID", "SGE_TASK_ID", "sge job"))


def _now() -> str:
    return time.strftime("%a %b %d %H:%M:%S %Z %Y")


def _scheduler_job() -> str:
    """The scheduler's id of the running job (`slurm job 12_3`), or '' when run locally."""
    for job_var, task_var, label in _SCHEDULER_IDS:
        job = os.environ.get(job_var)
        if job:
            task = os.environ.get(task_var) if task_var else None
            suffix = f"_{task}" if task and task != "undefined" else ""
            return f" ({label} {job}{suffix})"
    return ""


def job_env(num_threads: int | None) -> dict[str, str]:
    """The environment of a job: ours, with the thread count it asked for (if any) for OpenMP/MKL."""
    env = dict(os.environ)
    if num_threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env[var] = str(num_threads)
    return env


def exit_code_of(returncode: int) -> int:
    """A process's return code as a shell reports it (128 + signal number for a killed process)."""
    return 128 - returncode if returncode < 0 else returncode


def run_job(jobs: JobArray, index: int | None, num_threads: int | None = None,
            started: Callable[[subprocess.Popen], None] | None = None) -> int:
    """Run job `index` of `jobs` in bash (pipefail) with its output in its log; return its exit code.

    The command runs in a session of its own so that the whole pipeline can be stopped at once;
    `started` receives the process (the local back end keeps it to stop it on Ctrl-C).
    """
    log = jobs.log(index)
    log.parent.mkdir(parents=True, exist_ok=True)
    command = jobs.command(index)
    which = f"job {index} of {jobs.range_text}" if index is not None else "job"
    with open(log, "w", encoding="utf-8", errors="replace") as out:
        shown = command.replace("\n", "\n# ")  # every header line starts with '#'
        out.write(f"# {shown}\n# launch.sh: {which}{_scheduler_job()} on host {socket.gethostname()}, "
                  f"in {os.getcwd()}\n# Started at {_now()}\n#\n")
        out.flush()
        start = time.monotonic()
        proc = subprocess.Popen(["bash", "-o", "pipefail", "-c", command], stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT, env=job_env(num_threads),
                                start_new_session=True)
        if started is not None:
            started(proc)
        code = exit_code_of(proc.wait())
        elapsed = time.monotonic() - start
        killed = f", killed by {signal.Signals(-proc.returncode).name}" if proc.returncode < 0 else ""
        out.write(f"#\n# Accounting: time={elapsed:.0f} threads={num_threads or 1}\n"
                  f"# Ended (code {code}{killed}) at {_now()}, elapsed time {elapsed:.1f} seconds\n")
    return code


def stop_job(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Send `sig` to the job's whole process group (bash and everything it started)."""
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path: Path, size: int = 8192) -> tuple[list[str], bool]:
    """The lines of the last `size` bytes of `path`, and whether they start at the top of the file."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        start = max(0, f.tell() - size)
        f.seek(start)
        text = f.read().decode("utf-8", errors="replace")
    lines = text.splitlines()
    if start > 0:
        lines = lines[1:]  # the first line is most likely cut
    # progress bars rewrite their line with \r: keep what the line showed last
    return [line.rsplit("\r", 1)[-1] for line in lines], start == 0


def read_exit_code(log: Path) -> int | None:
    """The exit code in a job log's footer; None if the log is missing or has no footer."""
    if not log.is_file():
        return None
    for line in reversed(_tail(log, 1024)[0]):
        match = _FOOTER.match(line)
        if match:
            return int(match.group(1))
    return None


def last_output_lines(log: Path, n: int = 3, width: int = 200) -> list[str]:
    """The last `n` non-empty lines the job's command printed (the footer left out)."""
    if not log.is_file():
        return []
    lines, whole = _tail(log)
    if lines and _FOOTER.match(lines[-1]):
        lines = lines[:-_FOOTER_LINES]
    if whole:  # leave out the header: up to the "#" line after "# Started at ..."
        starts = [n for n, line in enumerate(lines) if line.startswith("# Started at ")]
        lines = lines[starts[0] + 2:] if starts else lines
    lines = [line for line in lines if line.strip()]
    return [line[:width] for line in lines[-n:]]


def _forward_signals(proc_box: list[subprocess.Popen]) -> None:
    """On SIGTERM/SIGINT (scancel, qdel, a time limit) stop the command, so that the footer is written."""
    def handler(signum, frame):
        if proc_box:
            stop_job(proc_box[0], signum)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    """Entry point of a cluster job script: run one job of an array into its log."""
    parser = argparse.ArgumentParser(prog="python -m asc.launch.joblog",
                                     description="Run one job of a launcher call into its log file.")
    parser.add_argument("--log", required=True, help="log file name, with the job variable")
    parser.add_argument("--range", default=None, help="job range, e.g. JOB=1:4 (none: a single job)")
    parser.add_argument("--index", type=int, default=None, help="this job's index in the range")
    parser.add_argument("--num-threads", type=int, default=None)
    parser.add_argument("command", help="the shell command, with the job variable")
    args = parser.parse_args(argv)
    jobs = JobArray.parse(args.range, args.log, args.command)
    proc_box: list[subprocess.Popen] = []
    _forward_signals(proc_box)
    return run_job(jobs, args.index if jobs.var else None, args.num_threads, started=proc_box.append)


if __name__ == "__main__":
    sys.exit(main())
