"""Stage 6 scoring: the DCASE figures of a checkpoint on cached features, its files, skipping, refusals."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from asc.bin import score
from asc.data.datadir import load_datadir
from asc.data.feature_store import write_store
from asc.metrics import compute_scores
from asc.features.logmel import FeatureConfig
from asc.models import reparameterize
from eval_helpers import FEATS, LABELS, make_test_set, save_deployed, save_experiment, tiny_model

REQUIRED = ("macro_accuracy", "per_device", "per_class", "seen_devices", "unseen_devices", "log_loss",
            "system", "split", "checkpoint", "params", "macs")


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # tests/conftest.py


@pytest.fixture()
def setup(tmp_path):
    return tmp_path, make_test_set(tmp_path)


def run(checkpoint, sets, out, *extra) -> int:
    return score.main(["--checkpoint", str(checkpoint), "--data", str(sets["data"]), "--feats", str(sets["feats"]),
                       "--labels", str(sets["labels"]), "--out", str(out), *extra])


def expected_probs(model, sets) -> np.ndarray:
    x = torch.from_numpy(sets["array"].astype(np.float16).astype(np.float32)).unsqueeze(1)
    with torch.no_grad():
        return torch.softmax(model(x).double(), dim=1).numpy()


def test_an_experiment_is_scored_with_the_dcase_figures_and_its_pictures(setup, capsys):
    root, sets = setup
    model = tiny_model()
    exp = save_experiment(root / "exp" / "kd" / "split25" / "rep_mobile_kd", model, FEATS.hash())
    out = exp / "score_test"
    assert run(exp, sets, out) == 0
    result = json.loads((out / "scores.json").read_text())
    assert all(key in result for key in REQUIRED)
    assert (result["system"], result["split"], result["deployed"]) == ("rep_mobile_kd", 25, False)
    data = load_datadir(sets["data"])
    truth = [data.label[u] for u in data.utts]
    devices = [data.device[u] for u in data.utts]
    expected = compute_scores(truth, expected_probs(model, sets), devices, LABELS).to_dict()
    assert result["macro_accuracy"] == pytest.approx(expected["macro_accuracy"])
    assert result["log_loss"] == pytest.approx(expected["log_loss"], rel=1e-6)
    assert result["per_device"] == pytest.approx(expected["per_device"])
    assert result["confusion"] == expected["confusion"]
    assert set(result["per_device"]) == {"a", "b", "s1", "s4"} and result["unseen_devices"] is not None
    deployed = reparameterize(model)
    assert result["params"] == sum(p.numel() for p in deployed.parameters())     # the fused form is counted
    assert result["macs"] > 0 and result["complexity"]["precision"] == "float16"
    for name in ("confusion.png", "device_class.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = (out / "scores.txt").read_text()
    assert "macro accuracy" in text and "unseen devices" in text and f"{result['params']:,}" in text
    rows = (out / "predictions.tsv").read_text().splitlines()
    assert len(rows) == 1 + len(data) and rows[0].split("\t")[4:] == LABELS
    assert (out / "score.done").is_file()


def test_a_deployed_model_file_is_scored_and_named_after_its_folder(setup):
    root, sets = setup
    model_file = save_deployed(root / "exp" / "deploy" / "split10" / "model.pt", tiny_model())
    out = root / "exp" / "deploy" / "split10" / "score_test"
    assert run(model_file, sets, out) == 0
    result = json.loads((out / "scores.json").read_text())
    assert (result["system"], result["split"], result["deployed"]) == ("deploy", 10, True)
    assert run(model_file, sets, out, "--system", "rep_mobile_pruned", "--split", "5") == 0
    result = json.loads((out / "scores.json").read_text())
    assert (result["system"], result["split"]) == ("rep_mobile_pruned", 5)   # a new name is a new input


def test_a_finished_scoring_is_skipped_until_an_input_changes(setup, capsys):
    root, sets = setup
    exp = save_experiment(root / "exp" / "kd" / "split5" / "baseline", tiny_model(0), FEATS.hash())
    out = root / "scores"
    assert run(exp, sets, out) == 0
    stamp = (out / "scores.json").stat().st_mtime_ns
    first = json.loads((out / "scores.json").read_text())
    capsys.readouterr()
    assert run(exp, sets, out) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert (out / "scores.json").stat().st_mtime_ns == stamp
    save_experiment(exp, tiny_model(seed=3), FEATS.hash())          # retrained: new best.pt
    assert run(exp, sets, out) == 0
    assert "nothing to do" not in capsys.readouterr().out
    assert json.loads((out / "scores.json").read_text())["log_loss"] != first["log_loss"]
    (out / "confusion.png").unlink()                                 # a lost output is rebuilt
    assert run(exp, sets, out) == 0
    assert (out / "confusion.png").is_file()


def test_features_of_another_front_end_are_refused(setup, capsys):
    root, sets = setup
    other = FeatureConfig(sample_rate=16000, n_fft=512, win_length=400, hop_length=200, n_mels=32)
    store = root / "other" / "feats.h5"
    utts = sets["utts"]
    write_store(store, utts, np.zeros((len(utts), other.n_mels, other.clip_frames), np.float32),
                other.to_yaml(), other.hash(), "test")
    model_file = save_deployed(root / "model.pt", tiny_model())
    code = score.main(["--checkpoint", str(model_file), "--data", str(sets["data"]), "--feats", str(store),
                       "--labels", str(sets["labels"]), "--out", str(root / "out")])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("score: ") and err.count("\n") == 1
    assert f"{store}: these features were built with feature config {other.hash()}" in err
    assert f"reads features of config {FEATS.hash()}" in err
    assert not (root / "out" / "scores.json").exists()


@pytest.mark.parametrize("case, message", [
    ("unfinished", "training has not finished here (no train.done)"),
    ("labels", "was trained with ['airport', 'bus'"),
    ("no labels", "utt2label: missing: scoring needs the label of every clip"),
    ("missing features", "utterances of the data directory have no features here"),
    ("not a checkpoint", "cannot read checkpoint"),
])
def test_bad_inputs_stop_with_one_line_naming_the_file(setup, capsys, case, message):
    root, sets = setup
    exp = save_experiment(root / "exp" / "x", tiny_model(), FEATS.hash(), finished=case != "unfinished")
    checkpoint = exp
    if case == "labels":
        sets["labels"].write_text("".join(f"{label}\n" for label in reversed(LABELS)))
    elif case == "no labels":
        (sets["data"] / "utt2label").unlink()
    elif case == "missing features":
        table = sets["data"] / "wav.scp"
        table.write_text(table.read_text() + "zzz-lyon-1-1-0-a audio/zzz.wav\n")
        for name in ("utt2label", "utt2device", "utt2city", "utt2rec"):
            shutil.copy(sets["data"] / name, root / name)
            (sets["data"] / name).write_text((root / name).read_text() + "zzz-lyon-1-1-0-a park\n")
    elif case == "not a checkpoint":
        checkpoint = root / "junk.pt"
        checkpoint.write_text("not a checkpoint")
    assert run(checkpoint, sets, root / "out") == 1
    err = capsys.readouterr().err
    assert err.startswith("score: ") and message in err and "Traceback" not in err


def test_a_set_without_devices_is_scored_without_device_figures(setup):
    root, sets = setup
    exp = save_experiment(root / "exp" / "x", tiny_model(), FEATS.hash())
    (sets["data"] / "utt2device").unlink()
    out = root / "out"
    assert run(exp, sets, out) == 0
    result = json.loads((out / "scores.json").read_text())
    assert result["devices"] == [] and result["per_device"] == {} and result["seen_devices"] is None
    assert "per_recording" not in result                         # whole clips, not segments of recordings
    assert "seen devices" not in (out / "scores.txt").read_text() and (out / "device_class.png").is_file()
    rows = (out / "predictions.tsv").read_text().splitlines()
    assert len(rows) == len(sets["utts"]) + 1 and rows[1].split("\t")[1] == "-"


def test_a_teacher_logits_file_is_scored_as_the_ensemble_without_complexity(setup):
    from asc.data.logit_store import write_logit_store

    root, sets = setup
    data = load_datadir(sets["data"])
    rng = np.random.default_rng(3)
    members = rng.normal(size=(2, len(data), len(LABELS))).astype(np.float32)
    logits_file = root / "exp" / "teach" / "split50" / "logits_test.h5"
    logits_file.parent.mkdir(parents=True)
    mean = write_logit_store(logits_file, data.utts, members, ["cp_resnet", "passt"], LABELS)
    out = root / "ensemble_score"
    args = ["--checkpoint", str(logits_file), "--data", str(sets["data"]), "--labels", str(sets["labels"]),
            "--out", str(out), "--system", "ensemble"]
    assert score.main(args) == 0
    result = json.loads((out / "scores.json").read_text())
    assert (result["system"], result["split"], result["params"], result["macs"]) == ("ensemble", 50, None, None)
    order = np.argsort(np.asarray(data.utts, dtype=object), kind="stable")
    sorted_utts = [data.utts[i] for i in order]
    by_utt = dict(zip(sorted_utts, mean))
    probs = torch.softmax(torch.from_numpy(np.stack([by_utt[u] for u in data.utts])).double(), dim=1).numpy()
    truth = [data.label[u] for u in data.utts]
    devices = [data.device[u] for u in data.utts]
    expected = compute_scores(truth, probs, devices, LABELS).to_dict()
    assert result["macro_accuracy"] == pytest.approx(expected["macro_accuracy"])
    assert result["log_loss"] == pytest.approx(expected["log_loss"], rel=1e-6)
    assert (out / "score.done").is_file() and "params" not in (out / "scores.txt").read_text()


def test_a_model_without_feats_is_refused_in_one_line(setup, capsys):
    root, sets = setup
    exp = save_experiment(root / "exp" / "kd" / "split25" / "rep_mobile", tiny_model(), FEATS.hash())
    args = ["--checkpoint", str(exp), "--data", str(sets["data"]), "--labels", str(sets["labels"]),
            "--out", str(root / "o")]
    assert score.main(args) == 1
    assert "needs --feats" in capsys.readouterr().err


def test_a_model_with_nan_weights_or_outputs_fails_naming_it_and_marks_nothing_done(setup, capsys):
    root, sets = setup
    model = tiny_model()
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))
    path = save_deployed(root / "deploy" / "model.pt", model)
    out = root / "score_nan"
    assert run(path, sets, out) == 1
    err = capsys.readouterr().err
    assert f"{path}" in err and "NaN or infinite" in err and "Traceback" not in err
    assert not (out / "score.done").exists() and not (out / "scores.json").exists()


def test_stored_logits_that_are_not_finite_fail_naming_the_file(setup, capsys):
    from asc.data.logit_store import write_logit_store

    root, sets = setup
    utts = load_datadir(sets["data"]).utts
    members = np.zeros((1, len(utts), len(LABELS)))
    members[0, 0, 0] = np.nan
    logits = root / "logits.h5"
    write_logit_store(logits, utts, members, ["t"], LABELS)
    out = root / "score_logits"
    assert score.main(["--checkpoint", str(logits), "--data", str(sets["data"]), "--labels", str(sets["labels"]),
                       "--out", str(out)]) == 1
    assert f"{logits}: the model's stored logits hold" in capsys.readouterr().err
    assert not (out / "score.done").exists()


def test_a_float16_stored_model_is_scored_in_float32_unless_asked(setup):
    root, sets = setup
    model_file = save_deployed(root / "exp" / "deploy" / "split10" / "model.pt", tiny_model())
    out32, out16 = root / "score32", root / "score16"
    assert run(model_file, sets, out32) == 0
    assert run(model_file, sets, out16, "--compute-dtype", "float16") == 0
    scores32 = json.loads((out32 / "scores.json").read_text())
    scores16 = json.loads((out16 / "scores.json").read_text())
    assert scores32["params"] == scores16["params"] and scores16["complexity"]["precision"] == "float16"
    fused = reparameterize(tiny_model())
    with torch.no_grad():
        for p in fused.parameters():
            p.copy_(p.half().float())                  # the stored values, computed in float32
    data = load_datadir(sets["data"])
    expected = compute_scores([data.label[u] for u in data.utts], expected_probs(fused, sets),
                              [data.device[u] for u in data.utts], LABELS).to_dict()
    assert scores32["log_loss"] == pytest.approx(expected["log_loss"], rel=1e-6)   # float32 by default
    assert scores16["log_loss"] != scores32["log_loss"]                            # float16 when asked
    assert scores16["log_loss"] == pytest.approx(scores32["log_loss"], abs=1e-2)
