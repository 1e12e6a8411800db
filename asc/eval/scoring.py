"""Scoring one saved model on one labeled data directory from its cached features (stage 6).

Writes into the output folder:
  scores.json       the DCASE figures (asc.metrics: macro_accuracy, per_device, per_class,
                    seen_devices, unseen_devices, log_loss, confusion, ...) plus system, split,
                    checkpoint, data, feature config hash and params/MACs of the deployment form
  scores.txt        the same as a readable table (asc.eval.report)
  confusion.png     row-normalized confusion matrix
  device_class.png  accuracy by class and device
  predictions.tsv   per clip: utterance, device, true label, predicted label, class probabilities
  score.done        written last; records digests of the inputs
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
    if unchanged(job.out, DONE, inputs, [job.out / name for name in OUTPUTS]):
        log(f"{job.out} already holds the scores of {checkpoint} for these inputs ({DONE}.done); nothing to do")
        return None

    done_marker(job.out, DONE).unlink(missing_ok=True)   # outputs are about to change
    if store is None:
        result = _compute_from_logits(job, checkpoint, system, split, log)
    else:
        result = _compute(job, checkpoint, system, split, store, log)
    mark_done(job.out, DONE, {"inputs": inputs, "macro_accuracy": result["macro_accuracy"]})
    log(f"{system} split {split}: macro accuracy {100 * result['macro_accuracy']:.2f} %, "
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
    head = {"system": system, "split": split, "checkpoint": str(job.checkpoint), "checkpoint_file": str(logits_file),
            "model_name": "logits", "deployed": False, "data": str(job.data), "feats": None,
            "feature_config_hash": None}
    result = {**head, **scores, "params": None, "macs": None, "complexity": None}
    _write_outputs(job.out, result, data.utts, truth, devices, probs, labels)
    return result


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
    return {"format": FORMAT, "checkpoint": file_digest(checkpoint),
            "feats": {key: marker.get(key) for key in ("bytes", "utts_hash", "config_hash", "sources")} if marker else None,
            "data": files_digest(data_files), "labels": file_digest(job.labels),
            "system": system, "split": split}


def _check_labels(loaded: LoadedModel, labels: list[str], labels_path: Path) -> None:
    if loaded.labels is not None and loaded.labels != labels:
        raise InputError(labels_path, f"lists the classes {labels}, but {loaded.path} was trained with "
                                      f"{loaded.labels} (another label list or order)")


def _truth(data: DataDir, source: Path, labels: list[str]) -> tuple[list[str], list[str]]:
    """True labels and devices of every clip, in data.utts order; InputError if any is missing."""
    for table, name in ((data.label, "utt2label"), (data.device, "utt2device")):
        if not table:
            raise InputError(source / name, f"missing: scoring needs the {name.removeprefix('utt2')} of every clip")
    unknown = sorted({data.label[u] for u in data.utts} - set(labels))
    if unknown:
        raise InputError(source / "utt2label", f"label(s) {unknown} are not in the label list {labels}")
    return [data.label[u] for u in data.utts], [data.device[u] for u in data.utts]


def _result(job: ScoreJob, loaded: LoadedModel, system: str, split: int | None, store: FeatureStore,
            scores: dict, figures: dict) -> dict:
    head = {"system": system, "split": split, "checkpoint": str(job.checkpoint),
            "checkpoint_file": str(loaded.path), "model_name": loaded.model_name, "deployed": loaded.deployed,
            "data": str(job.data), "feats": str(job.feats), "feature_config_hash": store.config_hash}
    return {**head, **scores, "params": figures["params"], "macs": figures["macs"], "complexity": figures}


def _write_outputs(out: Path, result: dict, utts: list[str], truth: list[str], devices: list[str],
                   probs, labels: list[str]) -> None:
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
    plots.plot_device_class(result, out / "device_class.png", title=f"{result['system']}: accuracy by class and device")
    predicted = probs.argmax(axis=1)
    rows = ["utt\tdevice\tscene_label\tpredicted\t" + "\t".join(labels)]
    rows += [f"{u}\t{d}\t{t}\t{labels[k]}\t" + "\t".join(f"{p:.6f}" for p in row)
             for u, d, t, k, row in zip(utts, devices, truth, predicted, probs)]
    write_text(out / "predictions.tsv", "\n".join(rows) + "\n")
