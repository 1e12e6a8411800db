"""Structured pruning of Rep-Mobile: which channels are tied together, and removing them for real.

A *channel group* is a set of channel positions that must be removed together, each a side ("out" or
"in") of a re-parameterizable site (asc.models.reparam.RepConv2d). Removing channel i of a group
removes output i (or input i) of every member site, in every branch and every BatchNorm of it, so
the tensors really shrink and params and MACs as DCASE counts them (torchinfo) fall. Rep-Mobile has
three kinds:

    expansion  inside block b: exp site's outputs, the depthwise site's channels (input, output,
               groups and its identity BatchNorm together) and the proj site's inputs;
    residual   the channels a stage's path carries: the output of its producer (the last stem site,
               or the proj site of a block without shortcut), the proj outputs of every block that
               adds into it through a shortcut, and the inputs of every site that reads it (the exp
               sites of those blocks and of the next block, or the classifier head);
    stem       between two stem sites.

The classifier's outputs (the classes) and the network input are never pruned. A group is not
prunable where the dependencies forbid it: a pointwise site with an identity branch (expansion rate
1 with `pw_branches: [1x1, identity]`) ties its input channels to its output channels, i.e. two
groups to each other; such groups are listed with the reason and left alone.

Library or own logic? Own dependency logic, with torch-pruning (1.6.1) as the test oracle
(tests/prune/test_structured.py builds torch-pruning's DependencyGraph on the same networks and checks
that its groups are exactly these). Why not torch-pruning's pruners directly, although its graph does
handle the multi-branch sites correctly:
  - the dependencies of Rep-Mobile are few and fixed by its structure (above), and the model already
    has the operations that shrink every branch and BatchNorm of a site consistently
    (`RepConv2d.keep_out_channels` / `keep_in_channels`); tracing a graph adds nothing but a forward
    pass and a dependency on the library's internals at every step;
  - importance has to be scored per *site* (each branch's BatchNorm folded into its kernel, summed over
    the branches; asc.prune.importance), whereas torch-pruning scores every branch convolution and
    BatchNorm as a layer of its own, on raw weights whose scale the BatchNorm undoes;
  - the schedule prunes to a complexity target (parameter bytes and MACs of the deployment form), not
    to a per-layer ratio, which is what torch-pruning's pruners take; choosing channels against a
    target needs the cost of each group's channels (asc.prune.cost), known here from the structure.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn as nn

from asc.models.reparam import RepConv2d

KINDS = ("expansion", "residual", "stem")
Side = Literal["out", "in"]


@dataclass(frozen=True)
class Member:
    """One side of one site that a channel group runs through."""
    name: str           # module path in the model, e.g. "stages.s1.b2.exp"
    site: RepConv2d = field(compare=False, repr=False)
    side: Side          # "out": output channels (a depthwise site's input too); "in": input channels

    @property
    def width(self) -> int:
        """Channels of this side now."""
        return self.site.out_channels if self.side == "out" else self.site.in_channels


@dataclass
class ChannelGroup:
    """Channels removed together (see the module docstring); `reason` says why a group is fixed."""
    name: str
    kind: str
    members: list[Member]
    reason: str = ""

    @property
    def prunable(self) -> bool:
        """Whether the dependencies allow removing channels of this group."""
        return not self.reason

    @property
    def width(self) -> int:
        """Current channel count of the group."""
        return self.members[0].width

    def keep(self, index: torch.Tensor) -> None:
        """Keep only channels `index` (sorted) in every member site, every branch and BatchNorm."""
        if not self.prunable:
            raise ValueError(f"channel group {self.name} cannot be pruned: {self.reason}")
        index = torch.as_tensor(index, dtype=torch.long)
        for member in self.members:
            if member.side == "out":
                member.site.keep_out_channels(index)
            else:
                member.site.keep_in_channels(index)


def channel_groups(model: nn.Module) -> list[ChannelGroup]:
    """Every channel group of a Rep-Mobile network (training or deployment form): stem, residual, expansion."""
    _check_rep_mobile(model)
    names = {module: name for name, module in model.named_modules()}

    def member(site: RepConv2d, side: Side) -> Member:
        return Member(names[site], site, side)

    groups: list[ChannelGroup] = []
    stem = [m for m in model.stem if isinstance(m, RepConv2d)]
    for i in range(len(stem) - 1):
        groups.append(ChannelGroup(f"stem{i + 1}", "stem", [member(stem[i], "out"), member(stem[i + 1], "in")]))
    path = [member(stem[-1], "out")] if stem else []   # no stem: the blocks read the network input
    n_paths = 0
    blocks: list[ChannelGroup] = []
    for number, block in enumerate(model.blocks(), start=1):
        path.append(member(block.exp, "in"))
        blocks.append(ChannelGroup(f"b{number}", "expansion", [
            member(block.exp, "out"), member(block.dw, "out"), member(block.proj, "in")]))
        if block.has_shortcut:
            path.append(member(block.proj, "out"))
        else:
            n_paths += 1
            groups.append(_path_group(path, n_paths))
            path = [member(block.proj, "out")]
    path.append(member(model.head, "in"))
    groups.append(_path_group(path, n_paths + 1))
    groups = [g for g in groups if g.members] + blocks
    for group in groups:
        group.reason = group.reason or _blocking_reason(group)
    return groups


def prune_channels(groups: list[ChannelGroup], keep: dict[str, torch.Tensor]) -> None:
    """Apply `keep` (group name -> kept channel indices) to the groups it names."""
    by_name = {g.name: g for g in groups}
    unknown = sorted(set(keep) - set(by_name))
    if unknown:
        raise ValueError(f"unknown channel group(s) {unknown}; known: {sorted(by_name)}")
    for name, index in keep.items():
        if len(index) < by_name[name].width:
            by_name[name].keep(torch.sort(torch.as_tensor(index, dtype=torch.long)).values)


def group_widths(groups: list[ChannelGroup]) -> dict[str, int]:
    """Current width of every group (what a step's complexity.json records)."""
    return {g.name: g.width for g in groups}


def _path_group(path: list[Member], number: int) -> ChannelGroup:
    if path and path[0].side == "in":
        return ChannelGroup(f"residual{number}", "residual", path, reason="it carries the network input")
    return ChannelGroup(f"residual{number}", "residual", path)


def _blocking_reason(group: ChannelGroup) -> str:
    for m in group.members:
        if "identity" in m.site.branches and not m.site.is_depthwise:
            return (f"{m.name} has an identity branch, which ties its input channels to its output "
                    f"channels (another group)")
    return ""


def _check_rep_mobile(model: nn.Module) -> None:
    from asc.models.rep_mobile import RepMobile

    if not isinstance(model, RepMobile):
        raise TypeError(f"structured pruning knows the channel dependencies of Rep-Mobile only, "
                        f"not of {type(model).__name__}")
