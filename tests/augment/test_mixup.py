import torch
import torch.nn.functional as F

from asc.augment.mixup import mix_losses, mix_targets, mixup


def test_mixed_inputs_follow_perm_and_lambda():
    x = torch.randn(16, 1, 8, 5)
    m = mixup(x, 0.3, torch.Generator().manual_seed(0))
    assert sorted(m.perm.tolist()) == list(range(16))
    assert m.lam.shape == (16,) and torch.all(m.lam == m.lam[0])  # one weight per batch
    w = m.lam.view(-1, 1, 1, 1)
    torch.testing.assert_close(m.x, w * x + (1 - w) * x[m.perm])


def test_per_sample_weights_differ_and_stay_in_unit_interval():
    m = mixup(torch.randn(32, 3), 0.3, torch.Generator().manual_seed(1), per_sample=True)
    assert len(set(m.lam.tolist())) > 20
    assert torch.all((m.lam >= 0) & (m.lam <= 1))


def test_p0_leaves_the_batch_alone():
    x = torch.randn(8, 1, 4, 4)
    m = mixup(x, 0.3, torch.Generator(), p=0.0)
    assert torch.equal(m.x, x) and torch.equal(m.perm, torch.arange(8)) and torch.all(m.lam == 1)


def test_mixed_one_hot_targets_and_mixed_ce_losses_agree():
    g = torch.Generator().manual_seed(2)
    labels = torch.randint(0, 10, (12,), generator=g)
    logits = torch.randn(12, 10, generator=g)
    m = mixup(torch.randn(12, 1, 4, 4), 0.3, g, per_sample=True)
    targets = mix_targets(F.one_hot(labels, 10), m.perm, m.lam)
    torch.testing.assert_close(targets.sum(dim=1), torch.ones(12))
    soft_ce = -(targets * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    mixed_ce = mix_losses(F.cross_entropy(logits, labels, reduction="none"),
                          F.cross_entropy(logits, labels[m.perm], reduction="none"), m.lam)
    torch.testing.assert_close(soft_ce, mixed_ce)


def test_teacher_soft_targets_mix_as_probabilities_for_kd():
    g = torch.Generator().manual_seed(3)
    teacher, student = torch.randn(12, 10, generator=g), torch.randn(12, 10, generator=g)
    T = 2.0
    m = mixup(torch.randn(12, 4), 0.3, g, per_sample=True)
    p = F.softmax(teacher / T, dim=1)
    mixed = mix_targets(p, m.perm, m.lam)
    torch.testing.assert_close(mixed, m.lam[:, None] * p + (1 - m.lam[:, None]) * p[m.perm])
    # the student's gradient from KL(mixed teacher || student) equals that of the mixed KL terms
    s1 = student.clone().requires_grad_(True)
    F.kl_div(F.log_softmax(s1 / T, dim=1), mixed, reduction="batchmean").backward()
    s2 = student.clone().requires_grad_(True)
    lq2 = F.log_softmax(s2 / T, dim=1)
    mix_losses(F.kl_div(lq2, p, reduction="none").sum(1),
               F.kl_div(lq2, p[m.perm], reduction="none").sum(1), m.lam).backward()
    torch.testing.assert_close(s1.grad, s2.grad)


def test_deterministic_under_a_fixed_generator():
    x = torch.randn(8, 3)
    a = mixup(x, 0.3, torch.Generator().manual_seed(4))
    b = mixup(x, 0.3, torch.Generator().manual_seed(4))
    assert torch.equal(a.x, b.x) and torch.equal(a.perm, b.perm) and torch.equal(a.lam, b.lam)
