"""Stage 2's work: log-mels of a data directory, extracted in N shards and merged into one store.

Shard J of N holds a contiguous range of the sorted utterances, made of whole batches of `BATCH`
clips counted from the start of the data directory, so every clip goes through the front end in the
same batch whatever N is and the features are bit-identical for any number of jobs. Each shard is
written atomically with a done marker; a finished shard is skipped, a half-written or damaged one is
rebuilt. The merge copies the shards once into `feats.h5`, checks it against the data directory,
marks it done and removes the shards.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Callable

import h5py
import numpy as np
import torch

from asc.data.audio import AudioWarning, audio_length, read_audio, resample
from asc.data.datadir import DataDir
from asc.data.feature_store import create_store, read_marker, store_bytes, store_problem, utts_hash
from asc.errors import AscError, InputError
from asc.fingerprint import audio_digest, library_versions
from asc.features.logmel import FeatureConfig, fix_length, make_front_end
from asc.finite import check_finite_features

BATCH = 32          # clips per front-end call; shard boundaries fall on multiples of it
COPY_BLOCK = 256    # clips per read/write while merging (bounds the merge's memory)
STORE = "feats.h5"
SHARDS = "shards"

Log = Callable[[str], None]


def _print(message: str) -> None:
    print(message, flush=True)


def store_path(out_dir: str | os.PathLike) -> Path:
    """The merged store of an output folder: OUT/feats.h5."""
    return Path(out_dir) / STORE


def shard_path(out_dir: str | os.PathLike, shard: int) -> Path:
    """Where shard `shard` (1-based) is written: OUT/shards/feats.J.h5."""
    return Path(out_dir) / SHARDS / f"feats.{shard}.h5"


def shard_bounds(n_utts: int, shard: int, num_shards: int) -> tuple[int, int]:
    """[start, stop) of shard `shard` of `num_shards` (1-based) among `n_utts` sorted utterances."""
    if not 1 <= shard <= num_shards:
        raise AscError(f"shard {shard} is outside 1..{num_shards}")
    batches = -(-n_utts // BATCH)
    first, last = (shard - 1) * batches // num_shards, shard * batches // num_shards
    return min(first * BATCH, n_utts), min(last * BATCH, n_utts)


def store_sources(data: DataDir) -> dict:
    """What the features are computed from beyond their config: the audio files (name, size, mtime)
    and the versions of the libraries that make the filterbank and resample. A wav rewritten under the
    same name, or another librosa, makes a finished store stale."""
    sources = {"audio": audio_digest(data.wav[u] for u in data.utts), "libraries": library_versions()}
    if data.segment:        # segments of longer files: where each is cut from is part of the input
        sources["segments"] = hashlib.sha256("".join(f"{u} {data.segment[u]}\n" for u in data.utts)
                                             .encode()).hexdigest()[:16]
    return sources


def store_status(cfg: FeatureConfig, data: DataDir, out_dir: str | os.PathLike) -> str | None:
    """Why OUT/feats.h5 is not the finished store of `data` under `cfg`, or None if it is."""
    return store_problem(store_path(out_dir), {"config_hash": cfg.hash(), "utts_hash": utts_hash(data.utts),
                                               "sources": store_sources(data)})


def extract_shard(cfg: FeatureConfig, data: DataDir, data_name: str, out_dir: str | os.PathLike,
                  shard: int, num_shards: int, device: str = "cpu", log: Log = _print) -> bool:
    """Write shard `shard` of `num_shards` unless it (or the merged store) is already done.

    Returns True if features were computed. Clips longer or shorter than cfg.clip_seconds are cut or
    zero-padded with a warning naming the file.
    """
    if store_status(cfg, data, out_dir) is None:
        log(f"{store_path(out_dir)} is complete; shard {shard}/{num_shards}: nothing to do")
        return False
    utts = data.utts
    start, stop = shard_bounds(len(utts), shard, num_shards)
    mine = utts[start:stop]
    path = shard_path(out_dir, shard)
    marker = {"shard": shard, "num_shards": num_shards, "start": start, "stop": stop,
              "data_utts_hash": utts_hash(utts), "data_utts": len(utts), "sources": store_sources(data)}
    problem = store_problem(path, {"config_hash": cfg.hash(), "utts_hash": utts_hash(mine), **marker})
    if problem is None:
        log(f"{path} is already done ({len(mine)} clips); skipped")
        return False
    if path.exists():
        log(f"{path} {problem}; rebuilding it")
    check_segments(data, cfg, data_name)
    remove_temporaries(path)
    check_free_space(path.parent, store_bytes(len(mine), cfg.n_mels, cfg.clip_frames), f"shard {shard}")
    if mine:
        log(f"shard {shard}/{num_shards}: clips {start}..{stop - 1} of {len(utts)} -> {path}")
    else:
        log(f"shard {shard}/{num_shards}: no clips (the {len(utts)} clips make fewer batches of {BATCH} than "
            f"there are shards) -> {path}")
    with create_store(path, mine, cfg.n_mels, cfg.clip_frames, cfg.to_yaml(), cfg.hash(), data_name,
                      marker) as feats:
        _compute(feats, [(data.wav[u], data.span(u)) for u in mine], cfg, device, lambda done, rate: log(
            f"shard {shard}/{num_shards}: {done}/{len(mine)} clips ({rate:.0f} clips/s)"))
    return True


def check_segments(data: DataDir, cfg: FeatureConfig, data_name: str) -> None:
    """InputError unless every segment of `data` (utt2segment) is one clip of `cfg` long: a segment
    of another length would be cut or padded silently, clip by clip."""
    lengths = {round(end - start, 3) for start, end in (data.span(u) for u in data.segment)}
    wrong = sorted(length for length in lengths if abs(length - cfg.clip_seconds) > 1e-3)
    if wrong:
        raise InputError(f"{data_name}/utt2segment", f"segments of {', '.join(f'{w:g}' for w in wrong)} s, but "
                         f"the feature config cuts {cfg.clip_seconds:g}-s clips: make the data config's "
                         f"segment_seconds equal the feature configs' clip_seconds")


def _compute(feats: h5py.Dataset, wavs: list[tuple[str, tuple[float, float] | None]], cfg: FeatureConfig,
             device: str, progress: Callable[[int, float], None]) -> None:
    """Fill `feats` with the log-mels of `wavs` (file, segment or None), BATCH clips per front-end call."""
    front = make_front_end(cfg).to(device)
    began, every = time.time(), max(1, len(wavs) // 10)
    rates: dict[int, list[str]] = {}
    for a in range(0, len(wavs), BATCH):
        waves = np.stack([read_clip(w, cfg, rates, span) for w, span in wavs[a:a + BATCH]])
        with torch.inference_mode():
            out = front(torch.from_numpy(waves).to(device)).cpu().numpy()
        _check_finite(out, [w for w, _ in wavs[a:a + BATCH]])
        done = a + len(waves)
        feats[a:done] = out.astype(np.float16)
        if done // every != a // every or done == len(wavs):
            progress(done, done / max(time.time() - began, 1e-9))
    _warn_odd_rates(rates, cfg.sample_rate)


def _check_finite(feats: np.ndarray, wavs: list[str]) -> None:
    """InputError naming the first clip whose log-mels hold NaN or infinity (samples far outside
    [-1, 1] overflow the power spectrum): such a clip would train and score as garbage, silently."""
    for feat, wav in zip(feats, wavs):
        check_finite_features(feat, wav)
    clipped = feats.astype(np.float16)
    for feat, wav in zip(clipped, wavs):
        if not np.isfinite(feat).all():
            raise InputError(wav, "its log-mel features overflow float16, the store's type (samples far "
                                  "outside [-1, 1]?)")


def read_clip(path: str, cfg: FeatureConfig, rates: dict[int, list[str]] | None = None,
              span: tuple[float, float] | None = None) -> np.ndarray:
    """One clip at the feature rate and length (mono float32 [clip_samples]); `rates` (if given)
    collects the files by their own sample rate. With `span` (start, end seconds: a segment of a long
    recording, utt2segment) the clip is that stretch of the file, zero-padded past the file's end."""
    if span is not None:
        wave, rate = read_segment(path, span[0], cfg)
        if rates is not None:
            rates.setdefault(rate, []).append(str(path))
        return fix_length(resample(wave, rate, cfg.sample_rate), cfg.clip_samples)
    wave, rate, seconds = _read_start(path, cfg)
    if rates is not None:
        rates.setdefault(rate, []).append(str(path))
    wave = resample(wave, rate, cfg.sample_rate)
    if len(wave) != cfg.clip_samples:
        warnings.warn(f"{path}: {seconds:.3f} s long, "
                      f"{'cut' if len(wave) > cfg.clip_samples else 'zero-padded'} to {cfg.clip_seconds:g} s",
                      AudioWarning, stacklevel=2)
        wave = fix_length(wave, cfg.clip_samples)
    return wave


def read_segment(path: str, start: float, cfg: FeatureConfig) -> tuple[np.ndarray, int]:
    """The samples of one clip from `start` seconds into `path` (plus a margin for the resampler's
    filter; fewer at the file's end) and the file's rate: only that stretch is decoded."""
    length = audio_length(path)
    if length is None:
        return read_audio(path)                       # raises the reader's error naming the file
    frames, rate = length
    first = int(round(start * rate))
    needed = -(-cfg.clip_samples * rate // cfg.sample_rate) + rate // 10
    if first >= frames:
        raise InputError(path, f"segment at {start:.3f} s starts after the file's end ({frames / rate:.3f} s); "
                               f"the file changed since the data preparation: run it again")
    wave, rate = read_audio(path, max_frames=needed, start=first)
    return wave, rate


def _read_start(path: str, cfg: FeatureConfig) -> tuple[np.ndarray, int, float]:
    """The samples the clip is cut from (of a long file, only its start plus a margin for the
    resampler's filter, so a recording of an hour costs no more memory than a clip), the file's rate
    and its full length in seconds."""
    length = audio_length(path)
    max_frames = None
    if length is not None:
        frames, rate = length
        needed = -(-cfg.clip_samples * rate // cfg.sample_rate) + rate // 10
        max_frames = needed if frames > needed else None
    wave, rate = read_audio(path, max_frames)
    seconds = (length[0] / rate if length is not None else len(wave) / rate)
    return wave, rate, seconds


def _warn_odd_rates(rates: dict[int, list[str]], target: int) -> None:
    """Name the clips whose sample rate differs from that of most clips: they are resampled like the
    rest, but one corpus should have one rate, so another rate is a sign of a file from elsewhere."""
    if len(rates) < 2:
        return
    common = max(rates, key=lambda rate: len(rates[rate]))
    for rate, paths in sorted(rates.items()):
        for path in paths if rate != common else ():
            warnings.warn(f"{path}: sample rate {rate} Hz, unlike the {common} Hz of the other "
                          f"{len(rates[common])} clips of this job; resampled to {target} Hz", AudioWarning)


def merge_shards(out_dir: str | os.PathLike, num_shards: int, cfg: FeatureConfig | None = None,
                 data: DataDir | None = None, log: Log = _print) -> bool:
    """Copy finished shards 1..N once into OUT/feats.h5, mark it done and remove the shards.

    Skipped (False) if the merged store is already complete (and matches `cfg`/`data` when given).
    Every shard must be finished and come from the same config and utterance list; with `data` the
    merged utterances must be exactly those of the data directory.
    """
    final = store_path(out_dir)
    expect = {}
    if cfg is not None:
        expect["config_hash"] = cfg.hash()
    if data is not None:
        expect["utts_hash"] = utts_hash(data.utts)
        expect["sources"] = store_sources(data)
    if store_problem(final, expect) is None and not _shards_differ(out_dir, read_marker(final)):
        remove_shards(out_dir)
        log(f"{final} is already complete; nothing to merge")
        return False
    infos = [_finished_shard(out_dir, j, num_shards, expect.get("config_hash")) for j in range(1, num_shards + 1)]
    _check_shards_agree(out_dir, infos, data)
    if "sources" in expect and infos[0].get("sources") != expect["sources"]:
        raise AscError(f"{Path(out_dir) / SHARDS}: the shards were extracted from other audio files (or with "
                       f"other library versions) than the data directory names now; re-run the extraction")
    total = infos[-1]["data_utts"]
    with h5py.File(shard_path(out_dir, 1), "r") as f:
        n_mels, n_frames = f["feats"].shape[1:]
        config_yaml, config_hash, data_name = (str(f.attrs[k]) for k in ("config_yaml", "config_hash", "data_dir"))
    remove_temporaries(final)
    check_free_space(final.parent, store_bytes(total, n_mels, n_frames), "the merged store")
    utts = []
    for j in range(1, num_shards + 1):
        with h5py.File(shard_path(out_dir, j), "r") as f:
            utts += list(f["utts"].asstr()[:])
    if data is not None and utts != data.utts:
        raise InputError(final, "the merged utterances differ from the data directory's; re-run the extraction")
    with create_store(final, utts, n_mels, n_frames, config_yaml, config_hash, data_name,
                      {"sources": infos[0].get("sources")}) as feats:
        row = 0
        for j in range(1, num_shards + 1):
            with h5py.File(shard_path(out_dir, j), "r") as f:
                src = f["feats"]
                for a in range(0, src.shape[0], COPY_BLOCK):
                    block = src[a:a + COPY_BLOCK]
                    feats[row + a:row + a + len(block)] = block
                row += src.shape[0]
    log(f"merged {num_shards} shards into {final} ({total} clips)")
    remove_shards(out_dir)
    return True


def _shards_differ(out_dir, final: dict) -> bool:
    """True if a finished shard holds other features than the merged store (a re-extraction to merge)."""
    for path in sorted((Path(out_dir) / SHARDS).glob("feats.*.h5")):
        if store_problem(path) is None:
            info = read_marker(path)
            if ((info.get("config_hash"), info.get("data_utts_hash"), info.get("sources"))
                    != (final["config_hash"], final["utts_hash"], final.get("sources"))):
                return True
    return False


def _finished_shard(out_dir, shard: int, num_shards: int, config_hash: str | None) -> dict:
    """The marker of a finished shard; AscError saying which shard is missing and why."""
    path = shard_path(out_dir, shard)
    expect = {"shard": shard, "num_shards": num_shards}
    if config_hash is not None:
        expect["config_hash"] = config_hash
    problem = store_problem(path, expect)
    if problem:
        raise AscError(f"{path}: shard {shard} of {num_shards} {problem}; run the extraction for it first "
                       f"(python -m asc.bin.extract_features ... --shard {shard} --num-shards {num_shards})")
    return read_marker(path)


def _check_shards_agree(out_dir, infos: list[dict], data: DataDir | None) -> None:
    """The shards must tile one utterance list under one config."""
    first = infos[0]
    for info in infos:
        for key in ("config_hash", "data_utts_hash", "data_utts", "sources"):
            if info.get(key) != first.get(key):
                raise AscError(f"{shard_path(out_dir, info['shard'])}: {key} {info.get(key)!r} differs from "
                               f"shard 1's {first[key]!r}; the shards come from different runs - re-run the "
                               f"extraction")
    stops = [0] + [i["stop"] for i in infos]
    if [i["start"] for i in infos] != stops[:-1] or stops[-1] != first["data_utts"]:
        raise AscError(f"{Path(out_dir) / SHARDS}: the shards do not cover the utterances without gaps")
    if data is not None and first["data_utts_hash"] != utts_hash(data.utts):
        raise AscError(f"{Path(out_dir) / SHARDS}: the shards were extracted from another list of utterances "
                       f"than the data directory holds now; re-run the extraction")


def remove_shards(out_dir: str | os.PathLike) -> None:
    """Delete OUT/shards/ (shard files, their markers and temporaries) once the merge is done."""
    folder = Path(out_dir) / SHARDS
    if folder.is_dir():
        shutil.rmtree(folder)


def remove_temporaries(path: Path) -> None:
    """Delete temporaries a killed writer of `path` left behind (see asc.atomic.atomic_path)."""
    for tmp in path.parent.glob(f".{path.name}.tmp*"):
        tmp.unlink(missing_ok=True)


def check_free_space(directory: str | os.PathLike, needed: int, what: str) -> None:
    """Fail before writing if `directory`'s file system has less than `needed` bytes free."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise AscError(f"{directory}: not enough free disk space for {what}: it needs about "
                       f"{needed / 2**30:.2f} GiB, {free / 2**30:.2f} GiB are free")


__all__ = ["BATCH", "store_path", "shard_path", "shard_bounds", "store_status", "store_sources", "extract_shard",
           "merge_shards", "read_clip", "check_free_space", "remove_shards", "remove_temporaries"]
