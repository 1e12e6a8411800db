"""The local back end: the jobs run as processes on this machine, a limited number at a time.

The limit is --max-jobs-run, or else as many jobs as the CPUs this process may use allow at
--num-threads each (Kaldi's run.pl runs everything at once; on a shared machine that is rarely what
anyone wants). On Ctrl-C or SIGTERM the running jobs are stopped, whole pipelines included, and the
jobs not yet started never start.
"""
from __future__ import annotations

import os
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

from asc.launch.joblog import run_job, stop_job
from asc.launch.jobs import JobArray


def available_cpus() -> int:
    """The number of CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def parallel_limit(max_jobs_run: int | None, num_threads: int | None) -> int:
    """How many jobs run at once: --max-jobs-run, else the CPUs divided by the threads per job."""
    if max_jobs_run:
        return max_jobs_run
    return max(1, available_cpus() // (num_threads or 1))


def run_local(jobs: JobArray, indices: list[int | None], num_threads: int | None = None,
              max_jobs_run: int | None = None) -> None:
    """Run the jobs `indices` of `jobs` here and wait for all of them; their logs hold the results."""
    running: list[subprocess.Popen] = []
    lock = threading.Lock()
    stopping = threading.Event()

    def started(proc: subprocess.Popen) -> None:
        with lock:
            running.append(proc)
        if stopping.is_set():  # began just as the launcher was told to stop
            stop_job(proc)

    workers = min(parallel_limit(max_jobs_run, num_threads), len(indices))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="job") as pool:
        futures = [pool.submit(run_job, jobs, index, num_threads, started) for index in indices]
        try:
            for future in futures:
                future.result()
        except BaseException:
            stopping.set()
            pool.shutdown(wait=False, cancel_futures=True)
            with lock:
                for proc in running:
                    stop_job(proc)
            raise
