"""Augmentations in the feature domain: they act on log-mel batches [B, 1, n_mels, n_frames].

Each augmentation is a pure function in its own module; every random draw goes through the
`torch.Generator` the caller passes, so a run is deterministic and resumes where it stopped when
the generator's state is saved with the checkpoint. `pipeline.Augmenter` applies the label-free
ones in a fixed order from an `AugmentConfig`; mixup changes the targets too, so the trainer calls
`mixup.mixup` itself.
"""
from asc.augment.device_ir import apply_device_ir, ir_log_mel_gain, load_dir_gains
from asc.augment.freq_mask import freq_mask
from asc.augment.freq_mixstyle import freq_mixstyle, mix_band_stats
from asc.augment.mixup import MixedBatch, mix_losses, mix_targets, mixup
from asc.augment.pipeline import (AugmentConfig, Augmenter, DeviceIRConfig, FreqMaskConfig,
                                  FreqMixStyleConfig, MixupConfig, RollConfig)
from asc.augment.roll import roll_time

__all__ = [
    "AugmentConfig", "Augmenter", "DeviceIRConfig", "FreqMaskConfig", "FreqMixStyleConfig",
    "MixedBatch", "MixupConfig", "RollConfig", "apply_device_ir", "freq_mask", "freq_mixstyle",
    "ir_log_mel_gain", "load_dir_gains", "mix_band_stats", "mix_losses", "mix_targets", "mixup",
    "roll_time",
]
