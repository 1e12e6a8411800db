"""Pruning (stage 5) killed with SIGKILL part-way through step 2's fine-tuning: the same command
finishes it, step 0 and step 1 are not redone (their files keep their mtimes), step 2 resumes from
its fine-tuning checkpoint, and the final model is bit-identical to that of an uninterrupted run.
A truncated model.pt of a finished step is detected and made again instead of being read."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "prune"))
from tiny_prune import make_tiny_prune  # noqa: E402
from tiny_run import ROOT, assert_same_weights, subprocess_env  # noqa: E402

from asc.bin.prune import main  # noqa: E402

TARGET = ("target.param_bytes=5000", "target.macs=60000", "epochs_per_step=2")

# runs asc.bin.prune and SIGKILLs it right after step 2's fine-tuning wrote its first last.pt
KILLER = """
import os, signal, sys
import asc.train.trainer as trainer
real = trainer.save_checkpoint
def save_checkpoint(path, *args, **kwargs):
    real(path, *args, **kwargs)
    if path.name == "last.pt" and "step2" in path.parts:
        os.kill(os.getpid(), signal.SIGKILL)
trainer.save_checkpoint = save_checkpoint
from asc.bin.prune import main
sys.exit(main(sys.argv[1:]))
"""


def mtimes(directory: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in sorted(directory.rglob("*")) if p.is_file()}


def test_killed_pruning_resumes_without_redoing_finished_steps(tmp_path, capsys):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tiny = make_tiny_prune(tmp_path / "tiny")
        straight = tmp_path / "straight"
        assert main(tiny.argv(straight, *TARGET)) == 0

        exp = tmp_path / "killed"
        killed = subprocess.run([sys.executable, "-c", KILLER, *tiny.argv(exp, *TARGET)], cwd=ROOT,
                                env=subprocess_env(), capture_output=True, text=True, timeout=300)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert (exp / "step1" / "step.done").is_file() and not (exp / "step2" / "step.done").exists()
        assert (exp / "step2" / "finetune" / "checkpoints" / "last.pt").is_file()
        assert not (exp / "prune.done").exists()
        finished = {**mtimes(exp / "step0"), **mtimes(exp / "step1")}
        pruned = (exp / "step2" / "pruned.pt").stat().st_mtime_ns

        capsys.readouterr()
        assert main(tiny.argv(exp, *TARGET)) == 0
        err = capsys.readouterr().err
        assert "step 1: already done" in err and "resuming from" in err and "1 of 2 epochs done" in err
        assert {**mtimes(exp / "step0"), **mtimes(exp / "step1")} == finished
        assert (exp / "step2" / "pruned.pt").stat().st_mtime_ns == pruned
        assert (exp / "prune.done").is_file()
        assert_same_weights(exp / "step2" / "model.pt", straight / "step2" / "model.pt")
        complexity = "step2/complexity.json"
        assert (exp / complexity).read_text() == (straight / complexity).read_text()

        # a damaged model of a finished step (and of the finished run) is detected and made again from
        # that step's fine-tuning checkpoints; nothing is trained again
        for k in (1, 2):
            model = exp / f"step{k}" / "model.pt"
            model.write_bytes(model.read_bytes()[:100])
        trained = mtimes(exp / "step1" / "finetune") | mtimes(exp / "step2" / "finetune")
        capsys.readouterr()
        assert main(tiny.argv(exp, *TARGET)) == 0
        err = capsys.readouterr().err
        assert f"step1: {exp / 'step1' / 'model.pt'}: cannot read checkpoint" in err
        assert "doing the step again" in err
        assert f"step2: {exp / 'step2' / 'model.pt'}: cannot read checkpoint" in err
        assert mtimes(exp / "step1" / "finetune") | mtimes(exp / "step2" / "finetune") == trained
        assert mtimes(exp / "step0") == {k: v for k, v in finished.items() if "step0" in k}
        for k in (1, 2):
            assert_same_weights(exp / f"step{k}" / "model.pt", straight / f"step{k}" / "model.pt")
    finally:
        torch.set_num_threads(threads)
