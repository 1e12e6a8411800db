"""The local back end of utils/launch.sh, and what every back end shares: JOB expansion, the log header
and footer, the exit status and failure report, --pick failed, and stopping the jobs on SIGTERM."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from launch_helpers import LAUNCH, job_log, run_launch

from asc.launch.local import available_cpus, parallel_limit

# A job that shows how many jobs run at once: it registers itself in a folder, waits (up to 10 s) until
# a second job is there, and prints the most jobs it saw running together.
COUNTING_JOB = """\
import pathlib, sys, time
running = pathlib.Path(sys.argv[1]); me = running / sys.argv[2]
me.touch()
peak, deadline = 0, time.time() + 10
while time.time() < deadline:
    peak = max(peak, len(list(running.iterdir())))
    if peak >= 2:
        break
    time.sleep(0.02)
time.sleep(0.3)
peak = max(peak, len(list(running.iterdir())))
me.unlink()
print("peak", peak)
"""


def test_array_of_jobs_expands_job_and_writes_header_and_footer(tmp_path):
    done = run_launch(["JOB=1:4", "log/echo.JOB.log", "echo", "job", "JOB", "of", "4"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    for index in range(1, 5):
        header, output, footer = job_log(tmp_path / f"log/echo.{index}.log")
        lines = header.splitlines()
        assert lines[0] == f"# echo job {index} of 4"
        assert f"job {index} of JOB=1:4 on host {socket.gethostname()}" in lines[1]
        assert lines[2].startswith("# Started at ")
        assert output == f"job {index} of 4\n"
        assert "# Accounting: time=" in footer
        assert footer.splitlines()[-1].startswith("# Ended (code 0) at ")
        assert "elapsed time" in footer


def test_failed_job_gives_nonzero_exit_naming_its_log_and_last_lines(tmp_path):
    command = ["python3", "-c", "import sys; print('working on JOB'); sys.exit('bad input in shard JOB' if JOB == 3 else 0)"]
    done = run_launch(["JOB=1:4", "log/x.JOB.log", *command], tmp_path)
    assert done.returncode == 1
    assert "launch.sh: 1 of 4 jobs failed: log/x.3.log\n" in done.stderr
    assert "log/x.3.log: exit code 1" in done.stderr
    assert "bad input in shard 3" in done.stderr
    assert "--pick failed" in done.stderr
    assert job_log(tmp_path / "log/x.3.log")[2].splitlines()[-1].startswith("# Ended (code 1)")
    assert job_log(tmp_path / "log/x.2.log")[2].splitlines()[-1].startswith("# Ended (code 0)")


def test_single_job_without_range(tmp_path):
    ok = run_launch(["log/one.log", "echo", "hello"], tmp_path)
    assert ok.returncode == 0 and job_log(tmp_path / "log/one.log")[1] == "hello\n"
    bad = run_launch(["log/one.log", "false"], tmp_path)
    assert bad.returncode == 1
    assert "1 of 1 jobs failed: log/one.log" in bad.stderr


def test_jobs_run_in_parallel_up_to_the_limit(tmp_path):
    script = tmp_path / "count.py"
    script.write_text(COUNTING_JOB)
    (tmp_path / "running").mkdir()
    done = run_launch(["--max-jobs-run", "2", "JOB=1:4", "log/c.JOB.log", "python3", str(script),
                       str(tmp_path / "running"), "JOB"], tmp_path)
    assert done.returncode == 0, done.stderr
    peaks = [int(job_log(tmp_path / f"log/c.{i}.log")[1].split()[-1]) for i in range(1, 5)]
    assert max(peaks) == 2, peaks  # never more than 2 at once, and 2 did run together


def test_default_limit_is_the_cpus_divided_by_threads_per_job():
    assert parallel_limit(None, None) == available_cpus()
    assert parallel_limit(None, 2) == max(1, available_cpus() // 2)
    assert parallel_limit(3, 8) == 3


def test_num_threads_reaches_the_job(tmp_path):
    done = run_launch(["--num-threads", "3", "log/t.log", "printenv", "OMP_NUM_THREADS"], tmp_path)
    assert done.returncode == 0, done.stderr
    header, output, footer = job_log(tmp_path / "log/t.log")
    assert output == "3\n" and "threads=3" in footer


def test_kaldi_quoting_pipes_and_job_as_a_word(tmp_path):
    # an argument with spaces stays one argument; a lone '|' is a pipe; JOB inside a longer name stays
    done = run_launch(["JOB=2:2", "log/q.JOB.log", "echo", "a  b", "JOB", "MY_JOB_ID", "|", "tr", "a-z", "A-Z"],
                      tmp_path)
    assert done.returncode == 0, done.stderr
    assert job_log(tmp_path / "log/q.2.log")[1] == "A  B 2 MY_JOB_ID\n"


def test_pipeline_failure_counts(tmp_path):
    done = run_launch(["log/p.log", "false", "|", "cat"], tmp_path)
    assert done.returncode == 1  # bash runs the command with pipefail


def test_pick_failed_reruns_only_failed_and_unfinished_jobs(tmp_path):
    marker = tmp_path / "fixed"
    command = ["test", "JOB", "-ne", "2", "-o", "-e", str(marker)]
    first = run_launch(["JOB=1:3", "log/r.JOB.log", *command], tmp_path)
    assert first.returncode == 1 and "1 of 3 jobs failed: log/r.2.log" in first.stderr
    # job 3 "was killed": its log has no footer
    (tmp_path / "log/r.3.log").write_text("# test 3 ...\n# partial\n")
    before = (tmp_path / "log/r.1.log").read_text()
    marker.touch()
    again = run_launch(["--pick", "failed", "JOB=1:3", "log/r.JOB.log", *command], tmp_path)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "log/r.1.log").read_text() == before  # not run again
    for index in (2, 3):
        assert job_log(tmp_path / f"log/r.{index}.log")[2].splitlines()[-1].startswith("# Ended (code 0)")
    nothing = run_launch(["--pick", "failed", "JOB=1:3", "log/r.JOB.log", *command], tmp_path)
    assert nothing.returncode == 0 and "nothing to run" in nothing.stderr


def test_usage_errors(tmp_path):
    unknown = run_launch(["--memory", "4G", "log/x.log", "true"], tmp_path)
    assert unknown.returncode == 2 and "unknown option --memory" in unknown.stderr
    shared_log = run_launch(["JOB=1:2", "log/x.log", "true"], tmp_path)
    assert shared_log.returncode == 2 and "does not contain JOB" in shared_log.stderr
    bad_backend = run_launch(["--backend", "pbs", "log/x.log", "true"], tmp_path)
    assert bad_backend.returncode == 2 and "--backend must be one of local, slurm, sge" in bad_backend.stderr
    no_command = run_launch(["log/x.log"], tmp_path)
    assert no_command.returncode == 2
    assert not (tmp_path / "log").exists()


def _processes_running(argv: list[str]) -> list[int]:
    """Pids of the processes whose command line is `argv`."""
    wanted = "\0".join(argv) + "\0"
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "cmdline").read_bytes().decode(errors="replace") == wanted:
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


def test_sigterm_stops_running_jobs_and_starts_no_more(tmp_path):
    nap = f"300.{os.getpid()}"  # a sleep no one else runs, to find our processes by
    launcher = subprocess.Popen([str(LAUNCH), "--max-jobs-run", "2", "JOB=1:3", "log/s.JOB.log",
                                 "sleep", nap, "|", "cat"], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 20
        while len(_processes_running(["sleep", nap])) < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert len(_processes_running(["sleep", nap])) == 2
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=20) == 128 + signal.SIGTERM
        assert _processes_running(["sleep", nap]) == []  # the whole pipelines were stopped
    finally:
        launcher.kill()
        for pid in _processes_running(["sleep", nap]):
            os.kill(pid, signal.SIGKILL)
    assert "got SIGTERM" in launcher.stderr.read()
    for index in (1, 2):
        footer = job_log(tmp_path / f"log/s.{index}.log")[2]
        assert "(code 143, killed by SIGTERM)" in footer
    assert not (tmp_path / "log/s.3.log").exists()


def test_a_path_with_shell_characters_is_passed_as_a_path(tmp_path):
    for odd in (tmp_path / "a;touch pwned;b $HOME", tmp_path / "c;mkdir${IFS}pwned;d"):   # with and without a space
        odd.mkdir()
        done = run_launch(["log/ls.log", "ls", "-d", str(odd)], tmp_path)
        assert done.returncode == 0, done.stderr
        assert not (tmp_path / "pwned").exists()
        _, output, _ = job_log(tmp_path / "log/ls.log")
        assert str(odd) in output
