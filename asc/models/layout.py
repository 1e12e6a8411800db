"""Widths and block layout shared by the mobile families (baseline, CP-Mobile, Rep-Mobile).

Widths are rounded to multiples of 8, as in MobileNet and the CP-JKU models, so that a network
defined by a base width and a multiplier has the same layer sizes as the published one.
"""
from __future__ import annotations

from asc.errors import ConfigError


def make_divisible(value: float, divisor: int = 8, min_value: int | None = None) -> int:
    """`value` rounded to the nearest multiple of `divisor`, never more than 10 % below it."""
    if min_value is None:
        min_value = divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def stage_widths(base_channels: int, multiplier: float, n_stages: int) -> list[int]:
    """Output channels of each stage: base · multiplier^stage, rounded (the CP-Mobile rule)."""
    base = make_divisible(base_channels)
    return [make_divisible(base * multiplier ** stage) for stage in range(n_stages)]


def check_layout(n_blocks: list[int], strides: list[list[int]], where: str) -> None:
    """Refuse a stage without blocks and strides that are not one [frequency, time] pair per block."""
    if not n_blocks or min(n_blocks) < 1:
        raise ConfigError(f"{where}: n_blocks {n_blocks}: every stage needs at least one block")
    if len(strides) != sum(n_blocks):
        raise ConfigError(f"{where}: strides has {len(strides)} entries; expected one per block "
                          f"({sum(n_blocks)})")
    for stride in strides:
        if len(stride) != 2 or min(stride) < 1:
            raise ConfigError(f"{where}: stride {stride} must be [frequency, time] with entries >= 1")
