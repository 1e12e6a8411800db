"""Losses: cross-entropy and knowledge distillation from stored teacher logits, both mixup-aware.

    loss = λ·CE(student, labels) + (1 − λ)·T²·KL(softmax(teacher/T) ‖ softmax(student/T))

as in the CP-JKU recipe (λ = 0.02, T = 2). The T² keeps the gradient of the KL term on the scale of
the CE gradient whatever the temperature (Hinton et al., 2015). λ = 1 is plain training.
With mixup (`asc.augment.mixup.MixedBatch`: partner `perm`, weight `lam` per clip) the CE terms of
both labels are mixed, and the stored teacher's probabilities at temperature T are mixed (not its
logits); a teacher in the loop answers on the mixed clip itself, and its answer is the target.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from asc.augment.mixup import MixedBatch, mix_losses, mix_targets


@dataclass
class LossParts:
    """The total loss and its two terms (the terms detached, for the log)."""
    total: torch.Tensor
    ce: torch.Tensor
    kd: torch.Tensor


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, mix: MixedBatch | None = None) -> torch.Tensor:
    """Mean cross-entropy; with mixup, each clip's loss is the lam-weighted loss of both labels."""
    logits = logits.float()
    if mix is None:
        return F.cross_entropy(logits, labels)
    own = F.cross_entropy(logits, labels, reduction="none")
    partner = F.cross_entropy(logits, labels[mix.perm], reduction="none")
    return mix_losses(own, partner, mix.lam)


def teacher_targets(teacher_logits: torch.Tensor, temperature: float,
                    mix: MixedBatch | None = None) -> torch.Tensor:
    """Soft targets softmax(teacher/T); with mixup, the same mixture of the two clips' targets."""
    p = F.softmax(teacher_logits.float() / temperature, dim=-1)
    return p if mix is None else mix_targets(p, mix.perm, mix.lam)


def distillation(student_logits: torch.Tensor, targets: torch.Tensor, temperature: float) -> torch.Tensor:
    """T²·KL(targets ‖ softmax(student/T)), averaged over the batch."""
    log_p = F.log_softmax(student_logits.float() / temperature, dim=-1)
    kl = (torch.special.xlogy(targets, targets) - targets * log_p).sum(dim=-1)
    return temperature ** 2 * kl.mean()


def kd_loss(student_logits: torch.Tensor, labels: torch.Tensor, teacher_logits: torch.Tensor | None,
            lambda_ce: float, temperature: float, mix: MixedBatch | None = None,
            teacher_saw_mix: bool = False) -> LossParts:
    """λ·CE + (1 − λ)·T²·KL; with λ = 1 the teacher is not needed and the loss is plain CE.

    `teacher_saw_mix`: the teacher logits are the teacher's answer on the mixed batch itself (a teacher
    in the loop, asc.train.online_teacher), so they are the target as they are; otherwise (stored logits
    of the clean clips) the two clips' soft targets are mixed like the inputs."""
    ce = cross_entropy(student_logits, labels, mix)
    if lambda_ce >= 1.0:
        return LossParts(ce, ce.detach(), torch.zeros((), device=ce.device))
    if teacher_logits is None:
        raise ValueError(f"lambda_ce={lambda_ce} needs teacher logits")
    targets = teacher_targets(teacher_logits, temperature, None if teacher_saw_mix else mix)
    kd = distillation(student_logits, targets, temperature)
    total = lambda_ce * ce + (1.0 - lambda_ce) * kd
    return LossParts(total, ce.detach(), kd.detach())
