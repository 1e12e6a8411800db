"""The Slurm back end: one `sbatch --array=... --wait` for all the jobs of a launcher call.

A single job (no JOB range) is submitted without --array. --max-jobs-run becomes the array's
throttle (`--array=1-40%8`); the other options go through conf/slurm.conf. Jobs that a `--pick failed`
rerun leaves out are simply not in the array (`--array=2,5-6`).
"""
from __future__ import annotations

from asc.launch.batch import SubmitResult, output_pattern, submit_and_wait, write_job_script
from asc.launch.jobs import JobArray, Resources, index_ranges
from asc.launch.schedconf import SchedulerConfig

DEFAULT_CONFIG = """\
command sbatch --export=ALL
option mem=* --mem=$0
option mem=0
option num_threads=* --cpus-per-task=$0
option gpu=0
option gpu=* --gres=gpu:$0
option time=* --time=$0
"""


def array_spec(indices: list[int], max_jobs_run: int | None) -> str:
    """sbatch's --array value for `indices`, throttled to `max_jobs_run` at once."""
    spec = ",".join(f"{a}-{b}" if a != b else f"{a}" for a, b in index_ranges(indices))
    return f"{spec}%{max_jobs_run}" if max_jobs_run else spec


def sbatch_command(conf: SchedulerConfig, jobs: JobArray, indices: list[int | None],
                   resources: Resources, script: str) -> list[str]:
    """The sbatch command line: the config's command and flags, then ours, then --extra, then the script."""
    argv = conf.command + conf.flags(resources.generic(with_max_jobs_run=False))
    argv += [f"--job-name={jobs.name}", "--wait", "--parsable"]
    if jobs.var:
        argv += [f"--array={array_spec(indices, resources.max_jobs_run)}",
                 f"--output={output_pattern(jobs, '%a')}"]
    else:
        argv += [f"--output={output_pattern(jobs, '')}"]
    return argv + list(resources.extra) + [script]


def run_slurm(jobs: JobArray, indices: list[int | None], resources: Resources,
              conf: SchedulerConfig) -> list[SubmitResult]:
    """Submit the jobs `indices` as one array and wait for them; their logs hold the results."""
    script = write_job_script(jobs, "slurm", "${SLURM_ARRAY_TASK_ID}", resources.num_threads)
    argv = sbatch_command(conf, jobs, indices, resources, str(script))
    output = jobs.queue_dir / f"{jobs.name}.sbatch.log"
    return submit_and_wait([argv], [output], r"^(\d+)", ["scancel"])
