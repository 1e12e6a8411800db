"""Mixup (Zhang et al. 2018): train on convex mixes of two clips and of their targets.

Mixup changes the targets as well as the inputs, so it is not part of the label-free `Augmenter`:
the trainer calls `mixup` and then mixes every loss term with the returned permutation and
weights. Cross-entropy is linear in the target distribution, so mixing the losses
(`mix_losses`) and mixing the targets (`mix_targets`) give the same result:
  - hard labels: CE(student, y) and CE(student, y[perm]) per clip, then `mix_losses`; or
    `mix_targets(one_hot(y))` with a soft-target cross-entropy;
  - knowledge distillation: mix the teacher's *probabilities* at temperature T,
    `mix_targets(softmax(teacher_logits / T), perm, lam)` — never the logits, whose softmax is
    not the mix of the two teachers' beliefs — or mix the two per-clip KL terms with `mix_losses`
    (equal up to a constant that has no gradient).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from asc.augment import sampling


@dataclass(frozen=True)
class MixedBatch:
    """A mixed batch: x = lam·x + (1−lam)·x[perm], per clip."""

    x: torch.Tensor
    perm: torch.Tensor  # [B] int64, the partner of each clip
    lam: torch.Tensor   # [B] float32, the weight of the clip itself (1 = unmixed)


def mixup(x: torch.Tensor, alpha: float, generator: torch.Generator, p: float = 1.0,
          per_sample: bool = False) -> MixedBatch:
    """Mix the batch x [B, ...] with a random permutation of itself, weights from Beta(alpha, alpha).

    One weight for the whole batch (Zhang et al.) or, with `per_sample`, one per clip. With
    probability 1−p the batch is left alone (lam = 1, perm = identity) and the same number of
    random draws is made, so the loss code needs no special case.
    """
    batch = x.size(0)
    coin = torch.rand((), generator=generator, device=generator.device).item()
    lam = sampling.beta(alpha, (batch if per_sample else 1,), generator, x.device).expand(batch)
    perm = sampling.randperm(batch, generator, x.device)
    if coin >= p:
        lam = torch.ones(batch, device=x.device)
        perm = torch.arange(batch, device=x.device)
        return MixedBatch(x=x, perm=perm, lam=lam)
    weight = lam.view(-1, *([1] * (x.dim() - 1)))
    mixed = (weight * x.float() + (1 - weight) * x[perm].float()).to(x.dtype)
    return MixedBatch(x=mixed, perm=perm, lam=lam.contiguous())


def mix_targets(targets: torch.Tensor, perm: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """Mix target distributions [B, n_classes] (one-hot labels or teacher probabilities) like the inputs."""
    if targets.dim() != 2:
        raise ValueError(f"expected targets [B, n_classes], found shape {tuple(targets.shape)}")
    weight = lam.to(device=targets.device, dtype=torch.float32)[:, None]
    return weight * targets.float() + (1 - weight) * targets[perm.to(targets.device)].float()


def mix_losses(loss_self: torch.Tensor, loss_partner: torch.Tensor, lam: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of lam·loss(own target) + (1−lam)·loss(partner's target), per-clip losses [B]."""
    lam = lam.to(device=loss_self.device, dtype=loss_self.dtype)
    return (lam * loss_self + (1 - lam) * loss_partner).mean()
