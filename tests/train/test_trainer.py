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
import yaml

from asc.bin.train import main
from tiny_run import (ROOT, TRAIN_YAML, assert_same_weights, make_tiny, metrics, run_train, subprocess_env,
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


# Rep-Mobile (the recipe's student: re-parameterizable branches, BatchNorm everywhere) with two loader
# workers, as the recipe trains, besides the baseline with none.
REP_MOBILE = {"model": "rep_mobile", "num_workers": 2,
              "model_options": {"stem_channels": [4, 8], "stage_channels": [8, 16], "n_blocks": [2, 3],
                                "strides": [[1, 1], [2, 2], [1, 2], [2, 1], [1, 1]], "expansion_rate": 1.5}}


@pytest.mark.parametrize("model, epochs", [("baseline", 8), ("rep_mobile", 3)])
def test_killed_run_resumes_to_the_uninterrupted_result(tmp_path, model, epochs):
    tiny = make_tiny(tmp_path, train_yaml={**TRAIN_YAML, **(REP_MOBILE if model == "rep_mobile" else {})})
    epochs = f"epochs={epochs}"
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
    total = int(epochs.split("=")[1])
    assert 1 <= done_before < total

    resumed = run_train(tiny.argv(exp, epochs))
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming from {exp / 'checkpoints' / 'last.pt'}: {done_before} of {total} epochs done" in resumed.stderr
    config = yaml.safe_load((exp / "config.yaml").read_text())
    assert config["model"] == model and config["num_workers"] == (2 if model == "rep_mobile" else 0)
    assert metrics(exp) == metrics(tiny.root / "straight")
    assert all(0.0 <= r["train_acc"] <= 1.0 for r in metrics(exp))
    assert (exp / "curves.png").read_bytes()[:4] == b"\x89PNG"     # redrawn from the whole history at the end
    for name in ("last.pt", "best.pt"):
        assert_same_weights(exp / "checkpoints" / name, tiny.root / "straight" / "checkpoints" / name)
    info, reference = (json.loads((e / "train.done").read_text()) for e in (exp, tiny.root / "straight"))
    assert info["epochs"] == total and info["best_epoch"] == reference["best_epoch"]
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
    # that 2 processes train as one does is checked by the next test
    assert (exp / "train.done").is_file() and (exp / "checkpoints" / "best.pt").is_file()
    assert sorted(p.name for p in exp.iterdir() if p.name != "tensorboard") == [
        "checkpoints", "config.yaml", "curves.png", "metrics.jsonl", "run.sh", "train.done", "train.log"]
    assert sorted(p.name for p in (exp / "checkpoints").iterdir()) == ["best.pt", "last.pt"]


def test_min_steps_adds_epochs_on_small_splits(tiny, one_thread):
    # 160 training clips in batches of 16: 10 steps per epoch; 25 steps need 3 epochs
    exp = tiny.root / "short"
    assert main(tiny.argv(exp, "epochs=1", "min_steps=25")) == 0
    assert [r["epoch"] for r in metrics(exp)] == [1, 2, 3]
    assert "3 epochs instead of 1" in (exp / "train.log").read_text()
    assert "min_steps: 25" in (exp / "config.yaml").read_text() and "epochs: 1\n" in (exp / "config.yaml").read_text()
    # the schedule follows the 30 steps run: 1 epoch of warm-up, then the cosine ends at 0 after epoch 3
    rows = metrics(exp)
    assert rows[0]["lr"] == pytest.approx(0.01) and 0.0 < rows[1]["lr"] < 0.01 and rows[2]["lr"] < 1e-6


NO_AUGMENT = {name: {"enabled": False} for name in ("freq_mixstyle", "device_ir", "roll", "freq_mask", "mixup")}
# Losses agree to float32 rounding (gloo's sums and the BatchNorm sums run in another order): 1e-4
# relative. Weights to 1e-3 absolute, a tenth of one AdamW step at lr 0.01: AdamW divides each gradient
# by its own running scale, so in a weight whose gradient is nearly zero that rounding becomes a step.
DDP_LOSS_TOLERANCE, DDP_WEIGHT_TOLERANCE = 1e-4, 1e-3


def test_two_process_ddp_trains_as_one_process_with_the_same_global_batch(tmp_path):
    """2 processes × 8 clips and 1 process × 16 clips: the same clips per step (DistributedSampler's
    shards of one permutation), gradients averaged over the 16, BatchNorm statistics over the 16; so
    the same losses and parameters, up to float32 rounding (the tolerances above)."""
    tiny = make_tiny(tmp_path, train_yaml={**TRAIN_YAML, "augment": NO_AUGMENT, "kd": {"lambda_ce": 1.0}})
    one, two = tiny.root / "one", tiny.root / "two"
    single = run_train(tiny.argv(one, "epochs=2", kd=False), timeout=300)
    assert single.returncode == 0, single.stderr[-3000:]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "asc.bin.train", *tiny.argv(two, "epochs=2", kd=False)]
    ddp = subprocess.run(cmd, cwd=ROOT, env=subprocess_env(), capture_output=True, text=True, timeout=300)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert "2 processes on cpu" in (two / "train.log").read_text()
    rows, ddp_rows = metrics(one), metrics(two)
    assert rows[1]["train_loss"] < rows[0]["train_loss"]          # it learned: not a comparison of two starts
    for row, ddp_row in zip(rows, ddp_rows):
        assert ddp_row["train_loss"] == pytest.approx(row["train_loss"], rel=DDP_LOSS_TOLERANCE)
        assert ddp_row["val_loss"] == pytest.approx(row["val_loss"], rel=DDP_LOSS_TOLERANCE)
    a, b = (torch.load(e / "checkpoints" / "last.pt", weights_only=True)["state_dict"] for e in (one, two))
    assert a.keys() == b.keys()
    worst = {}
    for key in a:
        if a[key].is_floating_point():
            worst[key] = float((a[key] - b[key]).abs().max())
        else:
            assert torch.equal(a[key], b[key]), key
    name = max(worst, key=worst.get)
    assert worst[name] < DDP_WEIGHT_TOLERANCE, f"{name}: {worst[name]:.2e} (largest of {len(worst)} tensors)"
