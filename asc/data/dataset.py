"""The training dataset: one clip per item, read from the HDF5 feature store by utterance id, and the
held-out validation split chosen by recording.

The store is opened lazily (inside FeatureStore), so each DataLoader worker reads through its own
handle; items are single clips because h5py's fancy indexing on chunked data is slow.
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from asc.data.datadir import DataDir
from asc.data.feature_store import FeatureStore
from asc.data.logit_store import read_logits
from asc.errors import InputError


class FeatureDataset(Dataset):
    """Clips of a data directory as (x float32 [1, mels, frames], label index, device index, item index).

    `utts` restricts the items (default: every utterance of `data`, sorted). The item index doubles as
    the row of `teacher_logits` ([len, classes] tensor, when a logits file is given) and of `utts`.
    Clips without a label get label -1.
    """

    def __init__(self, data: DataDir, store: FeatureStore, labels: list[str], utts: list[str] | None = None,
                 teacher_logits: str | os.PathLike | None = None, source: str = "data directory"):
        self.utts = list(utts) if utts is not None else data.utts
        self.store = store
        self.labels = list(labels)
        store.check_covers(self.utts, source)
        self.rows = np.array([store.index(u) for u in self.utts], dtype=np.int64)
        self.targets = torch.tensor([self._label_index(data, u, source) for u in self.utts], dtype=torch.long)
        self.device_names = sorted({data.device.get(u, "unknown") for u in self.utts})
        position = {d: i for i, d in enumerate(self.device_names)}
        self.devices = torch.tensor([position[data.device.get(u, "unknown")] for u in self.utts], dtype=torch.long)
        self.teacher_logits = None
        if teacher_logits is not None:
            self.teacher_logits = torch.from_numpy(read_logits(teacher_logits, self.utts, self.labels))

    def _label_index(self, data: DataDir, utt: str, source: str) -> int:
        if utt not in data.label:
            return -1
        label = data.label[utt]
        if label not in self.labels:
            raise InputError(f"{source}/utt2label", f"utterance {utt}: label '{label}' is not in the label list "
                                                    f"({', '.join(self.labels)})")
        return self.labels.index(label)

    def __len__(self) -> int:
        return len(self.utts)

    def __getitem__(self, i: int):
        x = torch.from_numpy(self.store.read(int(self.rows[i])).astype(np.float32)).unsqueeze(0)
        return x, self.targets[i], self.devices[i], i


def split_by_recording(data: DataDir, fraction: float, seed: int,
                       source: str = "data directory") -> tuple[list[str], list[str]]:
    """Split utterances into (train, validation) so that no recording is on both sides.

    Per scene label, round(fraction × recordings) recordings (at least one when the label has two or
    more) are held out, chosen by a generator seeded with `seed`; the result depends only on the data
    directory, `fraction` and `seed`. Every device of a held-out recording goes with it.
    """
    utts = data.utts
    if fraction <= 0:
        return utts, []
    missing = [u for u in utts if u not in data.rec]
    if missing:
        raise InputError(f"{source}/utt2rec", f"no recording id for {len(missing)} utterances (e.g. {missing[:2]}); "
                                              f"needed to hold out validation recordings")
    recs_by_label: dict[str, set[str]] = {}
    for u in utts:
        recs_by_label.setdefault(data.label.get(u, ""), set()).add(data.rec[u])
    rng = np.random.default_rng(seed)
    held: set[str] = set()
    for label in sorted(recs_by_label):
        recs = sorted(recs_by_label[label])
        n = validation_size(len(recs), fraction)
        held.update(recs[j] for j in rng.permutation(len(recs))[:n])
    train = [u for u in utts if data.rec[u] not in held]
    val = [u for u in utts if data.rec[u] in held]
    return train, val


def select_devices(data: DataDir, utts: list[str], devices: Sequence[str],
                   source: str = "data directory") -> list[str]:
    """The utterances of `utts` recorded by one of `devices` (utt2device), in their order.

    For a device-specific model: applied after split_by_recording, so that its validation clips come
    from the same held-out recordings as the general model's. InputError when the data directory has
    no devices or none of the wanted ones (a misspelt device would otherwise train on nothing)."""
    if not data.device:
        raise InputError(f"{source}/utt2device", "missing: selecting devices needs the device of every clip")
    wanted = set(devices)
    found = sorted({data.device.get(u, "") for u in data.utts})
    unknown = sorted(wanted - set(found))
    if unknown:
        raise InputError(f"{source}/utt2device", f"no clip of device(s) {unknown}; its devices are {found}")
    return [u for u in utts if data.device.get(u) in wanted]


def validation_size(n_recordings: int, fraction: float) -> int:
    """How many of a label's `n_recordings` recordings are held out: a share, at least one, never all."""
    if n_recordings < 2 or fraction <= 0:
        return 0
    return min(n_recordings - 1, max(1, round(fraction * n_recordings)))
