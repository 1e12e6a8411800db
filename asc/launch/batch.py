"""What the Slurm and SGE back ends share: the job script, and a submit command that waits.

The job script is written beside the logs (`log/q/NAME.sh`, as Kaldi's queue.pl does), so that a
failed job can be looked at and resubmitted by hand. It changes to the recipe's folder, sources its
`path.sh` when there is one (so the job finds the project's environment even where the site does not
export the submitter's), and runs `asc.launch.joblog` with the same Python as the launcher, which
writes the job's log with its header and footer.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from asc.atomic import write_text
from asc.launch.jobs import JobArray


def output_pattern(jobs: JobArray, placeholder: str) -> Path:
    """Where the scheduler writes a job's own output (`log/q/NAME.<placeholder>.out`), absolute."""
    stem = f"{jobs.name}.{placeholder}" if jobs.var else jobs.name
    return (jobs.queue_dir / f"{stem}.out").resolve()


def scheduler_output(jobs: JobArray, index: int | None) -> Path:
    """The scheduler's own output file of job `index` (what it says when a job never started)."""
    return output_pattern(jobs, str(index))


def write_job_script(jobs: JobArray, backend: str, index_expr: str, num_threads: int | None) -> Path:
    """Write the job script of `jobs` to `log/q/NAME.sh`; `index_expr` is the shell's task index."""
    runner = [sys.executable, "-m", "asc.launch.joblog", "--log", jobs.log_template]
    if num_threads:
        runner += ["--num-threads", str(num_threads)]
    if jobs.var:
        runner += ["--range", jobs.range_text]
    runner_text = shlex.join(runner)
    if jobs.var:
        runner_text += f' --index "{index_expr}"'
    runner_text += " -- " + shlex.quote(jobs.command_template)
    what = f"jobs {jobs.range_text}" if jobs.var else "one job"
    text = (f"#!/usr/bin/env bash\n"
            f"# Written by utils/launch.sh ({backend}): {what}, each logging to {jobs.log_template}\n"
            f"cd {shlex.quote(os.getcwd())} || exit 1\n"
            f"if [ -f ./path.sh ]; then . ./path.sh; fi\n"
            f"exec {runner_text}\n")
    path = jobs.queue_dir / f"{jobs.name}.sh"
    write_text(path, text)
    path.chmod(0o755)
    return path.resolve()


@dataclass
class SubmitResult:
    """How a submit command ended: its name, exit code, and the file holding what it printed."""

    program: str
    code: int
    output: Path


class Submission:
    """A submit command that waits for its jobs (`sbatch --wait`, `qsub -sync y`).

    What it prints goes to a file in `log/q/`; the job id is read from it, so that the jobs can be
    cancelled if the launcher is interrupted.
    """

    def __init__(self, argv: list[str], id_pattern: str, output: Path):
        self.argv = argv
        self.output = output
        self.job_id: str | None = None
        self._id_pattern = re.compile(id_pattern)
        output.parent.mkdir(parents=True, exist_ok=True)
        self._out = open(output, "w", encoding="utf-8", errors="replace")
        self._out.write(f"# {shlex.join(argv)}\n")
        self._out.flush()
        # a session of its own: Ctrl-C reaches the launcher, which cancels the jobs itself
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._out.write(line)
            self._out.flush()
            match = self.job_id is None and self._id_pattern.search(line)
            if match:
                self.job_id = match.group(1)

    def wait(self) -> SubmitResult:
        """Wait for the submit command (and so for its jobs) to end."""
        code = self.proc.wait()
        self._reader.join()
        self._out.close()
        return SubmitResult(Path(self.argv[0]).name, code, self.output)

    def cancel(self, cancel_command: list[str]) -> None:
        """Cancel the submitted jobs (scancel/qdel) and stop waiting for them."""
        if self.job_id is not None:
            subprocess.run(cancel_command + [self.job_id], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, check=False)
        self.proc.terminate()


def submit_and_wait(commands: list[list[str]], outputs: list[Path], id_pattern: str,
                    cancel_command: list[str]) -> list[SubmitResult]:
    """Run the submit commands side by side and wait for all; on an interrupt cancel their jobs."""
    try:
        submissions = [Submission(argv, id_pattern, out) for argv, out in zip(commands, outputs)]
    except FileNotFoundError as err:
        raise RuntimeError(f"cannot run {err.filename}: not installed or not on PATH") from None
    try:
        return [submission.wait() for submission in submissions]
    except BaseException:
        for submission in submissions:
            submission.cancel(cancel_command)
        raise
