"""Classifying audio files with a deployable model file alone: any wav/flac, any rate, length, channels.

Each file is streamed with asc.data.audio (the recipe's own reader and resampler) in blocks, so
memory does not depend on its length, mixed down to mono if
it has several channels, resampled to the model's feature rate and cut into clips of the model's
clip length (1 s): whole clips from the start, one every `hop` (by default a clip: consecutive clips;
less: overlapping ones, a finer time grid for long recordings), plus a last, zero-padded clip when the
samples no clip covers make at least half a clip (fewer are dropped; a file shorter than one clip is
zero-padded, with a warning). The log-mels come from asc.features.logmel with the FeatureConfig stored in the model
file, batched across files; a file's class probabilities are its clips' aggregated
(asc.eval.recording_scores: by default the mean of their log-probabilities, as the recipes score a
recording), or one row per clip, or both (`segment_lines`: each clip's row with its start and end
time, then the whole file's).

Every problem is per file: a file that cannot be read, or whose probabilities are not finite (NaN,
infinity), becomes a FileResult with its error (naming the file), the others are classified; warnings (mixed down, zero-padded, silent) are kept with the
file's result.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
import torch.nn as nn

from asc.data.audio import AudioWarning, stream_audio
from asc.errors import AscError, InputError
from asc.eval.recording_scores import DEFAULT_AGGREGATION, aggregate_probs
from asc.features.logmel import FeatureConfig, make_front_end
from asc.finite import check_finite_weights, count_nonfinite
from asc.models.model_file import DEFAULT_COMPUTE_DTYPE, load_deployable, model_dtype

SILENT_PEAK = 1e-4          # -80 dBFS: below it a recording holds no usable sound
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff")


@dataclass
class FileResult:
    """The outcome for one file: per-clip probabilities [clips, classes], or the error."""
    name: str
    probs: np.ndarray | None = None
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float | None = None            # the file's length (at the model's rate)

    @property
    def ok(self) -> bool:
        """The file was classified."""
        return self.error is None

    def mean_probs(self) -> np.ndarray:
        """The class probabilities averaged over the file's clips."""
        return self.probs.mean(axis=0)

    def file_probs(self, aggregate: str = DEFAULT_AGGREGATION) -> np.ndarray:
        """The whole file's class probabilities: its clips' aggregated (asc.eval.recording_scores)."""
        return aggregate_probs(self.probs, aggregate)


class ClipCutter:
    """Cuts a stream of samples into clips of `clip` samples starting every `hop` samples (see the module
    docstring), holding only what the next clip still needs; the streaming reader and `segment_wave` share it."""

    def __init__(self, clip: int, hop: int | None = None):
        hop = clip if hop is None else hop
        if not 0 < hop <= clip:
            raise ValueError(f"hop must be in (0, {clip}] samples, got {hop}")
        self.clip, self.hop = clip, hop
        self.buffer = np.zeros(0, np.float32)   # samples from the start of the next clip on
        self.seen = 0                            # samples pushed so far
        self.covered = 0                         # samples up to the end of the last clip cut

    def push(self, piece: np.ndarray) -> Iterator[np.ndarray]:
        """The clips that `piece` completes, in order."""
        self.seen += len(piece)
        self.buffer = np.concatenate([self.buffer, piece])
        start = 0
        while start + self.clip <= len(self.buffer):
            yield self.buffer[start:start + self.clip]
            start += self.hop
        if start:
            self.covered = self.seen - len(self.buffer) + start - self.hop + self.clip
            self.buffer = self.buffer[start:]

    def finish(self) -> np.ndarray | None:
        """The last clip, zero-padded, when the samples no clip covers make at least half a clip (or the
        stream is shorter than one clip); else None."""
        if self.short or 2 * (self.seen - self.covered) >= self.clip:
            tail = self.buffer[:self.clip]
            return np.pad(tail, (0, self.clip - len(tail)))
        return None

    @property
    def short(self) -> bool:
        """Whether the stream so far is shorter than one clip."""
        return self.seen < self.clip


def segment_wave(wave: np.ndarray, clip_samples: int, hop_samples: int | None = None) -> tuple[np.ndarray, bool]:
    """Clips [n, clip_samples] of a whole mono wave (see the module docstring), and whether it was padded
    up from less than one clip."""
    cutter = ClipCutter(clip_samples, hop_samples)
    pieces = list(cutter.push(wave))
    last = cutter.finish()
    if last is not None:
        pieces.append(last)
    return np.stack(pieces).astype(np.float32, copy=False), cutter.short


class AudioClassifier:
    """A model, its front end and its labels, classifying files in batches of clips."""

    def __init__(self, model: nn.Module, features: FeatureConfig, labels: list[str], device: str = "cpu",
                 batch_size: int = 16, precision: str | None = None, hop_seconds: float | None = None):
        self.device = torch.device(device)
        self.precision = precision      # storage precision of the model file's weights
        self.complexity: dict | None = None   # the complexity report stored in the model file
        self.model = model.to(self.device).eval()
        self.dtype = model_dtype(self.model)          # the compute dtype the model was loaded in
        self.features = features
        self.labels = list(labels)
        self.front = make_front_end(features).to(self.device)
        self.batch_size = batch_size
        self.hop_seconds = features.clip_seconds if hop_seconds is None else hop_seconds
        if not 0 < self.hop_seconds <= features.clip_seconds:
            raise AscError(f"the hop between clips must be in (0, {features.clip_seconds:g}] s (the model's clip "
                           f"length), got {hop_seconds:g}")
        self.hop_samples = max(1, round(self.hop_seconds * features.sample_rate))

    @classmethod
    def from_file(cls, path: str | os.PathLike, device: str = "cpu", batch_size: int = 16,
                  compute_dtype: str = DEFAULT_COMPUTE_DTYPE, hop_seconds: float | None = None) -> "AudioClassifier":
        """The classifier of a deployable model file (exp/deploy/split<N>/model.pt), computing in
        `compute_dtype` (float32 by default, whatever precision the file stores). Refused: a model of an
        unfinished deploy, or one with NaN or infinite weights."""
        check_deploy_finished(path)
        loaded = load_deployable(path, device, compute_dtype)
        check_finite_weights(loaded.model, path)
        classifier = cls(loaded.model, loaded.features, loaded.labels, device, batch_size, loaded.precision,
                         hop_seconds)
        classifier.complexity = loaded.complexity
        return classifier

    @torch.no_grad()
    def probs(self, clips: np.ndarray) -> np.ndarray:
        """Class probabilities [n, classes] (float64) of clips [n, samples] at the model's rate."""
        out = []
        for a in range(0, len(clips), self.batch_size):
            wave = torch.from_numpy(np.ascontiguousarray(clips[a:a + self.batch_size])).to(self.device)
            logits = self.model(self.front(wave).unsqueeze(1).to(self.dtype))
            out.append(torch.softmax(logits.double(), dim=1).cpu().numpy())
        return np.concatenate(out)

    def classify(self, paths: Iterable[str | os.PathLike], files_per_batch: int = 32) -> Iterator[FileResult]:
        """One FileResult per path, in order; unreadable files give results with their error.

        Files are streamed (asc.data.audio.stream_audio): memory holds one block of audio and one
        batch of clips, whatever the files' lengths; clips of consecutive short files share batches.
        Probabilities that are not finite (a damaged model, samples far outside [-1, 1]) make that
        file's result an error naming it. `files_per_batch` bounds how many finished files wait for
        their batch.
        """
        batch = _ClipBatch(self)
        waiting: list[_Pending] = []
        for path in paths:
            pending = _Pending(FileResult(str(path)))
            waiting.append(pending)
            try:
                for clip in self._clips(path, pending):
                    batch.add(clip, pending)
            except AscError as e:
                pending.result.error = str(e)
            except (OSError, ValueError, RuntimeError, MemoryError) as e:  # a reader failing unexpectedly
                pending.result.error = f"{path}: cannot read the audio ({type(e).__name__}: {e})"
            if len(waiting) >= files_per_batch:
                batch.run()
            if not batch.clips:
                yield from (p.finish() for p in waiting)
                waiting = []
        batch.run()
        yield from (p.finish() for p in waiting)

    def _clips(self, path, pending: "_Pending") -> Iterator[np.ndarray]:
        """The clips of one file (see the module docstring) as its audio streams in; notes (mixed
        down, silent, short) go to the file's warnings."""
        clip, rate = self.features.clip_samples, self.features.sample_rate
        cutter, peak = ClipCutter(clip, self.hop_samples), 0.0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AudioWarning)
            for piece in stream_audio(path, rate):
                if len(piece):
                    top = float(np.abs(piece).max())
                    peak = max(peak, top if np.isfinite(top) else np.inf)
                yield from cutter.push(piece)
        for w in caught:
            if issubclass(w.category, AudioWarning):
                pending.result.warnings.append(str(w.message))
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        pending.peak = peak
        samples = cutter.seen
        pending.result.seconds = samples / rate
        if peak < SILENT_PEAK:
            level = "every sample is zero" if peak == 0 else f"peak {20 * np.log10(peak):.0f} dBFS"
            pending.result.warnings.append(f"{path}: silent ({level}); its scores say nothing about the scene")
        last = cutter.finish()
        if last is not None:
            yield last
        if cutter.short:
            pending.result.warnings.append(f"{path}: {samples / rate:.2f} s long, shorter than one "
                                           f"{self.features.clip_seconds:g}-s clip; zero-padded")


@dataclass
class _Pending:
    """A file being classified: its result and the probability rows of its clips so far."""
    result: FileResult
    rows: list = field(default_factory=list)
    peak: float = 0.0

    def finish(self) -> FileResult:
        """The result with its probabilities, or with an error naming the file if any is not finite."""
        result = self.result
        if result.ok:
            probs = np.stack(self.rows) if self.rows else np.zeros((0, 0))
            bad = count_nonfinite(probs)
            if bad or not len(probs):
                why = (f"samples far outside [-1, 1]: peak {self.peak:.3g} at the model's rate" if self.peak > 1.0
                       else "the model may be damaged")
                result.error = (f"{result.name}: the model's class probabilities for this file hold {bad} NaN "
                                f"or infinite values ({why}); not classified")
            else:
                result.probs = probs
        return result


class _ClipBatch:
    """Clips waiting for one forward pass, with the files they belong to."""

    def __init__(self, classifier: AudioClassifier):
        self.classifier = classifier
        self.clips: list[np.ndarray] = []
        self.owners: list[_Pending] = []

    def add(self, clip: np.ndarray, owner: _Pending) -> None:
        self.clips.append(clip)
        self.owners.append(owner)
        if len(self.clips) >= self.classifier.batch_size:
            self.run()

    def run(self) -> None:
        """Classify the waiting clips and hand each file its rows (files that failed since drop theirs)."""
        if not self.clips:
            return
        probs = self.classifier.probs(np.stack(self.clips))
        for owner, row in zip(self.owners, probs):
            if owner.result.ok:
                owner.rows.append(row)
        self.clips, self.owners = [], []


# What the deploy stage writes beside model.pt before its done marker (asc.prune.deploy).
DEPLOY_OUTPUTS = ("complexity.json", "precision.json")


def check_deploy_finished(path: str | os.PathLike) -> None:
    """InputError if `path` lies in a deploy folder whose stage did not finish (no deploy.done beside the
    deploy's other outputs): its model may exceed the limits or have failed the float16 check. A model
    file copied out on its own is accepted (the marker travels with the folder, not the file)."""
    folder = Path(path).parent
    if any((folder / name).is_file() for name in DEPLOY_OUTPUTS) and not (folder / "deploy.done").is_file():
        raise InputError(path, f"the deploy stage did not finish in {folder} (no deploy.done): the model may be "
                               f"over the complexity limits or have failed the float16 check; run stage 5 "
                               f"again (see its log)")


def find_audio(folder: str | os.PathLike) -> list[Path]:
    """Audio files (AUDIO_SUFFIXES, any case) under `folder`, recursively, sorted."""
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)


def format_prob(p: float) -> str:
    """A probability as written in the output tables."""
    return f"{p:.6f}"


def result_lines(result: FileResult, labels: list[str], average: bool = True,
                 aggregate: str = DEFAULT_AGGREGATION) -> list[str]:
    """Tab-separated rows of one classified file (see `header`)."""
    if average:
        probs = result.file_probs(aggregate)
        return [f"{result.name}\t{labels[int(probs.argmax())]}\t" + "\t".join(map(format_prob, probs))
                + f"\t{len(result.probs)}"]
    return [f"{result.name}\t{k}\t{labels[int(row.argmax())]}\t" + "\t".join(map(format_prob, row))
            for k, row in enumerate(result.probs)]


def segment_lines(result: FileResult, labels: list[str], clip_seconds: float,
                  aggregate: str = DEFAULT_AGGREGATION, hop_seconds: float | None = None) -> list[str]:
    """Rows of one classified file with its segments: one per clip (index, start and end in seconds,
    the end clipped to the file's length; clips start every `hop_seconds`, by default every clip), then
    the whole file's (segment `file`, 0 to its length, its clips aggregated)."""
    hop = clip_seconds if hop_seconds is None else hop_seconds
    seconds = result.seconds if result.seconds is not None else hop * (len(result.probs) - 1) + clip_seconds
    rows = []
    for k, row in enumerate(result.probs):
        start = k * hop
        end = min(start + clip_seconds, seconds)
        rows.append(f"{result.name}\t{k}\t{start:.3f}\t{end:.3f}\t{labels[int(row.argmax())]}\t"
                    + "\t".join(map(format_prob, row)))
    probs = result.file_probs(aggregate)
    rows.append(f"{result.name}\tfile\t0.000\t{seconds:.3f}\t{labels[int(probs.argmax())]}\t"
                + "\t".join(map(format_prob, probs)))
    return rows


def header(labels: list[str], average: bool = True, segments: bool = False) -> str:
    """Averaged: filename, scene_label, one column per class, clips. Per clip: filename, clip, ...
    With segments: filename, segment (clip index, or `file`), start, end, scene_label, ..."""
    if segments:
        return "\t".join(["filename", "segment", "start", "end", "scene_label", *labels])
    if average:
        return "\t".join(["filename", "scene_label", *labels, "clips"])
    return "\t".join(["filename", "clip", "scene_label", *labels])
