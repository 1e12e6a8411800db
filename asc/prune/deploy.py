"""The deployable model: re-parameterized, checked against the limits, stored in float16, self-contained.

    exp/deploy/split<N>/model.pt        one file is enough to classify audio:
        {model_name, model_options, state_dict (deployment form, in `precision`), deployed: True,
         precision: "float16", features: the front end's FeatureConfig as a dict, labels: [...],
         complexity: {...}}
    exp/deploy/split<N>/complexity.json the same complexity report
    exp/deploy/split<N>/precision.json  test accuracy in float32 and float16 (when measured)
    exp/deploy/split<N>/deploy.done     written last (a model.pt without it is not finished: e.g. the
                                        float16 check failed)

The file holds only containers, strings, numbers and tensors, so `torch.load(weights_only=True)`
reads it; `asc.models.model_file.load_deployed(path)` rebuilds the network in float32 (the default, whatever the stored
precision: the stored bytes stay float16, the CPU computes at full speed) or, when asked, float16:

    model, features, labels = load_deployed("exp/deploy/split25/model.pt", dtype=torch.float16)
    front_end = make_front_end(from_dict(FeatureConfig, features))     # asc.features.logmel

The complexity is counted on the deployment form as DCASE counts it (asc.complexity); a model
outside the DCASE2024 limits stops the stage with an error (DeployError) and nothing is written.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

from asc.atomic import done_marker, is_done, mark_done, torch_save, write_json
from asc.complexity import DEFAULT_INPUT_SHAPE, MAX_MACS, MAX_PARAM_BYTES, complexity_report, count_complexity
from asc.errors import AscError, InputError
from asc.metrics import compute_scores
from asc.models import reparameterize
from asc.models.checkpoint_file import load_model
from asc.models.model_file import load_deployed
from asc.train.predict import EVAL_BATCH_SIZE

DTYPES = {"float32": torch.float32, "float16": torch.float16}
DONE = "deploy"


class DeployError(AscError):
    """The model cannot be deployed: outside the limits, or float16 loses too much accuracy."""


def deploy_model(model: nn.Module, model_name: str, model_options: dict, out_dir: str | os.PathLike,
                 features: dict, labels: Sequence[str], precision: str = "float16",
                 input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE) -> dict:
    """Fuse `model`, check the DCASE2024 limits, write model.pt and complexity.json; returns the report.

    int8: `model` is the quantisation-aware network (rep_mobile_int8); its weights are stored as int8
    with their scales (asc.models.quantized), and the bytes counted are those of int8_memory.
    """
    if precision not in (*DTYPES, "int8"):
        raise DeployError(f"precision '{precision}': the deployable model is stored as float32, float16 or int8")
    if precision == "int8":
        state, report = _int8_form(model, model_name, model_options, input_shape)
    else:
        deployed = reparameterize(model).cpu().float()
        counted = count_complexity(deployed, input_shape, deploy=False)
        report = complexity_report(counted, precision, input_shape)
        state = {k: (v.to(DTYPES[precision]) if v.is_floating_point() else v)
                 for k, v in deployed.state_dict().items()}
    if not report["within_limits"]:
        raise DeployError(_limits_message(report))
    out_dir = Path(out_dir)
    torch_save({"model_name": model_name, "model_options": dict(model_options), "state_dict": state,
                "deployed": True, "precision": precision, "features": dict(features), "labels": list(labels),
                "complexity": report}, out_dir / "model.pt")
    write_json(out_dir / "complexity.json", report)
    return report


def _int8_form(model: nn.Module, model_name: str, model_options: dict,
               input_shape: Sequence[int]) -> tuple[dict, dict]:
    """(state to store, complexity report) of a quantisation-aware network stored in int8."""
    from asc.models import build_model
    from asc.models.quantized import int8_memory, int8_state, weight_sites

    if model_name != "rep_mobile_int8":
        raise DeployError(f"precision int8 stores a quantisation-aware network (rep_mobile_int8), not {model_name}")
    model = model.cpu()
    # MACs: those of the float network with the same structure (the quantised one runs the same convolutions)
    counted = count_complexity(build_model("rep_mobile", **model_options), input_shape, deploy=True)
    memory = int8_memory(model)
    report = complexity_report(counted, "int8", input_shape)
    state = int8_state(model)
    stored = [state[f"{name}.{kind}"] for name in weight_sites(model) for kind in ("weight", "bias")
              if f"{name}.{kind}" in state]
    report.update(param_bytes=memory["param_bytes"], int8_memory=memory,
                  params_nonzero=int(sum(int((t != 0).sum()) for t in stored)),
                  within_limits=memory["param_bytes"] <= MAX_PARAM_BYTES and counted.macs <= MAX_MACS)
    return state, report


@torch.no_grad()
def predict(model: nn.Module, dataset: Dataset, dtype: torch.dtype, device: str | torch.device = "cpu",
            batch_size: int = EVAL_BATCH_SIZE) -> torch.Tensor:
    """Logits (float32, CPU) of `model` run in `dtype` on every clip of `dataset` (items start with x)."""
    model = (model.to(device=device, dtype=dtype) if any(True for _ in model.parameters()) else model).eval()
    chunks = [model(batch[0].to(device=device, dtype=dtype)).float().cpu()
              for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False)]
    return torch.cat(chunks)


def precision_check(reference: nn.Module, deployed_path: str | os.PathLike, dataset, precision: str,
                    device: str | torch.device = "cpu", batch_size: int = EVAL_BATCH_SIZE) -> dict:
    """Test scores of the fused float32 network and of the saved file run in `precision` (and in float32).

    `dataset` is a FeatureDataset of labelled clips. Returns a JSON-ready dict; `difference_points` is
    float32 minus `precision` macro accuracy in percentage points.
    """
    if precision == "int8":
        runs = _int8_runs(reference, deployed_path, dataset, batch_size)
    else:
        fused = reparameterize(reference).cpu().float()
        runs = {"float32": predict(fused, dataset, torch.float32, device, batch_size)}
        for name in dict.fromkeys(["float32", precision]):
            model, _, _ = load_deployed(deployed_path, DTYPES[name], device)
            runs[f"file_{name}"] = predict(model, dataset, DTYPES[name], device, batch_size)
    labels = [dataset.labels[t] for t in dataset.targets.tolist()]
    devices = [dataset.device_names[d] for d in dataset.devices.tolist()]
    result: dict = {"n_clips": len(dataset), "precision": precision}
    for name, logits in runs.items():
        scores = compute_scores(labels, logits.softmax(dim=1).double().numpy(), devices, dataset.labels)
        result[name] = {"macro_accuracy": scores.macro_accuracy, "accuracy": scores.accuracy,
                        "seen_devices": scores.seen_devices, "unseen_devices": scores.unseen_devices}
    result["difference_points"] = 100 * (result["float32"]["macro_accuracy"]
                                         - result[f"file_{precision}"]["macro_accuracy"])
    result["max_abs_logit_difference"] = float((runs["float32"] - runs[f"file_{precision}"]).abs().max())
    return result


def _int8_runs(qat: nn.Module, deployed_path, dataset, batch_size: int) -> dict[str, torch.Tensor]:
    """Logits of the QAT network's weights in plain float32 (no quantisation) and of the int8 file (CPU:
    the quantized kernels run there only)."""
    import copy

    from torch.ao.quantization import disable_fake_quant, disable_observer

    plain = copy.deepcopy(qat).cpu().eval()
    plain.apply(disable_observer)
    plain.apply(disable_fake_quant)
    int8, _, _ = load_deployed(deployed_path)
    return {"float32": predict(plain, dataset, torch.float32, "cpu", batch_size),
            "file_int8": predict(int8, dataset, torch.float32, "cpu", batch_size)}


def check_precision(result: dict, max_drop_points: float) -> None:
    """Stop the stage if the stored precision loses more than `max_drop_points` of macro accuracy."""
    if abs(result["difference_points"]) > max_drop_points:
        raise DeployError(f"{result['precision']} macro accuracy "
                          f"{100 * result['file_' + result['precision']]['macro_accuracy']:.2f} % differs from "
                          f"float32 {100 * result['float32']['macro_accuracy']:.2f} % by "
                          f"{abs(result['difference_points']):.2f} points (allowed {max_drop_points})")


def mark_deployed(out_dir: str | os.PathLike, info: dict) -> None:
    """The done marker of the deploy directory (written last)."""
    mark_done(out_dir, DONE, info)


def _limits_message(report: dict) -> str:
    over = []
    if report["param_bytes"] > MAX_PARAM_BYTES:
        over.append(f"{report['param_bytes']:,} B of parameters at {report['precision']} "
                    f"({report['params']:,} params; limit {MAX_PARAM_BYTES:,} B)")
    if report["macs"] > MAX_MACS:
        over.append(f"{report['macs']:,} MACs (limit {MAX_MACS:,})")
    return ("the deployment form exceeds the DCASE2024 limits: " + " and ".join(over) +
            "; prune further (target in conf/<profile>/prune.yaml) or start from a smaller model")


def run_deploy(model_path: str | os.PathLike, out_dir: str | os.PathLike, features: dict, labels: Sequence[str],
               source_hash: str, precision: str = "float16", input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE,
               test_set=None, max_drop_points: float = 0.5, batch_size: int = EVAL_BATCH_SIZE,
               device: str | torch.device = "cpu", inputs: dict | None = None) -> dict:
    """The deploy stage: model.pt and complexity.json from a pruned checkpoint, the float16 check on
    `test_set` (a FeatureDataset; None skips it) into precision.json, then deploy.done.

    `source_hash` identifies what was deployed (the pruning run's config hash): a finished deploy of
    the same source is skipped, one of another source is an error rather than silently replaced.
    `inputs` (digests of the pruned model and the test store) redo a finished deploy when they change.
    """
    out_dir = Path(out_dir)
    if is_done(out_dir, DONE):
        info = json.loads(done_marker(out_dir, DONE).read_text() or "{}")
        if info.get("source_hash") == source_hash and info.get("inputs") == inputs:
            return info
        if info.get("source_hash") != source_hash:
            raise InputError(done_marker(out_dir, DONE), f"deployed from another pruning run (hash "
                                                         f"{info.get('source_hash')}, this one {source_hash}); "
                                                         f"remove the directory to deploy again")
        # Same pruning run, other inputs (a rebuilt test store, a model re-pruned): deploying again is
        # cheap, and its figures would be stale otherwise.
        done_marker(out_dir, DONE).unlink()
    model, ckpt = load_model(model_path)
    if precision == "int8" and ckpt["model_name"] != "rep_mobile_int8":
        raise DeployError(f"{model_path}: precision int8 deploys the quantisation-aware network of stage 5 "
                          f"(rep_mobile_int8), found {ckpt['model_name']}")
    report = deploy_model(model, ckpt["model_name"], ckpt["model_options"], out_dir, features, labels, precision,
                          input_shape)
    info = {"source": str(model_path), "source_hash": source_hash, "complexity": report, "precision_check": None,
            "inputs": inputs}
    if test_set is not None:
        result = precision_check(model, out_dir / "model.pt", test_set, precision, device, batch_size)
        write_json(out_dir / "precision.json", result)
        check_precision(result, max_drop_points)
        info["precision_check"] = {k: result[k] for k in ("n_clips", "difference_points")}
        info["precision_check"].update({name: result[name]["macro_accuracy"] for name in result
                                        if isinstance(result[name], dict)})
    mark_deployed(out_dir, info)
    return info
