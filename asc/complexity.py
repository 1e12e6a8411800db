"""Model complexity as DCASE2024 Task 1 counts it, and the verdict against the challenge limits.

Counting follows the organisers' `nessi.get_torch_size`: torchinfo (pinned to 1.8.0 in setup.py, as
other versions count differently) summarizes the model on one input of shape 1×256×65 (one 1-s clip
of the student front end; the front end itself is not part of the model and is not counted), and
reports `total_params` and `total_mult_adds`. What is counted is the deployment form,
`asc.models.reparameterize(model)`: branches fused and BatchNorms folded where the family does so.
Two consequences worth knowing (torchinfo's rules): every parameter of a leaf module counts toward
the MACs once per output position for convolutions, so a fused convolution's bias adds C_out·H·W
MACs; and a BatchNorm that is left in the model adds 2·C parameters and 2·C MACs. Parameter memory is
params × bytes of the storage type (float32 4, float16 2, int8 1); the limits are 128,000 bytes of
parameters and 30,000,000 MACs.

A saved model is a checkpoint dict read with `torch.load(weights_only=True)`:

    {"model_name": str, "model_options": dict, "state_dict": dict[str, Tensor], "deployed": bool}

`model_options` are the keyword options of `asc.models.build_model(model_name, ...)` (for a pruned
Rep-Mobile, `model.options()`, which records the pruned widths); `deployed` (default False) says the
state dict is of the deployment form, i.e. of `reparameterize(build_model(...))`. Other keys (the
trainer's optimizer state, metrics, ...) are ignored here. asc.models.checkpoint_file writes and reads it.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Sequence

import torch.nn as nn

from asc.errors import ConfigError

MAX_PARAM_BYTES = 128_000
MAX_MACS = 30_000_000
BYTES_PER_PARAM = {"float32": 4, "float16": 2, "int8": 1}
DEFAULT_INPUT_SHAPE = (1, 256, 65)   # channels, mel bins, frames of one 1-s clip


@dataclass(frozen=True)
class Complexity:
    """Parameter count and multiply-accumulate operations of one forward pass of one clip."""
    params: int
    macs: int


def count_complexity(model: nn.Module, input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE,
                     deploy: bool = True) -> Complexity:
    """Params and MACs as DCASE counts them (torchinfo, batch of one), of the deployment form of `model`.

    `input_shape` is (channels, mels, frames) without the batch; `deploy=False` counts the model as
    given (e.g. the training form). The model itself is not changed.
    """
    import torchinfo
    from asc.models import reparameterize

    counted = reparameterize(model) if deploy else copy.deepcopy(model).eval()
    counted = counted.float().cpu()
    stats = torchinfo.summary(counted, input_size=(1, *input_shape), device="cpu", verbose=0,
                              mode="eval")
    return Complexity(params=int(stats.total_params), macs=int(stats.total_mult_adds))


def param_bytes(params: int, precision: str = "float16") -> int:
    """Memory of `params` parameters stored as `precision` (float32, float16 or int8)."""
    if precision not in BYTES_PER_PARAM:
        raise ConfigError(f"unknown precision '{precision}'; known: {', '.join(BYTES_PER_PARAM)}")
    return params * BYTES_PER_PARAM[precision]


def within_limits(complexity: Complexity, precision: str = "float16",
                  max_param_bytes: int = MAX_PARAM_BYTES, max_macs: int = MAX_MACS) -> bool:
    """Whether the model fits the DCASE2024 limits with its parameters stored as `precision`."""
    return param_bytes(complexity.params, precision) <= max_param_bytes and complexity.macs <= max_macs


def complexity_report(complexity: Complexity, precision: str = "float16",
                      input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE) -> dict:
    """The figures and the verdict as a JSON-ready dict (what complexity.json holds)."""
    return {
        "params": complexity.params,
        "param_bytes": param_bytes(complexity.params, precision),
        "macs": complexity.macs,
        "precision": precision,
        "within_limits": within_limits(complexity, precision),
        "max_param_bytes": MAX_PARAM_BYTES,
        "max_macs": MAX_MACS,
        "input_shape": list(input_shape),
        "counted_by": f"torchinfo {_torchinfo_version()}",
    }


def _torchinfo_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("torchinfo")
    except PackageNotFoundError:  # imported from a source tree without metadata
        return "unknown"
