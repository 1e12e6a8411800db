import torch

from asc.augment.freq_mixstyle import freq_mixstyle, mix_band_stats


def _batch(seed=0, b=6, f=16, t=40):
    g = torch.Generator().manual_seed(seed)
    # each clip gets its own band means and spreads, as different devices would give
    means = torch.randn(b, 1, f, 1, generator=g) * 3
    spreads = torch.rand(b, 1, f, 1, generator=g) * 2 + 0.5
    return means + spreads * torch.randn(b, 1, f, t, generator=g)


def _stats(x):
    return x.mean(dim=(1, 3)), x.std(dim=(1, 3))


def test_p0_is_identity_and_p1_preserves_shape_and_dtype():
    x = _batch()
    g = torch.Generator().manual_seed(1)
    assert freq_mixstyle(x, 0.0, 0.3, g) is x
    y = freq_mixstyle(x, 1.0, 0.3, g)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert not torch.allclose(y, x)
    assert freq_mixstyle(x.half(), 1.0, 0.3, g).dtype == torch.float16


def test_lam1_keeps_clip_and_lam0_takes_partner_band_stats():
    x = _batch()
    perm = torch.tensor([3, 0, 5, 1, 2, 4])
    same = mix_band_stats(x, torch.ones(6), perm)
    torch.testing.assert_close(same, x, atol=1e-4, rtol=1e-4)
    swapped = mix_band_stats(x, torch.zeros(6), perm)
    mu, sd = _stats(x)
    mu2, sd2 = _stats(swapped)
    torch.testing.assert_close(mu2, mu[perm], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(sd2, sd[perm], atol=1e-3, rtol=1e-3)


def test_band_stats_are_the_convex_mix():
    x = _batch(b=4)
    lam = torch.tensor([0.2, 0.5, 0.9, 0.0])
    perm = torch.tensor([1, 2, 3, 0])
    y = mix_band_stats(x, lam, perm)
    mu, sd = _stats(x)
    mu_y, sd_y = _stats(y)
    l = lam[:, None]
    torch.testing.assert_close(mu_y, l * mu + (1 - l) * mu[perm], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(sd_y, l * sd + (1 - l) * sd[perm], atol=1e-3, rtol=1e-3)
    # the shape of each band's content over time is kept: it is an affine map per band
    z = (x - mu[:, None, :, None]) / sd[:, None, :, None]
    z_y = (y - mu_y[:, None, :, None]) / sd_y[:, None, :, None]
    torch.testing.assert_close(z_y, z, atol=1e-3, rtol=1e-3)


def test_random_mixing_moves_band_means_between_clips():
    x = _batch(b=8)
    y = freq_mixstyle(x, 1.0, 0.3, torch.Generator().manual_seed(3))
    mu, _ = _stats(x)
    mu_y, _ = _stats(y)
    lo, hi = mu.min(dim=0).values, mu.max(dim=0).values
    assert torch.all(mu_y >= lo - 1e-4) and torch.all(mu_y <= hi + 1e-4)
    assert (mu_y - mu).abs().max() > 0.5


def test_statistics_carry_no_gradient():
    x = _batch().requires_grad_(True)
    y = mix_band_stats(x, torch.full((6,), 0.5), torch.arange(6).flip(0))
    y.sum().backward()
    # with detached statistics, d(sum y)/dx is the per-band scale sig_mix / sig, constant over time
    assert torch.allclose(x.grad, x.grad[..., :1].expand_as(x.grad))


def test_deterministic_under_a_fixed_generator():
    x = _batch()
    a = freq_mixstyle(x, 1.0, 0.3, torch.Generator().manual_seed(7))
    b = freq_mixstyle(x, 1.0, 0.3, torch.Generator().manual_seed(7))
    c = freq_mixstyle(x, 1.0, 0.3, torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_coin_applies_about_p_of_the_batches():
    x = _batch(b=2, f=2, t=4)
    g = torch.Generator().manual_seed(0)
    applied = sum(freq_mixstyle(x, 0.4, 0.3, g) is not x for _ in range(500))
    assert 150 < applied < 250
