import pytest
import torch

from asc.augment.roll import roll_time


def _find_shift(row, orig, max_shift):
    hits = [s for s in range(-max_shift, max_shift + 1) if torch.equal(row, torch.roll(orig, s, dims=-1))]
    assert len(hits) == 1
    return hits[0]


def test_wrap_rolls_each_clip_by_its_own_shift_within_range():
    x = torch.randn(32, 1, 4, 20)
    y = roll_time(x, 3, torch.Generator().manual_seed(0))
    shifts = [_find_shift(y[i], x[i], 3) for i in range(32)]
    assert len(set(shifts)) > 3  # clips get different shifts
    assert set(shifts) <= set(range(-3, 4))


def test_without_wrap_the_edge_frame_fills_the_gap():
    x = torch.arange(10.0).view(1, 1, 1, 10).repeat(16, 1, 2, 1)
    y = roll_time(x, 4, torch.Generator().manual_seed(1), wrap=False)
    for row in y[:, 0, 0]:
        candidates = [torch.clamp(torch.arange(10) - s, 0, 9).float() for s in range(-4, 5)]
        assert any(torch.equal(row, c) for c in candidates)
    assert any(not torch.equal(row, x[0, 0, 0]) for row in y[:, 0, 0])


def test_zero_shift_or_p0_is_identity():
    x = torch.randn(8, 1, 4, 20)
    assert torch.equal(roll_time(x, 0, torch.Generator()), x)
    assert torch.equal(roll_time(x, 5, torch.Generator(), p=0.0), x)
    with pytest.raises(ValueError):
        roll_time(x, -1, torch.Generator())


def test_deterministic_under_a_fixed_generator():
    x = torch.randn(8, 1, 4, 20)
    a = roll_time(x, 5, torch.Generator().manual_seed(3))
    assert torch.equal(a, roll_time(x, 5, torch.Generator().manual_seed(3)))
    assert not torch.equal(a, roll_time(x, 5, torch.Generator().manual_seed(4)))
