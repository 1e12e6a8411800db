"""The KD options that change what the student matches: logit standardization and a teacher temperature.

Each has a default that gives the loss as it was, bit for bit; each changes the loss when it is on."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from asc.augment.mixup import MixedBatch
from asc.train.config import TrainConfig, KDConfig
from asc.train.losses import distillation, kd_loss, standardize, teacher_targets
from asc.train.trainer import _loss


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(1)
    student = torch.randn(8, 10, generator=g) * 2
    teacher = torch.randn(8, 10, generator=g) * 0.6      # near-uniform, like the embedded teachers
    labels = torch.randint(0, 10, (8,), generator=g)
    return student, teacher, labels


def reference_loss(student, labels, teacher, lam, T):
    """The loss as written before these options (asc.train.losses at main 2f3d6b5), for the bit test."""
    ce = F.cross_entropy(student.float(), labels)
    p = F.softmax(teacher.float() / T, dim=-1)
    log_q = F.log_softmax(student.float() / T, dim=-1)
    kl = (torch.special.xlogy(p, p) - p * log_q).sum(dim=-1)
    return lam * ce + (1.0 - lam) * T ** 2 * kl.mean()


def test_defaults_give_the_loss_as_it_was_bit_for_bit(batch):
    student, teacher, labels = batch
    for lam, T in ((0.02, 2.0), (0.5, 1.0), (0.02, 3.5)):
        expected = reference_loss(student, labels, teacher, lam, T)
        assert torch.equal(kd_loss(student, labels, teacher, lam, T).total, expected)
        assert torch.equal(kd_loss(student, labels, teacher, lam, T, teacher_temperature=None,
                                   standardized=False).total, expected)
        # a teacher temperature equal to the shared one is the shared one
        assert torch.equal(kd_loss(student, labels, teacher, lam, T, teacher_temperature=T).total, expected)
    kd = KDConfig()
    assert kd.teacher_temperature is None and kd.logit_standardization is False


def test_standardize_gives_zero_mean_unit_std_rows_and_keeps_a_constant_row_finite():
    z = torch.tensor([[1.0, 2.0, 3.0, 6.0], [5.0, 5.0, 5.0, 5.0]])
    s = standardize(z)
    assert torch.allclose(s[0].mean(), torch.tensor(0.0), atol=1e-6)
    assert torch.allclose(s[0].pow(2).mean(), torch.tensor(1.0), atol=1e-5)   # population std, as the paper
    assert torch.equal(s[1], torch.zeros(4))


def test_standardized_loss_ignores_the_teachers_logit_scale_and_shift(batch):
    student, teacher, labels = batch
    base = kd_loss(student, labels, teacher, 0.02, 2.0, standardized=True)
    scale = torch.tensor([0.1, 0.5, 1.0, 2.0, 3.0, 7.0, 10.0, 30.0]).unsqueeze(1)   # per clip
    shift = torch.linspace(-5, 5, 8).unsqueeze(1)
    moved = kd_loss(student, labels, teacher * scale + shift, 0.02, 2.0, standardized=True)
    assert torch.allclose(moved.total, base.total, atol=1e-5)
    # without standardization the same change of scale changes the loss a lot
    plain = kd_loss(student, labels, teacher, 0.02, 2.0).total
    assert abs(kd_loss(student, labels, teacher * scale + shift, 0.02, 2.0).total - plain) > 0.5


def test_standardized_kd_lets_the_student_be_more_confident_than_the_teacher(batch):
    # the why: an under-confident teacher no longer holds the student's logits small. A student whose
    # logits are 5x the teacher's (same ranking and gaps, sharper) matches it exactly once standardized
    _, teacher, _ = batch
    student = (5 * teacher + 1).requires_grad_(True)
    loss = distillation(student, teacher_targets(teacher, 2.0, standardized=True), 2.0, standardized=True)
    loss.backward()
    assert loss.item() < 1e-5 and student.grad.abs().max().item() < 1e-5
    plain = distillation(5 * teacher, teacher_targets(teacher, 2.0), 2.0)
    assert plain.item() > 0.1


def test_standardized_gradient_flows_through_the_row_statistics(batch):
    # the student's gradient is that of KL(p ‖ softmax(standardize(z)/T)), with mean and std differentiated
    student, teacher, _ = batch
    z = student.clone().requires_grad_(True)
    distillation(z, teacher_targets(teacher, 2.0, standardized=True), 2.0, standardized=True).backward()
    def z_score(x):   # written out here in float64, independently of asc.train.losses.standardize
        centred = x - x.mean(-1, keepdim=True)
        return centred / centred.pow(2).mean(-1, keepdim=True).sqrt()

    numeric = torch.zeros(10, dtype=torch.float64)
    z0, t0 = student.double(), teacher.double()
    p = F.softmax(z_score(t0) / 2.0, -1)
    for k in range(10):
        step = torch.zeros_like(z0)
        step[0, k] = 1e-6
        f = [4 * (torch.special.xlogy(p, p) - p * F.log_softmax(z_score(z0 + s) / 2.0, -1)).sum(-1).mean()
             for s in (step, -step)]
        numeric[k] = (f[0] - f[1]) / 2e-6
    assert torch.allclose(z.grad[0], numeric.float(), atol=1e-4)
    assert abs(z.grad[0].sum().item()) < 1e-5   # a shift of the student's logits changes nothing


def test_teacher_temperature_sharpens_the_targets_only(batch):
    student, teacher, labels = batch
    T = 2.0
    for t_teacher in (0.5, 0.8, 4.0):
        z = student.clone().requires_grad_(True)
        parts = kd_loss(z, labels, teacher, 0.0, T, teacher_temperature=t_teacher)
        parts.total.backward()
        # d/dz T²·KL(softmax(t/T_t) ‖ softmax(z/T)) = T·(softmax(z/T) − softmax(t/T_t)) / B
        expected = T * (F.softmax(student / T, 1) - F.softmax(teacher / t_teacher, 1)) / student.shape[0]
        assert torch.allclose(z.grad, expected, atol=1e-6)
    entropy = [-(p * p.log()).sum(1).mean().item()
               for p in (teacher_targets(teacher, t) for t in (0.5, 2.0))]
    assert entropy[0] < entropy[1] - 0.3


def test_mixup_mixes_the_standardized_targets(batch):
    student, teacher, labels = batch
    mix = MixedBatch(x=torch.zeros(8), perm=torch.tensor([1, 0, 3, 2, 5, 4, 7, 6]), lam=torch.full((8,), 0.3))
    targets = teacher_targets(teacher, 2.0, mix, standardized=True)
    p = F.softmax(standardize(teacher) / 2.0, 1)
    assert torch.allclose(targets[0], 0.3 * p[0] + 0.7 * p[1])
    parts = kd_loss(student, labels, teacher, 0.3, 2.0, mix, standardized=True)
    assert torch.allclose(parts.kd, distillation(student, targets, 2.0, standardized=True))


def test_the_trainer_passes_both_options_to_the_loss(batch, monkeypatch):
    student, teacher, labels = batch
    seen = {}

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return kd_loss(*args, **kwargs)

    monkeypatch.setattr("asc.train.trainer.kd_loss", spy)
    cfg = TrainConfig(model="x", channels_last=False,
                      kd=KDConfig(teacher_temperature=0.8, logit_standardization=True, teacher_logits="t.h5"))
    cfg.augment.mixup.enabled = False
    train = SimpleNamespace(device_names=["a"], teacher_logits=teacher)
    data = SimpleNamespace(train=train, online=None)
    batch_ = (torch.zeros(8, 10), labels, torch.zeros(8, dtype=torch.long), torch.arange(8))
    parts, _ = _loss(lambda x: x + student, batch_, data, lambda x, devices, g: x, torch.Generator(), cfg,
                     torch.device("cpu"), False)
    assert seen["teacher_temperature"] == 0.8 and seen["standardized"] is True
    expected = kd_loss(student, labels, teacher, 0.02, 2.0, teacher_temperature=0.8, standardized=True)
    assert torch.allclose(parts.total, expected.total)
