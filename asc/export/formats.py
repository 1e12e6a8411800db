"""TorchScript and ONNX files of a deployable model, and the input contract written beside each.

What is exported is the deployment form read from exp/deploy/split<N>/model.pt, computing in float32
(the float16-stored weights are exact in float32; an int8 file exports its int8 network, to
TorchScript only), optionally preceded by its log-mel front end (asc.export.logmel_graph):

    with the front end     input  wave    float32 [batch, clip_samples]   mono, at the model's rate
    without it             input  logmel  float32 [batch, 1, n_mels, frames]
    both                   output logits  float32 [batch, classes]        (softmax gives probabilities)

TorchScript: torch.jit.trace (torch.stft is a TorchScript operator), read back with torch.jit.load.
ONNX: torch.onnx's exporter at opset 18; the STFT becomes ONNX's own STFT operator (opset >= 17),
run by onnxruntime's CPU provider. The batch size is free in both; the clip length is fixed (the
network's input width depends on it). Every file is checked after writing: the exported file is run
on a random batch and must match the package's logits within 1e-4, else ExportError and no file.

The contract (FILE.json) says what a caller outside this package needs: input name, shape, dtype,
sample rate, clip length, channels, the class labels in output order, and how the file was made.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import torch
from torch import nn

from asc.atomic import atomic_path, write_json
from asc.errors import AscError
from asc.export.logmel_graph import LogMelGraph, WaveClassifier
from asc.features.logmel import FeatureConfig

FORMATS = ("onnx", "torchscript")
ONNX_OPSET = 18
MAX_ABS_DIFF = 1e-4        # exported logits against the package's, float32


class ExportError(AscError):
    """The model could not be exported, or the exported file does not compute what the package does."""


@dataclasses.dataclass
class Exportable:
    """The module to export, an example input, and the contract's facts."""
    module: nn.Module
    example: torch.Tensor
    input_name: str
    input_shape: list            # "batch" for the free dimension
    features: FeatureConfig
    labels: list[str]


def exportable(network: nn.Module, features: FeatureConfig, labels: list[str], front_end: bool,
               batch: int = 2) -> Exportable:
    """The network (float32, eval) with or without its front end, and a random example batch."""
    network = (network.float() if any(True for _ in network.parameters()) else network).eval()   # int8: as is
    gen = torch.Generator().manual_seed(0)
    if front_end:
        example = 0.1 * torch.randn(batch, features.clip_samples, generator=gen)
        return Exportable(WaveClassifier(LogMelGraph(features), network).eval(), example, "wave",
                          ["batch", features.clip_samples], features, labels)
    example = torch.randn(batch, 1, features.n_mels, features.clip_frames, generator=gen)
    return Exportable(network, example, "logmel", ["batch", 1, features.n_mels, features.clip_frames],
                      features, labels)


def export_file(item: Exportable, fmt: str, out: str | os.PathLike) -> float:
    """Write `item` as `fmt` to `out` (atomically) after checking it; returns max |exported - package|."""
    if fmt not in FORMATS:
        raise ExportError(f"format '{fmt}': choose one of {', '.join(FORMATS)}")
    out = Path(out)
    with torch.no_grad():
        reference = item.module(item.example)
    with atomic_path(out, suffix=out.suffix) as tmp:
        if fmt == "torchscript":
            _write_torchscript(item, tmp)
        else:
            _write_onnx(item, tmp)
        got = run_exported(tmp, fmt, item.example)
        diff = float((got - reference).abs().max())
        if not diff <= MAX_ABS_DIFF:
            raise ExportError(f"{out}: the exported {fmt} file differs from the package by {diff:.3g} in the "
                              f"logits (allowed {MAX_ABS_DIFF}); nothing written")
    return diff


def run_exported(path: str | os.PathLike, fmt: str, x: torch.Tensor) -> torch.Tensor:
    """Logits of an exported file on `x`, run as a user without this package would run it."""
    if fmt == "torchscript":
        with torch.no_grad():
            return torch.jit.load(str(path), map_location="cpu")(x)
    ort = _onnxruntime()
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])


def contract(item: Exportable, fmt: str, source: str | os.PathLike, precision: str | None, diff: float) -> dict:
    """The input contract and provenance of an exported file (written as FILE.json)."""
    f = item.features
    return {
        "format": fmt, "opset": ONNX_OPSET if fmt == "onnx" else None,
        "input": {"name": item.input_name, "shape": item.input_shape, "dtype": "float32",
                  "what": ("mono waveform in [-1, 1]" if item.input_name == "wave"
                           else "log-mel of asc.features.logmel with the features below")},
        "output": {"name": "logits", "shape": ["batch", len(item.labels)], "dtype": "float32",
                   "labels": list(item.labels)},
        "sample_rate": f.sample_rate, "clip_seconds": f.clip_seconds, "clip_samples": f.clip_samples,
        "channels": 1, "front_end_included": item.input_name == "wave",
        "features": dataclasses.asdict(f),
        "source": str(source), "stored_precision": precision,
        "compute_dtype": "int8 (x86 quantized kernels)" if precision == "int8" else "float32",
        "max_abs_diff_vs_package": diff, "torch": torch.__version__,
    }


def contract_path(out: str | os.PathLike) -> Path:
    """Where the contract of an exported file goes: beside it, FILE.json."""
    out = Path(out)
    return out.with_name(out.name + ".json")


def export_deployed(model_path: str | os.PathLike, fmt: str, out: str | os.PathLike,
                    front_end: bool = True) -> dict:
    """Export a deployable model file; writes `out` and its contract, returns the contract."""
    from asc.eval.model_file import load_deployable

    loaded = load_deployable(model_path)
    if loaded.precision == "int8" and fmt == "onnx":
        raise ExportError(f"{model_path}: an int8 model exports to TorchScript only (torch's ONNX exporter does "
                          f"not carry its quantized x86 kernels); use --format torchscript")
    item = exportable(loaded.model, loaded.features, loaded.labels, front_end)
    diff = export_file(item, fmt, out)
    info = contract(item, fmt, model_path, loaded.precision, diff)
    write_json(contract_path(out), info)
    return info


def _write_torchscript(item: Exportable, path: Path) -> None:
    with torch.no_grad():
        traced = torch.jit.trace(item.module, item.example, check_trace=False)
    traced.save(str(path))


def _write_onnx(item: Exportable, path: Path) -> None:
    for module in ("onnx", "onnxscript"):
        _require(module)
    batch = torch.export.Dim("batch", min=1, max=4096)
    try:
        torch.onnx.export(item.module, (item.example,), str(path), dynamo=True, opset_version=ONNX_OPSET,
                          input_names=[item.input_name], output_names=["logits"],
                          dynamic_shapes=({0: batch},), external_data=False, verbose=False)
    except Exception as e:  # the exporter's own errors come in many types
        raise ExportError(f"ONNX export failed: {type(e).__name__}: {str(e).splitlines()[0][:300]}") from None


def _onnxruntime():
    return _require("onnxruntime")


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ExportError(f"ONNX needs the '{module}' package: pip install 'asc[export]' "
                          f"(onnx, onnxscript, onnxruntime)") from None
