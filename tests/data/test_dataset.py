"""FeatureDataset items and the validation split chosen by recording."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from asc.data.datadir import DataDir
from asc.data.dataset import FeatureDataset, split_by_recording, validation_size
from asc.data.feature_store import FeatureStore, write_store
from asc.data.logit_store import write_logit_store
from asc.errors import InputError

LABELS = ["airport", "bus", "park"]


def make_data(recordings: int = 5, devices=("a", "b", "c")) -> DataDir:
    data = DataDir(wav={})
    for label in LABELS:
        for r in range(recordings):
            rec = f"{label}-lisbon-{r}-{r * 10}"
            for piece in range(2):
                for d in devices:
                    utt = f"{rec}-{piece}-{d}"
                    data.wav[utt], data.label[utt], data.device[utt] = f"{utt}.wav", label, d
                    data.rec[utt], data.city[utt] = rec, "lisbon"
    return data


@pytest.fixture
def store(tmp_path):
    data = make_data()
    feats = np.arange(len(data.utts) * 4 * 3, dtype=np.float32).reshape(len(data.utts), 4, 3) / 100
    write_store(tmp_path / "feats.h5", data.utts, feats, "n_mels: 4\n", "hash0", "data/x")
    return data, FeatureStore(tmp_path / "feats.h5"), feats


def test_split_holds_out_whole_recordings_deterministically():
    data = make_data(recordings=10)
    train, val = split_by_recording(data, 0.2, seed=3)
    assert sorted(train + val) == data.utts and not set(train) & set(val)
    val_recs = {data.rec[u] for u in val}
    assert not val_recs & {data.rec[u] for u in train}           # no recording on both sides
    assert all(data.rec[u] in val_recs for u in data.utts if data.rec[u] in val_recs)
    for label in LABELS:                                          # 2 of each label's 10 recordings
        assert len({r for r in val_recs if r.startswith(label)}) == 2
    assert split_by_recording(data, 0.2, seed=3) == (train, val)
    assert split_by_recording(data, 0.2, seed=4) != (train, val)
    assert split_by_recording(data, 0.0, seed=3) == (data.utts, [])


def test_split_never_empties_a_label():
    assert validation_size(1, 0.5) == 0
    assert validation_size(2, 0.9) == 1
    assert validation_size(3, 0.01) == 1
    data = make_data(recordings=1)
    train, val = split_by_recording(data, 0.5, seed=0)
    assert val == [] and train == data.utts


def test_split_needs_recording_ids():
    data = make_data()
    data.rec.clear()
    with pytest.raises(InputError, match="utt2rec"):
        split_by_recording(data, 0.1, seed=0, source="data/train")


def test_items_are_float32_clips_with_label_device_and_index(store):
    data, st, feats = store
    utts = data.utts[5:9]
    ds = FeatureDataset(data, st, LABELS, utts)
    x, label, device, index = ds[2]
    assert x.dtype == torch.float32 and x.shape == (1, 4, 3)
    row = data.utts.index(utts[2])
    assert torch.allclose(x[0], torch.from_numpy(feats[row].astype(np.float16).astype(np.float32)))
    assert LABELS[label] == data.label[utts[2]]
    assert ds.device_names[device] == data.device[utts[2]]
    assert index == 2 and ds.utts[index] == utts[2]


def test_loader_workers_read_the_same_clips(store):
    data, st, _ = store
    ds = FeatureDataset(data, st, LABELS)
    a = torch.cat([b[0] for b in DataLoader(ds, batch_size=8)])
    b = torch.cat([b[0] for b in DataLoader(ds, batch_size=8, num_workers=2)])
    assert torch.equal(a, b) and len(a) == len(data.utts)


def test_teacher_logits_aligned_by_utterance(store, tmp_path):
    data, st, _ = store
    rng = np.random.default_rng(0)
    members = rng.normal(size=(2, len(data.utts), len(LABELS))).astype(np.float32)
    shuffled = rng.permutation(len(data.utts))          # the writer sorts whatever order it gets
    write_logit_store(tmp_path / "logits.h5", [data.utts[i] for i in shuffled], members[:, shuffled],
                      ["t1", "t2"], LABELS)
    utts = data.utts[::3]
    ds = FeatureDataset(data, st, LABELS, utts, teacher_logits=tmp_path / "logits.h5")
    expected = members.mean(axis=0)[[data.utts.index(u) for u in utts]]
    assert np.allclose(ds.teacher_logits.numpy(), expected, atol=1e-6)


def test_missing_features_or_unknown_label_refused(store, tmp_path):
    data, st, _ = store
    with pytest.raises(InputError, match="feats.h5.*have no features"):
        FeatureDataset(data, st, LABELS, data.utts + ["tram-x-1-1-0-a"])
    data.label[data.utts[0]] = "tram"
    with pytest.raises(InputError, match="utt2label.*'tram'"):
        FeatureDataset(data, st, LABELS, source="data/train")


def test_logits_of_another_split_refused(store, tmp_path):
    data, st, _ = store
    half = data.utts[: len(data.utts) // 2]
    write_logit_store(tmp_path / "logits.h5", half, np.zeros((1, len(half), 3)), ["t"], LABELS)
    with pytest.raises(InputError, match=r"logits\.h5.*no logits for"):
        FeatureDataset(data, st, LABELS, teacher_logits=tmp_path / "logits.h5")
    write_logit_store(tmp_path / "other.h5", data.utts, np.zeros((1, len(data.utts), 3)), ["t"],
                      ["bus", "airport", "park"])
    with pytest.raises(InputError, match="class order"):
        FeatureDataset(data, st, LABELS, teacher_logits=tmp_path / "other.h5")
