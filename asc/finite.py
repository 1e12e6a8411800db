"""Non-finite numbers (NaN, infinity) as named errors instead of silent results.

A NaN does not raise anywhere by itself: it flows through a softmax, an argmax (which picks class 0)
and a CSV writer, and a stage reports success. Each place where numbers leave a model or enter one
checks them here, so that the error names the file or model the numbers came from.
"""
from __future__ import annotations

import numpy as np

from asc.errors import AscError, InputError


class NonFiniteError(AscError):
    """A model's weights or outputs, or a file's samples, hold NaN or infinite values."""


def count_nonfinite(values) -> int:
    """How many entries of an array or tensor are NaN or infinite."""
    try:
        import torch

        if isinstance(values, torch.Tensor):
            return int((~torch.isfinite(values)).sum())
    except ImportError:                                              # pragma: no cover
        pass
    return int((~np.isfinite(np.asarray(values))).sum())


def check_finite_outputs(values, source, what: str = "outputs") -> None:
    """NonFiniteError naming `source` (a model file, a checkpoint) if `values` hold NaN or infinity."""
    bad = count_nonfinite(values)
    if bad:
        raise NonFiniteError(f"{source}: the model's {what} hold {bad} NaN or infinite values of "
                             f"{np.size(values)}; the model is damaged (or diverged in training) and its "
                             f"results would be meaningless")


def check_finite_weights(model, source) -> None:
    """InputError naming the model file if any parameter or buffer of `model` is NaN or infinite."""
    for name, tensor in list(model.named_parameters()) + list(model.named_buffers()):
        if tensor.is_floating_point() and count_nonfinite(tensor.detach()):
            raise InputError(source, f"the model's weights hold NaN or infinite values ({name}: "
                                     f"{count_nonfinite(tensor.detach())} of {tensor.numel()}); the model "
                                     f"is damaged or diverged in training")


def check_finite_features(features, source) -> None:
    """InputError naming the audio file if its log-mels hold NaN or infinity (e.g. samples far
    outside [-1, 1] that overflow the power spectrum)."""
    bad = count_nonfinite(features)
    if bad:
        raise InputError(source, f"its log-mel features hold {bad} NaN or infinite values (samples far "
                                 f"outside [-1, 1]?); the file cannot be classified")
