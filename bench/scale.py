"""Scale: the cost of data preparation and feature extraction against corpus size, and the memory of
the training data loader against feature store size.

1. Corpora. The embedded generator (stage 0) writes corpora of 1x, 10x and 30x a small base: the
   recipe's corpus.yaml with 1 location per city, 1 recording per location and no parallel
   recordings of devices b, c, s1-s3 in training (their at-least-one-per-device floor would not
   scale), 1,000 clips. The multiple is the number of recordings per location, so the clip count
   grows in proportion and the corpus keeps its make-up. Then data preparation (stage 1,
   asc.bin.prepare_data) and feature extraction (stage 2: student and PaSST features of
   train_split100 and test, one extraction job and a merge each, as run.sh runs them) are timed,
   each command in its own process, with the peak memory of its process tree. Linear cost means a
   constant cost per added clip (each process's fixed start-up cancels in the difference between two
   sizes), counted in CPU time (user + system of the process tree, which a neighbour's load barely
   changes) with the wall time beside it; flat memory means the same peak at every size. The
   generation is reported beside them. Each corpus is removed once measured.
   --multipliers sets the sizes: the default 1,10,30 (41,000 clips in all, 30,000 at the largest)
   takes about 10 minutes on 2 idle cores and 5 GB of disk at the largest; TAU22's 230,350 clips
   are 230x (about 40 minutes of generation and 34 GB of disk for that size alone).
   --quick's corpora (a few thousand clips) are too small for the linearity figure to be more than
   indicative: the start-up of the nine processes (about 3 s of CPU each) varies by more than the
   added clips cost.
2. Loader. Feature stores of growing size (the recipe's HDF5 layout) are read once through the
   project's data path (FeatureDataset + DataLoader, batch 64, shuffled, 0 and 2 worker processes)
   in a fresh process each: its memory stays flat while the store grows past it (the store is read
   one clip at a time, never held). Peak memory: the sum over the process tree sampled every
   0.05 s, and the largest single process (exact); the headline ratio uses the latter with 0
   workers (the recipe's setting).

    python bench/scale.py [--quick | --tiny] [--multipliers 1,10,30] [--stores 2000,8000,32000]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from common import (PYTHON, RECIPE, as_dict, by_mode, env_variant, merge_results, mode_of, parser, print_table,
                    ratio, run_measured)

# overrides of conf/embedded/corpus.yaml: the 1x corpus of each mode (segments_per_location = the multiple)
CORPUS_BASE = {
    "tiny": ["dev.cities=[lisbon, london]", "dev.locations_per_city=1", "dev.train_pieces=1", "dev.test_pieces=1",
             "recording_seconds=2", "workers=1"],
    "quick": ["dev.cities=[lisbon, london, paris]", "dev.locations_per_city=1"],
    "full": ["dev.locations_per_city=1"],
}
COMMON = ["eval.enabled=false", "dirs.count=0", "dev.parallel_fraction=0"]
EXTRACT = {       # feature kinds and sets extracted in stage 2
    "tiny": [("student", "train_split100")],
    "quick": [(f, s) for f in ("student", "teacher") for s in ("train_split100", "test")],
    "full": [(f, s) for f in ("student", "teacher") for s in ("train_split100", "test")],
}
BYTES_PER_CLIP = 44100 * 2 + 256 * 65 * 2 + 128 * 101 * 2 + 4096   # wav + both feature stores + overhead


def corpus_steps(work: Path, mode: str, multiple: int) -> list[tuple[str, list[str]]]:
    """(name, command) of stages 0-2 for the corpus of `multiple` times the base, run in the recipe folder."""
    corpus, data, dump = work / "corpus", work / "data", work / "dump"
    sets = [a for o in CORPUS_BASE[mode] + COMMON + [f"dev.segments_per_location={multiple}"] for a in ("--set", o)]
    steps = [("generate", [PYTHON, "-m", "asc.bin.make_corpus", "--config", "conf/embedded/corpus.yaml",
                           "--out", str(corpus), *sets]),
             ("prepare", [PYTHON, "-m", "asc.bin.prepare_data", "--corpus", str(corpus), "--out", str(data)])]
    for feats, name in EXTRACT[mode]:
        out, conf = dump / feats / name, f"conf/{'common' if feats == 'student' else 'embedded'}/feats_{feats}.yaml"
        steps.append((f"extract {feats}/{name}", [
            PYTHON, "-m", "asc.bin.extract_features", "--config", conf, "--data", str(data / name),
            "--out", str(out), "--shard", "1", "--num-shards", "1"]))
        steps.append((f"merge {feats}/{name}", [
            PYTHON, "-m", "asc.bin.merge_features", "--out", str(out), "--num-shards", "1", "--data",
            str(data / name), "--config", conf]))
    return steps


def measure_corpus(work: Path, mode: str, multiple: int, env: dict) -> dict:
    """Time and peak memory of stages 0-2 on the corpus of `multiple` times the base."""
    runs = {}
    for name, cmd in corpus_steps(work, mode, multiple):
        m = run_measured(cmd, cwd=RECIPE, env=env, log=work / f"{name.replace(' ', '_').replace('/', '_')}.log")
        if m.rc:
            raise RuntimeError(f"{m.cmd} failed ({m.rc}); see {work}")
        runs[name] = as_dict(m)
    clips = sum(1 for _ in open(work / "corpus" / "meta.csv")) - 1
    stages = [r for n, r in runs.items() if n != "generate"]
    return {
        "multiple": multiple, "clips": clips,
        "generate_seconds": runs["generate"]["seconds"],
        "generate_cpu_seconds": runs["generate"]["cpu_seconds"],
        "prepare_extract_cpu_seconds": round(sum(r["cpu_seconds"] for r in stages), 2),
        "generate_peak_rss_mb": runs["generate"]["peak_tree_rss_mb"],
        "prepare_extract_seconds": round(sum(r["seconds"] for r in stages), 2),
        "prepare_extract_ms_per_clip": round(1000 * sum(r["seconds"] for r in stages) / clips, 3),
        "generate_ms_per_clip": round(1000 * runs["generate"]["seconds"] / clips, 3),
        "prepare_extract_peak_rss_mb": max(r["peak_tree_rss_mb"] for r in stages),
        "prepare_extract_max_process_rss_mb": max(r["max_process_rss_mb"] for r in stages),
        "commands": runs,
    }


def marginal_costs(corpora: list[dict], key: str = "prepare_extract_cpu_seconds") -> list[float]:
    """ms of stages 1-2 per added clip between consecutive corpus sizes (start-up costs cancel)."""
    return [round(1000 * (b[key] - a[key]) / (b["clips"] - a["clips"]), 3)
            for a, b in zip(corpora, corpora[1:]) if b["clips"] > a["clips"]]


def write_store(path: Path, clips: int) -> float:
    """A feature store of `clips` clips in the recipe's layout, written block by block; its size (MB)."""
    import numpy as np

    from asc.data.feature_store import create_store
    from asc.features.logmel import FeatureConfig

    front = FeatureConfig()
    block = np.random.default_rng(0).normal(size=(256, front.n_mels, front.clip_frames)).astype(np.float16)
    utts = [f"u{i:07d}" for i in range(clips)]
    with create_store(path, utts, front.n_mels, front.clip_frames, front.to_yaml(), front.hash(), "bench") as feats:
        for a in range(0, clips, len(block)):
            feats[a:a + len(block)] = block[:min(len(block), clips - a)]
    return round(path.stat().st_size / 2**20, 1)


def loader_worker(store: str, workers: int, batch: int) -> None:
    """Read every clip of `store` once through FeatureDataset + DataLoader (shuffled); print a JSON line."""
    import time

    import torch
    from torch.utils.data import DataLoader, RandomSampler

    from asc.data.datadir import DataDir
    from asc.data.dataset import FeatureDataset
    from asc.data.feature_store import FeatureStore

    torch.set_num_threads(1)
    features = FeatureStore(store)
    data = DataDir(wav={u: u for u in features.utts}, label={u: "a" for u in features.utts},
                   device={u: "a" for u in features.utts})
    dataset = FeatureDataset(data, features, ["a"], source=store)
    loader = DataLoader(dataset, batch_size=batch, num_workers=workers,
                        sampler=RandomSampler(dataset, generator=torch.Generator().manual_seed(0)))
    t, n, total = time.perf_counter(), 0, 0.0
    for x, _, _, _ in loader:
        n += len(x)
        total += float(x[:, 0, 0, 0].sum())       # touch the data
    print(json.dumps({"clips": n, "seconds": round(time.perf_counter() - t, 2)}))


def measure_loader(work: Path, sizes: list[int], env: dict, workers: list[int]) -> list[dict]:
    """Peak memory of reading stores of each size through the loader, in a fresh process each."""
    rows = []
    for clips in sizes:
        store = work / f"store{clips}" / "feats.h5"
        store.parent.mkdir(parents=True)
        mb = write_store(store, clips)
        for w in workers:
            log = work / f"loader{clips}.{w}.log"
            m = run_measured([PYTHON, __file__, "--loader-worker", str(store), "--workers", str(w)], env=env, log=log,
                             interval=0.05)
            if m.rc:
                raise RuntimeError(f"{m.cmd} failed ({m.rc}): {log.read_text()[-2000:]}")
            read = json.loads(log.read_text().strip().splitlines()[-1])
            rows.append({"clips": clips, "store_mb": mb, "workers": w, "seconds": m.seconds,
                         "clips_per_s": round(read["clips"] / max(read["seconds"], 1e-9), 1),
                         "peak_tree_rss_mb": m.peak_tree_rss_mb, "max_process_rss_mb": m.max_process_rss_mb})
        shutil.rmtree(store.parent)
    return rows


def main(argv=None) -> int:
    """Measure every corpus size and store size (or, with --loader-worker, read one store), print, merge."""
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--multipliers", help="corpus sizes as multiples of the base (default: 1,10,30; --quick 1,4,16)")
    p.add_argument("--stores", help="feature store sizes in clips (default: 2000,8000,32000; --quick 2000,8000)")
    p.add_argument("--work", type=Path, help="scratch folder (default: a temporary one; needs the disk space)")
    p.add_argument("--loader-worker", help=argparse.SUPPRESS)
    p.add_argument("--workers", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.loader_worker:
        loader_worker(args.loader_worker, args.workers, 64)
        return 0
    mode = mode_of(args)
    multiples = [int(m) for m in (args.multipliers or by_mode(mode, "1,2", "1,4,16", "1,10,30")).split(",")]
    sizes = [int(s) for s in (args.stores or by_mode(mode, "64,256", "2000,8000", "2000,8000,32000")).split(",")]
    loader_workers = by_mode(mode, [0], [0, 2], [0, 2])
    env = env_variant(True)
    corpora, skipped = [], []
    with tempfile.TemporaryDirectory(dir=args.work) as tmp:
        tmp = Path(tmp)
        for multiple in multiples:
            work = tmp / f"x{multiple}"
            work.mkdir()
            free = shutil.disk_usage(work).free
            base = corpora[0]["clips"] / corpora[0]["multiple"] if corpora else 0
            if base and base * multiple * BYTES_PER_CLIP * 1.2 > free:
                skipped.append(f"{multiple}x: about {base * multiple * BYTES_PER_CLIP / 2**30:.1f} GB needed, "
                               f"{free / 2**30:.1f} GB free")
                continue
            corpora.append(measure_corpus(work, mode, multiple, env))
            shutil.rmtree(work)
        loader = measure_loader(tmp, sizes, env, loader_workers)
    print_table("stages 0-2 against corpus size (each command in its own process; memory: peak of its process tree)",
                [(f"{c['multiple']}x", c["clips"], c["generate_seconds"], c["generate_ms_per_clip"],
                  c["prepare_extract_seconds"], c["prepare_extract_cpu_seconds"], c["prepare_extract_ms_per_clip"],
                  c["prepare_extract_peak_rss_mb"]) for c in corpora],
                ["corpus", "clips", "generate s", "ms/clip", "prepare+extract s", "CPU s", "ms/clip", "peak MB"])
    marginal = marginal_costs(corpora)
    marginal_wall = marginal_costs(corpora, "prepare_extract_seconds")
    print(f"  cost per added clip (CPU ms): {marginal}; wall ms: {marginal_wall}")
    print_table("training data loader against feature store size (read once, shuffled, batch 64)",
                [(r["clips"], r["store_mb"], r["workers"], r["clips_per_s"], r["peak_tree_rss_mb"]) for r in loader],
                ["clips", "store MB", "workers", "clips/s", "peak MB (tree)"])
    for note in skipped:
        print(f"  skipped {note}")
    first, last = corpora[0], corpora[-1]
    serial = [r["max_process_rss_mb"] for r in loader if r["workers"] == 0]
    headline = {
        "scale_largest_clips": last["clips"],
        "scale_ms_per_clip_ratio": ratio(last["prepare_extract_ms_per_clip"], first["prepare_extract_ms_per_clip"]),
        "scale_marginal_cost_ratio": ratio(marginal[-1], marginal[0]) if len(marginal) > 1 else None,
        "scale_marginal_cost_ratio_wall": (ratio(marginal_wall[-1], marginal_wall[0]) if len(marginal_wall) > 1
                                           else None),
        "scale_peak_rss_ratio": ratio(last["prepare_extract_peak_rss_mb"], first["prepare_extract_peak_rss_mb"]),
        "scale_peak_rss_mb": last["prepare_extract_peak_rss_mb"],
        "loader_store_ratio": ratio(loader[-1]["clips"], loader[0]["clips"]),
        "loader_peak_rss_ratio": ratio(serial[-1], serial[0]),
        "loader_peak_rss_mb": serial[-1],
    }
    details = {"multipliers": multiples, "base_overrides": CORPUS_BASE[mode] + COMMON,
               "extracted": [f"{f}/{s}" for f, s in EXTRACT[mode]], "corpora": corpora,
               "marginal_cpu_ms_per_clip": marginal, "marginal_wall_ms_per_clip": marginal_wall,
               "skipped": skipped, "loader": loader, "cpu_count": os.cpu_count(),
               "note": "ms_per_clip_ratio: stages 1-2 wall time per clip at the largest corpus over the smallest "
                       "(1: linear; below 1: fixed start-up costs spread over more clips); marginal_cost_ratio: the "
                       "CPU time of each added clip between the two largest corpora over that between the two "
                       "smallest (1: linear; _wall: the same by the wall clock); peak_rss_ratio: peak memory at "
                       "the largest corpus over the smallest (1: flat); loader_peak_rss_ratio: the loader's peak "
                       "memory (0 workers, largest process) at the largest store over the smallest"}
    merge_results(args.out, "scale", details, headline, mode)
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
