"""The progressive schedule: the complexity budget of each of K steps, reaching the target at the last.

The paper's idea is to approach the target in small steps, fine-tuning in between, instead of one
large cut. Each step removes the same fraction of what is left (a geometric path), for the
parameter memory and for the MACs separately:

    budget_k = target · (start / target) ^ (1 − k/K)        k = 1 … K

so step K's budget is the target itself and every step is a comparable cut. A figure that already
meets the target stays at the target (no step has to cut it). One-shot pruning is K = 1.
"""
from __future__ import annotations

import math

from asc.complexity import Complexity, param_bytes
from asc.prune.plan import Target


def step_targets(start: Complexity, target: Target, steps: int) -> list[Target]:
    """The budgets of steps 1..`steps` from the deployment form's `start` complexity to `target`."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, found {steps}")
    start_bytes = param_bytes(start.params, target.precision)
    return [Target(_on_path(start_bytes, target.param_bytes, k, steps), _on_path(start.macs, target.macs, k, steps),
                   target.precision)
            for k in range(1, steps + 1)]


def step_epochs(steps: int, epochs_per_step: int, one_shot: bool) -> tuple[int, int]:
    """(steps, fine-tuning epochs per step): one-shot is one step with the same total epochs."""
    return (1, steps * epochs_per_step) if one_shot else (steps, epochs_per_step)


def _on_path(start: int, goal: int, k: int, steps: int) -> int:
    if k == steps or start <= goal:
        return goal
    return int(math.floor(goal * (start / goal) ** (1.0 - k / steps)))
