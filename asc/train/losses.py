"""Losses: cross-entropy and knowledge distillation from stored teacher logits, both mixup-aware.

    loss = λ·CE(student, labels) + (1 − λ)·T²·KL(softmax(teacher/T) ‖ softmax(student/T))

as in the CP-JKU recipe (λ = 0.02, T = 2). The T² keeps the gradient of the KL term on the scale of
the CE gradient whatever the temperature (Hinton et al., 2015). λ = 1 is plain training.

Two options change what the student is asked to match (both off by default: the loss above, bit for bit):
  - a teacher temperature T_t of its own: targets softmax(teacher/T_t) against softmax(student/T), so
    that an under-confident teacher (near-uniform targets at T) can be sharpened (T_t < T) without
    changing the student side or the T² scale;
  - logit standardization (Sun et al., CVPR 2024): teacher and student logits are z-scored per clip
    (zero mean, unit standard deviation over the classes) before the temperature softmax. The student
    then matches the teacher's *relations* between classes, not its logit range: an under-confident
    teacher no longer holds the student's logits small, and a teacher's scale or shift changes nothing.
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


def standardize(logits: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Z-score each row over the classes: (z − mean) / std, the population std as in Sun et al. (2024).

    Why: a softmax of standardized logits depends on the ranking and relative gaps of the classes only,
    not on the logit range of the network that made them. `eps` keeps a constant row finite (all zero)."""
    logits = logits.float()
    centred = logits - logits.mean(dim=-1, keepdim=True)
    return centred / (centred.pow(2).mean(dim=-1, keepdim=True).sqrt() + eps)


def teacher_targets(teacher_logits: torch.Tensor, temperature: float,
                    mix: MixedBatch | None = None, standardized: bool = False) -> torch.Tensor:
    """Soft targets softmax(teacher/T) (of the standardized logits with `standardized`); with mixup, the
    same mixture of the two clips' targets."""
    logits = standardize(teacher_logits) if standardized else teacher_logits.float()
    p = F.softmax(logits / temperature, dim=-1)
    return p if mix is None else mix_targets(p, mix.perm, mix.lam)


def distillation(student_logits: torch.Tensor, targets: torch.Tensor, temperature: float,
                 standardized: bool = False) -> torch.Tensor:
    """T²·KL(targets ‖ softmax(student/T)), averaged over the batch; with `standardized`, of the student's
    z-scored logits (the gradient then flows through the row mean and std too)."""
    logits = standardize(student_logits) if standardized else student_logits.float()
    log_p = F.log_softmax(logits / temperature, dim=-1)
    kl = (torch.special.xlogy(targets, targets) - targets * log_p).sum(dim=-1)
    return temperature ** 2 * kl.mean()


def kd_loss(student_logits: torch.Tensor, labels: torch.Tensor, teacher_logits: torch.Tensor | None,
            lambda_ce: float, temperature: float, mix: MixedBatch | None = None,
            teacher_saw_mix: bool = False, teacher_temperature: float | None = None,
            standardized: bool = False) -> LossParts:
    """λ·CE + (1 − λ)·T²·KL; with λ = 1 the teacher is not needed and the loss is plain CE.

    `teacher_saw_mix`: the teacher logits are the teacher's answer on the mixed batch itself (a teacher
    in the loop, asc.train.online_teacher), so they are the target as they are; otherwise (stored logits
    of the clean clips) the two clips' soft targets are mixed like the inputs.
    `teacher_temperature`: the teacher side's temperature (None: `temperature`, shared).
    `standardized`: logit standardization of both sides (module docstring)."""
    ce = cross_entropy(student_logits, labels, mix)
    if lambda_ce >= 1.0:
        return LossParts(ce, ce.detach(), torch.zeros((), device=ce.device))
    if teacher_logits is None:
        raise ValueError(f"lambda_ce={lambda_ce} needs teacher logits")
    t_teacher = temperature if teacher_temperature is None else teacher_temperature
    targets = teacher_targets(teacher_logits, t_teacher, None if teacher_saw_mix else mix, standardized)
    kd = distillation(student_logits, targets, temperature, standardized)
    total = lambda_ce * ce + (1.0 - lambda_ce) * kd
    return LossParts(total, ce.detach(), kd.detach())
