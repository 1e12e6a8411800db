"""utils/job_pool.sh: background jobs at most N at once, each under `set -e`, failures counted and named."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
set -euo pipefail
. {pool}
work() {{ echo start $1 >> {trace}; sleep 0.4; echo end $1 >> {trace}; }}
broken() {{ echo before; false; echo after-the-failure; }}
pool_start 2
pool_run {logs}/a.log work a
pool_run {logs}/b.log broken
pool_run {logs}/c.log work c
pool_run {logs}/d.log work d
if pool_finish; then echo ALL-OK; else echo SOME-FAILED; fi
"""


def test_failures_are_counted_and_at_most_n_run_at_once(tmp_path):
    trace, logs = tmp_path / "trace", tmp_path / "logs"
    script = SCRIPT.format(pool=ROOT / "utils" / "job_pool.sh", trace=trace, logs=logs)
    done = subprocess.run(["bash", "-c", script], text=True, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "SOME-FAILED"
    assert f"pool: failed (exit 1): {logs}/b.log" in done.stderr
    assert (logs / "b.log").read_text() == "before\n"          # set -e held inside the job
    running = peak = 0
    for line in trace.read_text().split("\n"):
        if line:
            running += 1 if line.startswith("start") else -1
            peak = max(peak, running)
    assert peak <= 2 and trace.read_text().count("end") == 3


def test_all_succeeding_jobs_finish_cleanly(tmp_path):
    script = SCRIPT.format(pool=ROOT / "utils" / "job_pool.sh", trace=tmp_path / "t", logs=tmp_path / "l")
    script = script.replace("pool_run {0}/b.log broken\n".format(tmp_path / "l"), "")
    done = subprocess.run(["bash", "-c", script], text=True, capture_output=True, timeout=60)
    assert done.stdout.strip() == "ALL-OK" and done.stderr == ""


def test_a_killed_script_takes_the_jobs_descendants_with_it(tmp_path):
    pids = tmp_path / "pids"
    script = f"""
set -euo pipefail
. {ROOT / "utils" / "job_pool.sh"}
deep() {{ bash -c 'echo $$ >> {pids}; sleep 60'; }}
pool_start 2
pool_run {tmp_path}/a.log deep
pool_run {tmp_path}/b.log deep
pool_finish
"""
    proc = subprocess.Popen(["bash", "-c", script])
    deadline = time.time() + 20
    while time.time() < deadline and (not pids.exists() or len(pids.read_text().split()) < 2):
        time.sleep(0.1)
    grandchildren = [int(p) for p in pids.read_text().split()]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 130
    time.sleep(0.5)
    for pid in grandchildren:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        with open(f"/proc/{pid}/stat") as stat:         # gone, or a zombie awaiting its reaper
            assert stat.read().split()[2] == "Z", f"process {pid} outlived the killed pool"


def test_largest_first_orders_splits_for_the_pool():
    script = f". {ROOT / 'utils' / 'job_pool.sh'}; echo \"[$(largest_first 5 10 25 50 100)]\"; pool_threads 2"
    done = subprocess.run(["bash", "-c", script], text=True, capture_output=True, timeout=60)
    lines = done.stdout.splitlines()
    assert lines[0] == "[100 50 25 10 5 ]"
    assert int(lines[1]) == max(1, len(os.sched_getaffinity(0)) // 2)     # nproc // 2


def _default_jobs(args: str, cores: int) -> str:
    """default_jobs with `nproc` answering `cores` (a function shadowing the command)."""
    script = f". {ROOT / 'utils' / 'job_pool.sh'}; nproc() {{ echo {cores}; }}; default_jobs {args}"
    done = subprocess.run(["bash", "-c", script], text=True, capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_default_jobs_is_one_chain_per_core_on_this_machines_cpu_only():
    assert _default_jobs("local 0 5 10 25 50 100", cores=2) == "2"
    assert _default_jobs("local 0 5 10 25 50 100", cores=16) == "5"     # never more chains than splits
    assert _default_jobs("local 0 100", cores=16) == "1"
    assert _default_jobs("local 1 5 10 25 50 100", cores=16) == "1"     # GPUs: one job at a time, as before
    assert _default_jobs("slurm 0 5 10 25 50 100", cores=16) == "1"     # a queue: as before
