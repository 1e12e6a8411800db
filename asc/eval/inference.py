"""Class probabilities of a data directory's clips, computed from the cached log-mels of stage 2.

The features are read from the HDF5 store clip by clip (see asc.data.feature_store) and batched; the
model runs in eval mode. Before anything runs, the store must be the one the model reads: built
with the same feature config (hash) and covering every clip.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import Dataset

from asc.data.feature_store import FeatureStore
from asc.errors import InputError
from asc.models.model_file import model_dtype
from asc.train.predict import EVAL_BATCH_SIZE, predict_logits


class StoreClips(Dataset):
    """Clips of a feature store by utterance id, as items (x float32 [1, mels, frames],)."""

    def __init__(self, store: FeatureStore, utts: list[str]):
        self.store = store
        self.rows = [store.index(u) for u in utts]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        return (torch.from_numpy(self.store.read(self.rows[i]).astype(np.float32)).unsqueeze(0),)


def check_store_matches(store: FeatureStore, feats_hash: str | None, model_source: str) -> bool:
    """Refuse a store built with another front end than the model's; False if the model does not say."""
    if feats_hash is None:
        return False
    if feats_hash != store.config_hash:
        raise InputError(store.path, f"these features were built with feature config {store.config_hash}, but "
                                     f"{model_source} reads features of config {feats_hash}: give the "
                                     f"feature store of the model's own front end (e.g. dump/student/... for "
                                     f"a student, dump/teacher/... for PaSST)")
    return True


def predict_probs(model: nn.Module, store: FeatureStore, utts: list[str], batch_size: int | None = None,
                  device: str | torch.device = "cpu") -> np.ndarray:
    """Softmax probabilities [len(utts), classes] (float64) of `model` on the stored clips `utts`."""
    store.check_covers(utts, "the data directory")
    device = torch.device(device)
    model.to(device)
    dtype = model_dtype(model)          # float16 when the user asked to compute in it
    clips = StoreClips(store, utts) if dtype == torch.float32 else CastClips(StoreClips(store, utts), dtype)
    logits = predict_logits(model, clips, device, batch_size=batch_size or EVAL_BATCH_SIZE)
    return torch.softmax(logits.double(), dim=1).numpy()


class CastClips(Dataset):
    """The clips of another dataset with x cast to `dtype` (a model loaded to compute in float16)."""

    def __init__(self, clips: Dataset, dtype: torch.dtype):
        self.clips, self.dtype = clips, dtype

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i):
        x, *rest = self.clips[i]
        return (x.to(self.dtype), *rest)
