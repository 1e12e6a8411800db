"""torchrun / DistributedDataParallel set-up: the same script runs as one process or as many.

`torchrun --nproc_per_node N -m asc.bin.train …` sets RANK, WORLD_SIZE and LOCAL_RANK; without them
the run is a single process. Processes talk over gloo on the CPU and NCCL on GPUs. Only rank 0 writes
files; the others wait at barriers so that nobody reads a checkpoint before it is complete.
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


def wrap_model(model: nn.Module, env: DistEnv) -> nn.Module:
    """Wrap in DistributedDataParallel when several processes train; the model itself otherwise."""
    if not env.distributed:
        return model
    ids = [env.device.index] if env.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)
