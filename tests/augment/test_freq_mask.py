import pytest
import torch

from asc.augment.freq_mask import freq_mask


def _masked_bins(x, y):
    return (x != y).any(dim=-1)[:, 0]  # [B, F]


def test_masks_whole_bands_with_the_fill_value_and_bounded_width():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 1, 40, 10) + 1.0  # no bin equals the minimum fill by chance
    y = freq_mask(x, 2, 6, g, fill="min")
    masked = _masked_bins(x, y)
    assert (masked.sum(dim=1) <= 12).all()
    assert masked.any()
    mins = x.amin(dim=(1, 2, 3))
    for i in range(64):
        rows = y[i, 0][masked[i]]
        assert torch.all(rows == mins[i])  # whole band, every frame, the clip's minimum
    assert len({tuple(m.tolist()) for m in masked}) > 10  # independent masks per clip


def test_single_mask_is_contiguous():
    x = torch.rand(32, 1, 40, 5) + 1
    masked = _masked_bins(x, freq_mask(x, 1, 10, torch.Generator().manual_seed(1)))
    for m in masked:
        idx = m.nonzero().flatten()
        if len(idx):
            assert idx[-1] - idx[0] + 1 == len(idx) <= 10


@pytest.mark.parametrize("fill", ["mean", "zero"])
def test_other_fills(fill):
    x = torch.rand(16, 1, 20, 5) + 1
    y = freq_mask(x, 1, 20, torch.Generator().manual_seed(2), fill=fill)
    masked = _masked_bins(x, y)
    assert masked.any()
    for i in range(16):
        want = x[i].mean() if fill == "mean" else torch.tensor(0.0)
        torch.testing.assert_close(y[i, 0][masked[i]], want.expand_as(y[i, 0][masked[i]]))


def test_identity_cases_and_determinism():
    x = torch.randn(8, 1, 20, 5)
    assert torch.equal(freq_mask(x, 0, 10, torch.Generator()), x)
    assert torch.equal(freq_mask(x, 3, 0, torch.Generator()), x)
    assert torch.equal(freq_mask(x, 3, 10, torch.Generator(), p=0.0), x)
    a = freq_mask(x, 2, 10, torch.Generator().manual_seed(5))
    assert torch.equal(a, freq_mask(x, 2, 10, torch.Generator().manual_seed(5)))
    # a width larger than the spectrum is clipped to it
    assert freq_mask(x, 1, 500, torch.Generator().manual_seed(5)).shape == x.shape
