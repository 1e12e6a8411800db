"""Which channels one pruning step removes: the globally least important ones, until a target is met.

Every channel of the prunable groups in scope gets its importance (asc.prune.importance; mean 1 in
each group, so groups compare); channels are taken in order of rising importance, each one's
removal is booked in the cost model (asc.prune.cost), and the step stops at the first channel after
which both the parameter memory and the MACs of the deployment form are within the target. A group
never falls below `min_channels`. Importance is computed once per step, on the network the step
starts from (fine-tuning between steps lets the network adapt before the next choice).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn as nn

from asc.complexity import DEFAULT_INPUT_SHAPE, Complexity, param_bytes
from asc.errors import AscError
from asc.prune.cost import CostModel
from asc.prune.importance import group_scores
from asc.prune.structured import KINDS, ChannelGroup, channel_groups, prune_channels


class PruneTargetError(AscError):
    """The target cannot be reached with the groups in scope and their minimum widths."""


@dataclass(frozen=True)
class Target:
    """A complexity budget of the deployment form: parameter memory at `precision` and MACs per clip."""
    param_bytes: int
    macs: int
    precision: str = "float16"

    def met_by(self, complexity: Complexity) -> bool:
        """Whether `complexity` is within this budget."""
        return (param_bytes(complexity.params, self.precision) <= self.param_bytes
                and complexity.macs <= self.macs)

    def describe(self) -> str:
        """The budget in words, for logs and errors."""
        return f"{self.param_bytes:,} B of parameters at {self.precision} and {self.macs:,} MACs"


@dataclass
class Plan:
    """The outcome of planning one step."""
    keep: dict[str, torch.Tensor]               # group name -> kept channel indices (sorted)
    removed: dict[str, int]                     # group name -> channels removed
    expected: Complexity                        # deployment form after the step (cost model)
    groups: list[ChannelGroup] = field(repr=False, default_factory=list)


def plan_step(model: nn.Module, target: Target, criterion: str = "l2",
              scopes: Sequence[str] = ("expansion", "residual"), min_channels: int = 4,
              input_shape: Sequence[int] = DEFAULT_INPUT_SHAPE) -> Plan:
    """The channels to remove from `model` (Rep-Mobile) so that its deployment form meets `target`."""
    unknown = sorted(set(scopes) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown pruning scope(s) {unknown}; known: {', '.join(KINDS)}")
    groups = channel_groups(model)
    cost = CostModel(model, groups, input_shape)
    removed: dict[str, list[int]] = {g.name: [] for g in groups}
    candidates = _ranked_channels([g for g in groups if g.kind in scopes and g.prunable], criterion)
    widths = {g.name: g.width for g in groups}
    for _, name, channel in candidates:
        if target.met_by(cost.complexity()):
            break
        if widths[name] - len(removed[name]) <= min_channels:
            continue
        cost.remove_channel(name)
        removed[name].append(channel)
    expected = cost.complexity()
    if not target.met_by(expected):
        raise PruneTargetError(
            f"cannot reach {target.describe()}: with scopes {list(scopes)} and at least {min_channels} "
            f"channels per group the smallest network has {expected.params:,} params "
            f"({param_bytes(expected.params, target.precision):,} B) and {expected.macs:,} MACs; "
            f"add scopes or lower min_channels")
    keep = {name: torch.tensor(sorted(set(range(widths[name])) - set(gone)), dtype=torch.long)
            for name, gone in removed.items() if gone}
    return Plan(keep, {name: len(gone) for name, gone in removed.items() if gone}, expected, groups)


def apply_plan(plan: Plan) -> None:
    """Remove the planned channels from the model the plan was made for."""
    prune_channels(plan.groups, plan.keep)


def _ranked_channels(groups: Sequence[ChannelGroup], criterion: str) -> list[tuple[float, str, int]]:
    """(importance, group, channel) of every channel, least important first (ties: network order)."""
    ranked = []
    for order, group in enumerate(groups):
        scores = group_scores(group, criterion)
        ranked += [(float(s), order, group.name, c) for c, s in enumerate(scores.tolist())]
    ranked.sort(key=lambda r: (r[0], r[1], r[3]))
    return [(score, name, channel) for score, _, name, channel in ranked]
