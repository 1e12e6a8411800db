"""Training throughput: samples/s of one epoch with the project's data path against the same steps on
tensors already in memory, and the effect of the CPU settings as before/after ratios.

For the DCASE2024 baseline CNN and Rep-Mobile (multi-branch training form), with the batch size and
memory format of their training configs (conf/embedded/train_*.yaml), one epoch is run twice on one
model, the two alternating step by step so that a neighbour's load hits both alike:
  memory   the training step (augmentation, forward, backward, AdamW: bench/train_step.py's Step) on
           batches already in memory;
  loader   the same step on batches from the project's data path: FeatureDataset over an HDF5 feature
           store (the recipe's dump/student/train_split100/feats.h5 when it is complete, else a store
           of the same layout written here) through a DataLoader, as asc.train.trainer reads them.
The data path's cost is loader time / memory time - 1 (target < 10 %), by the wall clock and by this
process's CPU time (which a neighbour's load barely changes); `read_share` is the loader alone (no
training) against the memory time, the same cost measured a third way.

CPU settings, each as a speed ratio (> 1: the setting helps):
  channels_last   on vs off (same process, interleaved);
  threads         torch's thread count (2 here) against 1 (same process, interleaved);
  allocator       with the MALLOC_* variables of tools/cpu_env.sh against without (subprocesses running
                  bench/train_step.py, alternated), Rep-Mobile;
  omp_passive     OMP_WAIT_POLICY=PASSIVE against as given (the same way).

    python bench/train_throughput.py [--quick | --tiny] [--feats FEATS.h5] [--out bench/results.json]
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from common import (CONF, SHARED_CONF, PYTHON, RECIPE, by_mode, env_variant, interleaved, merge_results, mode_of, parser,
                    print_table, ratio)
from train_step import Step, dataset_of, loader_of, synthetic_store

MODELS = {"baseline": "train_baseline.yaml", "rep_mobile": "train_rep_mobile.yaml"}
TARGET_OVERHEAD = 0.10
RECIPE_STORE = RECIPE / "dump" / "student" / "train_split100" / "feats.h5"
CLOCK = time.perf_counter


def train_settings(train_yaml: str):
    """(ModelConfig, batch size, channels_last) of a training config of the recipe."""
    from asc.config import load_config, read_config
    from asc.models import ModelConfig

    cfg = read_config(CONF / train_yaml)   # its base: resolved
    return load_config(ModelConfig, CONF / cfg["model_config"]), int(cfg["batch_size"]), bool(cfg["channels_last"])


def feature_store(given: str | None, tmp: Path, clips: int, use_recipe: bool) -> tuple[Path, str]:
    """The store to read: the one given, the recipe's (when complete and wanted), or a synthetic one."""
    from asc.data.feature_store import store_problem

    if given:
        return Path(given), str(given)
    if use_recipe and store_problem(RECIPE_STORE) is None:
        return RECIPE_STORE, str(RECIPE_STORE.relative_to(RECIPE.parents[1]))
    return synthetic_store(tmp, clips, 256, 65), f"synthetic ({clips} clips, the recipe's HDF5 layout)"


def memory_batches(dataset, batch: int, count: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """`count` batches of the store's clips held as tensors (random labels)."""
    gen = torch.Generator().manual_seed(0)
    return [(torch.stack([dataset[i][0] for i in range(k * batch, (k + 1) * batch)]),
             torch.randint(0, 10, (batch,), generator=gen)) for k in range(count)]


def epoch(step: Step, dataset, batches, batch: int, steps: int) -> dict:
    """One epoch of `steps` steps through the loader and as many on in-memory batches, alternating
    step by step, timed by the wall clock and by this process's CPU time; then the loader alone."""
    it = iter(loader_of(dataset, batch, 0, steps))
    wall = {"memory": 0.0, "loader": 0.0}
    cpu = {"memory": 0.0, "loader": 0.0}
    for i in range(steps):
        for source in ("memory", "loader") if i % 2 == 0 else ("loader", "memory"):
            t, c = time.perf_counter(), time.process_time()
            if source == "memory":
                step(*batches[i % len(batches)])
            else:
                x, y, _, _ = next(it)
                step(x, y)
            wall[source] += time.perf_counter() - t
            cpu[source] += time.process_time() - c
    t = time.perf_counter()
    for _ in loader_of(dataset, batch, 0, steps):
        pass
    read = time.perf_counter() - t
    samples = steps * batch
    return {"steps": steps, "batch": batch, "memory_s": round(wall["memory"], 3), "loader_s": round(wall["loader"], 3),
            "read_s": round(read, 3), "memory_samples_per_s": round(samples / wall["memory"], 1),
            "loader_samples_per_s": round(samples / wall["loader"], 1),
            "overhead": round(wall["loader"] / wall["memory"] - 1, 4),
            "overhead_cpu_time": round(cpu["loader"] / cpu["memory"] - 1, 4),
            "read_share": round(read / wall["memory"], 4)}


def in_process_settings(model_cfg, dataset, batch: int, channels_last: bool, steps: int, rounds: int) -> dict:
    """channels_last on/off and 2 against 1 thread, on in-memory batches, interleaved."""
    batches = memory_batches(dataset, batch, 2)
    runs = {cl: Step(model_cfg, cl) for cl in (False, True)}

    def run(cl: bool, threads: int):
        def go():
            torch.set_num_threads(threads)
            for i in range(steps):
                runs[cl](*batches[i % len(batches)])
        return go

    threads = torch.get_num_threads()
    seconds = interleaved({"contiguous": run(False, threads), "channels_last": run(True, threads),
                           "one_thread": run(channels_last, 1)}, rounds=rounds, clock=CLOCK)
    torch.set_num_threads(threads)
    configured = seconds["channels_last" if channels_last else "contiguous"]
    return {"ms_per_step": {k: round(1000 * v / steps, 1) for k, v in seconds.items()}, "threads": threads,
            "channels_last_speedup": ratio(seconds["contiguous"], seconds["channels_last"]),
            f"threads_{threads}_vs_1_speedup": ratio(seconds["one_thread"], configured)}


def threads_speedup(settings: dict) -> float | None:
    """The threads ratio of `in_process_settings` (its key names the thread count)."""
    return next((v for k, v in settings.items() if k.startswith("threads_")), None)


def subprocess_settings(model_cfg_path: Path, batch: int, fmt: str, steps: int, rounds: int, repeats: int,
                        tmp: Path, clock: str, passive: bool = True) -> dict:
    """ms/step of bench/train_step.py (in-memory batches) with and without the allocator variables and
    with OMP_WAIT_POLICY=PASSIVE, each in its own process, the variants alternated `repeats` times."""
    variants = {"as_given": env_variant(True), "no_malloc_vars": env_variant(False)}
    if passive:
        variants["omp_passive"] = env_variant(True, OMP_WAIT_POLICY="PASSIVE")
    times: dict[str, list[float]] = {k: [] for k in variants}
    script = Path(__file__).with_name("train_step.py")
    for r in range(repeats):
        for name, env in variants.items():
            out = tmp / f"{name}.{r}.json"
            cmd = [PYTHON, str(script), "--model-config", str(model_cfg_path), "--clips", str(4 * batch),
                   "--batch-size", str(batch), "--steps", str(steps), "--rounds", str(rounds), "--num-workers", "",
                   "--formats", fmt, "--threads", str(torch.get_num_threads()), "--clock", clock,
                   "--out", str(out)]
            _run_train_step(cmd, env)
            times[name].append(json.loads(out.read_text())["ms_per_step"][f"memory/{fmt}"])
    ms = {k: round(float(np.median(v)), 1) for k, v in times.items()}
    return {"model_config": model_cfg_path.name, "batch": batch, "format": fmt, "ms_per_step": ms,
            "repeats": repeats, "allocator_speedup": ratio(ms["no_malloc_vars"], ms["as_given"]),
            "omp_passive_speedup": ratio(ms["as_given"], ms.get("omp_passive"))}


def _run_train_step(cmd: list[str], env: dict) -> None:
    """Run bench/train_step.py; its JSON goes to the file named by --out."""
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")


def main(argv=None) -> int:
    """Measure both models and the CPU settings, print, merge into the results."""
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--feats", help="an existing feats.h5 of student features (default: see above)")
    p.add_argument("--threads", type=int, help="torch threads (default: torch's; --tiny: 1)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="wall-clock time, or CPU time of this process (with --threads 1: robust to load)")
    args = p.parse_args(argv)
    mode = mode_of(args)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    torch.set_num_threads(args.threads or by_mode(mode, 1, torch.get_num_threads(), torch.get_num_threads()))
    torch.manual_seed(0)
    results, rows = {}, []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for name, train_yaml in MODELS.items():
            model_cfg, batch, channels_last = train_settings(train_yaml)
            batch = by_mode(mode, 4, batch, batch)
            clips = by_mode(mode, 4 * batch, 6 * batch, 2656)
            (tmp / name).mkdir()
            path, source = feature_store(args.feats, tmp / name, clips, use_recipe=mode == "full")
            dataset = dataset_of(path)
            steps = len(dataset) // batch
            step = Step(model_cfg, channels_last)
            batches = memory_batches(dataset, batch)
            for i in range(2):                       # warm-up: first calls allocate and pick kernels
                step(*batches[i])
            ep = epoch(step, dataset, batches, batch, steps)
            settings = in_process_settings(model_cfg, dataset, batch, channels_last, by_mode(mode, 1, 2, 5),
                                           by_mode(mode, 1, 1, 3))
            results[name] = {"store": source, "channels_last": channels_last, "epoch": ep, "settings": settings}
            rows.append((name, batch, steps, ep["memory_samples_per_s"], ep["loader_samples_per_s"],
                         f"{100 * ep['overhead']:+.1f} %", f"{100 * ep['overhead_cpu_time']:+.1f} %",
                         f"{100 * ep['read_share']:.1f} %", settings["channels_last_speedup"],
                         threads_speedup(settings)))
        model_cfg_path = SHARED_CONF / "model_rep_mobile.yaml"
        _, batch, channels_last = train_settings(MODELS["rep_mobile"])
        env_settings = subprocess_settings(model_cfg_path, by_mode(mode, 4, batch, batch),
                                           "channels_last" if channels_last else "contiguous",
                                           by_mode(mode, 1, 2, 5), by_mode(mode, 1, 1, 2), by_mode(mode, 1, 1, 2), tmp,
                                           args.clock, passive=mode != "tiny")
    print_table("training: one epoch, in-memory batches vs the project's data path (FeatureDataset + DataLoader)",
                rows, ["model", "batch", "steps", "memory samples/s", "loader samples/s", "data path cost",
                       "by CPU time", "read alone", "channels_last x", f"{torch.get_num_threads()} vs 1 thread x"])
    print_table("CPU settings (Rep-Mobile, in-memory steps, separate processes)",
                [(k, v) for k, v in env_settings["ms_per_step"].items()], ["environment", "ms/step"])
    headline = {
        "data_path_overhead": max(r["epoch"]["overhead"] for r in results.values()),
        "data_path_overhead_cpu_time": max(r["epoch"]["overhead_cpu_time"] for r in results.values()),
        "data_path_read_share": max(r["epoch"]["read_share"] for r in results.values()),
        "train_samples_per_s": {k: r["epoch"]["loader_samples_per_s"] for k, r in results.items()},
        "train_channels_last_speedup": results["rep_mobile"]["settings"]["channels_last_speedup"],
        "train_threads_speedup": threads_speedup(results["rep_mobile"]["settings"]),
        "train_allocator_speedup": env_settings["allocator_speedup"],
        "train_omp_passive_speedup": env_settings["omp_passive_speedup"],
    }
    details = {"target_overhead": TARGET_OVERHEAD, "clock": args.clock, "threads": torch.get_num_threads(),
               "models": results, "environment": env_settings,
               "note": "data_path_overhead = loader time / in-memory time - 1 over one epoch, the worst of the "
                       "models; speedups are before/after time ratios (> 1: the setting helps)"}
    merge_results(args.out, "train_throughput", details, headline, mode)
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
