"""Deployment: CPU latency per clip (batch 1) and throughput (batch 64) of Rep-Mobile's training form
(multi-branch) against its fused form, and of each deployable format against float32.

The network is the recipe's default Rep-Mobile (conf/embedded/model_rep_mobile.yaml) with random
weights and random BatchNorm statistics (so that fusing has real work to do). The fused form is
`asc.models.reparameterize(model)`. The deployable formats are files written by
`asc.prune.deploy.deploy_model` and read back as asc.bin.infer reads them:
    float32          the fused network in float32 (as a file it would exceed the 128 kB limit)
    float16_stored   the recipe's float16 file, loaded as infer/score/submission do by default:
                     computes in float32 (target: >= 0.95x the float32 speed, the same top class)
    float16_compute  the same file computing in float16 (--compute-dtype float16): emulated and slow
                     on a CPU without native half-precision arithmetic; reported, not a target
    int8             the same network quantised as stage 5 does at precision int8
                     (asc.models.quantized: x86/fbgemm kernels; observers calibrated on random batches
                     instead of quantisation-aware training, which changes the scales, not the speed)
    onnx             the float16 file exported by asc.bin.export (no front end), run by onnxruntime
                     on the same number of threads (when onnxruntime is installed) They run in turn,
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

from common import CONF, by_mode, interleaved, merge_results, mode_of, parser, print_table, ratio

TARGET = 1.5
MAX_DIFF = 1e-4


def random_rep_mobile(model_yaml: Path = CONF / "model_rep_mobile.yaml", seed: int = 0):
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
    """The float16 deployable file of `model` read back computing in float32 and in float16."""
    from asc.prune.deploy import load_deployed

    path = deployed_file(name, options, model, folder, "float16")
    return load_deployed(path, torch.float32)[0], load_deployed(path, torch.float16)[0]


def deployed_file(name: str, options: dict, model, folder: Path, precision: str) -> Path:
    """The deployable model.pt of `model` stored in `precision`, under `folder`/`precision`."""
    from asc.data.tau22 import LABELS
    from asc.features.logmel import load_feature_config
    from asc.prune.deploy import deploy_model

    features = dataclasses.asdict(load_feature_config(CONF / "feats_student.yaml"))
    deploy_model(model, name, options, folder / precision, features, LABELS, precision=precision)
    return folder / precision / "model.pt"


def onnx_runner(model_file: Path, out: Path, threads: int):
    """A callable x -> logits running the ONNX export of `model_file` in onnxruntime; None without it."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    from asc.export.formats import export_deployed

    export_deployed(model_file, "onnx", out, front_end=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(str(out), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda x: torch.from_numpy(session.run(None, {name: x.numpy()})[0])


def timed(models: dict, batch: int, calls: int, rounds: int) -> dict[str, float]:
    """Median seconds per forward pass of each model on a batch of `batch` clips."""
    x = torch.randn(batch, 1, 256, 65)
    inputs = {k: x.to(input_dtype(m)) for k, m in models.items()}

    def run(k):
        def go():
            with torch.inference_mode():
                for _ in range(calls):
                    models[k](inputs[k])
        return go

    seconds = interleaved({k: run(k) for k in models}, rounds=rounds)
    return {k: v / calls for k, v in seconds.items()}


def int8_network(model):
    """The int8 network (converted, x86 kernels) of `model`, its observers calibrated on random batches."""
    from asc.models.quantized import convert, from_float

    qat = from_float(model)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for _ in range(4):
            qat(torch.randn(16, 1, 256, 65, generator=gen))
    return convert(qat)


def input_dtype(model) -> torch.dtype:
    """The dtype a model computes in (an onnxruntime callable takes float32)."""
    return next(model.parameters(), torch.zeros(())).dtype if isinstance(model, torch.nn.Module) else torch.float32


def main(argv=None) -> int:
    """Measure the three forms, print, merge into the results."""
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: %(default)s)")
    args = p.parse_args(argv)
    mode = mode_of(args)
    torch.set_num_threads(args.threads)
    from asc.complexity import count_complexity
    from asc.models import reparameterize

    from asc.prune.deploy import load_deployed

    name, options, model = random_rep_mobile()
    fused = reparameterize(model)
    int8 = int8_network(model)
    fp32 = fused      # the float32 deployment form (a float32 file of it would exceed the 128 kB limit)
    with tempfile.TemporaryDirectory() as tmp:
        stored16, fp16 = deployed_pair(name, options, model, Path(tmp))
        onnx = onnx_runner(Path(tmp) / "float16" / "model.pt", Path(tmp) / "model.onnx", args.threads)
    x = torch.randn(by_mode(mode, 4, 64, 64), 1, 256, 65)
    with torch.inference_mode():
        ref, out_fused = model(x), fused(x)
        out32, out_stored, out16 = fp32(x), stored16(x), fp16(x.half()).float()
        out_onnx = onnx(x) if onnx is not None else None
        out_int8 = int8(x)
    rounds = by_mode(mode, 1, 3, 5)
    fast = {"training": model, "float32": fp32, "float16_stored": stored16, "int8": int8}
    if onnx is not None:
        fast["onnx"] = onnx
    lat = timed(fast, 1, by_mode(mode, 2, 10, 30), rounds)
    lat.update(timed({"float16_compute": fp16}, 1, by_mode(mode, 1, 2, 5), rounds))   # slow: fewer calls
    big = by_mode(mode, 8, 64, 64)
    forms = {**fast, "float16_compute": fp16}
    thr = timed(forms, big, by_mode(mode, 1, 1, 3), rounds)
    complexity = {k: dataclasses.asdict(count_complexity(forms[f], deploy=False)) for k, f in (("training", "training"), ("fused", "float32"))}
    results = {k: {"latency_ms_batch1": round(1000 * lat[k], 3), f"clips_per_s_batch{big}": round(big / thr[k], 1)}
               for k in forms}
    details = {
        "model": "rep_mobile (conf/embedded/model_rep_mobile.yaml, random weights)", "threads": torch.get_num_threads(),
        "throughput_batch": big,
        "target_speedup": TARGET, "max_abs_diff_allowed": MAX_DIFF, "forms": results, "complexity": complexity,
        "fused_max_abs_diff": float(f"{(ref - out_fused).abs().max():.3g}"),
        "float16_max_abs_diff": float(f"{(out32 - out16).abs().max():.3g}"),
        "float16_top1_agreement": round(float((out32.argmax(1) == out16.argmax(1)).float().mean()), 4),
        "float16_stored_max_abs_diff": float(f"{(out32 - out_stored).abs().max():.3g}"),
        "float16_stored_top1_agreement": round(float((out32.argmax(1) == out_stored.argmax(1)).float().mean()), 4),
        "int8_top1_agreement": round(float((out32.argmax(1) == out_int8.argmax(1)).float().mean()), 4),
        "onnx_max_abs_diff_vs_float16_stored": (None if out_onnx is None
                                                else float(f"{(out_stored - out_onnx).abs().max():.3g}")),
        "note": "fused_speedup = training-form latency / fused latency at batch 1; <format>_speed = float32 "
                "time / that format's time (float16_stored: the float16 file computing in float32, the default "
                "of infer/score/submission; float16_compute: the same file asked to compute in float16, < 1 on "
                "a CPU without half-precision arithmetic)",
    }
    headline = {
        "fused_speedup": ratio(lat["training"], lat["float32"]),
        "fused_speedup_batch64": ratio(thr["training"], thr["float32"]),
        "fused_max_abs_diff": details["fused_max_abs_diff"],
        "float16_stored_speed_vs_float32": ratio(lat["float32"], lat["float16_stored"]),
        "float16_stored_speed_vs_float32_batch64": ratio(thr["float32"], thr["float16_stored"]),
        "float16_compute_speed_vs_float32": ratio(lat["float32"], lat["float16_compute"]),
        "onnx_speed_vs_float32": ratio(lat["float32"], lat["onnx"]) if onnx is not None else None,
        "int8_speed_vs_float32": ratio(lat["float32"], lat["int8"]),
        "int8_speed_vs_float32_batch64": ratio(thr["float32"], thr["int8"]),
    }
    print_table(f"Rep-Mobile on the CPU ({torch.get_num_threads()} thread(s))",
                [(k, r["latency_ms_batch1"], r[f"clips_per_s_batch{big}"]) for k, r in results.items()],
                ["form", "ms/clip at batch 1", f"clips/s at batch {big}"])
    print(f"  max |training - fused| = {details['fused_max_abs_diff']:.3g}; max |float32 - float16_stored| = "
          f"{details['float16_stored_max_abs_diff']:.3g} (top-1 agreement "
          f"{details['float16_stored_top1_agreement']:.1%}); max |float32 - float16_compute| = "
          f"{details['float16_max_abs_diff']:.3g} (top-1 agreement {details['float16_top1_agreement']:.1%})")
    merge_results(args.out, "deploy_latency", details, headline, mode)
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
