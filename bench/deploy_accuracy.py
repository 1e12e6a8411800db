"""Deployment: test macro accuracy of each deployable format, for the latency table of the README.

    python bench/deploy_accuracy.py --float16 exp/deploy/split100 --int8 exp/deploy_int8/split100 \
        --test-data data/test --test-feats dump/student/test/feats.h5 [--out bench/results.json]

(paths inside egs/dcase2024_task1). The float16 and int8 deploy folders are stage 5's (model.pt,
precision.json); each format is run on the stored test log-mels as its user runs it:
    float32          the network before storing (precision.json of the float16 folder: `float32`)
    float16_stored   the float16 file computing in float32 (infer/score/submission's default)
    float16_compute  the same file computing in float16 (--compute-dtype float16)
    int8             the int8 file (x86 kernels)
    onnx             the float16 file exported by asc.bin.export (no front end), run by onnxruntime
Merged into the results file as `deploy_accuracy`; bench/report.py puts it beside the latencies.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from common import merge_results


def accuracy(logits: torch.Tensor, dataset) -> float:
    """Macro (class-averaged) accuracy of `logits` on the labelled `dataset`."""
    from asc.eval.metrics import compute_scores

    labels = [dataset.labels[t] for t in dataset.targets.tolist()]
    devices = [dataset.device_names[d] for d in dataset.devices.tolist()]
    return compute_scores(labels, logits.softmax(dim=1).double().numpy(), devices, dataset.labels).macro_accuracy


def onnx_logits(model_file: Path, dataset) -> torch.Tensor | None:
    """The ONNX export's logits on every clip, or None without onnxruntime."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    from asc.export.formats import export_deployed

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.onnx"
        export_deployed(model_file, "onnx", out, front_end=False)
        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        session = ort.InferenceSession(str(out), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        x = torch.stack([dataset[i][0] for i in range(len(dataset))]).numpy()
        return torch.from_numpy(np.concatenate([session.run(None, {name: x[a:a + 256]})[0]
                                                for a in range(0, len(x), 256)]))


def main(argv=None) -> int:
    """Run every format on the test set, print, merge into the results."""
    from asc.data.datadir import load_datadir, read_labels
    from asc.data.dataset import FeatureDataset
    from asc.data.feature_store import FeatureStore
    from asc.prune.deploy import load_deployed, predict

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--float16", required=True, type=Path, help="stage 5's float16 deploy folder")
    p.add_argument("--int8", type=Path, help="an int8 deploy folder (stage 5 with target.precision=int8)")
    p.add_argument("--test-data", required=True, type=Path)
    p.add_argument("--test-feats", required=True, type=Path)
    p.add_argument("--labels", type=Path, help="label list (default: the model file's)")
    p.add_argument("--source", default="", help="what the models are, for the table's caption")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results.json")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    f16 = args.float16 / "model.pt"
    _, _, labels = load_deployed(f16)
    labels = read_labels(args.labels) if args.labels else labels
    dataset = FeatureDataset(load_datadir(args.test_data), FeatureStore(args.test_feats), labels,
                             source=str(args.test_data))
    check = json.loads((args.float16 / "precision.json").read_text())
    result = {"float32": check["float32"]["macro_accuracy"]}
    for name, dtype in (("float16_stored", torch.float32), ("float16_compute", torch.float16)):
        result[name] = accuracy(predict(load_deployed(f16, dtype)[0], dataset, dtype), dataset)
    if args.int8:
        result["int8"] = accuracy(predict(load_deployed(args.int8 / "model.pt")[0], dataset, torch.float32), dataset)
    logits = onnx_logits(f16, dataset)
    if logits is not None:
        result["onnx"] = accuracy(logits, dataset)
    for name, value in result.items():
        print(f"{name:16s} {100 * value:.2f} %")
    details = {"source": args.source or f"{args.float16}" + (f" and {args.int8}" if args.int8 else ""),
               "n_clips": len(dataset), "macro_accuracy": result}
    merge_results(args.out, "deploy_accuracy", details, {}, "full")
    return 0


if __name__ == "__main__":
    sys.exit(main())
