"""The KD loss: λ = 1 is plain CE, the gradient is the textbook one, T² scaling, mixup-awareness."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from asc.augment.mixup import MixedBatch
from asc.train.losses import cross_entropy, distillation, kd_loss, teacher_targets


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    student = torch.randn(6, 10, generator=g)
    teacher = torch.randn(6, 10, generator=g) * 3
    labels = torch.randint(0, 10, (6,), generator=g)
    return student, teacher, labels


def test_lambda_one_is_cross_entropy(batch):
    student, teacher, labels = batch
    parts = kd_loss(student, labels, teacher, lambda_ce=1.0, temperature=2.0)
    assert torch.allclose(parts.total, F.cross_entropy(student, labels))
    assert parts.kd.item() == 0.0
    # the teacher is not needed at all for plain training
    assert torch.allclose(kd_loss(student, labels, None, 1.0, 2.0).total, parts.total)


def test_distillation_needs_teacher(batch):
    student, _, labels = batch
    with pytest.raises(ValueError, match="teacher"):
        kd_loss(student, labels, None, lambda_ce=0.5, temperature=2.0)


def test_weighting_and_kl_definition(batch):
    student, teacher, labels = batch
    lam, T = 0.02, 2.0
    parts = kd_loss(student, labels, teacher, lam, T)
    kl = F.kl_div(F.log_softmax(student / T, 1), F.softmax(teacher / T, 1), reduction="batchmean")
    assert torch.allclose(parts.kd, T * T * kl, atol=1e-6)
    assert torch.allclose(parts.total, lam * F.cross_entropy(student, labels) + (1 - lam) * T * T * kl, atol=1e-6)


def test_zero_when_student_equals_teacher(batch):
    _, teacher, _ = batch
    student = teacher.clone().requires_grad_(True)
    loss = distillation(student, teacher_targets(teacher, 3.0), 3.0)
    loss.backward()
    assert abs(loss.item()) < 1e-6
    assert student.grad.abs().max().item() < 1e-6


def test_gradient_is_t_times_probability_gap(batch):
    # d/dz [T²·KL(p_t ‖ softmax(z/T))] = T·(softmax(z/T) − p_t), averaged over the batch
    student, teacher, _ = batch
    for T in (1.0, 2.0, 4.0):
        z = student.clone().requires_grad_(True)
        distillation(z, teacher_targets(teacher, T), T).backward()
        expected = T * (F.softmax(student / T, 1) - F.softmax(teacher / T, 1)) / student.shape[0]
        assert torch.allclose(z.grad, expected, atol=1e-6)


def test_t_squared_keeps_gradient_scale(batch):
    # without T², the KD gradient would shrink like 1/T² for large T (Hinton et al.); with it, ~constant
    student, teacher, _ = batch
    student, teacher = student * 0.1, teacher * 0.1   # small logits: the high-temperature regime
    norms = []
    for T in (4.0, 8.0, 16.0):
        z = student.clone().requires_grad_(True)
        distillation(z, teacher_targets(teacher, T), T).backward()
        norms.append(z.grad.norm().item())
    assert max(norms) / min(norms) < 1.1
    plain = []
    for T in (4.0, 16.0):
        z = student.clone().requires_grad_(True)
        (distillation(z, teacher_targets(teacher, T), T) / T ** 2).backward()
        plain.append(z.grad.norm().item())
    assert plain[0] / plain[1] > 10


def test_mixup_mixes_both_labels_and_teacher_probabilities(batch):
    student, teacher, labels = batch
    perm = torch.tensor([1, 0, 3, 2, 5, 4])
    lam = torch.tensor([1.0, 0.0, 0.3, 0.3, 0.5, 0.5])
    mix = MixedBatch(x=torch.zeros(6), perm=perm, lam=lam)
    ce = cross_entropy(student, labels, mix)
    own = F.cross_entropy(student, labels, reduction="none")
    other = F.cross_entropy(student, labels[perm], reduction="none")
    assert torch.allclose(ce, (lam * own + (1 - lam) * other).mean())
    targets = teacher_targets(teacher, 2.0, mix)
    p = F.softmax(teacher / 2.0, 1)
    assert torch.allclose(targets[0], p[0]) and torch.allclose(targets[1], p[0])
    assert torch.allclose(targets[2], 0.3 * p[2] + 0.7 * p[3])
    assert torch.allclose(targets.sum(1), torch.ones(6))
    # an unmixed batch (lam = 1, identity) equals no mixup
    identity = MixedBatch(x=torch.zeros(6), perm=torch.arange(6), lam=torch.ones(6))
    a = kd_loss(student, labels, teacher, 0.3, 2.0, identity).total
    b = kd_loss(student, labels, teacher, 0.3, 2.0).total
    assert torch.allclose(a, b)


def test_a_teacher_that_saw_the_mixed_batch_is_the_target_as_it_is(batch):
    student, teacher, labels = batch
    mix = MixedBatch(x=torch.zeros(6), perm=torch.tensor([1, 0, 3, 2, 5, 4]), lam=torch.full((6,), 0.3))
    online = kd_loss(student, labels, teacher, 0.3, 2.0, mix, teacher_saw_mix=True)
    expected = 0.3 * cross_entropy(student, labels, mix) + 0.7 * distillation(student, teacher_targets(teacher, 2.0), 2.0)
    assert torch.allclose(online.total, expected)
    assert not torch.allclose(online.total, kd_loss(student, labels, teacher, 0.3, 2.0, mix).total)
