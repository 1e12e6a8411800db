"""The inference package of DCASE2025 Task 1, in the layout of the challenge's inference repository:

    <out>/setup.py, requirements.txt, README.md     pip install -e <out>
    <out>/test_complexity.py                        per-device MACs and parameter bytes -> predictions/<name>_1/complexity.json
    <out>/evaluate_submission.py                    test-split accuracy, output.csv of an evaluation folder
    <out>/<name>/<name>_1.py                        the API: predict, load_model, load_inputs, get_model_for_device
    <out>/<name>/ckpts/                             front_end.pt, general.pt, device_<d>.pt (TorchScript), models.json
    <out>/<name>/resources/                         dummy.wav (complexity check), test.csv (the test split)

The package does not import asc: its code is the template in asc/export/dcase2025_template/ (plain
files, copied), its networks are the deployed models traced to TorchScript without their front end
(asc.export.formats, checked against the package's own outputs), stored with float16 parameters as
they are counted, and its front end is the log-mel graph of asc.export.logmel_graph traced once. Each
device model must have the general model's architecture; the routing rule is
asc.eval.device_routing's (a device without a model of its own gets the general one).
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import torch

from asc.atomic import write_json, write_text
from asc.errors import AscError, InputError
from asc.eval.device_routing import check_same_architecture
from asc.export.formats import ExportError, exportable, export_file
from asc.export.logmel_graph import LogMelGraph

TEMPLATE = Path(__file__).with_name("dcase2025_template")
SCRIPTS = ("setup.py", "requirements.txt", "README.md", "test_complexity.py", "evaluate_submission.py")
GENERAL_FILE, FRONT_END_FILE = "general.pt", "front_end.pt"


def check_name(name: str) -> None:
    """A package name DCASE accepts and Python can import: <Lastname>_<Institution>_task1."""
    if not name.isidentifier() or not name.endswith("_task1"):
        raise AscError(f"package name '{name}': must be a Python identifier ending in _task1 "
                       f"(DCASE's submission label, e.g. Schmid_CPJKU_task1)")


def export_package(general: str | os.PathLike, device_models: Mapping[str, str | os.PathLike], name: str,
                   out: str | os.PathLike, test_csv: str | os.PathLike | None = None) -> dict:
    """Write the package folder `out` (replaced whole, built beside it first); returns models.json.
    A package exported from the same files (models, test split, template) is kept as it is."""
    from asc.fingerprint import file_digest, files_digest
    from asc.models.model_file import load_deployable

    check_name(name)
    out = Path(out)
    inputs = {"general": file_digest(general), "devices": {d: file_digest(p) for d, p in sorted(device_models.items())},
              "test_csv": file_digest(test_csv) if test_csv is not None and Path(test_csv).is_file() else None,
              "template": files_digest(sorted(TEMPLATE.iterdir())), "name": name}
    existing = out / name / "ckpts" / "models.json"
    if existing.is_file() and json.loads(existing.read_text()).get("inputs") == inputs:
        return json.loads(existing.read_text())
    base = load_deployable(general)
    if base.features is None or base.features.front_end != "librosa":
        raise ExportError(f"{general}: the package's front end is the student's log-mel (front_end: librosa)")
    with _new_folder(out) as tmp:
        pkg = tmp / name
        (pkg / "ckpts").mkdir(parents=True)
        (pkg / "resources").mkdir()
        write_text(pkg / "__init__.py", f'"""DCASE2025 Task 1 inference package {name} (asc recipe egs/dcase2025_task1)."""\n')
        write_text(pkg / "resources" / "__init__.py", "")
        shutil.copyfile(TEMPLATE / "module.py", pkg / f"{name}_1.py")
        for script in SCRIPTS:
            write_text(tmp / script, (TEMPLATE / script).read_text().replace("@NAME@", name))
        _write_front_end(base.features, pkg / "ckpts" / FRONT_END_FILE)
        complexity = {"general": _write_network(base, pkg / "ckpts" / GENERAL_FILE)}
        files = {}
        for device, path in sorted(device_models.items()):
            loaded = load_deployable(path)
            check_same_architecture(base.model.state_dict(), loaded.model.state_dict(), path)
            if loaded.labels != base.labels or loaded.features != base.features:
                raise InputError(path, "has other classes or another front end than the general model")
            files[device] = f"device_{device}.pt"
            complexity[device] = _write_network(loaded, pkg / "ckpts" / files[device])
        meta = {"labels": list(base.labels), "sample_rate": base.features.sample_rate,
                "clip_samples": base.features.clip_samples, "n_mels": base.features.n_mels,
                "front_end": FRONT_END_FILE, "general": GENERAL_FILE, "devices": files,
                "complexity": complexity, "inputs": inputs, "sources": {"general": str(general),
                                                      **{d: str(p) for d, p in device_models.items()}}}
        write_json(pkg / "ckpts" / "models.json", meta)
        _write_dummy(pkg / "resources" / "dummy.wav")
        if test_csv is not None:
            if not Path(test_csv).is_file():
                raise InputError(test_csv, "the test split file (test.csv) is missing")
            shutil.copyfile(test_csv, pkg / "resources" / "test.csv")
    return meta


@contextlib.contextmanager
def _new_folder(out: Path) -> Iterator[Path]:
    """A temporary folder beside `out` that replaces it when the block succeeds (removed otherwise):
    a package is never left half-written where a later stage (or a user's pip) would take it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp", dir=out.parent))
    try:
        yield tmp
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old", dir=out.parent))
            os.replace(out, old / out.name)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _write_network(loaded, path: Path) -> dict:
    """The deployed network traced without its front end (checked), saved with float16 parameters."""
    item = exportable(loaded.model, loaded.features, loaded.labels, front_end=False)
    export_file(item, "torchscript", path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        network = torch.jit.load(str(path), map_location="cpu").half()
    network.save(str(path))
    return dict(loaded.complexity or {})


def _write_front_end(features, path: Path) -> None:
    """The log-mel graph (waveforms [batch, samples] -> [batch, n_mels, frames]) traced, float32."""
    from asc.export.formats import Exportable

    example = 0.1 * torch.randn(2, features.clip_samples, generator=torch.Generator().manual_seed(0))
    item = Exportable(LogMelGraph(features).eval(), example, "wave", ["batch", features.clip_samples],
                      features, [])
    export_file(item, "torchscript", path)


def _write_dummy(path: Path, rate: int = 44100) -> None:
    """One second of quiet noise at TAU22's rate: the input of the package's complexity check."""
    import soundfile as sf

    wave = 0.01 * np.random.default_rng(0).standard_normal(rate).astype(np.float32)
    sf.write(path, wave, rate, subtype="PCM_16")


def read_models_json(package: str | os.PathLike, name: str) -> dict:
    """models.json of an exported package folder."""
    return json.loads((Path(package) / name / "ckpts" / "models.json").read_text())
