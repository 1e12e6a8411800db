"""Running a model over a dataset in eval mode: the logits of every clip, in dataset order.

Used for validation during training and by the stages that run trained models (teacher logits).
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn as nn
from torch.utils.data import DataLoader, Dataset

# Clips per forward pass when only predicting (validation, teacher logits, scoring, deploy checks). The
# training form of the wide Rep-Mobile needs ~1.3 GB of activations at 256 clips but ~0.3 GB at 64, and
# on the CPU it runs as many clips per second at 64 as at 256 (32/64/256: 19/20/21 clips/s, CP-ResNet
# 32/35/34, 1 thread, measured side by side), so larger batches only cost memory. A GPU may want more.
EVAL_BATCH_SIZE = 64


def autocast(device: torch.device, enabled: bool):
    """float16 autocast on CUDA when `enabled`; a no-op context elsewhere."""
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.float16)
    return contextlib.nullcontext()


@torch.no_grad()
def predict_logits(model: nn.Module, dataset: Dataset, device: torch.device, batch_size: int = EVAL_BATCH_SIZE,
                   num_workers: int = 0, amp: bool = False, channels_last: bool = False) -> torch.Tensor:
    """Logits [len(dataset), classes] (float32, on the CPU) of `model` in eval mode.

    Dataset items start with the input x; the rest of each item is ignored.
    """
    was_training = model.training
    model.eval()
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                        pin_memory=device.type == "cuda")
    chunks = []
    try:
        for batch in loader:
            x = batch[0].to(device, non_blocking=True)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, amp):
                chunks.append(model(x).float().cpu())
    finally:
        model.train(was_training)
    if not chunks:
        raise ValueError("predict_logits: the dataset is empty")
    return torch.cat(chunks)
