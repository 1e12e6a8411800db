"""Complexity of the network of every device, counted on what the package runs (no asc needed):
parameter memory = bytes of the stored parameters (float16), MACs = multiply-accumulates of one
forward pass on the input load_inputs gives for resources/dummy.wav, counted on the operations torch
runs (convolutions and matrix products, each bias add one MAC per output: torchinfo's convention, which
the challenge's own complexity script uses; torchinfo cannot hook into TorchScript files). Writes predictions/<name>_<index>/complexity.json
and exits 1 naming every device model above the limits.

    python test_complexity.py --submission_name @NAME@ --submission_index 1
"""
import argparse
import copy
import importlib
import json
import os
import sys
import warnings
from importlib import resources

import torch
from torch.utils._python_dispatch import TorchDispatchMode

MAX_MACS = 30_000_000
MAX_PARAMS_MEMORY = 128_000
DEVICE_IDS = ["a", "b", "c"] + [f"s{i}" for i in range(1, 11)] + ["unknown"]


class MacCounter(TorchDispatchMode):
    """Multiply-accumulates of the convolutions and matrix products run inside the block."""

    CONVOLUTIONS = (torch.ops.aten.convolution.default, torch.ops.aten._convolution.default)

    def __init__(self):
        super().__init__()
        self.macs = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if func in self.CONVOLUTIONS:
            weight, bias = args[1], args[2]
            self.macs += out.numel() * (weight.numel() // weight.shape[0]) + (out.numel() if bias is not None else 0)
        elif func is torch.ops.aten.addmm.default:
            self.macs += args[1].shape[0] * args[1].shape[1] * args[2].shape[1] + out.numel()
        elif func is torch.ops.aten.mm.default:
            self.macs += args[0].shape[0] * args[0].shape[1] * args[1].shape[1]
        return out


def complexity(network: torch.nn.Module, example: torch.Tensor) -> dict:
    """MACs and parameter bytes of `network` (run in float32 on a copy; bytes as stored)."""
    params = sum(p.numel() for p in network.parameters())
    param_bytes = sum(p.numel() * p.element_size() for p in network.parameters())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)        # deepcopy reads .grad of every parameter
        network = copy.deepcopy(network).float()
    counter = MacCounter()
    with counter, torch.no_grad():
        network(example.float())
    return {"MACs": int(counter.macs), "Params": int(param_bytes), "params": int(params)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--submission_name", required=True)
    p.add_argument("--submission_index", type=int, required=True)
    args = p.parse_args()
    api = importlib.import_module(f"{args.submission_name}.{args.submission_name}_{args.submission_index}")
    model = api.load_model()
    dummy = str(resources.files(f"{args.submission_name}.resources") / "dummy.wav")
    inputs = api.load_inputs([dummy] * len(DEVICE_IDS), DEVICE_IDS, model)
    per_device, over = {}, []
    for device_id, example in zip(DEVICE_IDS, inputs):
        figures = complexity(api.get_model_for_device(model, device_id), example)
        per_device[device_id] = figures
        ok = figures["MACs"] <= MAX_MACS and figures["Params"] <= MAX_PARAMS_MEMORY
        if not ok:
            over.append(device_id)
        print(f"{device_id:>7} | MACs {figures['MACs']:>12,} | parameter bytes {figures['Params']:>9,} | "
              f"{'ok' if ok else 'OVER THE LIMITS'}")
    out = os.path.join("predictions", f"{args.submission_name}_{args.submission_index}")
    os.makedirs(out, exist_ok=True)
    summary = {"per_device": per_device, "max_MACs": max(f["MACs"] for f in per_device.values()),
               "max_Params": max(f["Params"] for f in per_device.values()),
               "limits": {"MACs": MAX_MACS, "Params": MAX_PARAMS_MEMORY}}
    with open(os.path.join(out, "complexity.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"complexity per device -> {out}/complexity.json")
    if over:
        print(f"device model(s) over the limits: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
