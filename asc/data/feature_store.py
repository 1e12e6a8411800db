"""The HDF5 feature cache: log-mels of one data directory under one feature config.

Layout of `feats.h5`: dataset `feats` float16 [N, n_mels, n_frames], one clip per chunk; dataset
`utts` (utf-8, sorted, same order); attributes `config_yaml`, `config_hash` (of the feature
config) and `data_dir` (the data directory's name). Beside it, `feats.done` (written last) records
the file's size, its clip count and hashes of its config and utterance list, so that a file cut
short or built from other settings is recognised and never read as complete.

`FeatureStore` reads one clip per call (h5py's fancy indexing on chunked data is slow) and opens the
file lazily, so each DataLoader worker process gets its own handle.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Iterator

import h5py
import numpy as np

from asc.atomic import atomic_path, done_marker, mark_done
from asc.config import from_dict
from asc.errors import InputError

STRING = h5py.string_dtype("utf-8")


def utts_hash(utts: list[str]) -> str:
    """A short hash of an utterance list (in order): the identity of a store's or shard's content."""
    return hashlib.sha256("\n".join(utts).encode()).hexdigest()[:16]


def marker_name(path: str | os.PathLike) -> str:
    """Done-marker name of a store file: `feats.h5` -> `feats` (marker `feats.done` beside it)."""
    return Path(path).name.removesuffix(".h5")


def store_bytes(n_clips: int, n_mels: int, n_frames: int) -> int:
    """An upper estimate of a store's file size, for checking free disk space before writing."""
    data = n_clips * n_mels * n_frames * 2
    return int(data * 1.02) + n_clips * 160 + (1 << 20)


@contextlib.contextmanager
def create_store(path: str | os.PathLike, utts: list[str], n_mels: int, n_frames: int,
                 config_yaml: str, config_hash: str, data_dir: str,
                 marker: dict | None = None) -> Iterator[h5py.Dataset]:
    """Yield the empty `feats` dataset of a new store; on success rename it into place, mark it done.

    The file is written under a temporary name, so a killed writer leaves nothing at `path`. The done
    marker (written last) holds `marker` plus the size, clip count and hashes the readers check.
    """
    path = Path(path)
    if list(utts) != sorted(set(utts)):
        raise ValueError("utterance ids of a feature store must be unique and sorted")
    done_marker(path.parent, marker_name(path)).unlink(missing_ok=True)
    with atomic_path(path, suffix=".h5") as tmp:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("utts", data=np.array(utts, dtype=object), dtype=STRING)
            feats = f.create_dataset("feats", shape=(len(utts), n_mels, n_frames), dtype=np.float16,
                                     chunks=(1, n_mels, n_frames) if utts else None)
            f.attrs["config_yaml"] = config_yaml
            f.attrs["config_hash"] = config_hash
            f.attrs["data_dir"] = data_dir
            yield feats
        size = tmp.stat().st_size
    info = dict(marker or {})
    # build_id: new at every build, so that the digest of this marker (what later stages record of the
    # store, asc.fingerprint.marker_digest) changes whenever the store is rebuilt.
    info.update(bytes=size, utts=len(utts), utts_hash=utts_hash(list(utts)), config_hash=config_hash,
                data_dir=data_dir, build_id=uuid.uuid4().hex[:16])
    mark_done(path.parent, marker_name(path), info)


def write_store(path: str | os.PathLike, utts: list[str], feats: np.ndarray, config_yaml: str,
                config_hash: str, data_dir: str) -> None:
    """Write a whole store at once from an in-memory array [N, n_mels, n_frames] (small sets, tests)."""
    with create_store(path, utts, feats.shape[1], feats.shape[2], config_yaml, config_hash, data_dir) as d:
        if len(utts):
            d[...] = feats.astype(np.float16)


def store_problem(path: str | os.PathLike, expect: dict | None = None) -> str | None:
    """Why the store at `path` cannot be trusted, or None if it is complete and matches `expect`.

    `expect` holds marker entries that must agree (config_hash, utts_hash, ...). The file must have
    its done marker, the size recorded there, and open in HDF5 with the recorded shape.
    """
    path = Path(path)
    marker = done_marker(path.parent, marker_name(path))
    if not path.is_file():
        return "does not exist"
    if not marker.is_file():
        return f"is not marked finished ({marker.name} missing): an interrupted write"
    try:
        info = json.loads(marker.read_text())
    except (OSError, ValueError) as e:
        return f"has an unreadable done marker {marker.name} ({e})"
    size = path.stat().st_size
    if size != info.get("bytes"):
        return (f"has {size} bytes, but {info.get('bytes')} were recorded when it was finished "
                f"(truncated or overwritten)")
    for key, value in (expect or {}).items():
        if info.get(key) != value:
            return f"was built with {_difference(key, info.get(key), value)} (stale)"
    try:
        with h5py.File(path, "r") as f:
            shape, n_utts = f["feats"].shape, f["utts"].shape[0]
            attr_hash = f.attrs["config_hash"]
    except (OSError, KeyError, ValueError) as e:
        return f"cannot be read as a feature store by HDF5 ({e})"
    if shape[0] != info.get("utts") or n_utts != shape[0] or attr_hash != info.get("config_hash"):
        return "does not hold what its done marker records"
    return None


def _difference(key: str, found, wanted) -> str:
    """What differs between a recorded marker entry and the wanted one, by sub-key for a dict entry
    (e.g. `sources`: the audio files, or a library's version)."""
    if isinstance(found, dict) and isinstance(wanted, dict):
        keys = [k for k in wanted if found.get(k) != wanted[k]] or sorted(set(found) - set(wanted))
        return "; ".join(f"{key}.{k} {found.get(k)!r}, now {wanted.get(k)!r}" for k in keys)
    return f"{key} {found!r}, expected {wanted!r}"


def read_marker(path: str | os.PathLike) -> dict:
    """The done-marker entries of a finished store (see `store_problem` for checking it first)."""
    path = Path(path)
    return json.loads(done_marker(path.parent, marker_name(path)).read_text())


class FeatureStore:
    """Read access to one `feats.h5`: clip by row or utterance id, opened lazily per process.

    `config` (a FeatureConfig or its hash) refuses a store built with other feature settings.
    """

    def __init__(self, path: str | os.PathLike, config=None):
        self.path = Path(path)
        problem = store_problem(self.path)
        if problem:
            raise InputError(self.path, f"not a usable feature store: it {problem}; "
                                        f"re-run the feature stage (run.sh --stage 2)")
        with h5py.File(self.path, "r") as f:
            self.utts: list[str] = list(f["utts"].asstr()[:])
            self.shape: tuple[int, int, int] = tuple(f["feats"].shape)
            self.config_yaml: str = str(f.attrs["config_yaml"])
            self.config_hash: str = str(f.attrs["config_hash"])
            self.data_dir: str = str(f.attrs["data_dir"])
        self._rows = {u: i for i, u in enumerate(self.utts)}
        self._file: h5py.File | None = None
        self._feats: h5py.Dataset | None = None
        self._pid: int | None = None
        if config is not None:
            wanted = config if isinstance(config, str) else config.hash()
            if wanted != self.config_hash:
                raise InputError(self.path, f"stale feature cache: built with feature config hash "
                                            f"{self.config_hash}, but {wanted} was asked for; re-run the "
                                            f"feature stage (run.sh --stage 2) to rebuild it")

    @property
    def n_mels(self) -> int:
        """Mel bins per frame."""
        return self.shape[1]

    @property
    def n_frames(self) -> int:
        """Frames per clip."""
        return self.shape[2]

    @property
    def feature_config(self):
        """The FeatureConfig the store was built with (for inference with the same front end)."""
        import yaml

        from asc.features.logmel import FeatureConfig

        return from_dict(FeatureConfig, yaml.safe_load(self.config_yaml), f"{self.path} (config_yaml)")

    def __len__(self) -> int:
        return len(self.utts)

    def index(self, utt: str) -> int:
        """Row of `utt` in the store."""
        try:
            return self._rows[utt]
        except KeyError:
            raise InputError(self.path, f"utterance {utt!r} is not in the feature store") from None

    def read(self, i: int) -> np.ndarray:
        """The log-mel of row `i`, float16 [n_mels, n_frames]."""
        if not 0 <= i < len(self.utts):
            raise IndexError(f"{self.path}: row {i} out of range 0..{len(self.utts) - 1}")
        return self._dataset()[i]

    def read_utt(self, utt: str) -> np.ndarray:
        """The log-mel of utterance `utt`, float16 [n_mels, n_frames]."""
        return self.read(self.index(utt))

    def check_covers(self, utts, source: str) -> None:
        """Raise InputError naming this file if any of `utts` (from `source`) has no features."""
        missing = [u for u in utts if u not in self._rows]
        if missing:
            raise InputError(self.path, f"{len(missing)} of {len(utts)} utterances of {source} have no "
                                        f"features here (e.g. {', '.join(missing[:3])}); the store was built "
                                        f"from data directory '{self.data_dir}' - re-run the feature stage "
                                        f"for the right data directory")

    def close(self) -> None:
        """Close this process's file handle (reopened on the next read)."""
        if self._file is not None and self._pid == os.getpid():
            self._file.close()
        self._file = self._feats = self._pid = None

    def _dataset(self) -> h5py.Dataset:
        # A handle inherited through fork() is not safe to use: each process opens its own.
        if self._feats is None or self._pid != os.getpid():
            self._file = h5py.File(self.path, "r")
            self._feats = self._file["feats"]
            self._pid = os.getpid()
        return self._feats

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.update(_file=None, _feats=None, _pid=None)
        return state

    def __enter__(self) -> "FeatureStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


__all__ = ["FeatureStore", "create_store", "write_store", "store_problem", "read_marker", "store_bytes",
           "utts_hash", "marker_name"]

