"""Warm-up then cosine, stepped per batch, and exact after a state-dict round trip."""
from __future__ import annotations

import math

import pytest
import torch

from asc.train.schedule import build_scheduler, lr_factor


def test_warmup_is_linear_then_cosine_reaches_min():
    f = [lr_factor(s, warmup_steps=4, total_steps=20, min_ratio=0.1) for s in range(20)]
    assert f[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert f[4] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[4:], f[5:]))               # decreasing after the warm-up
    assert lr_factor(20, 4, 20, min_ratio=0.1) == pytest.approx(0.1)
    mid = 4 + 8
    assert lr_factor(mid, 4, 20) == pytest.approx(0.5)


def test_constant_and_no_warmup():
    assert lr_factor(0, 0, 10, "constant") == 1.0
    assert lr_factor(9, 0, 10, "constant") == 1.0
    assert lr_factor(0, 0, 10) == 1.0
    with pytest.raises(ValueError):
        lr_factor(5, 0, 10, "step")


def test_scheduler_resumes_on_the_same_curve():
    def make():
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.AdamW([p], lr=0.1)
        return opt, build_scheduler(opt, steps_per_epoch=5, epochs=4, warmup_epochs=1)

    opt, sched = make()
    lrs = []
    for _ in range(20):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    opt2, sched2 = make()
    for _ in range(7):
        opt2.step()
        sched2.step()
    opt3, sched3 = make()
    opt3.load_state_dict(opt2.state_dict())
    sched3.load_state_dict(sched2.state_dict())
    resumed = []
    for _ in range(13):
        resumed.append(opt3.param_groups[0]["lr"])
        opt3.step()
        sched3.step()
    assert resumed == lrs[7:]
    assert lrs[0] == pytest.approx(0.02) and max(lrs) == pytest.approx(0.1)
    assert lrs[-1] == pytest.approx(0.1 * 0.5 * (1 + math.cos(math.pi * 14 / 15)))
