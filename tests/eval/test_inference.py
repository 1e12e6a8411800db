"""Predictions from cached features: the right clips, in the asked order, and only from the right store."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from asc.data.feature_store import FeatureStore, write_store
from asc.errors import InputError
from asc.eval.inference import check_store_matches, predict_probs
from asc.features.logmel import FeatureConfig
from asc.models import build_model

TINY = dict(stem_channels=[4, 8], stage_channels=[8, 16], n_blocks=[1, 1], strides=[[1, 1], [2, 2]],
            expansion_rate=1.5)
CFG = FeatureConfig(sample_rate=16000, n_fft=512, win_length=400, hop_length=160, n_mels=32)


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # tests/conftest.py


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A store of 12 random clips and the array it holds."""
    root = tmp_path_factory.mktemp("store")
    utts = [f"park-lyon-1-{i}-0-a" for i in range(10, 22)]
    feats = np.random.default_rng(0).normal(size=(len(utts), CFG.n_mels, CFG.clip_frames)).astype(np.float32)
    write_store(root / "feats.h5", utts, feats, CFG.to_yaml(), CFG.hash(), "test")
    return FeatureStore(root / "feats.h5"), utts, feats


def test_probabilities_are_the_models_softmax_on_the_stored_clips_in_the_asked_order(stored):
    store, utts, feats = stored
    torch.manual_seed(0)
    model = build_model("rep_mobile", **TINY).eval()
    order = [utts[5], utts[0], utts[11], utts[3]]
    probs = predict_probs(model, store, order, batch_size=3)
    rows = [utts.index(u) for u in order]
    x = torch.from_numpy(feats[rows].astype(np.float16).astype(np.float32)).unsqueeze(1)   # stored as float16
    with torch.no_grad():
        expected = torch.softmax(model(x).double(), dim=1).numpy()
    assert probs.shape == (4, 10)
    np.testing.assert_allclose(probs, expected, atol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)


def test_clips_missing_from_the_store_are_refused_naming_it(stored):
    store, utts, _ = stored
    with pytest.raises(InputError, match=r"feats\.h5: 1 of 2 utterances .* have no features"):
        predict_probs(build_model("rep_mobile", **TINY).eval(), store, [utts[0], "bus-lyon-9-9-0-a"])


def test_a_store_of_another_front_end_is_refused_with_both_hashes(stored):
    store = stored[0]
    other = FeatureConfig(sample_rate=16000, n_fft=512, win_length=400, hop_length=200, n_mels=32).hash()
    with pytest.raises(InputError) as info:
        check_store_matches(store, other, "model.pt")
    message = str(info.value)
    assert str(store.path) in message and CFG.hash() in message and other in message
    assert "model.pt reads features of config" in message


def test_the_matching_store_passes_and_an_unknown_front_end_is_reported(stored):
    store = stored[0]
    assert check_store_matches(store, CFG.hash(), "model.pt") is True
    assert check_store_matches(store, None, "model.pt") is False
