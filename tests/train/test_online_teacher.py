"""Teachers in the loop (asc.train.online_teacher): the teacher's view of a batch is the student's view,
augmented with the same draws (device IR, Freq-MixStyle, roll in seconds, mixup); a student distils from
a teacher on another front end end to end; a retrained teacher makes a finished student stale."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from asc.augment.device_ir import gains_for_front_end
from asc.augment.mixup import mixup
from asc.augment.pipeline import AugmentConfig, Augmenter
from asc.augment.roll import roll_time
from asc.bin.train import main
from asc.config import from_dict
from asc.data.datadir import load_datadir
from asc.data.feature_store import FeatureStore, write_store
from asc.errors import InputError
from asc.features.logmel import FeatureConfig
from asc.train.config import load_train_config
from asc.train.online_teacher import member_exps, mix_inputs, replay_augmentation
from asc.train.trainer import finished
from tiny_run import LABELS, N_FRAMES, make_tiny, metrics


@pytest.fixture
def tiny(tmp_path):
    return make_tiny(tmp_path)


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def augment_config(**blocks) -> AugmentConfig:
    return from_dict(AugmentConfig, blocks, "test")


def test_replayed_view_equals_the_students_augmentation_on_the_same_features(tiny):
    # Same front end, masking off: the teacher's view is exactly the student's (IR, MixStyle, roll).
    cfg = augment_config(device_ir={"enabled": True, "p": 0.7, "only_devices": ["a"]},
                         freq_mixstyle={"p": 1.0}, roll={"max_shift": 5}, freq_mask={"enabled": False})
    store = FeatureStore(tiny.feats)
    augmenter = Augmenter(cfg, dir_gains=gains_for_front_end(tiny.dirs, store.feature_config))
    x = torch.from_numpy(np.stack([store.read(i) for i in range(16)]).astype(np.float32)).unsqueeze(1)
    devices = ["a", "b"] * 8
    generator = torch.Generator().manual_seed(5)
    draws = generator.get_state()
    student = augmenter(x, devices, generator)
    teacher = replay_augmentation(x, augmenter, devices, torch.Generator().set_state(draws), 1.0)
    assert not torch.equal(student, x)
    torch.testing.assert_close(teacher, student, rtol=0, atol=0)


def test_roll_is_replayed_in_seconds_on_a_view_with_twice_the_frames():
    cfg = augment_config(freq_mixstyle={"enabled": False}, freq_mask={"enabled": False}, roll={"max_shift": 4})
    augmenter = Augmenter(cfg)
    student = torch.arange(8 * 20, dtype=torch.float32).view(8, 1, 1, 20)
    fine = torch.arange(8 * 40, dtype=torch.float32).view(8, 1, 1, 40)   # frame k of `student` = frame 2k here
    generator = torch.Generator().manual_seed(1)
    draws = generator.get_state()
    rolled = augmenter(student, None, generator)
    replayed = replay_augmentation(fine, augmenter, None, torch.Generator().set_state(draws), 2.0)
    shifts = [next(k for k in range(-4, 5) if torch.equal(torch.roll(student[b], k, dims=-1), rolled[b]))
              for b in range(8)]
    assert any(shifts)
    for b, shift in enumerate(shifts):
        assert torch.equal(replayed[b], torch.roll(fine[b], 2 * shift, dims=-1))
    # the same shifts as roll_time itself draws
    again = roll_time(student, 4, torch.Generator().set_state(draws))
    assert torch.equal(again, rolled)


def test_teacher_view_is_mixed_with_the_students_partners_and_weights():
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(8, 1, 4, 6, generator=generator)
    mix = mixup(x, 0.4, generator, per_sample=True)
    torch.testing.assert_close(mix_inputs(x, mix), mix.x)


def _teacher_store(tiny) -> tuple:
    """A second feature store of the same clips on another front end (32 mels, twice the frame rate)."""
    data = load_datadir(tiny.data)
    front = FeatureConfig(n_mels=32, hop_length=250)
    feats = np.random.default_rng(1).normal(0, 1, (len(data.utts), 32, 2 * N_FRAMES)).astype(np.float32)
    for i, utt in enumerate(data.utts):
        k = LABELS.index(data.label[utt])
        feats[i, k * 8:(k + 1) * 8] += 1.5
    path = tiny.root / "dump" / "teacher.h5"
    write_store(path, data.utts, feats, front.to_yaml(), front.hash(), "data/train")
    return path


def test_student_distils_from_a_teacher_in_the_loop_on_another_front_end(tiny, one_thread, capsys):
    teacher_feats = _teacher_store(tiny)
    teacher = tiny.root / "teacher"
    args = tiny.argv(teacher, kd=False)
    args[args.index("--feats") + 1] = str(teacher_feats)
    assert main(args + ["epochs=2", "kd.lambda_ce=1"]) == 0

    student = tiny.root / "student"
    online = ["kd.teacher_mode=online", f"kd.members=[{teacher}]", "epochs=2"]
    assert main(tiny.argv(student, *online, kd=False)) == 0
    log = (student / "train.log").read_text()
    assert f"teachers in the loop {teacher}" in log
    rows = [json.loads(line) for line in (student / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r["train_kd"] > 0 for r in rows)
    # the teachers' views come from a copy of the augmentation stream: the same command, the same run
    assert main(tiny.argv(tiny.root / "again", *online, kd=False)) == 0
    assert metrics(tiny.root / "again") == metrics(student)
    done = json.loads((student / "train.done").read_text())
    assert len(done["inputs"]["teachers"]) == 1

    # a retrained teacher (new train.done) makes the finished student stale, named
    cfg = load_train_config(tiny.config, {"train_data": str(tiny.data), "feats": str(tiny.feats),
                                          "labels": str(tiny.labels), "kd.teacher_mode": "online",
                                          "kd.members": [str(teacher)], "epochs": 2,
                                          "augment.device_ir.folder": str(tiny.dirs)})
    assert finished(student, cfg)
    (teacher / "train.done").write_text((teacher / "train.done").read_text() + " ")
    with pytest.raises(InputError, match="teachers"):
        finished(student, cfg)


def test_members_come_from_the_stored_logits_file(tiny):
    assert member_exps([], str(tiny.logits)) == ["t1", "t2"]
    assert member_exps(["x"], str(tiny.logits)) == ["x"]
    with pytest.raises(InputError, match="not found"):
        member_exps([], str(tiny.root / "missing.h5"))


def test_an_unfinished_teacher_is_refused_naming_it(tiny, one_thread, capsys):
    missing = tiny.root / "no_teacher"
    missing.mkdir()
    assert main(tiny.argv(tiny.root / "s", "kd.teacher_mode=online", f"kd.members=[{missing}]", kd=False)) == 1
    assert "no_teacher" in capsys.readouterr().err
