"""Feature extraction: clips/s of the project's log-mel front end against librosa, and whether they agree.

Both compute the mel power spectrogram of the same clips with the same settings (the recipe's student
and PaSST front ends, conf/{common,embedded}/feats_*.yaml), batched (32 clips per call, as stage 2 extracts):
`asc.features.logmel.LogMel.power_mel` on a [32, samples] tensor and `librosa.feature.melspectrogram`
on the same [32, samples] array. Their output must agree to a relative error below 1e-4 within 50 dB
of each clip's peak (the documented range, tests/features/test_logmel.py).

The CPU settings matter more than the code here: on a machine that other jobs load, two OpenMP threads
that spin while they wait (the default OMP_WAIT_POLICY) can be many times slower than one. So the
measurement runs in subprocesses under three settings: the environment as given (tools/cpu_env.sh),
the same with OMP_WAIT_POLICY=PASSIVE, and one thread. Each subprocess times both libraries
side by side, so each speedup is a ratio measured under one setting.

    python bench/mel_frontend.py [--quick | --tiny] [--out bench/results.json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from common import (CONF, SHARED_CONF, PYTHON, by_mode, env_variant, interleaved, merge_results, mode_of, parser, print_table,
                    ratio, run_json)

TARGET = 2.0          # at least 2x librosa on 2 cores
MAX_REL_ERROR = 1e-4  # within 50 dB of each clip's peak
BATCH = 32
SR = 32000
TWO = {"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}   # both libraries may use 2
VARIANTS = {          # name: (threads, extra environment)
    "as_given": (2, TWO),
    "omp_passive": (2, {**TWO, "OMP_WAIT_POLICY": "PASSIVE"}),
    "one_thread": (1, {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}),
}


def clips(n: int, seed: int = 0):
    """`n` 1-s test clips at 32 kHz: noise of random colour and level plus a few random tones."""
    import numpy as np

    rng = np.random.default_rng(seed)
    t = np.arange(SR) / SR
    level = 10 ** rng.uniform(-3, -0.5, (n, 1))
    white = rng.standard_normal((n, SR))
    brown = np.cumsum(rng.standard_normal((n, SR)), axis=-1)
    brown /= np.abs(brown).max(axis=-1, keepdims=True)
    mix = rng.uniform(0, 1, (n, 1))
    tones = sum(rng.uniform(0, 0.3, (n, 1)) * np.sin(2 * np.pi * rng.uniform(50, 15000, (n, 1)) * t)
                for _ in range(3))
    return (level * (mix * white + (1 - mix) * brown) + tones).astype(np.float32)


def relative_error(ours, ref) -> float:
    """The largest relative error within 50 dB of each clip's peak (below: against the 50-dB floor)."""
    import numpy as np

    peak = ref.max(axis=(-2, -1), keepdims=True)
    return float((np.abs(ours - ref) / np.maximum(ref, 1e-5 * peak)).max())


def worker(config_names: list[str], n_clips: int, rounds: int, threads: int) -> dict:
    """Clips/s of both front ends over the same clips, in this process, and their agreement."""
    import torch

    from asc.features.logmel import LogMel, librosa_power_mel, load_feature_config

    torch.set_num_threads(threads)
    waves = clips(n_clips)
    batch = min(BATCH, n_clips)
    batches = [waves[a:a + batch] for a in range(0, n_clips, batch)]
    result = {"threads": threads, "clips": n_clips, "batch": batch, "configs": {}}
    for name in config_names:
        cfg = load_feature_config((SHARED_CONF if name == "student" else CONF) / f"feats_{name}.yaml")
        front = LogMel(cfg)

        def ours():
            with torch.inference_mode():
                for b in batches:
                    front.power_mel(torch.from_numpy(b))

        def reference():
            for b in batches:
                librosa_power_mel(b, cfg)

        seconds = interleaved({"ours": ours, "librosa": reference}, rounds=rounds)
        with torch.inference_mode():
            mine = front.power_mel(torch.from_numpy(batches[0])).double().numpy()
        error = relative_error(mine, librosa_power_mel(batches[0], cfg))
        result["configs"][name] = {
            "n_mels": cfg.n_mels, "n_fft": cfg.n_fft, "hop_length": cfg.hop_length,
            "ours_clips_per_s": round(n_clips / seconds["ours"], 1),
            "librosa_clips_per_s": round(n_clips / seconds["librosa"], 1),
            "speedup": ratio(seconds["librosa"], seconds["ours"]),
            "max_rel_error": float(f"{error:.3g}"),
        }
    return result


def main(argv=None) -> int:
    """Measure under each setting (or, with --worker, in this process), print, merge into the results."""
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--clips", type=int)
    p.add_argument("--rounds", type=int)
    p.add_argument("--configs", default="student,teacher")
    args = p.parse_args(argv)
    mode = mode_of(args)
    n_clips = args.clips or by_mode(mode, 8, 128, 512)
    rounds = args.rounds or by_mode(mode, 1, 3, 5)
    configs = by_mode(mode, "student", args.configs, args.configs).split(",")
    if args.worker:
        print(json.dumps(worker(configs, n_clips, rounds, args.threads)))
        return 0
    variants = {}
    for name, (threads, extra) in VARIANTS.items():
        if mode == "tiny" and name == "one_thread":
            continue
        cmd = [PYTHON, __file__, "--worker", "--threads", str(threads), "--clips", str(n_clips), "--rounds",
               str(rounds), "--configs", ",".join(configs)]
        t = time.perf_counter()
        variants[name] = run_json(cmd, env_variant(True, **extra))
        variants[name]["seconds"] = round(time.perf_counter() - t, 1)
    rows = [(f"{v} / {c}", r["ours_clips_per_s"], r["librosa_clips_per_s"], r["speedup"], r["max_rel_error"])
            for v, res in variants.items() for c, r in res["configs"].items()]
    batch = next(iter(variants.values()))["batch"]
    print_table(f"log-mel front end vs librosa.feature.melspectrogram ({n_clips} clips, batches of {batch})",
                rows, ["setting / front end", "ours clips/s", "librosa clips/s", "speedup", "max rel err"])
    student = {v: res["configs"][configs[0]] for v, res in variants.items()}
    headline = {
        "mel_speedup_vs_librosa": student["as_given"]["speedup"],
        "mel_speedup_vs_librosa_omp_passive": student["omp_passive"]["speedup"],
        "mel_max_rel_error": max(r["max_rel_error"] for res in variants.values() for r in res["configs"].values()),
        "mel_omp_passive_gain": ratio(student["omp_passive"]["ours_clips_per_s"],
                                      student["as_given"]["ours_clips_per_s"]),
    }
    details = {"target_speedup": TARGET, "max_rel_error_allowed": MAX_REL_ERROR,
               "headline_config": configs[0], "variants": variants,
               "note": "speedup = librosa seconds / ours over the same clips in the same process; "
                       "omp_passive_gain = ours clips/s with OMP_WAIT_POLICY=PASSIVE over without"}
    merge_results(args.out, "mel_frontend", details, headline, mode)
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
