"""The pruning stage end to end on a tiny set-up: every step writes its files and marker, the budget
is met at every step and hit at the last, a finished step is never redone, one-shot is one step."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from asc.bin.prune import main
from asc.complexity import count_complexity
from asc.models import build_model
from asc.prune.cost import CostModel
from asc.prune.structured import channel_groups
from asc.models.checkpoint_file import load_model
from tiny_prune import INPUT_SHAPE, make_tiny_prune

TARGET = ("target.param_bytes=5000", "target.macs=60000")
STEP_FILES = ("model.pt", "pruned.pt", "complexity.json", "validation.json", "confusion.png", "step.done")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return make_tiny_prune(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def mtimes(directory: Path) -> dict[str, int]:
    return {str(p.relative_to(directory)): p.stat().st_mtime_ns for p in sorted(directory.rglob("*")) if p.is_file()}


def largest_channel_cost(model_path: Path) -> tuple[int, int]:
    """The most bytes and MACs that removing one channel of any group saves."""
    model, _ = load_model(model_path)
    groups = [g for g in channel_groups(model) if g.prunable]
    best = (0, 0)
    for group in groups:
        cost = CostModel(model, groups, INPUT_SHAPE)
        before = cost.complexity()
        cost.remove_channel(group.name)
        after = cost.complexity()
        best = (max(best[0], 2 * (before.params - after.params)), max(best[1], before.macs - after.macs))
    return best


def test_progressive_steps_reach_the_target_at_the_last_step_and_resume(tiny, capsys):
    exp = tiny.root / "progressive"
    assert main(tiny.argv(exp, *TARGET)) == 0
    steps = [read(exp / f"step{k}" / "complexity.json") for k in range(3)]
    for k in (1, 2):
        assert all((exp / f"step{k}" / name).is_file() for name in STEP_FILES)
        assert read(exp / f"step{k}" / "finetune" / "train.done")["epochs"] == 1
        assert steps[k]["budget_met"] and steps[k]["params"] < steps[k - 1]["params"]
        assert steps[k]["macs"] < steps[k - 1]["macs"]
        validation = read(exp / f"step{k}" / "validation.json")
        assert 0.0 <= validation["val_acc"] <= 1.0 and validation["val_acc_pruned"] is not None
    # step 1 is a partial cut, the last step lands on the target: within one channel of it
    assert steps[1]["param_bytes"] > 5000 or steps[1]["macs"] > 60000
    final = steps[2]
    assert final["param_bytes"] <= 5000 and final["macs"] <= 60000
    slack_bytes, slack_macs = largest_channel_cost(exp / "step2" / "pruned.pt")
    assert 5000 - final["param_bytes"] < slack_bytes or 60000 - final["macs"] < slack_macs
    model, ckpt = load_model(exp / "step2" / "model.pt")
    assert count_complexity(model, INPUT_SHAPE).macs == final["macs"]
    assert build_model("rep_mobile", **ckpt["model_options"]) is not None

    # a run killed during step 2's fine-tuning: step 2 unfinished, its pruned network kept
    step2 = exp / "step2"
    for name in ("step.done", "model.pt", "complexity.json", "validation.json", "confusion.png"):
        (step2 / name).unlink()
    shutil.rmtree(step2 / "finetune")
    (exp / "prune.done").unlink()
    kept = {**mtimes(exp / "step0"), **{f"1/{k}": v for k, v in mtimes(exp / "step1").items()}}
    pruned = (step2 / "pruned.pt").stat().st_mtime_ns
    capsys.readouterr()
    assert main(tiny.argv(exp, *TARGET)) == 0
    err = capsys.readouterr().err
    assert "step 1: already done" in err and f"step 2: reusing {step2 / 'pruned.pt'}" in err
    assert {**mtimes(exp / "step0"), **{f"1/{k}": v for k, v in mtimes(exp / "step1").items()}} == kept
    assert (step2 / "pruned.pt").stat().st_mtime_ns == pruned
    assert read(step2 / "complexity.json") == final
    # finished: the same command rewrites nothing; another config is refused
    everything = mtimes(exp)
    assert main(tiny.argv(exp, *TARGET)) == 0
    assert mtimes(exp) == everything
    assert main(tiny.argv(exp, *TARGET, "criterion=l1")) == 1
    assert "another config" in capsys.readouterr().err


def test_one_shot_is_one_step_with_all_the_epochs(tiny):
    exp = tiny.root / "oneshot"
    assert main(tiny.argv(exp, *TARGET, "one_shot=true")) == 0
    assert not (exp / "step2").exists()
    assert read(exp / "step1" / "finetune" / "train.done")["epochs"] == 2
    final = read(exp / "step1" / "complexity.json")
    assert final["param_bytes"] <= 5000 and final["macs"] <= 60000
    assert [s["step"] for s in read(exp / "summary.json")["steps"]] == [0, 1]


def test_pruner_owned_finetune_keys_are_refused(tiny, capsys):
    assert main(tiny.argv(tiny.root / "bad", "finetune.epochs=3")) == 1
    assert "finetune.epochs is set by the pruner" in capsys.readouterr().err
