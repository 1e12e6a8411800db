"""The augmentation config and the `Augmenter` that applies the label-free augmentations.

Order, fixed: device IR (a property of the recording, so first), Freq-MixStyle (re-styles the
band statistics the IR has set), time rolling, frequency masking (last, so masked bands stay
masked). Mixup is configured here but applied by the trainer (`asc.augment.mixup`), because it
mixes the targets too. Defaults follow the CP-JKU DCASE2024 baseline / KD recipe for the student
features (256 mels, 64 frames per second).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

from asc.augment.device_ir import apply_device_ir
from asc.augment.freq_mask import Fill, freq_mask
from asc.augment.freq_mixstyle import freq_mixstyle
from asc.augment.roll import roll_time
from asc.errors import ConfigError


def _check_probability(name: str, p: float) -> None:
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"augment.{name}.p: expected a probability in [0, 1], found {p}")


def _check_positive(name: str, key: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"augment.{name}.{key}: expected a value > 0, found {value}")


def _check_non_negative(name: str, key: str, value: int) -> None:
    if value < 0:
        raise ConfigError(f"augment.{name}.{key}: expected a value >= 0, found {value}")


@dataclass
class FreqMixStyleConfig:
    """Freq-MixStyle: probability per batch and Beta(alpha, alpha) of the mixing weights."""

    enabled: bool = True
    p: float = 0.4
    alpha: float = 0.3
    eps: float = 1e-6

    def __post_init__(self):
        _check_probability("freq_mixstyle", self.p)
        _check_positive("freq_mixstyle", "alpha", self.alpha)


@dataclass
class DeviceIRConfig:
    """Device IR augmentation: probability per clip, the IR folder, which devices' clips get it.

    `only_devices: []` augments clips of every device. `remove_level` subtracts each gain curve's
    mean over the mel bands, so an IR changes the spectral shape but not the loudness (the level of
    a recorded IR file is arbitrary).
    """

    enabled: bool = False
    p: float = 0.6
    folder: str | None = None
    only_devices: list[str] = field(default_factory=lambda: ["a"])
    remove_level: bool = True

    def __post_init__(self):
        _check_probability("device_ir", self.p)


@dataclass
class RollConfig:
    """Time rolling: up to max_shift frames either way (6 frames ≈ 0.1 s at hop 500, 32 kHz)."""

    enabled: bool = True
    p: float = 1.0
    max_shift: int = 6
    wrap: bool = True

    def __post_init__(self):
        _check_probability("roll", self.p)
        _check_non_negative("roll", "max_shift", self.max_shift)


@dataclass
class FreqMaskConfig:
    """Frequency masking: n_masks bands of up to max_width mel bins per clip (baseline: 1 × 48)."""

    enabled: bool = True
    p: float = 1.0
    n_masks: int = 1
    max_width: int = 48
    fill: Fill = "min"

    def __post_init__(self):
        _check_probability("freq_mask", self.p)
        _check_non_negative("freq_mask", "n_masks", self.n_masks)
        _check_non_negative("freq_mask", "max_width", self.max_width)


@dataclass
class MixupConfig:
    """Mixup, applied by the trainer: probability per batch, Beta(alpha, alpha), weight per clip or batch."""

    enabled: bool = False
    p: float = 1.0
    alpha: float = 0.3
    per_sample: bool = False

    def __post_init__(self):
        _check_probability("mixup", self.p)
        _check_positive("mixup", "alpha", self.alpha)


@dataclass
class AugmentConfig:
    """Every feature-domain augmentation, each switchable with `enabled`."""

    freq_mixstyle: FreqMixStyleConfig = field(default_factory=FreqMixStyleConfig)
    device_ir: DeviceIRConfig = field(default_factory=DeviceIRConfig)
    roll: RollConfig = field(default_factory=RollConfig)
    freq_mask: FreqMaskConfig = field(default_factory=FreqMaskConfig)
    mixup: MixupConfig = field(default_factory=MixupConfig)


class Augmenter:
    """Applies the enabled label-free augmentations of an `AugmentConfig` to log-mel batches."""

    def __init__(self, cfg: AugmentConfig, dir_gains: torch.Tensor | None = None):
        """`dir_gains` [n_irs, n_mels] from `load_dir_gains`; required when device_ir is enabled."""
        self.cfg = cfg
        self.dir_gains = None
        if cfg.device_ir.enabled:
            if dir_gains is None or dir_gains.dim() != 2 or dir_gains.size(0) == 0:
                raise ConfigError("augment.device_ir is enabled but no impulse-response gains were "
                                  "given (set augment.device_ir.folder to a folder of IR wav files)")
            gains = dir_gains.detach().float().cpu()
            if cfg.device_ir.remove_level:
                gains = gains - gains.mean(dim=1, keepdim=True)
            self.dir_gains = gains
        self._gains_on: dict[torch.device, torch.Tensor] = {}

    @property
    def active(self) -> list[str]:
        """Names of the augmentations this augmenter applies, in order (for the log)."""
        c = self.cfg
        flags = [("device_ir", c.device_ir.enabled), ("freq_mixstyle", c.freq_mixstyle.enabled),
                 ("roll", c.roll.enabled), ("freq_mask", c.freq_mask.enabled)]
        return [name for name, on in flags if on]

    def __call__(self, x: torch.Tensor, devices: Sequence[str] | None,
                 generator: torch.Generator) -> torch.Tensor:
        """Augment x [B, 1, n_mels, T]; `devices` names each clip's device (needed for only_devices)."""
        if x.dim() != 4:
            raise ValueError(f"expected a batch [B, 1, n_mels, T], found shape {tuple(x.shape)}")
        c = self.cfg
        if c.device_ir.enabled:
            x = apply_device_ir(x, self._gains(x.device), c.device_ir.p, generator,
                                self.eligible(devices, x.size(0), x.device))
        if c.freq_mixstyle.enabled:
            x = freq_mixstyle(x, c.freq_mixstyle.p, c.freq_mixstyle.alpha, generator, c.freq_mixstyle.eps)
        if c.roll.enabled:
            x = roll_time(x, c.roll.max_shift, generator, wrap=c.roll.wrap, p=c.roll.p)
        if c.freq_mask.enabled:
            x = freq_mask(x, c.freq_mask.n_masks, c.freq_mask.max_width, generator,
                          fill=c.freq_mask.fill, p=c.freq_mask.p)
        return x

    def _gains(self, device: torch.device) -> torch.Tensor:
        if device not in self._gains_on:
            self._gains_on[device] = self.dir_gains.to(device)
        return self._gains_on[device]

    def eligible(self, devices: Sequence[str] | None, batch: int,
                 device: torch.device) -> torch.Tensor | None:
        """Which clips [B] (bool) may get a device IR (None: all), from the clips' device names."""
        only = self.cfg.device_ir.only_devices
        if not only:
            return None
        if devices is None:
            raise ValueError(f"augment.device_ir.only_devices={only} needs the device of every clip, "
                             "but the batch came without devices")
        if len(devices) != batch:
            raise ValueError(f"{len(devices)} device names for a batch of {batch} clips")
        allowed = set(only)
        return torch.tensor([d in allowed for d in devices], dtype=torch.bool, device=device)
