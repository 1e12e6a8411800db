"""Teacher logits (stage 3) under interruption and damage: a run killed part-way is finished by the
same command with the same bytes and without touching the teachers; a truncated logits file or
teacher checkpoint is detected instead of read."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import h5py
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from tiny_run import ROOT, TRAIN_YAML, make_tiny, subprocess_env  # noqa: E402

from asc.bin import teacher_logits, train  # noqa: E402

# runs asc.bin.teacher_logits and SIGKILLs it at a chosen point (no timing involved)
KILLER = """
import os, signal, sys
import h5py
import asc.bin.teacher_logits as stage
where = sys.argv.pop(1)
if where == "second-teacher":
    real, calls = stage.run_teacher, []
    def run_teacher(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    stage.run_teacher = run_teacher
else:
    real_create = h5py.Group.create_dataset
    def create_dataset(self, name, *args, **kwargs):
        if name == "member_logits":
            self.file.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        return real_create(self, name, *args, **kwargs)
    h5py.Group.create_dataset = create_dataset
sys.exit(stage.main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    """Two finished tiny teachers and the logits of an uninterrupted run."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("robust_teach")
    tiny = make_tiny(root, recordings_per_label=3, pieces=2,
                     train_yaml={**TRAIN_YAML, "epochs": 1, "kd": {"lambda_ce": 1.0}})
    exps = []
    for name, width in (("t1", 8), ("t2", 6)):
        exp = root / "exp" / name
        assert train.main(tiny.argv(exp, f"model_options.base_channels={width}", kd=False)) == 0
        exps.append(exp)
    reference = root / "reference" / "logits.h5"
    assert teacher_logits.main(argv(tiny, exps, reference)) == 0
    yield tiny, exps, reference
    torch.set_num_threads(threads)


def argv(tiny, exps: list[Path], out: Path) -> list[str]:
    return ["--data", str(tiny.data), "--labels", str(tiny.labels), "--out", str(out), *map(str, exps)]


def contents(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        return {"logits": f["logits"][()].tobytes(), "member_logits": f["member_logits"][()].tobytes(),
                "utts": list(f["utts"].asstr()[()]), "members": list(f.attrs["members"])}


def mtimes(directory: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("where", ["second-teacher", "while-writing"])
def test_killed_run_is_finished_by_the_same_command_with_the_same_bytes(teachers, tmp_path, capsys, where):
    tiny, exps, reference = teachers
    out = tmp_path / "teach" / "logits.h5"
    out.parent.mkdir()
    teachers_before = {**mtimes(exps[0]), **mtimes(exps[1])}
    killed = subprocess.run([sys.executable, "-c", KILLER, where, *argv(tiny, exps, out)], cwd=ROOT,
                            env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not out.exists() and not (out.parent / "logits.done").exists()
    if where == "while-writing":
        assert list(out.parent.glob(".logits.h5.tmp*")), "the kill should have left a half-written temporary"

    capsys.readouterr()
    assert teacher_logits.main(argv(tiny, exps, out)) == 0
    assert "nothing to do" not in capsys.readouterr().err
    assert contents(out) == contents(reference)
    assert (out.parent / "logits.done").is_file()
    assert {**mtimes(exps[0]), **mtimes(exps[1])} == teachers_before       # the teachers were not redone
    stamp = out.stat().st_mtime_ns
    assert teacher_logits.main(argv(tiny, exps, out)) == 0                  # finished: nothing rewritten
    assert "nothing to do" in capsys.readouterr().err and out.stat().st_mtime_ns == stamp


def test_truncated_logits_file_is_detected_and_computed_again(teachers, tmp_path, capsys):
    tiny, exps, reference = teachers
    out = tmp_path / "logits.h5"
    assert teacher_logits.main(argv(tiny, exps, out)) == 0
    data = out.read_bytes()
    out.write_bytes(data[:len(data) // 2])
    capsys.readouterr()
    assert teacher_logits.main(argv(tiny, exps, out)) == 0
    err = capsys.readouterr().err
    assert f"{out}: not a teacher-logits file" in err and "computing it again" in err
    assert contents(out) == contents(reference)


def test_truncated_teacher_checkpoint_is_refused_naming_it(teachers, tmp_path, capsys):
    tiny, exps, _ = teachers
    broken = tmp_path / "t1"
    (broken / "checkpoints").mkdir(parents=True)
    for name in ("train.done", "config.yaml"):
        (broken / name).write_bytes((exps[0] / name).read_bytes())
    best = (exps[0] / "checkpoints" / "best.pt").read_bytes()
    (broken / "checkpoints" / "best.pt").write_bytes(best[:len(best) // 2])
    out = tmp_path / "logits.h5"
    capsys.readouterr()
    assert teacher_logits.main(argv(tiny, [broken, exps[1]], out)) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"teacher_logits: {broken / 'checkpoints' / 'best.pt'}: cannot read checkpoint")
    assert len(err.strip().splitlines()) == 1 and not out.exists()
