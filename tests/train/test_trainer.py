"""The training loop: same command twice gives the same result; a run killed with SIGKILL and restarted
with the same command ends exactly like an uninterrupted one; two DDP processes (gloo) write one exp."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from asc.bin.train import main
from tiny_run import (ROOT, assert_same_weights, make_tiny, metrics, run_train, subprocess_env,
                      train_command)


@pytest.fixture
def tiny(tmp_path):
    return make_tiny(tmp_path)


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_same_command_twice_same_result(tiny, one_thread, capsys):
    for name in ("a", "b"):
        assert main(tiny.argv(tiny.root / name)) == 0
    a, b = tiny.root / "a", tiny.root / "b"
    assert len(metrics(a)) == 3 and metrics(a) == metrics(b)
    assert_same_weights(a / "checkpoints" / "last.pt", b / "checkpoints" / "last.pt")
    assert_same_weights(a / "checkpoints" / "best.pt", b / "checkpoints" / "best.pt")
    # a third run of the same command finds the work done and rewrites nothing
    stamp = (a / "checkpoints" / "last.pt").stat().st_mtime_ns
    assert main(tiny.argv(a)) == 0
    assert "nothing to do" in capsys.readouterr().err
    assert (a / "checkpoints" / "last.pt").stat().st_mtime_ns == stamp


def test_other_seed_other_result(tiny, one_thread):
    assert main(tiny.argv(tiny.root / "a", "epochs=1")) == 0
    assert main(tiny.argv(tiny.root / "b", "epochs=1", "seed=1")) == 0
    assert metrics(tiny.root / "a") != metrics(tiny.root / "b")


def test_killed_run_resumes_to_the_uninterrupted_result(tiny):
    epochs = "epochs=8"
    straight = run_train(tiny.argv(tiny.root / "straight", epochs))
    assert straight.returncode == 0, straight.stderr

    exp = tiny.root / "killed"
    proc = subprocess.Popen(train_command(tiny.argv(exp, epochs)), cwd=ROOT, env=subprocess_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not (exp / "checkpoints" / "last.pt").exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (exp / "train.done").exists()
    done_before = torch.load(exp / "checkpoints" / "last.pt", weights_only=True)["epoch"]
    assert 1 <= done_before < 8

    resumed = run_train(tiny.argv(exp, epochs))
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from {exp / 'checkpoints' / 'last.pt'}: {done_before} of 8 epochs done" in resumed.stderr
    assert metrics(exp) == metrics(tiny.root / "straight")
    for name in ("last.pt", "best.pt"):
        assert_same_weights(exp / "checkpoints" / name, tiny.root / "straight" / "checkpoints" / name)
    info, reference = (json.loads((e / "train.done").read_text()) for e in (exp, tiny.root / "straight"))
    assert info["epochs"] == 8 and info["best_epoch"] == reference["best_epoch"]
    assert info["best_val_acc"] == reference["best_val_acc"]


def test_two_process_ddp_writes_one_experiment(tiny):
    exp = tiny.root / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "asc.bin.train", *tiny.argv(exp, "epochs=2")]
    result = subprocess.run(cmd, cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 processes on cpu" in (exp / "train.log").read_text()
    assert "batch 16 (8 per process)" in (exp / "train.log").read_text()
    rows = metrics(exp)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert all(0.0 <= r["val_acc"] <= 1.0 for r in rows)
    assert (exp / "train.done").is_file() and (exp / "checkpoints" / "best.pt").is_file()
    assert sorted(p.name for p in exp.iterdir()) == ["checkpoints", "config.yaml", "metrics.jsonl",
                                                      "run.sh", "train.done", "train.log"]
    assert sorted(p.name for p in (exp / "checkpoints").iterdir()) == ["best.pt", "last.pt"]


def test_min_steps_adds_epochs_on_small_splits(tiny, one_thread):
    # 160 training clips in batches of 16: 10 steps per epoch; 25 steps need 3 epochs
    exp = tiny.root / "short"
    assert main(tiny.argv(exp, "epochs=1", "min_steps=25")) == 0
    assert [r["epoch"] for r in metrics(exp)] == [1, 2, 3]
    assert "3 epochs instead of 1" in (exp / "train.log").read_text()
    assert "min_steps: 25" in (exp / "config.yaml").read_text() and "epochs: 1\n" in (exp / "config.yaml").read_text()
