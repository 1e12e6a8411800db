"""The progressive budgets and the one-shot epochs; a target out of reach is refused clearly."""
from __future__ import annotations

import pytest

from asc.complexity import Complexity
from asc.models import build_model
from asc.prune.plan import PruneTargetError, Target, plan_step
from asc.prune.schedule import step_epochs, step_targets
from tiny_prune import INPUT_SHAPE, TINY


def test_budgets_shrink_geometrically_to_the_target_at_the_last_step():
    start, target = Complexity(params=84_274, macs=42_643_008), Target(128_000, 30_000_000)
    budgets = step_targets(start, target, 4)
    assert budgets[-1] == target
    bytes_, macs = [b.param_bytes for b in budgets], [b.macs for b in budgets]
    assert bytes_ == sorted(bytes_, reverse=True) and macs == sorted(macs, reverse=True)
    assert bytes_[0] < 2 * start.params and macs[0] < start.macs
    ratios = [b / a for a, b in zip([2 * start.params] + bytes_, bytes_)]
    assert max(ratios) - min(ratios) < 1e-3          # the same fraction each step
    assert step_targets(start, target, 1) == [target]


def test_a_figure_already_within_the_target_stays_at_it():
    budgets = step_targets(Complexity(params=10_000, macs=50_000_000), Target(128_000, 30_000_000), 3)
    assert [b.param_bytes for b in budgets] == [128_000] * 3


def test_one_shot_is_one_step_with_the_same_total_epochs():
    assert step_epochs(5, 2, one_shot=False) == (5, 2)
    assert step_epochs(5, 2, one_shot=True) == (1, 10)


def test_unreachable_target_names_the_smallest_network():
    model = build_model("rep_mobile", **TINY)
    with pytest.raises(PruneTargetError, match="cannot reach 100 B .* smallest network has"):
        plan_step(model, Target(100, 1000), "l2", scopes=["expansion"], min_channels=4, input_shape=INPUT_SHAPE)
