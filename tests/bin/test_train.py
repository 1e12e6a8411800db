"""`python -m asc.bin.train`: the experiment directory it writes, skipping finished work, clear
one-line errors, progress bars only on a terminal."""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import h5py
import pytest
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from tiny_run import make_tiny, metrics, run_train  # noqa: E402

from asc.bin.train import main  # noqa: E402
from asc.models.checkpoint_file import save_checkpoint  # noqa: E402


@pytest.fixture
def tiny(tmp_path):
    return make_tiny(tmp_path, recordings_per_label=4, pieces=2)


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_writes_the_experiment_directory(tiny, capsys):
    exp = tiny.root / "exp" / "kd"
    assert main(tiny.argv(exp, "epochs=2", "kd.temperature=3")) == 0
    # tensorboard/ beside them only where the tensorboard package is installed (asc.train.curves)
    assert sorted(p.name for p in exp.iterdir() if p.name != "tensorboard") == [
        "checkpoints", "config.yaml", "curves.png", "metrics.jsonl", "run.sh", "train.done", "train.log"]
    resolved = yaml.safe_load((exp / "config.yaml").read_text())
    assert resolved["kd"] == {"lambda_ce": 0.5, "temperature": 3.0, "teacher_logits": str(tiny.logits),
                              "teacher_mode": "stored", "members": [],
                              "teacher_temperature": None, "logit_standardization": False}
    assert resolved["feats"] == str(tiny.feats) and resolved["augment"]["device_ir"]["folder"] == str(tiny.dirs)
    assert resolved["model"] == "baseline" and resolved["model_options"]["base_channels"] == 8
    rows = metrics(exp)
    assert [r["epoch"] for r in rows] == [1, 2]
    assert {"train_loss", "train_ce", "train_kd", "val_loss", "val_acc", "val_acc_micro", "lr"} <= set(rows[0])
    done = json.loads((exp / "train.done").read_text())
    assert done["epochs"] == 2 and done["best_epoch"] in (1, 2)
    best = torch.load(exp / "checkpoints" / "best.pt", weights_only=True)
    assert best["model_name"] == "baseline" and best["model_options"]["n_classes"] == 4
    assert best["labels"] == ["airport", "bus", "park", "tram"] and "optimizer" not in best
    last = torch.load(exp / "checkpoints" / "last.pt", weights_only=True)
    assert last["epoch"] == 2 and {"optimizer", "scheduler", "rng", "history"} <= set(last)
    log = (exp / "train.log").read_text()
    assert "epoch 2/2:" in log and "finished" in log
    assert "\r" not in capsys.readouterr().err          # not a terminal: no progress bar
    assert "python -m asc.bin.train --config" in (exp / "run.sh").read_text()


def test_progress_bar_on_a_terminal(tiny, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    assert main(tiny.argv(tiny.root / "tty", "epochs=1")) == 0
    assert "it/s" in term.getvalue() or "s/it" in term.getvalue()


def test_finished_with_another_config_refused(tiny, capsys):
    exp = tiny.root / "e"
    assert main(tiny.argv(exp, "epochs=1")) == 0
    capsys.readouterr()
    assert main(tiny.argv(exp, "epochs=1", "lr=0.5")) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("train: ") and "train.done" in err and "another config" in err
    assert "\n" not in err and "Traceback" not in err


def test_checkpoint_of_another_config_refused(tiny, capsys):
    exp = tiny.root / "e"
    from asc.models import build_model
    options = {"n_classes": 4, "base_channels": 8, "n_blocks": [1, 1, 1], "strides": [[1, 1], [1, 2], [2, 1]]}
    save_checkpoint(exp / "checkpoints" / "last.pt", build_model("baseline", **options), "baseline", options,
                    config_hash="0123456789abcdef", epoch=1)
    assert main(tiny.argv(exp, "epochs=2")) == 1
    err = capsys.readouterr().err
    assert "last.pt" in err and "another config" in err
    assert not (exp / "train.done").exists() and not (exp / "config.yaml").exists()


def test_unknown_key_is_a_one_line_error(tiny):
    result = run_train(tiny.argv(tiny.root / "e", "optimiser=sgd"))
    assert result.returncode == 1
    assert result.stderr.strip().startswith("train: ") and "'optimiser'" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_finished_kd_run_refused_when_the_teacher_logits_changed(tiny, capsys):
    exp = tiny.root / "kd"
    assert main(tiny.argv(exp, "epochs=1")) == 0
    assert main(tiny.argv(exp, "epochs=1")) == 0          # same logits: finished, nothing to do
    store = h5py.File(tiny.logits, "r+")
    store["logits"][0, 0] += 1.0                            # the teachers were trained again
    store.close()
    capsys.readouterr()
    assert main(tiny.argv(exp, "epochs=1")) == 1
    err = capsys.readouterr().err.strip()
    assert "train.done" in err and "other teacher logits" in err and str(tiny.logits) in err


def rebuild_features(tiny, seed: int = 1) -> None:
    """The feature stage run again (other audio under the same names): a new store, same clips."""
    import numpy as np

    from asc.data.datadir import load_datadir
    from tiny_run import N_FRAMES, N_MELS, write_features

    write_features(tiny.feats, load_datadir(tiny.data), N_MELS, N_FRAMES, np.random.default_rng(seed))


def test_finished_run_refused_naming_the_rebuilt_feature_store(tiny, capsys):
    exp = tiny.root / "ce"
    assert main(tiny.argv(exp, "epochs=1")) == 0
    rebuild_features(tiny)
    capsys.readouterr()
    assert main(tiny.argv(exp, "epochs=1")) == 1
    err = capsys.readouterr().err.strip()
    assert "train.done" in err and "feats changed" in err and f"remove {exp}" in err


def test_resume_refused_when_last_pt_was_trained_on_another_feature_store(tiny, capsys):
    exp = tiny.root / "ce"
    assert main(tiny.argv(exp, "epochs=1")) == 0
    (exp / "train.done").unlink()                          # as if killed after the epoch's checkpoint
    rebuild_features(tiny)
    capsys.readouterr()
    assert main(tiny.argv(exp, "epochs=1")) == 1
    err = capsys.readouterr().err.strip()
    assert "last.pt" in err and "feats changed" in err


def test_second_training_of_one_experiment_folder_is_refused_naming_the_first(tiny, capsys):
    import os

    from asc.lock import acquire

    exp = tiny.root / "ce"
    acquire(exp, os.getppid(), "asc.bin.train (the first one)")      # a live process holds the folder
    assert main(tiny.argv(exp, "epochs=1")) == 1
    err = capsys.readouterr().err
    assert f"pid {os.getppid()}" in err and "the first one" in err and not (exp / "train.done").exists()


def test_a_diverged_run_stops_naming_the_experiment_and_is_not_marked_done(tiny, capsys):
    exp = tiny.root / "diverged"
    assert main(tiny.argv(exp, "epochs=1", "lr=1000000000000000000000000000000.0", "grad_clip=0")) == 1
    err = capsys.readouterr().err
    assert f"{exp}: training diverged in epoch 1" in err and not (exp / "train.done").exists()
    assert not (exp / "checkpoints" / "last.pt").exists()
