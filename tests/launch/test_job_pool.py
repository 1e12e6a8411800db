"""utils/job_pool.sh: background jobs at most N at once, each under `set -e`, failures counted and named."""
from __future__ import annotations

import subprocess
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
