"""Writing the generated corpus to disk in TAU22's formats, resumably and atomically.

Each product (development corpus, evaluation set, impulse responses) lives in its own folder holding
`corpus.yaml` (the resolved config, written first), its files, and `corpus.done` (written last).
Audio files are written one by one to a temporary name and renamed, then the metadata, then the
marker. A second run with the same config checks that every file is there and whole (audio by size,
metadata by content) and does nothing; a killed run resumes, skipping the audio already written; a
damaged file is written again; a different config in a used folder is an error that says so.
Recordings are rendered in parallel processes; every recording draws from its own seed, so the bytes
do not depend on the number of processes or the order of work.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import os
import struct
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from asc.atomic import atomic_path, done_marker, mark_done, write_text
from asc.config import dump_yaml, from_dict, read_yaml
from asc.data.embedded import devices as dev_models
from asc.data.embedded import dsp, scenes
from asc.data.embedded.config import CorpusConfig, check_config, config_hash
from asc.data.embedded.events import Ctx
from asc.data.embedded.layout import (SPLITS, Recording, eval_names, nested_splits, plan_dev,
                                      plan_eval)
from asc.errors import AscError, InputError

_PCM_HEADER, _FLOAT_HEADER = 44, 58    # bytes before the samples in the files _write_wav writes
META_HEADER = "filename\tscene_label\tidentifier\tsource_label"
SPLIT_HEADER = "filename\tscene_label"
MARKER = "corpus"


def make_corpus(cfg: CorpusConfig, out: str | Path, eval_out: str | Path | None = None,
                dirs_out: str | Path | None = None, log: Callable[[str], None] = print) -> None:
    """Write the development corpus to `out` and, as the config asks, the evaluation set to
    `eval_out` and the impulse responses to `dirs_out` (defaults: `<out>_eval`, `<out>_dirs`)."""
    check_config(cfg)
    out = Path(out)
    write_dev(cfg, out, log)
    if cfg.eval.enabled:
        write_eval(cfg, Path(eval_out) if eval_out else out.with_name(out.name + "_eval"), log)
    if cfg.dirs.count > 0:
        write_dirs(cfg, Path(dirs_out) if dirs_out else out.with_name(out.name + "_dirs"), log)


def write_dev(cfg: CorpusConfig, out: Path, log: Callable[[str], None]) -> None:
    """The development corpus: audio/, meta.csv, split5..split100.csv, test.csv."""
    start = time.perf_counter()
    recordings = plan_dev(cfg)
    jobs = [(rec, [(device, piece, out / rec.filename(device, piece)) for device, piece in rec.clips()])
            for rec in recordings]
    rows = [(rec, device, piece) for rec in recordings for device, piece in _clip_order(rec)]
    texts = {"meta.csv": META_HEADER + "\n" + "".join(
        f"{rec.filename(d, p)}\t{rec.scene}\t{rec.identifier}\t{d}\n" for rec, d, p in rows)}
    splits = nested_splits(cfg, recordings)
    for share in SPLITS:
        chosen = {rec.rec_id for rec in splits[share]}
        texts[f"split{share}.csv"] = _split_text([r for r in rows if r[0].rec_id in chosen])
    texts["test.csv"] = _split_text([r for r in rows if r[0].subset == "test"])
    if _produce(cfg, out, "dev", jobs, texts, log):
        log(f"development corpus: {len(rows)} clips of {len(recordings)} recordings in "
            f"{time.perf_counter() - start:.1f} s -> {out}")


def write_eval(cfg: CorpusConfig, out: Path, log: Callable[[str], None]) -> None:
    """The unlabeled evaluation set: audio/<n>.wav, meta.csv and evaluation_setup/fold1_test.csv with
    the file names only, and the answer key evaluation_setup/fold1_evaluate.csv."""
    start = time.perf_counter()
    recordings = plan_eval(cfg)
    names = eval_names(cfg, recordings)
    jobs = [(rec, [(device, piece, out / names[rec.rec_id, device, piece]) for device, piece in rec.clips()])
            for rec in recordings]
    key = sorted(((names[rec.rec_id, d, p], rec.scene, d) for rec in recordings for d, p in rec.clips()),
                 key=lambda row: int(Path(row[0]).stem))
    listing = "filename\n" + "".join(f"{name}\n" for name, _, _ in key)
    texts = {"meta.csv": listing, "evaluation_setup/fold1_test.csv": listing,
             "evaluation_setup/fold1_evaluate.csv": "filename\tscene_label\tsource_label\n"
             + "".join(f"{name}\t{scene}\t{device}\n" for name, scene, device in key)}
    if _produce(cfg, out, "eval", jobs, texts, log):
        log(f"evaluation set: {len(key)} clips in {time.perf_counter() - start:.1f} s -> {out}")


def write_dirs(cfg: CorpusConfig, out: Path, log: Callable[[str], None]) -> None:
    """Device impulse responses for augmentation: dir_<k>.wav (32-bit float, corpus sample rate)."""
    paths = [out / f"dir_{k:03d}.wav" for k in range(cfg.dirs.count)]
    if _claim(out, "dirs", cfg, log) == "done" and not _damaged(out, paths, {}, _FLOAT_HEADER + 4 * cfg.dirs.length, log):
        log(f"{out}: already complete for this config, nothing to do")
        return
    for k, path in enumerate(paths):
        if not _complete(path, _FLOAT_HEADER + 4 * cfg.dirs.length):
            ir = dev_models.dir_response(k, cfg.dirs.length, cfg.sample_rate)
            _write_wav(path, ir.astype("<f4"), cfg.sample_rate)
    mark_done(out, MARKER, {"product": "dirs", "config_hash": config_hash(cfg, "dirs"), "count": cfg.dirs.count})
    log(f"device impulse responses: {cfg.dirs.count} -> {out}")


def _produce(cfg: CorpusConfig, out: Path, product: str, jobs: list, texts: dict[str, str],
             log: Callable[[str], None]) -> bool:
    """Bring folder `out` to the state the plan describes: render the recordings whose pieces are
    missing or damaged, write the metadata `texts`, then the marker. False if there was nothing to do."""
    size = _PCM_HEADER + 2 * cfg.sample_rate
    paths = [path for _, targets in jobs for _, _, path in targets]
    if _claim(out, product, cfg, log) == "done" and not _damaged(out, paths, texts, size, log):
        log(f"{out}: already complete for this config, nothing to do")
        return False
    _render_all(cfg, [(rec, targets) for rec, targets in jobs
                      if not all(_complete(path, size) for _, _, path in targets)], log)
    for name, text in texts.items():
        if not _same_text(out / name, text):
            write_text(out / name, text)
    mark_done(out, MARKER, {"product": product, "config_hash": config_hash(cfg, product), "clips": len(paths)})
    return True


def _damaged(out: Path, paths: list[Path], texts: dict[str, str], size: int, log: Callable[[str], None]) -> bool:
    """True (and the marker removed, so that a killed repair is not trusted) if a file of a finished
    folder is missing, truncated or changed."""
    bad = [p for p in paths if not _complete(p, size)] + [out / n for n, t in texts.items() if not _same_text(out / n, t)]
    if bad:
        log(f"{out}: {len(bad)} file(s) missing or damaged (e.g. {bad[0]}); writing them again")
        done_marker(out, MARKER).unlink()
    return bool(bad)


def _complete(path: Path, size: int) -> bool:
    try:
        return path.stat().st_size == size
    except FileNotFoundError:
        return False


def _same_text(path: Path, text: str) -> bool:
    try:
        return path.read_text() == text
    except (FileNotFoundError, UnicodeDecodeError):
        return False


def render_recording(cfg: CorpusConfig, rec: Recording) -> dict[str, dict[int, np.ndarray]]:
    """The pieces written of `rec`: {device: {piece index: 1 s of float samples, full scale 1}}."""
    n, sr, diff = cfg.recording_seconds * cfg.sample_rate, cfg.sample_rate, cfg.difficulty
    style = scenes.city_style(cfg.seed, rec.city, diff.city_spread)
    params, species = scenes.location_params(cfg.seed, rec.scene, rec.city, rec.location, diff)
    room = scenes.room_response(cfg.seed, rec.scene, rec.city, rec.location, params["rt60"], params["wet"], n, sr)
    rng = dsp.rng_for(cfg.seed, "recording", rec.rec_id)
    spectrum = scenes.render(rng, Ctx(n, sr), params, species, style, room, diff)
    severity = {d: diff.unseen_device_severity if dev_models.is_unseen(d) else diff.device_severity
                for d in rec.devices + ("a",)}
    return dev_models.record(spectrum, dict(rec.pieces), n, sr, severity,
                             lambda d: dsp.rng_for(cfg.seed, "device", rec.rec_id, d))


def _clip_order(rec: Recording) -> list[tuple[str, int]]:
    rank = {d: i for i, d in enumerate(dev_models.DEV_DEVICES)}
    return sorted(rec.clips(), key=lambda c: (c[1], rank.get(c[0], len(rank)), c[0]))


def _split_text(rows: list) -> str:
    return SPLIT_HEADER + "\n" + "".join(f"{rec.filename(d, p)}\t{rec.scene}\n" for rec, d, p in rows)


def _claim(folder: Path, product: str, cfg: CorpusConfig, log: Callable[[str], None]) -> str:
    """Make `folder` ours for `product`: 'done' if its marker says it was completed for this config,
    'resume' if a run with this config was interrupted there, 'new' for a new or empty folder;
    refuse a folder made with another config or not made by this generator."""
    want = config_hash(cfg, product)
    recorded = folder / "corpus.yaml"
    have = _recorded_hash(folder, product)
    if have is not None and have != want:
        raise InputError(folder, f"holds a corpus generated with another config (hash {have}, this config "
                                 f"{want}); remove the folder or choose another output folder")
    if have == want and done_marker(folder, MARKER).exists():
        return "done"
    if have == want:
        log(f"{folder}: resuming an interrupted run")
        _remove_temporaries(folder)
        return "resume"
    if folder.exists() and any(folder.iterdir()):
        raise InputError(folder, "exists, is not empty and was not made by make_corpus (no corpus.yaml); "
                                 "choose an empty or new output folder")
    folder.mkdir(parents=True, exist_ok=True)
    write_text(recorded, dump_yaml(cfg))
    return "new"


def _recorded_hash(folder: Path, product: str) -> str | None:
    """The config hash of what `folder` holds, from its corpus.yaml (None if there is none)."""
    recorded = folder / "corpus.yaml"
    if not recorded.exists():
        return None
    try:
        return config_hash(from_dict(CorpusConfig, read_yaml(recorded), str(recorded)), product)
    except AscError:
        return "unreadable"


def _remove_temporaries(folder: Path) -> None:
    """Delete the temporary files a killed run of ours left behind (names start with '.' and hold '.tmp')."""
    for path in folder.rglob(".*.tmp*"):
        if path.is_file():
            path.unlink()


def _render_all(cfg: CorpusConfig, jobs: list, log: Callable[[str], None]) -> None:
    """Render and write the pieces of every recording whose files are not all there yet."""
    todo = [(cfg, rec, targets) for rec, targets in jobs]
    if not todo:
        return
    done, step = 0, max(1, len(todo) // 10)
    keep_freed_memory()
    if cfg.workers > 1 and len(todo) > 1:
        with multiprocessing.get_context("spawn").Pool(min(cfg.workers, len(todo)), keep_freed_memory) as pool:
            for _ in pool.imap_unordered(_write_recording, todo, chunksize=2):
                done += 1
                if done % step == 0:
                    log(f"  rendered {done}/{len(todo)} recordings")
    else:
        for job in todo:
            _write_recording(job)


def keep_freed_memory() -> None:
    """Ask glibc to keep freed memory instead of returning it to the system (what tools/cpu_env.sh
    does for the recipe): rendering allocates many large arrays, and page faults on fresh ones
    otherwise cost more than the arithmetic. Does nothing elsewhere or when ASC_KEEP_MALLOC is set."""
    if os.environ.get("ASC_KEEP_MALLOC") or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_top_pad, m_mmap_max = -1, -2, -4
    libc.mallopt(m_mmap_max, 0)
    libc.mallopt(m_trim_threshold, 2 ** 30)
    libc.mallopt(m_top_pad, 256 * 2 ** 20)


def _write_recording(job: tuple) -> int:
    """Render one recording and write its missing pieces; returns the number of files written."""
    cfg, rec, targets = job
    audio = render_recording(cfg, rec)
    written = 0
    for device, piece, path in targets:
        if _complete(path, _PCM_HEADER + 2 * cfg.sample_rate):
            continue
        clip = audio[device][piece]
        _write_wav(Path(path), np.clip(np.round(clip * 32767.0), -32768, 32767).astype("<i2"), cfg.sample_rate)
        written += 1
    return written


def _write_wav(path: Path, samples: np.ndarray, sr: int) -> None:
    """Write mono `samples` (int16: PCM 16-bit; float32: IEEE float) as a RIFF WAVE file, atomically,
    with a fixed header so that equal samples give equal bytes."""
    data = samples.tobytes()
    if samples.dtype == np.dtype("<i2"):
        fmt = struct.pack("<HHIIHH", 1, 1, sr, sr * 2, 2, 16)
        chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    elif samples.dtype == np.dtype("<f4"):
        fmt = struct.pack("<HHIIHHH", 3, 1, sr, sr * 4, 4, 32, 0)
        chunks = (b"fmt " + struct.pack("<I", len(fmt)) + fmt
                  + b"fact" + struct.pack("<II", 4, samples.size))
    else:
        raise TypeError(f"cannot write {samples.dtype} samples")
    body = b"WAVE" + chunks + b"data" + struct.pack("<I", len(data)) + data
    with atomic_path(path, ".wav") as tmp:
        tmp.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
