"""The HDF5 feature store: round trip, lazy per-process handles, coverage and staleness checks."""
from __future__ import annotations

import os
import pickle

import h5py
import numpy as np
import pytest
import torch

from asc.atomic import done_marker
from asc.data.feature_store import FeatureStore, create_store, store_problem, write_store
from asc.errors import InputError
from asc.features.logmel import FeatureConfig

CFG = FeatureConfig(n_fft=1024, win_length=800, hop_length=320, n_mels=16)
UTTS = [f"park-lyon-1-{i}-0-a" for i in range(5)]


@pytest.fixture
def feats():
    return np.random.default_rng(0).standard_normal((len(UTTS), CFG.n_mels, 7)).astype(np.float32) * 5


@pytest.fixture
def store_file(tmp_path, feats):
    path = tmp_path / "dump" / "feats.h5"
    write_store(path, UTTS, feats, CFG.to_yaml(), CFG.hash(), "train_split100")
    return path


def test_round_trip(store_file, feats):
    store = FeatureStore(store_file, config=CFG)
    assert store.utts == UTTS and len(store) == 5
    assert (store.n_mels, store.n_frames) == (16, 7)
    assert store.config_hash == CFG.hash() and store.data_dir == "train_split100"
    assert store.feature_config == CFG
    for i, utt in enumerate(UTTS):
        assert store.index(utt) == i
        x = store.read(i)
        assert x.dtype == np.float16 and x.shape == (16, 7)
        np.testing.assert_array_equal(x, feats[i].astype(np.float16))
        np.testing.assert_array_equal(store.read_utt(utt), x)
    with pytest.raises(IndexError):
        store.read(5)


def test_layout(store_file):
    with h5py.File(store_file) as f:
        assert f["feats"].dtype == np.float16 and f["feats"].chunks == (1, 16, 7)
        assert list(f["utts"].asstr()[:]) == UTTS
        assert f.attrs["config_hash"] == CFG.hash() and "n_mels: 16" in f.attrs["config_yaml"]


def test_opened_lazily_once_per_process(store_file):
    store = FeatureStore(store_file)
    assert store._file is None                     # nothing open until the first read
    store.read(0)
    assert store._file is not None
    clone = pickle.loads(pickle.dumps(store))      # what a DataLoader worker receives
    assert clone._file is None
    np.testing.assert_array_equal(clone.read(3), store.read(3))
    store.close()
    assert store._file is None


def test_dataloader_workers_read_their_own_handles(store_file, feats):
    class Clips(torch.utils.data.Dataset):
        def __init__(self, store):
            self.store = store

        def __len__(self):
            return len(self.store)

        def __getitem__(self, i):
            x = torch.from_numpy(self.store.read(i).astype(np.float32))
            return x, self.store._pid == os.getpid()          # the handle was opened in this worker

    store = FeatureStore(store_file)
    store.read(0)                                  # the parent holds a handle before forking
    loader = torch.utils.data.DataLoader(Clips(store), batch_size=2, num_workers=2,
                                         multiprocessing_context="fork")
    batches = list(loader)
    got = torch.cat([x for x, _ in batches]).numpy()
    np.testing.assert_array_equal(got, feats.astype(np.float16).astype(np.float32))
    assert all(bool(own.all()) for _, own in batches)


def test_check_covers_names_the_file_and_the_missing(store_file):
    store = FeatureStore(store_file)
    store.check_covers(UTTS[:3], "data/train_split5")
    wanted = UTTS + ["bus-lyon-9-9-0-b", "bus-lyon-9-9-1-b"]
    with pytest.raises(InputError) as err:
        store.check_covers(wanted, "data/train_split5")
    message = str(err.value)
    assert str(store_file) in message and "2 of 7" in message and "bus-lyon-9-9-0-b" in message
    with pytest.raises(InputError, match="not in the feature store"):
        store.index("bus-lyon-9-9-0-b")


def test_store_of_another_config_is_refused_as_stale(store_file):
    other = FeatureConfig(n_fft=1024, win_length=800, hop_length=320, n_mels=16, fmax=15500.0)
    with pytest.raises(InputError, match="stale feature cache") as err:
        FeatureStore(store_file, config=other)
    assert str(store_file) in str(err.value)


def test_truncated_store_is_not_trusted(store_file):
    data = store_file.read_bytes()
    store_file.write_bytes(data[: len(data) // 2])
    assert "truncated" in store_problem(store_file)
    with pytest.raises(InputError, match="truncated") as err:
        FeatureStore(store_file)
    assert str(store_file) in str(err.value)


def test_unfinished_store_is_not_trusted(store_file):
    done_marker(store_file.parent, "feats").unlink()
    with pytest.raises(InputError, match="not marked finished"):
        FeatureStore(store_file)


def test_interrupted_write_leaves_nothing(tmp_path):
    path = tmp_path / "feats.h5"
    with pytest.raises(RuntimeError):
        with create_store(path, UTTS, 16, 7, CFG.to_yaml(), CFG.hash(), "test") as d:
            d[0] = np.zeros((16, 7))
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_empty_store(tmp_path):
    path = tmp_path / "feats.h5"
    write_store(path, [], np.zeros((0, 16, 7), np.float32), CFG.to_yaml(), CFG.hash(), "test")
    store = FeatureStore(path)
    assert len(store) == 0 and store.shape == (0, 16, 7)
