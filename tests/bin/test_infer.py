"""Inference on audio files from the one deployable model file: any rate, length and channel count,
and a clear per-file message for every bad file without losing the others."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from asc.bin import infer
from asc.data.audio import resample
from asc.errors import InputError
from asc.models.model_file import load_deployable
from asc.features.logmel import LogMel
from asc.models import reparameterize
from eval_helpers import FEATS, LABELS, save_deployed, save_experiment, tiny_model

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # tests/conftest.py


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    return save_deployed(tmp_path_factory.mktemp("model") / "model.pt", tiny_model())


def scene(seconds: float, rate: int = 44100, channels: int = 1, seed: int = 0) -> np.ndarray:
    """Noise with tones, different in each channel."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * rate))) / rate
    waves = [0.05 * rng.standard_normal(len(t)) + 0.3 * np.sin(2 * np.pi * (300 + 700 * c) * t)
             for c in range(channels)]
    return np.stack(waves, axis=1).astype(np.float32) if channels > 1 else waves[0].astype(np.float32)


def reference_probs(path: Path) -> np.ndarray:
    """The same pipeline by hand: mix down, resample, 1-s clips (3.5 s -> 3 + a padded half), log-mel
    of the model's front end, the fused float16-stored model, the clips' softmax aggregated as a file's
    (mean of the log-probabilities, renormalised)."""
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    wave = resample(audio.mean(axis=1), rate, FEATS.sample_rate)
    clip = FEATS.clip_samples
    n = int(np.ceil(len(wave) / clip))
    clips = np.zeros((n, clip), np.float32)
    for k in range(n):
        piece = wave[k * clip:(k + 1) * clip]
        clips[k, :len(piece)] = piece
    model = reparameterize(tiny_model())
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())
        logits = model(LogMel(FEATS)(torch.from_numpy(clips)).unsqueeze(1))
    mean_log = torch.log_softmax(logits.double(), dim=1).mean(dim=0)
    return torch.softmax(mean_log, dim=0).numpy()


def parse(text: str) -> dict[str, list[str]]:
    lines = text.strip().splitlines()
    return {line.split("\t")[0]: line.split("\t") for line in lines[1:]}


def test_a_stereo_44k_3_5_s_wav_is_classified_from_the_model_file_alone(model_file, tmp_path):
    """The done-criterion: a fresh process outside any recipe folder, the model file and a wav."""
    wav = tmp_path / "street.wav"
    sf.write(wav, scene(3.5, channels=2), 44100, subtype="PCM_16")
    out = tmp_path / "results.tsv"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "asc.bin.infer", "--model", str(model_file), "street.wav",
                           "--out", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "street.wav: has 2 channels; mixed down to mono" in proc.stderr
    lines = out.read_text().splitlines()
    assert lines[0].split("\t") == ["filename", "scene_label", *LABELS, "clips"]
    name, label, *probs, clips = lines[1].split("\t")
    probs = np.array([float(p) for p in probs])
    expected = reference_probs(wav)
    assert name == "street.wav" and clips == "4"
    np.testing.assert_allclose(probs, expected, atol=2e-6)
    assert label == LABELS[int(expected.argmax())]


def test_one_row_per_clip_without_segment_averaging(model_file, tmp_path, capsys):
    wav = tmp_path / "long.flac"
    sf.write(wav, scene(2.2, rate=22050), 22050)
    assert infer.main(["--model", str(model_file), "--no-segment-average", str(wav)]) == 0
    rows = capsys.readouterr().out.strip().splitlines()
    assert rows[0].split("\t")[:3] == ["filename", "clip", "scene_label"]
    assert [r.split("\t")[:2] for r in rows[1:]] == [[str(wav), "0"], [str(wav), "1"]]   # 0.2-s rest dropped


def test_a_long_file_gets_a_label_per_segment_and_one_for_the_whole_file(model_file, tmp_path, capsys):
    wav = tmp_path / "long.ogg"                  # not a wav: libsndfile's Vorbis reader
    sf.write(wav, scene(5.7, rate=16000, channels=2), 16000, subtype="VORBIS")
    assert infer.main(["--model", str(model_file), "--segments", str(wav)]) == 0
    rows = [r.split("\t") for r in capsys.readouterr().out.strip().splitlines()]
    assert rows[0] == ["filename", "segment", "start", "end", "scene_label", *LABELS]
    body = rows[1:]
    assert [r[1:4] for r in body] == [["0", "0.000", "1.000"], ["1", "1.000", "2.000"], ["2", "2.000", "3.000"],
                                      ["3", "3.000", "4.000"], ["4", "4.000", "5.000"], ["5", "5.000", "5.700"],
                                      ["file", "0.000", "5.700"]]
    segment_probs = np.array([[float(v) for v in r[5:]] for r in body[:-1]])
    whole = np.array([float(v) for v in body[-1][5:]])
    for row, probs in zip(body, list(segment_probs) + [whole]):
        assert row[4] == LABELS[int(probs.argmax())]
    expected = np.exp(np.log(np.maximum(segment_probs, 1e-12)).mean(axis=0))   # mean log-prob., renormalised
    np.testing.assert_allclose(whole, expected / expected.sum(), atol=2e-5)
    assert infer.main(["--model", str(model_file), "--segments", "--aggregate", "mean_prob", str(wav)]) == 0
    arithmetic = [float(v) for v in capsys.readouterr().out.strip().splitlines()[-1].split("\t")[5:]]
    np.testing.assert_allclose(arithmetic, segment_probs.mean(axis=0), atol=2e-5)


def test_a_hop_gives_overlapping_segments_on_a_finer_time_grid(model_file, tmp_path, capsys):
    wav = tmp_path / "long.wav"
    sf.write(wav, scene(3.2, rate=16000), 16000)
    assert infer.main(["--model", str(model_file), "--segments", "--hop", "0.5", str(wav)]) == 0
    rows = [r.split("\t") for r in capsys.readouterr().out.strip().splitlines()[1:]]
    # whole clips start at 0, 0.5, ..., 2.0 (the last ends at 3.0); 0.2 s uncovered after it: dropped
    assert [r[1:4] for r in rows] == [["0", "0.000", "1.000"], ["1", "0.500", "1.500"], ["2", "1.000", "2.000"],
                                      ["3", "1.500", "2.500"], ["4", "2.000", "3.000"], ["file", "0.000", "3.200"]]
    assert infer.main(["--model", str(model_file), "--segments", str(wav)]) == 0      # side by side
    side = [r.split("\t") for r in capsys.readouterr().out.strip().splitlines()[1:]]
    assert [r[1] for r in side] == ["0", "1", "2", "file"]
    assert side[1][5:] == rows[2][5:]                 # the clip from 1 s on is the same clip either way
    assert infer.main(["--model", str(model_file), "--hop", "1.5", str(wav)]) == 1
    assert "hop between clips must be in (0, 1] s" in capsys.readouterr().err


def test_folders_and_lists_are_read(model_file, tmp_path, capsys):
    folder = tmp_path / "recordings"
    (folder / "sub").mkdir(parents=True)
    for name, rate in (("a.wav", 48000), ("sub/b.flac", 16000)):
        sf.write(folder / name, scene(1.0, rate=rate), rate)
    listing = tmp_path / "files.txt"
    listing.write_text(f"# recordings\n\n{folder / 'a.wav'}\n")
    out = tmp_path / "r.tsv"
    assert infer.main(["--model", str(model_file), "--dir", str(folder), "--list", str(listing), "--out", str(out)]) == 0
    names = [line.split("\t")[0] for line in out.read_text().splitlines()[1:]]
    assert names == [str(folder / "a.wav"), str(folder / "sub" / "b.flac"), str(folder / "a.wav")]
    assert "3 of 3 files classified" in capsys.readouterr().err


def make_bad(folder: Path, kind: str) -> Path:
    path = folder / f"{kind}.wav"
    if kind == "corrupt":
        path.write_bytes(b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunkjunk" * 3)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "not_audio":
        path.write_text("filename\tscene_label\n" * 10)
    elif kind == "folder":
        path.mkdir()
    return path                                  # "missing": never written


BAD = {
    "corrupt": "corrupt.wav: not a readable audio file",
    "empty": "empty.wav: empty file (0 bytes), not audio",
    "not_audio": "not_audio.wav: not a readable audio file",
    "folder": "folder.wav: is a directory, not an audio file",
    "missing": "missing.wav: audio file not found",
}


def test_bad_files_are_named_and_the_good_ones_still_classified(model_file, tmp_path, capsys):
    good = tmp_path / "good.wav"
    sf.write(good, scene(1.0), 44100)
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(44100, np.float32), 44100)
    stereo = tmp_path / "stereo.wav"
    sf.write(stereo, scene(1.5, channels=3), 44100)
    short = tmp_path / "short.wav"
    sf.write(short, scene(0.3), 44100)
    bad = [make_bad(tmp_path, kind) for kind in BAD]
    out = tmp_path / "r.tsv"
    code = infer.main(["--model", str(model_file), str(good), *map(str, bad), str(silent), str(stereo), str(short),
                       "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    for kind, message in BAD.items():
        assert f"infer: error: {tmp_path / message}" in err, kind
    assert f"infer: warning: {silent}: silent (every sample is zero)" in err
    assert f"infer: warning: {stereo}: has 3 channels; mixed down to mono" in err
    assert f"infer: warning: {short}: 0.30 s long, shorter than one 1-s clip; zero-padded" in err
    assert f"5 of 9 files failed (see the errors above); the results of the other 4 were written to {out}" in err
    assert "Traceback" not in err
    rows = parse(out.read_text())
    assert list(rows) == [str(good), str(silent), str(stereo), str(short)]
    assert all(abs(sum(float(p) for p in row[2:12]) - 1) < 1e-4 for row in rows.values())


def test_only_a_deployable_model_file_is_accepted(tmp_path, capsys):
    wav = tmp_path / "a.wav"
    sf.write(wav, scene(1.0), 44100)
    exp = save_experiment(tmp_path / "exp", tiny_model(), FEATS.hash())
    assert infer.main(["--model", str(exp / "checkpoints" / "best.pt"), str(wav)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("infer: ") and "best.pt: not a deployed model (missing precision, features" in err
    assert infer.main(["--model", str(wav), str(wav)]) == 1
    assert "a.wav: cannot read checkpoint" in capsys.readouterr().err
    assert infer.main(["--model", str(tmp_path / "exp"), str(wav)]) == 1
    assert "is a directory; give the deployable model file" in capsys.readouterr().err
    assert infer.main(["--model", str(wav)]) == 1
    assert "infer: no audio given" in capsys.readouterr().err


def test_the_deployable_file_gives_the_model_its_front_end_labels_and_precision(model_file):
    loaded = load_deployable(model_file)
    assert loaded.features == FEATS and loaded.labels == LABELS and loaded.precision == "float16"
    assert loaded.model_name == "rep_mobile" and loaded.deployed and not loaded.model.training
    params = list(loaded.model.parameters())
    assert all(p.dtype == torch.float32 for p in params)                 # computed in float32 ...
    assert all(torch.equal(p, p.half().float()) for p in params)         # ... with the stored float16 values
    with pytest.raises(InputError, match="not a deployed model"):
        load_deployable(save_experiment(model_file.parent / "exp", tiny_model(), None) / "checkpoints" / "best.pt")


def test_non_finite_results_are_a_named_error_per_file_and_the_others_still_classified(model_file, tmp_path, capsys):
    good, huge = tmp_path / "good.wav", tmp_path / "huge.wav"
    sf.write(good, scene(1.5), 44100)
    sf.write(huge, np.full(44100, 3e38, np.float32), 44100, subtype="FLOAT")   # finite samples, inf power
    assert infer.main(["--model", str(model_file), str(huge), str(good)]) == 1
    captured = capsys.readouterr()
    rows = captured.out.strip().splitlines()
    assert len(rows) == 2 and rows[1].startswith(str(good)) and "nan" not in captured.out
    assert f"infer: error: {huge}: the model's class probabilities for this file hold" in captured.err
    assert "samples far outside [-1, 1]" in captured.err


def test_a_model_with_nan_weights_is_refused_naming_it(tmp_path, capsys):
    broken = tiny_model()
    with torch.no_grad():
        next(broken.parameters()).fill_(float("nan"))
    path = save_deployed(tmp_path / "nan" / "model.pt", broken)
    wav = tmp_path / "a.wav"
    sf.write(wav, scene(1.0), 44100)
    assert infer.main(["--model", str(path), str(wav)]) == 1
    err = capsys.readouterr().err
    assert f"infer: {path}: the model's weights hold NaN or infinite values" in err


def test_a_model_of_an_unfinished_deploy_is_refused(model_file, tmp_path, capsys):
    folder = tmp_path / "deploy" / "split5"
    folder.mkdir(parents=True)
    (folder / "model.pt").write_bytes(model_file.read_bytes())
    (folder / "complexity.json").write_text("{}")           # the deploy stage stopped before deploy.done
    wav = tmp_path / "a.wav"
    sf.write(wav, scene(1.0), 44100)
    assert infer.main(["--model", str(folder / "model.pt"), str(wav)]) == 1
    assert "the deploy stage did not finish" in capsys.readouterr().err
    (folder / "deploy.done").write_text("{}")
    assert infer.main(["--model", str(folder / "model.pt"), str(wav)]) == 0


def test_long_files_are_streamed_in_blocks_with_the_same_results(model_file, tmp_path, monkeypatch):
    from asc.data import audio
    from asc.eval.audio_inference import AudioClassifier

    wav = tmp_path / "long.wav"
    sf.write(wav, scene(7.3, channels=3), 44100)
    classifier = AudioClassifier.from_file(model_file, batch_size=4)
    whole = next(classifier.classify([wav])).probs
    monkeypatch.setattr(audio, "STREAM_BLOCK_SECONDS", 1.7)            # 5 blocks through the stream resampler
    read = []
    real_read = sf.SoundFile.read
    monkeypatch.setattr(sf.SoundFile, "read", lambda self, frames=-1, *args, **kw: read.append(frames) or
                        real_read(self, frames, *args, **kw))
    streamed = next(classifier.classify([wav])).probs
    assert read and max(read) == int(1.7 * 44100)                      # never the whole file at once
    assert streamed.shape == whole.shape == (7, len(LABELS))
    np.testing.assert_allclose(streamed, whole, atol=1e-4)


def test_float16_compute_is_only_used_when_asked(model_file, tmp_path, capsys):
    """Default: the float16-stored weights compute in float32 (full CPU speed); --compute-dtype float16
    runs the same model in float16, with nearly the same probabilities."""
    wav = tmp_path / "park.wav"
    sf.write(wav, scene(2.0, rate=16000), 16000)
    assert infer.main(["--model", str(model_file), str(wav)]) == 0
    as_float32 = np.array(parse(capsys.readouterr().out)[str(wav)][2:-1], dtype=float)
    np.testing.assert_allclose(as_float32, reference_probs(wav), atol=2e-6)
    half = load_deployable(model_file, compute_dtype="float16").model
    assert all(p.dtype == torch.float16 for p in half.parameters())
    assert infer.main(["--model", str(model_file), "--compute-dtype", "float16", str(wav)]) == 0
    as_float16 = np.array(parse(capsys.readouterr().out)[str(wav)][2:-1], dtype=float)
    np.testing.assert_allclose(as_float16, as_float32, atol=5e-3)
    assert not np.array_equal(as_float16, as_float32)      # it really ran in float16
