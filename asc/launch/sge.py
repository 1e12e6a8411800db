"""The SGE back end (Grid Engine, and its descendants that keep qsub's flags): `qsub -t a-b -sync y`.

Every option, --max-jobs-run included (`-tc`), goes through conf/queue.conf. qsub's -t takes only
one range, so a `--pick failed` rerun of jobs 2 and 5-6 submits one array per run of consecutive
jobs, side by side.
"""
from __future__ import annotations

from asc.launch.batch import SubmitResult, output_pattern, submit_and_wait, write_job_script
from asc.launch.jobs import JobArray, Resources, index_ranges
from asc.launch.schedconf import SchedulerConfig

DEFAULT_CONFIG = """\
command qsub -V -S /bin/bash
option mem=* -l mem_free=$0,ram_free=$0
option mem=0
option num_threads=* -pe smp $0
option num_threads=1
option max_jobs_run=* -tc $0
option gpu=0
option gpu=* -l gpu=$0
option time=* -l h_rt=$0
"""


def qsub_commands(conf: SchedulerConfig, jobs: JobArray, indices: list[int | None],
                  resources: Resources, script: str) -> list[list[str]]:
    """The qsub command lines (one per run of consecutive jobs): config, ours, --extra, the script."""
    base = conf.command + conf.flags(resources.generic(with_max_jobs_run=True))
    base += ["-N", jobs.name, "-j", "y", "-sync", "y"]
    if not jobs.var:
        return [base + ["-o", str(output_pattern(jobs, ""))] + list(resources.extra) + [script]]
    return [base + ["-o", str(output_pattern(jobs, "$TASK_ID")), "-t", f"{first}-{last}"]
            + list(resources.extra) + [script]
            for first, last in index_ranges(indices)]


def run_sge(jobs: JobArray, indices: list[int | None], resources: Resources,
            conf: SchedulerConfig) -> list[SubmitResult]:
    """Submit the jobs `indices` as array jobs and wait for them; their logs hold the results."""
    script = write_job_script(jobs, "sge", "${SGE_TASK_ID}", resources.num_threads)
    commands = qsub_commands(conf, jobs, indices, resources, str(script))
    outputs = [jobs.queue_dir / f"{jobs.name}.qsub{n}.log" for n in range(len(commands))]
    return submit_and_wait(commands, outputs, r"Your job(?:-array)? (\d+)", ["qdel"])
