"""Scoring one saved model on one labeled data directory from its cached features (stage 6).

Writes into the output folder:
  scores.json       the DCASE figures (asc.metrics: macro_accuracy, per_device, per_class,
                    seen_devices, unseen_devices, log_loss, confusion, ...) plus system, split,
                    checkpoint, data, feature config hash and params/MACs of the deployment form
  scores.txt        the same as a readable table (asc.eval.report)
  confusion.png     row-normalized confusion matrix
  device_class.png  accuracy by class and device
  predictions.tsv   per clip: utterance, device, true label, predicted label, class probabilities
  predictions_recording.tsv   only for segments of longer recordings (utt2segment): per recording
                    its true and predicted label, segment count and aggregated class probabilities
  score.done        written last; records digests of the inputs
A data directory without utt2device is scored without device figures (asc.metrics). One whose clips
are segments of longer recordings (utt2segment, with utt2rec) is also scored per recording: the
segments' probabilities aggregated per recording (asc.eval.recording_scores, mean of the
log-probabilities), in scores.json's `per_recording` block.
Every file is written atomically. A folder whose score.done records the same inputs (checkpoint,
feature store, data directory, label list, system, split) is skipped; any change redoes the scoring.

A teacher-logits file (asc.bin.teacher_logits --feats-set test, `*.h5`) is scored like a model: the
mean of its members' logits is the prediction. A teacher ensemble has no single network to run,
so its logits are the one way to score it; params and MACs are then absent.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from asc.atomic import done_marker, mark_done
from asc.data.datadir import DataDir, load_datadir, read_labels
from asc.data.feature_store import FeatureStore, read_marker
from asc.errors import InputError
from asc.expdir import resolve_checkpoint
from asc.fingerprint import file_digest, files_digest, unchanged

if TYPE_CHECKING:
    from asc.models.model_file import LoadedModel

DONE = "score"
OUTPUTS = ("scores.json", "scores.txt", "confusion.png", "device_class.png", "predictions.tsv")
RECORDING_OUTPUT = "predictions_recording.tsv"
# Bump when what a scoring run writes changes, so that older finished folders are redone.
FORMAT = 1

Log = Callable[[str], None]


@dataclass
class ScoreJob:
    """One scoring run: which model, on which clips, into which folder."""
    checkpoint: Path            # experiment directory, training checkpoint or deployable model file
    data: Path                  # labeled data directory (wav.scp, utt2label, utt2device)
    feats: Path                 # feature store covering the data directory
    labels: Path                # label list in the official order
    out: Path                   # output folder
    system: str | None = None   # name in RESULTS.md; default from the path (see default_system)
    split: int | None = None    # training split; default from a `split<N>` folder in the path
    batch_size: int | None = None  # clips per forward pass; None: asc.train.predict.EVAL_BATCH_SIZE
    device: str = "cpu"
    compute_dtype: str = "float32"   # what the model computes in, whatever its file stores


def is_logits_file(path: str | os.PathLike) -> bool:
    """A stored-logits file (HDF5) rather than a model: scored from its numbers, no network run."""
    return Path(path).suffix == ".h5"


def score(job: ScoreJob, log: Log = print) -> dict | None:
    """Score `job`, write its outputs and done marker; None (and nothing written) if already done."""
    if is_logits_file(job.checkpoint):
        if not Path(job.checkpoint).is_file():
            raise InputError(job.checkpoint, "logits file not found")
        checkpoint, exp_dir, store = Path(job.checkpoint), None, None
    else:
        checkpoint, exp_dir = resolve_checkpoint(job.checkpoint)
        store = FeatureStore(job.feats)
    system = job.system or default_system(checkpoint, exp_dir)
    split = job.split if job.split is not None else split_from_path(checkpoint)
    inputs = _inputs(checkpoint, store, job, system, split)
    if unchanged(job.out, DONE, inputs, [job.out / name for name in outputs_of(job.data)]):
        log(f"{job.out} already holds the scores of {checkpoint} for these inputs ({DONE}.done); nothing to do")
        return None

    done_marker(job.out, DONE).unlink(missing_ok=True)   # outputs are about to change
    if store is None:
        result = _compute_from_logits(job, checkpoint, system, split, log)
    else:
        result = _compute(job, checkpoint, system, split, store, log)
    mark_done(job.out, DONE, {"inputs": inputs, "macro_accuracy": result["macro_accuracy"]})
    per_rec = result.get("per_recording")
    recs = (f", per recording ({per_rec['n_recordings']}) {100 * per_rec['macro_accuracy']:.2f} %"
            if per_rec else "")
    log(f"{system} split {split}: macro accuracy {100 * result['macro_accuracy']:.2f} %{recs}, "
        f"log loss {result['log_loss']:.4f} -> {job.out}")
    return result


def _compute(job: ScoreJob, checkpoint: Path, system: str, split: int | None, store: FeatureStore,
             log: Log) -> dict:
    """Load, predict, score and write every output but the done marker; returns scores.json's dict."""
    # Imported here, after the skip decision: torch, sklearn and matplotlib cost seconds to import,
    # which a re-run of a finished stage 6 should not pay once per scored system.
    from asc.eval.complexity_figures import model_figures
    from asc.eval.inference import check_store_matches, predict_probs
    from asc.metrics import compute_scores
    from asc.models.model_file import load_for_eval
    from asc.finite import check_finite_outputs, check_finite_weights

    loaded = load_for_eval(checkpoint, job.device, job.compute_dtype)
    check_finite_weights(loaded.model, loaded.path)
    labels = read_labels(job.labels)
    _check_labels(loaded, labels, job.labels)
    if not check_store_matches(store, loaded.feats_hash, str(loaded.path)):
        log(f"warning: {loaded.path} does not record which features it reads; cannot check that "
            f"{job.feats} is the right feature set")
    data = load_datadir(job.data)
    truth, devices = _truth(data, job.data, labels)
    log(f"scoring {system} (split {split}) = {loaded.path} on {job.data} ({len(data)} clips)")
    probs = predict_probs(loaded.model, store, data.utts, job.batch_size, job.device)
    check_finite_outputs(probs, loaded.path, "class probabilities")
    if probs.shape[1] != len(labels):
        raise InputError(loaded.path, f"the model has {probs.shape[1]} outputs, {job.labels} lists "
                                      f"{len(labels)} classes")
    scores = compute_scores(truth, probs, devices, labels).to_dict()
    scores.update(_per_recording(data, job.data, truth, probs, labels))
    figures = model_figures(loaded.model.cpu(), (1, store.n_mels, store.n_frames),
                            loaded.precision or "float16", loaded.complexity)
    result = _result(job, loaded, system, split, store, scores, figures)
    _write_outputs(job.out, result, data.utts, truth, devices, probs, labels)
    return result


def _compute_from_logits(job: ScoreJob, logits_file: Path, system: str, split: int | None, log: Log) -> dict:
    """As _compute, for the ensemble mean stored in a teacher-logits file; no params or MACs."""
    import numpy as np

    from asc.data.logit_store import read_logits
    from asc.metrics import compute_scores
    from asc.finite import check_finite_outputs

    labels = read_labels(job.labels)
    data = load_datadir(job.data)
    truth, devices = _truth(data, job.data, labels)
    log(f"scoring {system} (split {split}) = the logits in {logits_file} on {job.data} ({len(data)} clips)")
    logits = read_logits(logits_file, data.utts, labels).astype(np.float64)
    check_finite_outputs(logits, logits_file, "stored logits")
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    scores = compute_scores(truth, probs, devices, labels).to_dict()
    scores.update(_per_recording(data, job.data, truth, probs, labels))
    head = {"system": system, "split": split, "checkpoint": str(job.checkpoint), "checkpoint_file": str(logits_file),
            "model_name": "logits", "deployed": False, "data": str(job.data), "feats": None,
            "feature_config_hash": None}
    result = {**head, **scores, "params": None, "macs": None, "complexity": None}
    _write_outputs(job.out, result, data.utts, truth, devices, probs, labels)
    return result


def outputs_of(data: Path) -> tuple[str, ...]:
    """The files a scoring of data directory `data` writes (one more for segments of recordings)."""
    return OUTPUTS + (RECORDING_OUTPUT,) if (Path(data) / "utt2segment").is_file() else OUTPUTS


def _per_recording(data: DataDir, source: Path, truth: list[str], probs, labels: list[str]) -> dict:
    """{"per_recording": scores of the segments aggregated per recording} for segments of longer
    recordings (utt2segment), else {}."""
    if not data.segment:
        return {}
    from asc.eval.recording_scores import DEFAULT_AGGREGATION, recording_predictions
    from asc.metrics import compute_scores

    recs, rec_truth, rec_probs, counts = recording_predictions(data.utts, data.rec, truth, probs,
                                                               source=str(source / "utt2rec"))
    scores = compute_scores(rec_truth, rec_probs, None, labels)
    return {"per_recording": {"aggregation": DEFAULT_AGGREGATION, "macro_accuracy": scores.macro_accuracy,
                              "accuracy": scores.accuracy, "per_class": scores.per_class,
                              "log_loss": scores.log_loss, "n_recordings": len(recs),
                              "confusion": scores.confusion, "labels": labels,
                              "recordings": {"ids": recs, "truth": rec_truth, "segments": counts,
                                             "probs": rec_probs.tolist()}}}


def default_system(checkpoint: Path, exp_dir: Path | None) -> str:
    """The experiment directory's name; for a file outside one, its folder's name (the folder above
    if that one is just `split<N>`, as for exp/deploy/split<N>/model.pt -> 'deploy')."""
    if exp_dir is not None:
        return exp_dir.resolve().name
    folder = checkpoint.resolve().parent
    return folder.parent.name if re.fullmatch(r"split\d+", folder.name) else folder.name


def split_from_path(path: str | os.PathLike) -> int | None:
    """N of the innermost `split<N>` (or `train_split<N>`) folder in `path`, or None."""
    for part in reversed(Path(path).resolve().parts):
        match = re.fullmatch(r"(?:train_)?split(\d+)", part)
        if match:
            return int(match.group(1))
    return None


def _inputs(checkpoint: Path, store: FeatureStore | None, job: ScoreJob, system: str, split: int | None) -> dict:
    if not job.labels.is_file():
        raise InputError(job.labels, "label list not found")
    marker = read_marker(store.path) if store is not None else {}
    data_files = [job.data / name for name in ("wav.scp", "utt2label", "utt2device")]
    if (job.data / "utt2segment").is_file():        # scored per recording too
        data_files += [job.data / "utt2rec", job.data / "utt2segment"]
    return {"format": FORMAT, "checkpoint": file_digest(checkpoint),
            "feats": {key: marker.get(key) for key in ("bytes", "utts_hash", "config_hash", "sources")} if marker else None,
            "data": files_digest(data_files), "labels": file_digest(job.labels),
            "system": system, "split": split}


def _check_labels(loaded: LoadedModel, labels: list[str], labels_path: Path) -> None:
    if loaded.labels is not None and loaded.labels != labels:
        raise InputError(labels_path, f"lists the classes {labels}, but {loaded.path} was trained with "
                                      f"{loaded.labels} (another label list or order)")


def _truth(data: DataDir, source: Path, labels: list[str]) -> tuple[list[str], list[str] | None]:
    """True labels and devices (None for a data directory without utt2device) of every clip, in
    data.utts order; InputError if the labels are missing."""
    if not data.label:
        raise InputError(source / "utt2label", "missing: scoring needs the label of every clip")
    unknown = sorted({data.label[u] for u in data.utts} - set(labels))
    if unknown:
        raise InputError(source / "utt2label", f"label(s) {unknown} are not in the label list {labels}")
    devices = [data.device[u] for u in data.utts] if data.device else None
    return [data.label[u] for u in data.utts], devices


def _result(job: ScoreJob, loaded: LoadedModel, system: str, split: int | None, store: FeatureStore,
            scores: dict, figures: dict) -> dict:
    head = {"system": system, "split": split, "checkpoint": str(job.checkpoint),
            "checkpoint_file": str(loaded.path), "model_name": loaded.model_name, "deployed": loaded.deployed,
            "data": str(job.data), "feats": str(job.feats), "feature_config_hash": store.config_hash}
    return {**head, **scores, "params": figures["params"], "macs": figures["macs"], "complexity": figures}


def _write_outputs(out: Path, result: dict, utts: list[str], truth: list[str], devices: list[str],
                   probs, labels: list[str]) -> None:
    import numpy as np

    from asc.atomic import write_json, write_text
    from asc import plots
    from asc.eval.report import format_scores

    title = f"{result['system']} (split {result['split']}) on {result['data']}"
    write_json(out / "scores.json", result)
    figures = result["complexity"]
    text = format_scores(result, title)
    if figures:
        text += (f"\nparams {figures['params']:,}  MACs {figures['macs']:,}  "
                 f"({figures['param_bytes']:,} bytes at {figures['precision']})\n")
    write_text(out / "scores.txt", text)
    plots.plot_confusion(result, out / "confusion.png",
                         title=f"{result['system']}: macro accuracy {100 * result['macro_accuracy']:.1f} %")
    plots.plot_device_class(result, out / "device_class.png", title=f"{result['system']}: accuracy by class"
                            + (" and device" if result["devices"] else ""))
    predicted = probs.argmax(axis=1)
    rows = ["utt\tdevice\tscene_label\tpredicted\t" + "\t".join(labels)]
    rows += [f"{u}\t{d}\t{t}\t{labels[k]}\t" + "\t".join(f"{p:.6f}" for p in row)
             for u, d, t, k, row in zip(utts, devices or ["-"] * len(utts), truth, predicted, probs)]
    write_text(out / "predictions.tsv", "\n".join(rows) + "\n")
    per_rec = result.get("per_recording")
    if per_rec:
        recs = per_rec["recordings"]
        rows = ["recording\tscene_label\tpredicted\tsegments\t" + "\t".join(labels)]
        rows += [f"{r}\t{t}\t{labels[int(np.argmax(p))]}\t{n}\t" + "\t".join(f"{v:.6f}" for v in p)
                 for r, t, n, p in zip(recs["ids"], recs["truth"], recs["segments"], recs["probs"])]
        write_text(out / RECORDING_OUTPUT, "\n".join(rows) + "\n")
