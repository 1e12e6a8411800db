"""Stored teacher logits: one HDF5 file per training split, written once by stage 3, read by every
student and pruning step (teachers are far too slow to run every epoch on a CPU).

Layout: dataset `logits` float32 [N, classes] (the ensemble mean), `utts` (utf-8, sorted, same
order), `member_logits` float32 [members, N, classes]; attrs `members` (the teachers' exp dirs, in
the order of `member_logits`) and `labels` (the class order of the columns).
"""
from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from asc.atomic import atomic_path
from asc.errors import InputError


def write_logit_store(path: str | os.PathLike, utts: list[str], member_logits: np.ndarray,
                      members: list[str], labels: list[str]) -> np.ndarray:
    """Write the members' logits and their mean atomically; returns the mean [N, classes]."""
    member_logits = np.asarray(member_logits, dtype=np.float32)
    if member_logits.ndim != 3 or member_logits.shape[:2] != (len(members), len(utts)):
        raise ValueError(f"member_logits {member_logits.shape} does not fit {len(members)} members x {len(utts)} utts")
    order = np.argsort(np.asarray(utts, dtype=object), kind="stable")
    utts = [utts[i] for i in order]
    member_logits = member_logits[:, order]
    mean = member_logits.mean(axis=0)
    with atomic_path(path, suffix=".h5") as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("logits", data=mean)
            f.create_dataset("member_logits", data=member_logits)
            f.create_dataset("utts", data=np.array(utts, dtype=object), dtype=h5py.string_dtype("utf-8"))
            f.attrs["members"] = list(members)
            f.attrs["labels"] = list(labels)
    return mean


def read_logits(path: str | os.PathLike, utts: list[str], labels: list[str] | None = None,
                member: str | None = None) -> np.ndarray:
    """The stored logits of `utts`, in that order ([len(utts), classes] float32).

    `member` picks one teacher's logits instead of the ensemble mean. Missing utterances, a class
    order other than `labels` or an unknown member are errors naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "teacher logits not found; run stage 3 (teacher_logits) first")
    try:
        with h5py.File(path, "r") as f:
            stored = [u.decode() if isinstance(u, bytes) else str(u) for u in f["utts"][()]]
            stored_labels = [str(l) for l in f.attrs.get("labels", [])]
            members = [str(m) for m in f.attrs.get("members", [])]
            if member is None:
                table = f["logits"][()]
            elif member in members:
                table = f["member_logits"][members.index(member)]
            else:
                raise InputError(path, f"no member '{member}'; members: {', '.join(members)}")
    except (OSError, KeyError) as e:
        raise InputError(path, f"not a teacher-logits file ({type(e).__name__}: {e})") from None
    if labels is not None and stored_labels and stored_labels != list(labels):
        raise InputError(path, f"class order {stored_labels} differs from the label list {list(labels)}")
    if labels is not None and table.shape[1] != len(labels):
        raise InputError(path, f"{table.shape[1]} logit columns for {len(labels)} classes")
    position = {u: i for i, u in enumerate(stored)}
    missing = [u for u in utts if u not in position]
    if missing:
        raise InputError(path, f"no logits for {len(missing)} of {len(utts)} utterances (e.g. {missing[:3]}); "
                               f"were they computed for another split?")
    return np.asarray(table[[position[u] for u in utts]], dtype=np.float32)


def logit_members(path: str | os.PathLike) -> list[str]:
    """The teachers whose logits a file holds."""
    with h5py.File(path, "r") as f:
        return [str(m) for m in f.attrs.get("members", [])]
