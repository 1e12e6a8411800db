"""The DCASE2025 Task 1 inference package: exported from a general and a device model, installed with
`pip install -e` into a fresh virtual environment where `asc` cannot be imported, and its API called on
wav files there: logits per file from the model of each file's device (the general one for others),
equal to what asc computes from the same files; its complexity and evaluation scripts run."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from asc.complexity import count_complexity
from asc.data.audio import load_audio
from asc.errors import AscError
from asc.export.dcase2025_package import export_package
from asc.features.logmel import LogMel, fix_length
from asc.models.model_file import load_deployable

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bin"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from clean_env import make_clean_venv  # noqa: E402
from eval_helpers import FEATS, LABELS, save_deployed, tiny_model  # noqa: E402

NAME = "Tiny_Test_task1"
DEVICES = ["b", "s4", "unknown", "b"]


def write_wavs(folder: Path) -> list[Path]:
    """Four clips as a user has them: 44.1 kHz mono, 48 kHz stereo, 0.6 s at 16 kHz, 1 s at 44.1 kHz."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    specs = [(44100, 1, 1.0), (48000, 2, 1.0), (16000, 1, 0.6), (44100, 1, 1.0)]
    paths = []
    for k, (rate, channels, seconds) in enumerate(specs):
        t = np.arange(int(rate * seconds)) / rate
        tone = 0.3 * np.sin(2 * np.pi * (300 + 200 * k) * t)[:, None] + 0.05 * rng.standard_normal((len(t), channels))
        paths.append(folder / f"clip{k}.wav")
        sf.write(paths[-1], tone.astype(np.float32), rate, subtype="PCM_16")
    return paths


def expected_logits(model_path: Path, wav: Path) -> torch.Tensor:
    """What asc computes for one file: its reader and resampler, its front end, the deployed model."""
    loaded = load_deployable(model_path)
    wave = fix_length(load_audio(wav, FEATS.sample_rate), FEATS.clip_samples)
    with torch.no_grad():
        mel = LogMel(FEATS)(torch.from_numpy(wave)[None])
        return loaded.model(mel.unsqueeze(1))[0]


API_CALLS = """
import json, sys
try:
    import asc
    raise SystemExit("asc is importable in the package's environment")
except ImportError:
    pass
from {name}.{name}_1 import predict, load_model, load_inputs, get_model_for_device
files, devices = json.loads(sys.argv[1]), json.loads(sys.argv[2])
logits, classes = predict(files, devices)
model = load_model()
inputs = load_inputs(files, devices, model)
nets = {{d: get_model_for_device(model, d) for d in ("b", "s4", "unknown", "a")}}
print(json.dumps({{"logits": [x.tolist() for x in logits], "classes": classes,
                  "shapes": [list(x.shape) for x in inputs], "dtypes": sorted({{str(p.dtype) for n in nets.values()
                                                                               for p in n.parameters()}}),
                  "same_as_general": {{d: nets[d] is model.general for d in nets}},
                  "asc_loaded": "asc" in sys.modules}}))
"""


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    root = tmp_path_factory.mktemp("dcase2025_package")
    general = save_deployed(root / "general" / "model.pt", tiny_model(0))
    device_b = save_deployed(root / "b" / "model.pt", tiny_model(1))
    test_csv = root / "test.csv"
    test_csv.write_text("filename\tscene_label\naudio/clip0.wav\tairport\naudio/clip1.wav\tbus\n")
    meta = export_package(general, {"b": device_b}, NAME, root / "package", test_csv)
    python = make_clean_venv(root / "venv", ["torch", "numpy", "soundfile", "soxr"])
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-index", "--no-build-isolation", "-e",
                              str(root / "package")], capture_output=True, text=True, timeout=300, cwd=root)
    assert install.returncode == 0, install.stdout + install.stderr
    return {"root": root, "general": general, "b": device_b, "python": python, "meta": meta}


def run_in_venv(package, *args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(package["python"]), *args], capture_output=True, text=True, timeout=300,
                          cwd=cwd or package["root"], env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})


def test_the_installed_package_classifies_wav_files_by_device_without_asc(package, tmp_path):
    wavs = write_wavs(tmp_path / "audio")
    assert run_in_venv(package, "-c", "import asc").returncode != 0                # not importable there
    result = run_in_venv(package, "-c", API_CALLS.format(name=NAME), json.dumps([str(w) for w in wavs]),
                         json.dumps(DEVICES))
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["classes"] == LABELS and not out["asc_loaded"]
    assert out["shapes"] == [[1, 1, FEATS.n_mels, FEATS.clip_frames]] * len(wavs)
    assert out["dtypes"] == ["torch.float16"]                                      # as counted
    assert out["same_as_general"] == {"b": False, "s4": True, "unknown": True, "a": True}
    for wav, device, got in zip(wavs, DEVICES, out["logits"]):
        model = package["b"] if device == "b" else package["general"]
        torch.testing.assert_close(torch.tensor(got), expected_logits(model, wav), atol=1e-3, rtol=1e-3)


def test_the_package_scripts_count_complexity_and_write_the_submission_files(package, tmp_path):
    pkg = package["root"] / "package"
    result = run_in_venv(package, "test_complexity.py", "--submission_name", NAME, "--submission_index", "1", cwd=pkg)
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads((pkg / "predictions" / f"{NAME}_1" / "complexity.json").read_text())["per_device"]
    fused = load_deployable(package["general"]).model
    counted = count_complexity(fused, (1, FEATS.n_mels, FEATS.clip_frames), deploy=False)
    assert figures["b"]["params"] == figures["s4"]["params"] == counted.params
    assert figures["s4"]["Params"] == 2 * counted.params                           # float16 bytes
    assert figures["b"]["MACs"] == figures["unknown"]["MACs"] == counted.macs

    dev, evaluation = tmp_path / "dev", tmp_path / "eval"
    write_wavs(dev / "audio")
    (dev / "meta.csv").write_text("filename\tscene_label\tidentifier\tsource_label\n"
                                  "audio/clip0.wav\tairport\tx-1\tb\naudio/clip1.wav\tbus\tx-2\ts4\n")
    write_wavs(evaluation / "audio")
    (evaluation / "evaluation_setup").mkdir()
    (evaluation / "evaluation_setup" / "fold1_test.csv").write_text("filename\naudio/clip2.wav\naudio/clip3.wav\n")
    result = run_in_venv(package, "evaluate_submission.py", "--submission_name", NAME, "--submission_index", "1",
                         "--dev_set_dir", str(dev), "--eval_set_dir", str(evaluation), cwd=pkg)
    assert result.returncode == 0, result.stdout + result.stderr
    accuracy = json.loads((pkg / "predictions" / f"{NAME}_1" / "test_accuracy.json").read_text())
    assert accuracy["n_files"] == 2 and set(accuracy["per_device"]) == {"b", "s4"}
    rows = (pkg / "predictions" / f"{NAME}_1" / "output.csv").read_text().splitlines()
    assert rows[0].split("\t") == ["filename", "scene_label", *LABELS] and len(rows) == 3
    probs = np.array([[float(v) for v in row.split("\t")[2:]] for row in rows[1:]])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)


def test_a_device_model_of_another_architecture_is_not_exported(tmp_path):
    from asc.models import build_model
    general = save_deployed(tmp_path / "g.pt", tiny_model(0))
    with pytest.raises(AscError, match="_task1"):
        export_package(general, {}, "not_a_label", tmp_path / "out")
    other = tmp_path / "other.pt"
    model = build_model("rep_mobile", stem_channels=[4, 8], stage_channels=[8, 16], n_blocks=[1, 1],
                        strides=[[1, 1], [2, 2]], expansion_rate=3.0)
    save_deployed(other, model)              # its weights do not fit the general model's network
    with pytest.raises(AscError, match="other.pt"):
        export_package(general, {"b": other}, NAME, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_export_of_the_same_files_is_kept_and_another_replaces_it(tmp_path):
    general = save_deployed(tmp_path / "g.pt", tiny_model(0))
    device = save_deployed(tmp_path / "b.pt", tiny_model(1))
    export_package(general, {"b": device}, NAME, tmp_path / "out")
    models = tmp_path / "out" / NAME / "ckpts" / "models.json"
    first = models.stat().st_mtime_ns
    export_package(general, {"b": device}, NAME, tmp_path / "out")
    assert models.stat().st_mtime_ns == first
    export_package(general, {}, NAME, tmp_path / "out")
    assert json.loads(models.read_text())["devices"] == {}
    assert not (tmp_path / "out" / NAME / "ckpts" / "device_b.pt").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []      # no temporaries left
