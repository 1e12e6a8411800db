"""Exported models run without this package: a TorchScript or ONNX file, with or without the log-mel
front end, gives the package's logits on real recordings within 1e-4, in a process where `asc`
cannot be imported; the input contract is written beside the file."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from asc.bin import export
from asc.data.audio import load_audio
from asc.data.tau22 import LABELS
from asc.models.model_file import load_deployable
from asc.export.logmel_graph import LogMelGraph
from asc.features.logmel import FeatureConfig, LogMel
from asc.models import build_model
from asc.prune.deploy import deploy_model
from asc.models.checkpoint_file import save_checkpoint

ROOT = Path(__file__).resolve().parents[2]
STUDENT = FeatureConfig()            # the recipe's student front end: 32 kHz, 4096-point STFT, 256 mels
LABELS = list(LABELS)
# a small Rep-Mobile: two stem convolutions, one plain and one strided block
TINY = dict(stem_channels=[4, 8], stage_channels=[8, 16], n_blocks=[1, 1], strides=[[1, 1], [2, 2]],
            expansion_rate=1.5)
MAX_ABS_DIFF = 1e-4

# Run by a separate interpreter: `asc` is made unimportable before anything else happens.
RUNNER = r'''
import sys
sys.modules["asc"] = None
try:
    import asc
except ImportError:
    pass
else:
    raise SystemExit("asc is importable")
import numpy as np
fmt, model, inputs, out = sys.argv[1:5]
x = np.load(inputs)
if fmt == "torchscript":
    import torch
    y = torch.jit.load(model)(torch.from_numpy(x)).detach().numpy()
else:
    import onnxruntime as ort
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    y = session.run(None, {session.get_inputs()[0].name: x})[0]
np.save(out, y)
'''


def shared_pretrained() -> Path:
    """The shared pretrained folder: $ASC_SHARED_PRETRAINED, <repo>/../shared/pretrained or /work/shared/pretrained."""
    candidates = [os.environ.get("ASC_SHARED_PRETRAINED"), ROOT.parent / "shared" / "pretrained",
                  Path("/work/shared/pretrained")]
    for c in candidates:
        if c and (Path(c) / "sample_audio").is_dir():
            return Path(c)
    message = f"no shared pretrained folder with sample_audio/ (tried {[str(c) for c in candidates if c]})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # tests/conftest.py


def tiny_model() -> torch.nn.Module:
    """A tiny Rep-Mobile (training form) with random weights and BatchNorm statistics, in eval mode."""
    torch.manual_seed(0)
    model = build_model("rep_mobile", **TINY)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
    return model.eval()


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    """The stage-5 deployable file (float16) of the tiny model, written by the recipe's own writer."""
    folder = tmp_path_factory.mktemp("deploy")
    model = tiny_model()
    deploy_model(model, "rep_mobile", model.options(), folder, dataclasses.asdict(STUDENT), LABELS)
    return folder / "model.pt"


@pytest.fixture(scope="module")
def real_clips() -> np.ndarray:
    """Two 1-s clips from each real recording, at the student's rate."""
    waves = [load_audio(p, STUDENT.sample_rate) for p in sorted((shared_pretrained() / "sample_audio").glob("*.wav"))]
    assert len(waves) >= 3
    n = STUDENT.clip_samples
    return np.stack([w[k * n:(k + 1) * n] for w in waves for k in (0, 5)]).astype(np.float32)


def package_logits(model_file: Path, clips: np.ndarray) -> np.ndarray:
    """What asc.bin.infer computes for these clips: the model file's front end and network."""
    loaded = load_deployable(model_file)
    with torch.no_grad():
        return loaded.model(LogMel(loaded.features)(torch.from_numpy(clips)).unsqueeze(1)).numpy()


def run_without_asc(fmt: str, exported: Path, x: np.ndarray, tmp_path: Path) -> np.ndarray:
    np.save(tmp_path / "x.npy", x)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", RUNNER, fmt, str(exported), "x.npy", "y.npy"], cwd=tmp_path,
                          env={**env, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return np.load(tmp_path / "y.npy")


@pytest.mark.parametrize("fmt,suffix", [("torchscript", ".ts"), ("onnx", ".onnx")])
def test_an_exported_model_with_its_front_end_gives_the_package_logits_on_real_audio(
        fmt, suffix, model_file, real_clips, tmp_path, capsys):
    out = tmp_path / f"model{suffix}"
    assert export.main(["--model", str(model_file), "--format", fmt, "--out", str(out)]) == 0
    assert "contract ->" in capsys.readouterr().out
    got = run_without_asc(fmt, out, real_clips, tmp_path)
    expected = package_logits(model_file, real_clips)
    assert got.shape == expected.shape == (len(real_clips), len(LABELS))
    assert np.abs(got - expected).max() <= MAX_ABS_DIFF
    contract = json.loads((tmp_path / f"model{suffix}.json").read_text())
    assert contract["input"]["name"] == "wave" and contract["input"]["shape"] == ["batch", 32000]
    assert (contract["sample_rate"], contract["clip_seconds"], contract["channels"]) == (32000, 1.0, 1)
    assert contract["output"]["labels"] == LABELS and contract["front_end_included"]


def test_without_the_front_end_the_file_takes_log_mels(model_file, real_clips, tmp_path):
    out = tmp_path / "net.ts"
    assert export.main(["--model", str(model_file), "--format", "torchscript", "--no-front-end",
                        "--out", str(out)]) == 0
    logmel = LogMel(STUDENT)(torch.from_numpy(real_clips)).unsqueeze(1).numpy()
    got = run_without_asc("torchscript", out, logmel, tmp_path)
    assert np.abs(got - package_logits(model_file, real_clips)).max() <= MAX_ABS_DIFF
    contract = json.loads((tmp_path / "net.ts.json").read_text())
    assert contract["input"] == {**contract["input"], "name": "logmel", "shape": ["batch", 1, 256, 65]}


def test_the_export_front_end_is_the_package_front_end(real_clips):
    wave = torch.from_numpy(real_clips)
    np.testing.assert_allclose(LogMelGraph(STUDENT)(wave).numpy(), LogMel(STUDENT)(wave).numpy(), atol=1e-4)


def test_a_training_checkpoint_is_refused_in_one_line_and_nothing_is_written(model_file, tmp_path, capsys):
    ckpt = tmp_path / "best.pt"
    save_checkpoint(ckpt, tiny_model(), "rep_mobile", TINY)
    assert export.main(["--model", str(ckpt), "--format", "torchscript", "--out", str(tmp_path / "m.ts")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("export: ") and "not a deployed model" in err and str(ckpt) in err
    assert not list(tmp_path.glob("m.ts*"))


def test_an_int8_model_exports_to_torchscript_and_refuses_onnx_clearly(real_clips, tmp_path, capsys):
    from asc.models.quantized import from_float

    qat = from_float(tiny_model())
    with torch.no_grad():
        for _ in range(3):                          # calibrate the observers (QAT does this while training)
            qat(LogMel(STUDENT)(torch.from_numpy(real_clips)).unsqueeze(1))
    folder = tmp_path / "deploy"
    deploy_model(qat, "rep_mobile_int8", TINY, folder, dataclasses.asdict(STUDENT), LABELS, precision="int8")
    out = tmp_path / "int8.ts"
    assert export.main(["--model", str(folder / "model.pt"), "--format", "torchscript", "--no-front-end",
                        "--out", str(out)]) == 0
    logmel = LogMel(STUDENT)(torch.from_numpy(real_clips)).unsqueeze(1)
    got = run_without_asc("torchscript", out, logmel.numpy(), tmp_path)
    with torch.no_grad():
        expected = load_deployable(folder / "model.pt").model(logmel).numpy()
    assert np.abs(got - expected).max() <= MAX_ABS_DIFF
    assert json.loads((tmp_path / "int8.ts.json").read_text())["stored_precision"] == "int8"
    capsys.readouterr()
    assert export.main(["--model", str(folder / "model.pt"), "--format", "onnx", "--out", str(tmp_path / "x.onnx")]) == 1
    assert "TorchScript only" in capsys.readouterr().err and not (tmp_path / "x.onnx").exists()
