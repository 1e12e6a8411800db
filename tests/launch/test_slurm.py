"""The Slurm back end: the sbatch command line against a fake sbatch (fast, always), and the real thing
on a one-node Slurm cluster started for the test (marker `slurm`; installs slurm-wlm and munge with
apt-get where missing, and needs root, as CI has)."""
from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from launch_helpers import LAUNCH, ROOT, job_log, recipe_copy, run_launch

# ---------------------------------------------------------------- with a fake sbatch


def _sbatch_calls(fake):
    return [call[1:] for call in fake.calls if call[0] == "sbatch"]


def test_array_through_sbatch_with_slurm_conf_flags(fake_scheduler, recipe_cwd):
    done = run_launch(["--backend", "slurm", "--mem", "4G", "--num-threads", "2", "--gpu", "1", "--time", "1:00:00",
                       "--max-jobs-run", "2", "--extra", "--partition=debug --qos=high", "JOB=1:4",
                       "exp/log/extract.JOB.log", "echo", "shard", "JOB", "task", "$SLURM_ARRAY_TASK_ID"],
                      recipe_cwd, env=fake_scheduler.env())
    assert done.returncode == 0, done.stderr
    [argv] = _sbatch_calls(fake_scheduler)
    assert argv[0] == "--export=ALL"  # conf/slurm.conf's command line first
    for flag in ("--mem=4G", "--cpus-per-task=2", "--gres=gpu:1", "--time=1:00:00", "--array=1-4%2", "--wait",
                 "--parsable", "--job-name=extract",
                 f"--output={(recipe_cwd / 'exp/log/q/extract.%a.out').resolve()}"):
        assert flag in argv, flag
    script = (recipe_cwd / "exp/log/q/extract.sh").resolve()
    assert argv[-3:] == ["--partition=debug", "--qos=high", str(script)]  # --extra last, then the script
    body = script.read_text()
    assert body.startswith("#!/usr/bin/env bash\n") and '--index "${SLURM_ARRAY_TASK_ID}"' in body
    for index in range(1, 5):
        header, output, footer = job_log(recipe_cwd / f"exp/log/extract.{index}.log")
        assert output == f"shard {index} task {index}\n"
        assert f"(slurm job 4242_{index})" in header
        assert "# Ended (code 0)" in footer


def test_job_that_never_ran_fails_even_with_an_old_successful_log(fake_scheduler, recipe_cwd):
    assert run_launch(["--backend", "slurm", "JOB=1:3", "log/x.JOB.log", "true"], recipe_cwd,
                      env=fake_scheduler.env()).returncode == 0
    # the scheduler loses job 3 this time: its old log, which ended with code 0, must not count
    done = run_launch(["--backend", "slurm", "JOB=1:3", "log/x.JOB.log", "true"], recipe_cwd,
                      env=fake_scheduler.env(FAKE_SCHED_SKIP="3"))
    assert done.returncode == 1
    assert "1 of 3 jobs failed: log/x.3.log" in done.stderr
    assert "log/x.3.log: no exit code in the log: the job was killed or never ran" in done.stderr
    assert str((recipe_cwd / "log/q/x.3.out").resolve()) in done.stderr


def test_refused_submission_shows_what_sbatch_said(fake_scheduler, recipe_cwd):
    done = run_launch(["--backend", "slurm", "--mem", "900G", "JOB=1:2", "log/x.JOB.log", "true"], recipe_cwd,
                      env=fake_scheduler.env(FAKE_SCHED_REFUSE="Requested node configuration is not available"))
    assert done.returncode == 1
    assert "2 of 2 jobs failed: log/x.1.log log/x.2.log" in done.stderr
    assert "sbatch exited with code 1 (log/q/x.sbatch.log)" in done.stderr
    assert "Requested node configuration is not available" in done.stderr


def test_pick_failed_submits_only_the_failed_tasks(fake_scheduler, recipe_cwd):
    fix = recipe_cwd / "fixed"
    command = ["test", "JOB", "-eq", "1", "-o", "JOB", "-eq", "3", "-o", "-e", str(fix)]
    first = run_launch(["--backend", "slurm", "JOB=1:4", "log/x.JOB.log", *command], recipe_cwd,
                       env=fake_scheduler.env())
    assert first.returncode == 1 and "2 of 4 jobs failed: log/x.2.log log/x.4.log" in first.stderr
    fix.touch()
    again = run_launch(["--backend", "slurm", "--pick", "failed", "JOB=1:4", "log/x.JOB.log", *command],
                       recipe_cwd, env=fake_scheduler.env())
    assert again.returncode == 0, again.stderr
    assert "--array=2,4" in _sbatch_calls(fake_scheduler)[-1]


def test_config_file_choice_and_single_job(fake_scheduler, recipe_cwd, tmp_path):
    site = tmp_path / "site.conf"
    site.write_text("command sbatch --account=asc   # a comment\noption gpu=* --gres=gpu:a100:$0\n")
    done = run_launch(["--backend", "slurm", "--config", str(site), "--gpu", "2", "exp/train.log",
                       "echo", "trained"], recipe_cwd, env=fake_scheduler.env())
    assert done.returncode == 0, done.stderr
    argv = _sbatch_calls(fake_scheduler)[-1]
    assert argv[0] == "--account=asc" and "--gres=gpu:a100:2" in argv
    assert not any(arg.startswith("--array") for arg in argv)
    assert f"--output={(recipe_cwd / 'exp/q/train.out').resolve()}" in argv
    assert job_log(recipe_cwd / "exp/train.log")[1] == "trained\n"
    # no conf/ in the current folder: the built-in config, which maps the same options as the recipe's
    bare = tmp_path / "bare"
    bare.mkdir()
    assert run_launch(["--backend", "slurm", "--mem", "2G", "log/x.log", "true"], bare,
                      env=fake_scheduler.env()).returncode == 0
    assert "--mem=2G" in _sbatch_calls(fake_scheduler)[-1]


def test_missing_sbatch_is_a_clear_error(recipe_cwd, tmp_path):
    bin_dir = tmp_path / "bin"  # what launch.sh needs, and no sbatch
    bin_dir.mkdir()
    for prog in ("bash", "dirname", "readlink"):
        (bin_dir / prog).symlink_to(shutil.which(prog))
    done = run_launch(["--backend", "slurm", "log/x.log", "true"], recipe_cwd,
                      env={**os.environ, "PATH": str(bin_dir)})
    assert done.returncode == 1
    assert "launch.sh: cannot run sbatch: not installed or not on PATH" in done.stderr


# ---------------------------------------------------------------- on a real one-node Slurm cluster

_DAEMONS = ("slurmctld", "slurmd", "sbatch", "munged")


def _slurm_installed() -> bool:
    path = f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"
    return all(shutil.which(prog, path=path) for prog in _DAEMONS)


def _load_cluster_module():
    spec = importlib.util.spec_from_file_location("slurm_test_cluster", ROOT / "tools" / "slurm_test_cluster.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """A one-node Slurm on 127.0.0.1 with its state under a temporary folder, stopped by its pids."""
    if not _slurm_installed():
        if shutil.which("apt-get") is None:
            pytest.skip("Slurm (slurm-wlm, munge) is not installed and there is no apt-get to install it")
        if os.geteuid() != 0:
            pytest.skip("Slurm is not installed and installing it needs root: sudo tools/install_slurm.sh")
        subprocess.run([str(ROOT / "tools" / "install_slurm.sh")], check=True, timeout=900)
    if os.geteuid() != 0:
        pytest.skip("the one-node test cluster runs slurmd as root; run this test as root")
    cluster = _load_cluster_module().SlurmTestCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
    assert cluster.running_daemons() == []


def _slurm_env(cluster) -> dict[str, str]:
    """The cluster's client environment without the project's venv on PATH: path.sh must provide it."""
    env = cluster.env
    venv_bin = str(ROOT / "tools" / "venv" / "bin")
    env["PATH"] = ":".join(p for p in env["PATH"].split(":") if p != venv_bin)
    env.pop("VIRTUAL_ENV", None)
    return env


@pytest.mark.slurm
def test_array_of_4_jobs_on_slurm(slurm_cluster, tmp_path):
    recipe = recipe_copy(tmp_path)
    command = ["python", "-c", "import asc, os, sys; print(JOB, os.environ['SLURM_ARRAY_TASK_ID'], sys.prefix)"]
    start = time.monotonic()
    done = run_launch(["--backend", "slurm", "--mem", "1G", "JOB=1:4", "log/x.JOB.log", *command], recipe,
                      env=_slurm_env(slurm_cluster), timeout=120)
    assert done.returncode == 0, done.stderr + slurm_cluster.logs()
    print(f"4 jobs on Slurm: {time.monotonic() - start:.1f} s")
    for index in range(1, 5):
        header, output, footer = job_log(recipe / f"log/x.{index}.log")
        job, task, prefix = output.split()
        assert (job, task) == (str(index), str(index))
        assert Path(prefix).resolve() == (ROOT / "tools" / "venv").resolve()  # the venv, through path.sh
        assert "(slurm job " in header and footer.splitlines()[-1].startswith("# Ended (code 0)")


@pytest.mark.slurm
def test_failed_job_on_slurm_is_named(slurm_cluster, tmp_path):
    done = run_launch(["--backend", "slurm", "JOB=1:4", "log/x.JOB.log", "python3", "-c",
                       "import sys; sys.exit('shard JOB is broken' if JOB == 3 else 0)"], tmp_path,
                      env=_slurm_env(slurm_cluster), timeout=120)
    assert done.returncode == 1
    assert "launch.sh: 1 of 4 jobs failed: log/x.3.log" in done.stderr
    assert "shard 3 is broken" in done.stderr
    assert job_log(tmp_path / "log/x.3.log")[2].splitlines()[-1].startswith("# Ended (code 1)")


def _queue(env: dict[str, str]) -> list[str]:
    """The ids of the jobs Slurm still holds."""
    queue = subprocess.run(["squeue", "-h", "-o", "%i"], env=env, capture_output=True, text=True, check=True,
                           timeout=60)
    return queue.stdout.split()


@pytest.mark.slurm
def test_sigterm_cancels_the_slurm_jobs(slurm_cluster, tmp_path):
    env = _slurm_env(slurm_cluster)
    launcher = subprocess.Popen([str(LAUNCH), "--backend", "slurm", "JOB=1:2", "log/s.JOB.log", "sleep", "300"],
                                cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not all((tmp_path / f"log/s.{i}.log").exists() for i in (1, 2)) and time.monotonic() < deadline:
            time.sleep(0.2)
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        launcher.kill()
    deadline = time.monotonic() + 30  # cancelled jobs stay in the queue while they complete
    while _queue(env) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _queue(env) == []
    for index in (1, 2):
        deadline = time.monotonic() + 30  # the job writes its footer as scancel stops it
        while "# Ended" not in (tmp_path / f"log/s.{index}.log").read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "killed by SIGTERM" in job_log(tmp_path / f"log/s.{index}.log")[2]


# A corpus of 150 one-second clips (2 cities, 1 location each, 2-s recordings), made in about 2 s.
TINY_CORPUS = ["dev.cities=[lisbon, london]", "dev.locations_per_city=1", "dev.segments_per_location=1",
               "dev.train_pieces=1", "dev.test_pieces=1", "recording_seconds=2", "eval.enabled=false",
               "dirs.count=0", "workers=1"]


def _run_recipe(recipe: Path, args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(["./run.sh", *args], cwd=recipe, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"./run.sh {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


@pytest.mark.slurm
def test_feature_stage_on_slurm_equals_local(slurm_cluster, tmp_path):

    env = _slurm_env(slurm_cluster)
    corpus = tmp_path / "corpus"
    subprocess.run([str(ROOT / "tools/venv/bin/python"), "-m", "asc.bin.make_corpus", "--out", str(corpus),
                    *[arg for text in TINY_CORPUS for arg in ("--set", text)]], check=True, env=env,
                   capture_output=True, timeout=300)
    local, slurm = recipe_copy(tmp_path / "local"), recipe_copy(tmp_path / "slurm")
    _run_recipe(local, ["--stage", "1", "--stop-stage", "2", "--corpus", str(corpus), "--nj", "4"], env)
    shutil.copytree(local / "data", slurm / "data", symlinks=True)
    start = time.monotonic()
    _run_recipe(slurm, ["--stage", "2", "--stop-stage", "2", "--corpus", str(corpus), "--nj", "4",
                        "--cmd-backend", "slurm"], env)
    print(f"feature stage on Slurm: {time.monotonic() - start:.1f} s")

    stores = sorted(path.relative_to(local) for path in (local / "dump").glob("*/*/feats.h5"))
    assert len(stores) == 4, stores  # student and teacher features of train_split100 and test
    for store in stores:
        for index in range(1, 5):  # each set was extracted by an array of 4 Slurm jobs
            header, _, footer = job_log(slurm / store.parent / f"log/extract.{index}.log")
            assert f"job {index} of JOB=1:4 (slurm job " in header
            assert footer.splitlines()[-1].startswith("# Ended (code 0)")
        with h5py.File(local / store) as a, h5py.File(slurm / store) as b:
            assert list(a["utts"].asstr()[()]) == list(b["utts"].asstr()[()]), store
            assert np.array_equal(a["feats"][()], b["feats"][()]), store
            assert a.attrs["config_hash"] == b.attrs["config_hash"]
