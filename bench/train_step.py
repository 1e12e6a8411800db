"""Is the data loader the bottleneck of training? And does channels_last help on this CPU?

Times one training step (augmentation, forward, backward, AdamW) three ways:
  memory   batches already in memory as tensors (the compute alone);
  loader   batches from the real FeatureDataset over an HDF5 feature store through a DataLoader
           (what asc.train.trainer does), for each --num-workers value;
  read     the loader alone, without training (clips/s it can deliver).
with the default (contiguous) and channels_last memory formats, rounds interleaved so that a
neighbour's load hits both alike. On a shared, loaded machine wall-clock times swing widely;
`--clock cpu --threads 1` counts the CPU time of this process instead, which a neighbour barely
changes. Prints a table and writes JSON (--out).

    python bench/train_step.py --model-config egs/dcase2024_task1/conf/common/model_rep_mobile.yaml
    python bench/train_step.py --feats egs/dcase2024_task1/dump/student/train_split100/feats.h5

`--quick` (a few minutes; `--tiny`: seconds, for the smoke test) instead compares training steps
(augmentation, forward, backward, AdamW on in-memory batches of the recipe's batch size, channels_last
as the training configs set it) side by side, interleaved round by round:
  Rep-Mobile  multi-branch training form through asc.models.rep_training ("new") against the same
              model computed branch by branch (reparam.FAST_PATH = False: "old", today's code path),
              at 1 and at 2 threads; its online training form (train_form: online, OREPA) against
              today's; its fused single-convolution form as the ceiling; and the
              validation forward (eval mode, no gradient) old against new;
  teachers    CP-ResNet and EfficientAT mn04 (their configs' input sizes), channels_last against
              contiguous, 1 thread.
It prints samples/s and the ratios and merges them into bench/results.json (topic "train_step";
headline train_step_speedup and train_step_speedup_2threads: new/old samples/s; train_step_online_speedup
and train_step_online_speedup_2threads: online/new).

    python bench/train_step.py --quick
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, RandomSampler

from asc.augment.pipeline import AugmentConfig, Augmenter
from asc.config import load_config
from asc.data.datadir import DataDir
from asc.data.dataset import FeatureDataset
from asc.data.feature_store import FeatureStore, write_store
from asc.features.logmel import FeatureConfig
from asc.models import ModelConfig, build_model


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model-config", default="egs/dcase2024_task1/conf/common/model_rep_mobile.yaml")
    p.add_argument("--feats", help="an existing feats.h5; default: a synthetic store of --clips clips")
    p.add_argument("--clips", type=int, default=1024)
    p.add_argument("--n-mels", type=int, default=256)
    p.add_argument("--n-frames", type=int, default=65)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=8, help="timed steps per round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--num-workers", default="0,1",
                   help="comma-separated loader worker counts; empty: batches in memory only")
    p.add_argument("--formats", default="contiguous,channels_last",
                   help="comma-separated memory formats to time (contiguous, channels_last)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall-clock time, or CPU time of this process (with --threads 1: robust to load)")
    p.add_argument("--out", help="write the results as JSON here")
    return p.parse_args(argv)


def synthetic_store(folder: Path, clips: int, n_mels: int, n_frames: int) -> Path:
    """A feature store of random log-mels in the recipe's layout."""
    utts = [f"u{i:06d}" for i in range(clips)]
    feats = np.random.default_rng(0).normal(size=(clips, n_mels, n_frames)).astype(np.float16)
    front = FeatureConfig(n_mels=n_mels)
    path = folder / "feats.h5"
    write_store(path, utts, feats, front.to_yaml(), front.hash(), "bench")
    return path


def dataset_of(path: Path) -> FeatureDataset:
    """Every clip of the store, with made-up labels and devices (timing only)."""
    store = FeatureStore(path)
    data = DataDir(wav={u: u for u in store.utts}, label={u: str(i % 10) for i, u in enumerate(store.utts)},
                   device={u: "a" for u in store.utts})
    return FeatureDataset(data, store, [str(k) for k in range(10)], source=str(path))


class Step:
    """One training step of a fresh model in one memory format."""

    def __init__(self, model_cfg: ModelConfig, channels_last: bool):
        torch.manual_seed(0)
        self.model = build_model(model_cfg.name, **model_cfg.options).train()
        self.channels_last = channels_last
        if channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-3)
        self.augment = Augmenter(AugmentConfig())
        self.gen = torch.Generator().manual_seed(0)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.augment(x, ["a"] * len(x), self.gen)
        loss = F.cross_entropy(self.model(x), y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()


CLOCK = time.perf_counter
FORMATS = {False: "contiguous", True: "channels_last"}


def time_memory(step: Step, batches: list, steps: int) -> float:
    """Seconds per step on batches already in memory."""
    t = CLOCK()
    for i in range(steps):
        step(*batches[i % len(batches)])
    return (CLOCK() - t) / steps


def loader_of(dataset: FeatureDataset, batch: int, workers: int, steps: int) -> DataLoader:
    sampler = RandomSampler(dataset, num_samples=batch * steps, generator=torch.Generator().manual_seed(0))
    return DataLoader(dataset, batch_size=batch, sampler=sampler, num_workers=workers, drop_last=True)


def time_loader(step: Step | None, dataset: FeatureDataset, batch: int, workers: int, steps: int) -> float:
    """Seconds per step through the real loader (loader alone when `step` is None); worker start-up
    is excluded by timing from the first batch on."""
    it = iter(loader_of(dataset, batch, workers, steps + 1))
    x, y, _, _ = next(it)
    t = CLOCK()
    for x, y, _, _ in it:
        if step is not None:
            step(x, y)
    return (CLOCK() - t) / steps


def main(argv=None) -> None:
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if "--quick" in argv or "--tiny" in argv:
        from train_step_compare import compare
        compare(argv)
        return
    global CLOCK
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    model_cfg = load_config(ModelConfig, args.model_config)
    workers = [int(w) for w in args.num_workers.split(",") if w.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.feats) if args.feats else synthetic_store(Path(tmp), args.clips, args.n_mels, args.n_frames)
        dataset = dataset_of(path)
        batches = [(torch.stack([dataset[i][0] for i in range(k * args.batch_size, (k + 1) * args.batch_size)]),
                    torch.randint(0, 10, (args.batch_size,))) for k in range(4)]
        formats = args.formats.split(",")
        steps = {cl: Step(model_cfg, cl) for cl in (False, True) if FORMATS[cl] in formats}
        for step in steps.values():           # warm-up: first calls allocate and pick kernels
            time_memory(step, batches, 2)
        times: dict[str, list[float]] = {}
        for _ in range(args.rounds):
            for cl, step in steps.items():
                fmt = FORMATS[cl]
                times.setdefault(f"memory/{fmt}", []).append(time_memory(step, batches, args.steps))
                for w in workers:
                    times.setdefault(f"loader{w}/{fmt}", []).append(
                        time_loader(step, dataset, args.batch_size, w, args.steps))
            for w in workers:
                times.setdefault(f"read{w}", []).append(time_loader(None, dataset, args.batch_size, w, args.steps))
    result = {"model": model_cfg.name, "batch_size": args.batch_size, "threads": args.threads, "clock": args.clock,
              "input": list(dataset[0][0].shape), "store": str(path) if args.feats else "synthetic",
              "ms_per_step": {k: round(1000 * statistics.median(v), 2) for k, v in times.items()}}
    result["clips_per_s"] = {k: round(args.batch_size / (v / 1000), 1) for k, v in result["ms_per_step"].items()}
    print(f"{model_cfg.name}, batch {args.batch_size}, {args.threads} threads, input {result['input']}, "
          f"{args.clock} clock")
    for key, ms in result["ms_per_step"].items():
        print(f"  {key:28s} {ms:9.2f} ms/step {result['clips_per_s'][key]:9.1f} clips/s")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
