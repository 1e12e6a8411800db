"""Teachers in the loop: trained teachers, frozen and in eval mode, run on the student's own augmented
batch, so that the distillation target belongs to the very view the student is trained on.

Why: stored logits (stage 3) are each teacher's answer on the clean clip, once. On the clips a teacher
was fine-tuned on it is nearly certain (it has nearly memorised them), so its stored targets are little
softer than the labels and say nothing about the rolled, re-styled, device-filtered or mixed view the
student actually sees. Run on that view, the teacher gives a new, informative target every epoch
("function matching": Beyer et al., "Knowledge distillation: A good teacher is patient and consistent",
CVPR 2022). Inference only: mn04 adds ~12 M MACs per clip, CP-ResNet ~83 M, to a student step of
3 x ~30 M (forward and backward).

A teacher reads its own features (mn04: the pretrained front end's 128-mel store, dump/teacher;
CP-ResNet: the student's store), read by utterance id from the store named in the teacher's config.
The student's augmentations are replayed on that view with the student's own random draws:
  - device IR: the same clips get the same impulse response, as its gain curve under the teacher's
    front end;
  - Freq-MixStyle: the same coin, partners and weights, each view re-styled with its own band statistics;
  - time roll: the same shift in seconds (rounded to the teacher's frames);
  - mixup: the same partners and weights; the teacher sees the mixed clip and its answer is the target
    (not a mix of its answers on the two clips);
  - frequency masking is not replayed: the mel bins of two front ends do not correspond, and the teacher
    hearing the band the student's mask hides is what tells the student what is there.
The replay draws from a copy of the generator taken before the student's augmentation, so the student's
random stream, and a run without teachers in the loop, stay exactly as they were.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn as nn

from asc.augment.device_ir import apply_device_ir, gains_for_front_end
from asc.augment.freq_mixstyle import freq_mixstyle
from asc.augment.mixup import MixedBatch
from asc.augment.pipeline import AugmentConfig, Augmenter
from asc.augment.roll import draw_shifts, shift_frames
from asc.config import load_config
from asc.data.feature_store import FeatureStore
from asc.data.logit_store import logit_members
from asc.errors import InputError
from asc.expdir import ExpDir
from asc.models.checkpoint_file import load_model
from asc.train.predict import autocast


@dataclass
class Member:
    """One teacher in the loop: its frozen model and how to build its view of a training batch."""
    exp: str
    model: nn.Module
    store: FeatureStore
    rows: np.ndarray              # the store row of each training item
    augmenter: Augmenter          # the student's augmentation settings with the teacher's IR gains
    frame_ratio: float            # teacher frames per student frame (time roll in seconds)
    channels_last: bool
    amp: bool


def member_exps(teachers: Sequence[str], teacher_logits: str | None) -> list[str]:
    """The teachers' experiment folders: those given, else the members of the stored logits file (the
    ensemble stage 3 trained for this split)."""
    if teachers:
        return list(teachers)
    if not teacher_logits:
        raise InputError("kd.teacher_mode", "online distillation needs kd.members or a kd.teacher_logits file "
                                            "whose members name the teachers")
    if not Path(teacher_logits).is_file():
        raise InputError(teacher_logits, "teacher logits not found (their members are the teachers run in "
                                         "the loop); run stage 3 first")
    members = logit_members(teacher_logits)
    if not members:
        raise InputError(teacher_logits, "names no member teachers (attribute 'members'); give kd.members")
    return members


class OnlineTeachers:
    """The ensemble of frozen teachers run on each augmented training batch (mean of their logits)."""

    def __init__(self, exps: Sequence[str], utts: Sequence[str], labels: Sequence[str], augment: AugmentConfig,
                 student_frame_s: float, device: torch.device):
        """`utts`: the training items in dataset order; `student_frame_s`: seconds per student frame."""
        self.device = device
        self.members = [_load_member(exp, utts, labels, augment, student_frame_s, device) for exp in exps]

    @property
    def names(self) -> list[str]:
        return [m.exp for m in self.members]

    @torch.no_grad()
    def __call__(self, items: torch.Tensor, devices: Sequence[str], draws: torch.Tensor,
                 mix: MixedBatch | None) -> torch.Tensor:
        """Ensemble logits [B, classes] (float32) for training items `items` [B], augmented as the student's
        batch was: `draws` is the augmentation generator's state before the student's augmentation,
        `mix` the student's mixup (or None)."""
        logits = [self._member_logits(m, items, devices, draws, mix) for m in self.members]
        return torch.stack(logits).mean(dim=0)

    def _member_logits(self, member: Member, items: torch.Tensor, devices: Sequence[str], draws: torch.Tensor,
                       mix: MixedBatch | None) -> torch.Tensor:
        x = read_batch(member.store, member.rows[items.cpu().numpy()]).to(self.device)
        generator = torch.Generator().set_state(draws)
        x = replay_augmentation(x, member.augmenter, devices, generator, member.frame_ratio)
        if mix is not None:
            x = mix_inputs(x, mix)
        if member.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(self.device, member.amp):
            return member.model(x).float()


def _load_member(exp: str, utts: Sequence[str], labels: Sequence[str], augment: AugmentConfig,
                 student_frame_s: float, device: torch.device) -> Member:
    """Load a finished teacher (best checkpoint, eval mode, no gradients) and its feature store."""
    from asc.train.config import TrainConfig

    paths = ExpDir(Path(exp))
    if not paths.done.is_file():
        raise InputError(exp, "teacher not finished (no train.done); train it before distilling from it online")
    cfg = load_config(TrainConfig, paths.config)
    model, ckpt = load_model(paths.best, device)
    if list(ckpt.get("labels") or []) != list(labels):
        raise InputError(exp, f"teacher's class order {ckpt.get('labels')} differs from the student's {list(labels)}")
    for p in model.parameters():
        p.requires_grad_(False)
    store = FeatureStore(cfg.feats)
    if ckpt.get("feats_hash") and store.config_hash != ckpt["feats_hash"]:
        raise InputError(cfg.feats, f"feature config hash {store.config_hash} differs from the one teacher {exp} "
                                    f"was trained on ({ckpt['feats_hash']}); rebuild the features or retrain it")
    store.check_covers(list(utts), f"teacher {exp}")
    rows = np.array([store.index(u) for u in utts], dtype=np.int64)
    front = store.feature_config
    gains = gains_for_front_end(augment.device_ir.folder, front) if augment.device_ir.enabled else None
    teacher_frame_s = front.hop_length / front.sample_rate
    return Member(exp, model, store, rows, Augmenter(augment, dir_gains=gains),
                  student_frame_s / teacher_frame_s, cfg.channels_last, cfg.amp)


def read_batch(store: FeatureStore, rows: np.ndarray) -> torch.Tensor:
    """Clips at `rows` of a store as a float32 batch [B, 1, n_mels, n_frames] (read one by one: fast in h5py)."""
    return torch.from_numpy(np.stack([store.read(int(r)) for r in rows]).astype(np.float32)).unsqueeze(1)


def replay_augmentation(x: torch.Tensor, augmenter: Augmenter, devices: Sequence[str] | None,
                        generator: torch.Generator, frame_ratio: float) -> torch.Tensor:
    """The label-free augmentation `augmenter` would apply to the student's batch, with the same draws
    (`generator` in the state it had then), applied to another view x of the same clips: device IR and
    Freq-MixStyle as they are (the augmenter holds this view's IR gains), the time roll's shifts scaled
    by `frame_ratio` (this view's frames per student frame), no frequency masking (last in the order,
    so nothing after it depends on its draws). Follows the order of `Augmenter.__call__`."""
    c = augmenter.cfg
    if c.device_ir.enabled:
        x = apply_device_ir(x, augmenter.dir_gains.to(x.device), c.device_ir.p, generator,
                            augmenter.eligible(devices, x.size(0), x.device))
    if c.freq_mixstyle.enabled:
        x = freq_mixstyle(x, c.freq_mixstyle.p, c.freq_mixstyle.alpha, generator, c.freq_mixstyle.eps)
    if c.roll.enabled:
        shift = draw_shifts(x.size(0), c.roll.max_shift, generator, x.device, c.roll.p)
        x = shift_frames(x, torch.round(shift.double() * frame_ratio).long(), wrap=c.roll.wrap)
    return x


def mix_inputs(x: torch.Tensor, mix: MixedBatch) -> torch.Tensor:
    """x mixed with the partners and weights the student's batch was mixed with."""
    weight = mix.lam.to(device=x.device, dtype=torch.float32).view(-1, *([1] * (x.dim() - 1)))
    return weight * x.float() + (1 - weight) * x[mix.perm.to(x.device)].float()


def seconds_per_frame(store: FeatureStore) -> float:
    """The hop of a store's front end in seconds."""
    front = store.feature_config
    return front.hop_length / front.sample_rate


def teacher_digests(exps: Sequence[str]) -> list[str | None]:
    """Digests of the teachers' train.done markers (new at every retraining) for a run's inputs."""
    from asc.fingerprint import marker_digest
    return [marker_digest(exp) if os.path.isdir(exp) else None for exp in exps]
