"""The complexity figures that go with a scored or submitted model, counted by asc.complexity.

`model_figures` is what scores.json and RESULTS.md carry; `submission_complexity` is the same in the
shape of the `complexity` section of a DCASE2024 Task 1 submission's meta information
(total_model_size in bytes, total_parameters, total_parameters_non_zero, macs), plus the precision
and the verdict against the limits.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn as nn

from asc.complexity import complexity_report, count_complexity
from asc.errors import ConfigError


def nonzero_params(model: nn.Module) -> int:
    """Parameters that are not exactly zero (the figure DCASE asks for beside the total)."""
    return int(sum(int(torch.count_nonzero(p.detach())) for p in model.parameters()))


def model_figures(model: nn.Module, input_shape: Sequence[int], precision: str = "float16",
                  stored: dict | None = None) -> dict:
    """asc.complexity's report of the deployment form of `model` on one clip, plus non-zero params.

    `input_shape` is (channels, mels, frames) of one clip; `precision` the storage type counted. An
    int8 network (converted, packed weights that torchinfo cannot see) reports what its deployable
    file stored (`stored`: counted by asc.prune.deploy when it was written).
    """
    if precision == "int8":
        if stored is None or "params_nonzero" not in stored:
            raise ConfigError("an int8 model's complexity comes from its deployable file, which does not hold it")
        return dict(stored)
    try:
        complexity = count_complexity(model, tuple(input_shape), deploy=True)
    except RuntimeError as e:  # torchinfo could not run the model on that input
        cause = str(e.__cause__ or e).strip().splitlines() or [type(e).__name__]
        raise ConfigError(f"cannot count the complexity of the model on an input of shape "
                          f"{list(input_shape)}: {cause[0][:300]}") from None
    report = complexity_report(complexity, precision, tuple(input_shape))
    report["params_nonzero"] = nonzero_params(model)
    return report


def submission_complexity(figures: dict) -> dict:
    """The DCASE submission form's complexity entries from `model_figures`' report."""
    return {
        "total_model_size": figures["param_bytes"],
        "total_parameters": figures["params"],
        "total_parameters_non_zero": figures["params_nonzero"],
        "macs": figures["macs"],
        "precision": figures["precision"],
        "within_limits": figures["within_limits"],
        "max_param_bytes": figures["max_param_bytes"],
        "max_macs": figures["max_macs"],
        "input_shape": figures["input_shape"],
        "counted_by": figures["counted_by"],
    }
