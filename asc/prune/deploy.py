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
reads it; `load_deployed(path)` rebuilds the network in float32 or float16:

    model, features, labels = load_deployed("exp/deploy/split25/model.pt", dtype=torch.float16)
    front_end = LogMel(from_dict(FeatureConfig, features))     # asc.features.logmel

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
from asc.eval.metrics import compute_scores
from asc.models import reparameterize
from asc.train.checkpoint import load_model

DTYPES = {"float32": torch.float32, "float16": torch.float16}
DONE = "deploy"
REQUIRED = ("model_name", "model_options", "state_dict", "deployed", "precision", "features", "labels",
            "complexity")


class DeployError(AscError):
    """The model cannot be deployed: outside the limits, or float16 loses too much accuracy."""


def deploy_model(model: nn.Module, model_name: str, model_options: dict, out_dir: str | os.PathLike,
                 features: dict, labels: Sequence[str], precision: str = "float16",
                 input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE) -> dict:
    """Fuse `model`, check the DCASE2024 limits, write model.pt and complexity.json; returns the report."""
    if precision not in DTYPES:
        raise DeployError(f"precision '{precision}': the deployable model is stored as {' or '.join(DTYPES)}")
    deployed = reparameterize(model).cpu().float()
    counted = count_complexity(deployed, input_shape, deploy=False)
    report = complexity_report(counted, precision, input_shape)
    if not report["within_limits"]:
        raise DeployError(_limits_message(report))
    state = {k: (v.to(DTYPES[precision]) if v.is_floating_point() else v)
             for k, v in deployed.state_dict().items()}
    out_dir = Path(out_dir)
    torch_save({"model_name": model_name, "model_options": dict(model_options), "state_dict": state,
                "deployed": True, "precision": precision, "features": dict(features), "labels": list(labels),
                "complexity": report}, out_dir / "model.pt")
    write_json(out_dir / "complexity.json", report)
    return report


def load_deployed(path: str | os.PathLike, dtype: torch.dtype = torch.float32,
                  device: str | torch.device = "cpu") -> tuple[nn.Module, dict, list[str]]:
    """(model in eval mode and `dtype`, front-end FeatureConfig as a dict, labels) of a deployed model.pt."""
    model, ckpt = load_model(path, map_location="cpu")
    missing = [k for k in REQUIRED if k not in ckpt]
    if missing or not ckpt["deployed"]:
        raise InputError(path, f"not a deployed model (missing {', '.join(missing) or 'deployed: True'}); "
                               f"deployed models are written by the pruning stage (exp/deploy/split<N>/model.pt)")
    # load_model copied the stored (float16) weights into a float32 network; this sets the compute type
    return model.to(device=device, dtype=dtype).eval(), dict(ckpt["features"]), list(ckpt["labels"])


@torch.no_grad()
def predict(model: nn.Module, dataset: Dataset, dtype: torch.dtype, device: str | torch.device = "cpu",
            batch_size: int = 256) -> torch.Tensor:
    """Logits (float32, CPU) of `model` run in `dtype` on every clip of `dataset` (items start with x)."""
    model = model.to(device=device, dtype=dtype).eval()
    chunks = [model(batch[0].to(device=device, dtype=dtype)).float().cpu()
              for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False)]
    return torch.cat(chunks)


def precision_check(reference: nn.Module, deployed_path: str | os.PathLike, dataset, precision: str,
                    device: str | torch.device = "cpu", batch_size: int = 256) -> dict:
    """Test scores of the fused float32 network and of the saved file run in `precision` (and in float32).

    `dataset` is a FeatureDataset of labelled clips. Returns a JSON-ready dict; `difference_points` is
    float32 minus `precision` macro accuracy in percentage points.
    """
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
               test_set=None, max_drop_points: float = 0.5, batch_size: int = 256,
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
