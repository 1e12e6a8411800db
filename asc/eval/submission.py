"""The DCASE2024 Task 1 submission output for an unlabeled evaluation set.

An evaluation set in TAU's layout is a folder with `audio/` and `meta.csv` (tab-separated, a
`filename` column such as `audio/0.wav`; the embedded generator also writes
`evaluation_setup/fold1_test.csv`, read when meta.csv is absent). The system output is written as
the CP-JKU baseline writes it (`run_training.py`, `evaluate`): tab-separated, a header, then per
file `filename` without the `audio/` prefix, `scene_label` (the most probable class) and one
probability column per class in the official order (airport ... tram). Beside it, the complexity
figures the submission's meta information asks for (asc.eval.complexity_figures).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

import numpy as np
import yaml

from asc.atomic import done_marker, mark_done, write_text
from asc.errors import InputError
from asc.fingerprint import audio_digest, file_digest, unchanged
from asc.metrics import LABELS

LISTINGS = ("meta.csv", "evaluation_setup/fold1_test.csv")
DONE = "submission"
OUTPUT, PARTIAL, COMPLEXITY = "output.csv", "output.partial.csv", "complexity.yaml"

Log = Callable[[str], None]


@dataclass
class Submission:
    """What a submission run did: files written to the output, files that failed (None: skipped)."""
    written: int | None
    failed: int


def make_submission(model_file: str | os.PathLike, eval_dir: str | os.PathLike, out: str | os.PathLike,
                    device: str = "cpu", batch_size: int = 16, log: Log = print, warn: Log = print,
                    compute_dtype: str = "float32") -> Submission:
    """Classify every listed file of `eval_dir` with `model_file`; write output.csv and complexity.yaml.

    The model computes in `compute_dtype` (float32 unless asked otherwise, whatever the file stores).
    Skipped if `out` holds the finished submission of the same model, listing and audio files. If any
    file fails, the others go to output.partial.csv and no output.csv is left (not even an older one:
    a submission lists every file, of one model).
    `warn` receives the per-file warnings and errors.
    """
    model_file, eval_dir, out = Path(model_file), Path(eval_dir), Path(out)
    if not model_file.is_file():
        raise InputError(model_file, "deployable model file not found")
    listing = listing_path(eval_dir)
    names = read_listing(listing)
    inputs = {"model": file_digest(model_file), "listing": file_digest(listing), "files": len(names),
              "audio": audio_digest(eval_dir / n for n in names)}
    if unchanged(out, DONE, inputs, [out / OUTPUT, out / COMPLEXITY]):
        log(f"{out} already holds the submission of {model_file} for {listing}; nothing to do")
        return Submission(None, 0)
    # Imported after the skip decision: torch and the front end cost seconds to import.
    from asc.eval.audio_inference import AudioClassifier
    from asc.eval.complexity_figures import model_figures, submission_complexity

    done_marker(out, DONE).unlink(missing_ok=True)
    (out / OUTPUT).unlink(missing_ok=True)      # a failed run must not leave the previous model's output
    classifier = AudioClassifier.from_file(model_file, device, batch_size, compute_dtype)
    columns = official_columns(classifier.labels, model_file)
    log(f"classifying {len(names)} files of {eval_dir} with {model_file}")
    kept, probs = [], []
    for name, result in zip(names, classifier.classify(eval_dir / n for n in names)):
        for note in result.warnings:
            warn(f"warning: {note}")
        if result.ok:
            kept.append(name)
            probs.append(result.mean_probs()[columns])
        else:
            warn(f"error: {result.error}")
    text = submission_text(kept, np.array(probs).reshape(len(kept), len(columns)))
    features = classifier.features
    figures = model_figures(classifier.model.cpu(), (1, features.n_mels, features.clip_frames),
                            classifier.precision or "float16", classifier.complexity)
    write_complexity(out / COMPLEXITY, submission_complexity(figures), model_file)
    failed = len(names) - len(kept)
    if failed:
        write_text(out / PARTIAL, text)
        return Submission(len(kept), failed)
    write_text(out / OUTPUT, text)
    (out / PARTIAL).unlink(missing_ok=True)
    mark_done(out, DONE, {"inputs": inputs, "model": str(model_file), "eval_dir": str(eval_dir)})
    log(f"{len(kept)} files -> {out / OUTPUT}; complexity -> {out / COMPLEXITY}")
    return Submission(len(kept), 0)


def listing_path(eval_dir: str | os.PathLike) -> Path:
    """The file naming the evaluation clips: meta.csv, else evaluation_setup/fold1_test.csv."""
    eval_dir = Path(eval_dir)
    if not eval_dir.is_dir():
        raise InputError(eval_dir, "evaluation set folder not found")
    for name in LISTINGS:
        if (eval_dir / name).is_file():
            return eval_dir / name
    raise InputError(eval_dir, f"not an evaluation set in TAU's layout: none of {', '.join(LISTINGS)} found")


def read_listing(path: str | os.PathLike) -> list[str]:
    """The `filename` column of a tab-separated listing, checked: present, unique, inside the folder."""
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot read the list of evaluation files: {e}") from None
    if not lines or "filename" not in lines[0].split("\t"):
        raise InputError(path, "expected a tab-separated header with a 'filename' column", line=1)
    column = lines[0].split("\t").index("filename")
    names, seen = [], {}
    for n, line in enumerate(lines[1:], 2):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) <= column or not fields[column].strip():
            raise InputError(path, f"no filename in {line!r}", line=n)
        name = fields[column].strip()
        pure = PurePosixPath(name)
        if pure.is_absolute() or ".." in pure.parts:
            raise InputError(path, f"file name {name!r} points outside the evaluation folder", line=n)
        if name in seen:
            raise InputError(path, f"duplicate file name {name!r} (first on line {seen[name]})", line=n)
        seen[name] = n
        names.append(name)
    if not names:
        raise InputError(path, "lists no files")
    return names


def submission_name(filename: str) -> str:
    """The file name as the submission writes it: without the leading `audio/`."""
    return filename.removeprefix("audio/")


def official_columns(model_labels: list[str], source: str | os.PathLike) -> list[int]:
    """Indices of the model's outputs in the official class order; InputError if the classes differ."""
    if sorted(model_labels) != sorted(LABELS):
        raise InputError(source, f"the model's classes {model_labels} are not the DCASE2024 Task 1 classes "
                                 f"{list(LABELS)}")
    return [model_labels.index(label) for label in LABELS]


def submission_text(names: list[str], probs: np.ndarray) -> str:
    """The system output: header, then filename, scene_label, probabilities (official class order)."""
    from asc.eval.audio_inference import format_prob

    rows = ["\t".join(["filename", "scene_label", *LABELS])]
    for name, row in zip(names, probs):
        rows.append(f"{submission_name(name)}\t{LABELS[int(np.argmax(row))]}\t" + "\t".join(map(format_prob, row)))
    return "\n".join(rows) + "\n"


def write_complexity(path: str | os.PathLike, complexity: dict, model: str | os.PathLike) -> None:
    """The complexity YAML: the `complexity` entries of the submission's meta information."""
    text = (f"# Complexity of {model} for the DCASE2024 Task 1 submission form (system.complexity of the\n"
            f"# meta information): total_model_size = parameters x bytes per parameter at the given\n"
            f"# precision; MACs of one 1-s clip; counted on the deployment form, front end excluded.\n")
    write_text(path, text + yaml.safe_dump({"complexity": complexity}, sort_keys=False))
