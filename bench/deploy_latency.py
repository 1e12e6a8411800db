"""Deployment: CPU latency per clip (batch 1) and throughput (batch 64) of Rep-Mobile's training form
(multi-branch) against its fused form, and of the fused form in float16 against float32.

The network is the recipe's default Rep-Mobile (conf/common/model_rep_mobile.yaml) with random
weights and random BatchNorm statistics (so that fusing has real work to do). The fused form is
`asc.models.reparameterize(model)`; the float32/float16 pair is the deployable file itself, written by
`asc.prune.deploy.deploy_model` and read back by `asc.models.model_file.load_deployed(path, dtype)`. They run in turn,
round after round, under torch.inference_mode, on one thread by default (as a device running one
clip at a time would, and robust to a neighbour's load; --threads 2 for both cores).

Outputs must agree: training form against fused form (max abs difference of the logits, target
< 1e-4 as in the reparameterization tests); float16 against float32 is reported as measured (and the
share of clips whose top class agrees). Float16 convolutions on a CPU without native half-precision
arithmetic are emulated and slow: the float16 figure says what it costs, it is not a target.

    python bench/deploy_latency.py [--quick | --tiny] [--out bench/results.json]
"""
from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
from pathlib import Path

import torch

from common import SHARED_CONF, by_mode, interleaved, merge_results, mode_of, parser, print_table, ratio

TARGET = 1.5
MAX_DIFF = 1e-4


def random_rep_mobile(model_yaml: Path = SHARED_CONF / "model_rep_mobile.yaml", seed: int = 0):
    """(name, options, model in eval mode) with random weights and BatchNorm statistics."""
    from asc.config import load_config
    from asc.models import ModelConfig, build_model

    cfg = load_config(ModelConfig, model_yaml)
    torch.manual_seed(seed)
    model = build_model(cfg.name, **cfg.options)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return cfg.name, dict(cfg.options), model.eval()


def deployed_pair(name: str, options: dict, model, folder: Path):
    """The deployable file of `model` read back in float32 and in float16."""
    from asc.data.tau22 import LABELS
    from asc.features.logmel import load_feature_config
    from asc.models.model_file import load_deployed
    from asc.prune.deploy import deploy_model

    features = dataclasses.asdict(load_feature_config(SHARED_CONF / "feats_student.yaml"))
    deploy_model(model, name, options, folder, features, LABELS, precision="float16")
    return (load_deployed(folder / "model.pt", torch.float32)[0], load_deployed(folder / "model.pt", torch.float16)[0])


def timed(models: dict, batch: int, calls: int, rounds: int) -> dict[str, float]:
    """Median seconds per forward pass of each model on a batch of `batch` clips."""
    x = torch.randn(batch, 1, 256, 65)
    inputs = {k: x.to(next(m.parameters()).dtype) for k, m in models.items()}

    def run(k):
        def go():
            with torch.inference_mode():
                for _ in range(calls):
                    models[k](inputs[k])
        return go

    seconds = interleaved({k: run(k) for k in models}, rounds=rounds)
    return {k: v / calls for k, v in seconds.items()}


def main(argv=None) -> int:
    """Measure the three forms, print, merge into the results."""
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: %(default)s)")
    args = p.parse_args(argv)
    mode = mode_of(args)
    torch.set_num_threads(args.threads)
    from asc.complexity import count_complexity
    from asc.models import reparameterize

    name, options, model = random_rep_mobile()
    fused = reparameterize(model)
    with tempfile.TemporaryDirectory() as tmp:
        fp32, fp16 = deployed_pair(name, options, model, Path(tmp))
    x = torch.randn(by_mode(mode, 4, 64, 64), 1, 256, 65)
    with torch.inference_mode():
        ref, out_fused = model(x), fused(x)
        out32, out16 = fp32(x), fp16(x.half()).float()
    rounds = by_mode(mode, 1, 3, 5)
    lat = timed({"training": model, "fused": fused, "fused_float32_file": fp32}, 1, by_mode(mode, 2, 10, 30), rounds)
    lat.update(timed({"fused_float16": fp16}, 1, by_mode(mode, 1, 2, 5), rounds))   # slow: fewer calls
    big = by_mode(mode, 8, 64, 64)
    thr = timed({"training": model, "fused": fused, "fused_float16": fp16, "fused_float32_file": fp32}, big,
                by_mode(mode, 1, 1, 3), rounds)
    forms = {"training": model, "fused": fused, "fused_float32_file": fp32, "fused_float16": fp16}
    complexity = {k: dataclasses.asdict(count_complexity(forms[k], deploy=False)) for k in ("training", "fused")}
    results = {k: {"latency_ms_batch1": round(1000 * lat[k], 3), f"clips_per_s_batch{big}": round(big / thr[k], 1)}
               for k in forms}
    details = {
        "model": "rep_mobile (conf/common/model_rep_mobile.yaml, random weights)", "threads": torch.get_num_threads(),
        "throughput_batch": big,
        "target_speedup": TARGET, "max_abs_diff_allowed": MAX_DIFF, "forms": results, "complexity": complexity,
        "fused_max_abs_diff": float(f"{(ref - out_fused).abs().max():.3g}"),
        "float16_max_abs_diff": float(f"{(out32 - out16).abs().max():.3g}"),
        "float16_top1_agreement": round(float((out32.argmax(1) == out16.argmax(1)).float().mean()), 4),
        "note": "fused_speedup = training-form latency / fused latency at batch 1; float16_speed = float32 "
                "time / float16 time of the deployable file (< 1: float16 is slower on this CPU)",
    }
    headline = {
        "fused_speedup": ratio(lat["training"], lat["fused"]),
        "fused_speedup_batch64": ratio(thr["training"], thr["fused"]),
        "fused_max_abs_diff": details["fused_max_abs_diff"],
        "fused_float16_speed_vs_float32": ratio(lat["fused_float32_file"], lat["fused_float16"]),
        "fused_float16_speed_vs_float32_batch64": ratio(thr["fused_float32_file"], thr["fused_float16"]),
    }
    print_table(f"Rep-Mobile on the CPU ({torch.get_num_threads()} thread(s))",
                [(k, r["latency_ms_batch1"], r[f"clips_per_s_batch{big}"]) for k, r in results.items()],
                ["form", "ms/clip at batch 1", f"clips/s at batch {big}"])
    print(f"  max |training - fused| = {details['fused_max_abs_diff']:.3g}; max |float32 - float16| = "
          f"{details['float16_max_abs_diff']:.3g} (top-1 agreement {details['float16_top1_agreement']:.1%})")
    merge_results(args.out, "deploy_latency", details, headline, mode)
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
