"""Stage 6 scoring killed with SIGKILL part-way through writing its outputs, over the outputs of an
earlier scoring: no done marker is left, so the same command scores again instead of skipping, and
its outputs then equal those of an uninterrupted scoring of the same model."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from asc.bin import score
from eval_helpers import FEATS, make_test_set, save_experiment, tiny_model

ROOT = Path(__file__).resolve().parents[2]

# runs asc.bin.score and SIGKILLs it after scores.json and scores.txt are written, before the pictures
KILLER = """
import os, signal, sys
import asc.eval.plots as plots
def plot_confusion(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)
plots.plot_confusion = plot_confusion
from asc.bin.score import main
sys.exit(main(sys.argv[1:]))
"""
OUTPUTS = ("scores.json", "scores.txt", "confusion.png", "device_class.png", "predictions.tsv")


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_killed_scoring_scores_again_and_ends_like_an_uninterrupted_one(tmp_path, capsys):
    sets = make_test_set(tmp_path)
    old = save_experiment(tmp_path / "exp" / "old", tiny_model(seed=0), FEATS.hash())
    new = save_experiment(tmp_path / "exp" / "new", tiny_model(seed=1), FEATS.hash())

    def argv(checkpoint, out):
        return ["--checkpoint", str(checkpoint), "--data", str(sets["data"]), "--feats", str(sets["feats"]),
                "--labels", str(sets["labels"]), "--out", str(out), "--system", "s", "--split", "100"]

    straight, out = tmp_path / "straight", tmp_path / "out"
    assert score.main(argv(new, straight)) == 0
    assert score.main(argv(old, out)) == 0                     # an earlier, finished scoring in `out`
    old_scores = json.loads((out / "scores.json").read_text())

    killed = subprocess.run([sys.executable, "-c", KILLER, *argv(new, out)], cwd=ROOT,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (out / "score.done").exists()                   # nothing claims the outputs are complete
    assert json.loads((out / "scores.json").read_text()) != old_scores   # it was killed mid-way: mixed files

    capsys.readouterr()
    assert score.main(argv(new, out)) == 0
    assert "nothing to do" not in capsys.readouterr().out      # scored again, not skipped
    assert (out / "score.done").is_file()
    ours, reference = (json.loads((d / "scores.json").read_text()) for d in (out, straight))
    ours.pop("out", None), reference.pop("out", None)
    assert ours == reference
    for name in ("scores.txt", "predictions.tsv"):
        assert (out / name).read_text() == (straight / name).read_text()
    assert all((out / name).is_file() for name in OUTPUTS)
    assert score.main(argv(new, out)) == 0 and "nothing to do" in capsys.readouterr().out   # now it skips
