"""torchrun / DistributedDataParallel set-up: the same script runs as one process or as many.

`torchrun --nproc_per_node N -m asc.bin.train …` sets RANK, WORLD_SIZE and LOCAL_RANK; without them
the run is a single process. Processes talk over gloo on the CPU and NCCL on GPUs. Only rank 0 writes
files; the others wait at barriers so that nobody reads a checkpoint before it is complete.

N processes with batch B/N each train as one process with batch B: DistributedSampler hands each
process its share of the same permutation, DDP averages the gradients, and BatchNorm normalizes with
the statistics of the whole global batch (GlobalBatchNorm; torch's SyncBatchNorm runs on GPUs only).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.utils.data import Dataset, DistributedSampler


@dataclass
class DistEnv:
    """Where this process stands in the run."""
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """True on the one process that writes files and logs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when more than one process trains."""
        return self.world_size > 1


def setup_distributed(prefer_cuda: bool = True) -> DistEnv:
    """Read torchrun's environment, pick the device and join the process group when there are several."""
    rank = int(os.environ.get("RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))
    local = int(os.environ.get("LOCAL_RANK", 0))
    cuda = prefer_cuda and torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(local)
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo", rank=rank, world_size=world)
    return DistEnv(rank, world, local, device)


def cleanup_distributed() -> None:
    """Leave the process group (if any) so that torchrun sees a clean exit."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier(env: DistEnv) -> None:
    """Wait for every process (no-op in a single-process run)."""
    if env.distributed:
        dist.barrier()


def all_reduce_mean(env: DistEnv, values: torch.Tensor) -> torch.Tensor:
    """Mean of `values` over processes (training-loss logging)."""
    if not env.distributed:
        return values
    values = values.clone()
    dist.all_reduce(values)
    return values / env.world_size


def make_sampler(dataset: Dataset, env: DistEnv, seed: int, shuffle: bool = True) -> DistributedSampler:
    """A sampler whose order is a function of (seed, epoch) only: resuming at an epoch boundary replays it.

    Also used for a single process (one replica), so that one code path serves both cases.
    """
    return DistributedSampler(dataset, num_replicas=env.world_size, rank=env.rank,
                              shuffle=shuffle, seed=seed, drop_last=False)


class _GlobalBatchStats:
    """BatchNorm whose training statistics are those of the global batch of every process.

    Mixed into the BatchNorm classes and swapped into a model's modules (`sync_batchnorm`), so that
    parameter names, buffers and isinstance checks (fusion, pruning) stay those of BatchNorm. The
    sums go through torch.distributed.nn's differentiable all_reduce, whose backward sums every
    process's gradient: each process gets the gradient of the sum of all processes' losses, which
    DDP's averaging turns into the gradient of the global batch's mean loss.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        channels = x.shape[1]
        dims = [0, *range(2, x.dim())]
        shape = [1, channels] + [1] * (x.dim() - 2)
        count = torch.full((1,), x.numel() // channels, dtype=x.dtype, device=x.device)
        total = all_reduce(torch.cat([x.sum(dims), count]))            # two passes, as BatchNorm does
        n = total[-1]
        mean = total[:channels] / n
        centered = x - mean.view(shape)
        var = all_reduce(centered.square().sum(dims)) / n                # biased, for normalizing
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * n / (n - 1), alpha=m)   # unbiased
        y = centered * torch.rsqrt(var.view(shape) + self.eps)
        if self.affine:
            y = y * self.weight.view(shape) + self.bias.view(shape)
        return y


class GlobalBatchNorm1d(_GlobalBatchStats, nn.BatchNorm1d):
    """nn.BatchNorm1d with the global batch's statistics under DDP."""


class GlobalBatchNorm2d(_GlobalBatchStats, nn.BatchNorm2d):
    """nn.BatchNorm2d with the global batch's statistics under DDP."""


_GLOBAL = {nn.BatchNorm1d: GlobalBatchNorm1d, nn.BatchNorm2d: GlobalBatchNorm2d}


def sync_batchnorm(model: nn.Module) -> nn.Module:
    """Make every BatchNorm of `model` normalize with the global batch's statistics (in place)."""
    for module in model.modules():
        if type(module) in _GLOBAL:
            module.__class__ = _GLOBAL[type(module)]
    return model


def wrap_model(model: nn.Module, env: DistEnv) -> nn.Module:
    """Wrap in DistributedDataParallel when several processes train; the model itself otherwise."""
    if not env.distributed:
        return model
    sync_batchnorm(model)
    ids = [env.device.index] if env.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)
