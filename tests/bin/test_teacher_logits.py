"""`python -m asc.bin.teacher_logits`: two teachers on different feature configs, the stored layout,
the ensemble mean, skipping a finished file, another set of the same feature configs."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from tiny_run import LABELS, TRAIN_YAML, make_tiny, write_features  # noqa: E402

from asc.bin import teacher_logits, train  # noqa: E402
from asc.data.datadir import load_datadir  # noqa: E402
from asc.data.feature_store import FeatureStore  # noqa: E402
from asc.models.checkpoint_file import load_model  # noqa: E402


@pytest.fixture(scope="module")
def teachers(tmp_path_factory):
    """Two trained tiny teachers: a CNN on 48-mel 'student' features, another on 32-mel 'teacher' ones."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("teach")
    tiny = make_tiny(root, recordings_per_label=3, pieces=2,
                     train_yaml={**TRAIN_YAML, "epochs": 1, "kd": {"lambda_ce": 1.0}})
    data = load_datadir(tiny.data)
    rng = np.random.default_rng(1)
    stores = {}
    for kind, mels, frames in (("student", 48, 32), ("teacher", 32, 40)):
        for split in ("train", "test"):
            write_features(root / "dump" / kind / split / "feats.h5", data, mels, frames, rng)
        stores[kind] = root / "dump" / kind / "train" / "feats.h5"
    exps = []
    for name, kind in (("cnn", "student"), ("other", "teacher")):
        exp = root / "exp" / name
        argv = ["--config", str(tiny.config), "--exp", str(exp), "--train-data", str(tiny.data),
                "--feats", str(stores[kind]), "--labels", str(tiny.labels), "--dir-folder", str(tiny.dirs)]
        assert train.main(argv + ([] if name == "cnn" else ["model_options.base_channels=12"])) == 0
        exps.append(exp)
    yield tiny, exps, stores
    torch.set_num_threads(threads)


def test_layout_and_ensemble_mean(teachers, capsys):
    tiny, exps, stores = teachers
    out = tiny.root / "exp" / "logits.h5"
    argv = ["--data", str(tiny.data), "--labels", str(tiny.labels), "--out", str(out), *map(str, exps)]
    assert teacher_logits.main(argv) == 0
    data = load_datadir(tiny.data)
    with h5py.File(out, "r") as f:
        assert f["logits"].dtype == np.float32 and f["logits"].shape == (len(data.utts), len(LABELS))
        assert list(f["utts"].asstr()[:]) == data.utts
        assert list(f.attrs["members"]) == [str(e) for e in exps]
        assert list(f.attrs["labels"]) == LABELS
        members, mean = f["member_logits"][()], f["logits"][()]
    assert members.shape == (2, len(data.utts), len(LABELS))
    assert np.allclose(mean, members.mean(axis=0), atol=1e-6)
    assert not np.allclose(members[0], members[1])
    # each member is its best checkpoint run in eval mode on its own features
    for k, kind in enumerate(("student", "teacher")):
        model, _ = load_model(exps[k] / "checkpoints" / "best.pt")
        store = FeatureStore(stores[kind])
        x = torch.stack([torch.from_numpy(store.read_utt(u).astype(np.float32))[None] for u in data.utts[:5]])
        with torch.no_grad():
            assert np.allclose(model(x).numpy(), members[k, :5], atol=1e-5)
    assert json.loads((out.parent / "logits.done").read_text())["members"] == [str(e) for e in exps]
    assert "ensemble" in capsys.readouterr().err

    stamp = out.stat().st_mtime_ns        # the same command again: nothing rewritten
    assert teacher_logits.main(argv) == 0
    assert out.stat().st_mtime_ns == stamp and "nothing to do" in capsys.readouterr().err


def test_other_set_of_the_same_feature_configs(teachers):
    tiny, exps, _ = teachers
    out = tiny.root / "exp" / "test_logits.h5"
    argv = ["--data", str(tiny.data), "--out", str(out), "--feats-set", "test", *map(str, exps)]
    assert teacher_logits.main(argv) == 0
    with h5py.File(out, "r") as f, h5py.File(tiny.root / "exp" / "logits.h5", "r") as g:
        assert f["logits"].shape == g["logits"].shape
        assert not np.allclose(f["logits"][()], g["logits"][()])   # other features, other logits


def test_unfinished_teacher_and_wrong_labels_refused(teachers, tmp_path, capsys):
    tiny, exps, _ = teachers
    out = tmp_path / "logits.h5"
    assert teacher_logits.main(["--data", str(tiny.data), "--out", str(out), str(tmp_path / "nothing")]) == 1
    assert "no train.done" in capsys.readouterr().err
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(l + "\n" for l in reversed(LABELS)))
    assert teacher_logits.main(["--data", str(tiny.data), "--out", str(out), "--labels", str(labels),
                                str(exps[0])]) == 1
    assert "class order" in capsys.readouterr().err and not out.exists()


def test_logits_are_computed_again_when_a_teacher_was_retrained(teachers, tmp_path, capsys):
    tiny, exps, _ = teachers
    out = tmp_path / "logits.h5"
    argv = ["--data", str(tiny.data), "--labels", str(tiny.labels), "--out", str(out), *map(str, exps)]
    assert teacher_logits.main(argv) == 0
    stamp = out.stat().st_mtime_ns
    done = exps[0] / "train.done"
    original = done.read_text()
    try:
        info = json.loads(original)
        info["best_epoch"] = 99                         # what a retraining rewrites: a new train.done
        done.write_text(json.dumps(info))
        capsys.readouterr()
        assert teacher_logits.main(argv) == 0
        assert out.stat().st_mtime_ns != stamp and "nothing to do" not in capsys.readouterr().err
    finally:
        done.write_text(original)
