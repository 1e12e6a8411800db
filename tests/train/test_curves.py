"""Learning curves: the PNG from metrics records, TensorBoard event files only where the optional package
imports (both cases, by monkeypatching the import), redrawing at most every interval and always at the end."""
from __future__ import annotations

import math
import sys
import types

import pytest

from asc.train import curves

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HISTORY = [{"epoch": e, "train_loss": 2.0 / e, "train_acc": 0.1 * e, "val_loss": 2.2 / e, "val_acc": 0.08 * e,
            "val_acc_micro": 0.09 * e, "lr": 0.01, "clips_per_s": 100.0} for e in (1, 2, 3)]


def test_series_skips_missing_and_non_finite_values():
    history = [{"epoch": 1, "val_acc": 0.5}, {"epoch": 2}, {"epoch": 3, "val_acc": math.nan},
               {"epoch": 4, "val_acc": 0.7}]
    assert curves.series(history, "val_acc") == ([1, 4], [0.5, 0.7])


@pytest.mark.parametrize("history", [HISTORY, [{"epoch": 1, "train_loss": 1.0}]], ids=["with_val", "train_only"])
def test_plot_curves_writes_a_png_atomically(tmp_path, history):
    out = tmp_path / "curves.png"
    curves.plot_curves(history, out, "rep_mobile exp/x")
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]     # no temporary file left


class FakeWriter:
    """Stands in for torch.utils.tensorboard.SummaryWriter: records the scalars, writes one file."""
    calls: list = []

    def __init__(self, log_dir):
        self.log_dir = log_dir
        import os
        os.makedirs(log_dir, exist_ok=True)
        open(os.path.join(log_dir, "events.out.tfevents.fake"), "w").close()

    def add_scalar(self, tag, value, global_step):
        FakeWriter.calls.append((tag, value, global_step))

    def close(self):
        pass


@pytest.fixture
def with_tensorboard(monkeypatch):
    FakeWriter.calls = []
    module = types.ModuleType("torch.utils.tensorboard")
    module.SummaryWriter = FakeWriter
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", module)


@pytest.fixture
def without_tensorboard(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)   # import raises ImportError


def test_no_event_files_without_tensorboard(tmp_path, without_tensorboard):
    assert curves.summary_writer_class() is None
    assert curves.write_tensorboard(HISTORY, tmp_path / "tensorboard") is False
    assert not (tmp_path / "tensorboard").exists()


def test_event_files_replace_the_old_ones_with_tensorboard(tmp_path, with_tensorboard):
    folder = tmp_path / "tensorboard"
    folder.mkdir()
    (folder / "stale").write_text("from a killed run")
    assert curves.write_tensorboard(HISTORY, folder) is True
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tensorboard"]
    assert [p.name for p in folder.iterdir()] == ["events.out.tfevents.fake"]
    assert ("loss/train", 1.0, 2) in FakeWriter.calls and ("accuracy/validation", 0.08 * 3, 3) in FakeWriter.calls
    assert len(FakeWriter.calls) == 3 * len(curves.TENSORBOARD_TAGS)


def test_curve_writer_redraws_at_most_every_interval_and_when_forced(tmp_path, without_tensorboard):
    now = [0.0]
    writer = curves.CurveWriter(tmp_path / "c.png", tmp_path / "tb", interval=30.0, clock=lambda: now[0])
    assert writer.update([]) is False                 # nothing to draw yet
    assert writer.update(HISTORY[:1]) is True         # the first epoch is drawn
    now[0] = 10.0
    assert writer.update(HISTORY[:2]) is False
    assert writer.update(HISTORY[:2], force=True) is True
    now[0] = 45.0
    assert writer.update(HISTORY) is True
    assert (tmp_path / "c.png").read_bytes()[:8] == PNG_MAGIC
