"""The deployable model: one self-contained float16 file read with weights_only, its float16 path,
and a stage that fails clearly when the limits are exceeded."""
from __future__ import annotations

import json

import pytest
import torch

from asc.bin.prune import main
from asc.config import from_dict
from asc.features.logmel import FeatureConfig
from asc.models import build_model, reparameterize
from asc.models.rep_mobile import WIDE
from asc.models.model_file import load_deployed
from asc.prune.deploy import DeployError, deploy_model
from asc.models.checkpoint_file import save_checkpoint
from tiny_prune import INPUT_SHAPE, LABELS, TINY, make_tiny_prune


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def trained_like(model):
    """BatchNorm statistics and scales away from their initial values, eval mode."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=gen) - 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
    return model.eval()


def test_round_trip_weights_only_in_float32_and_float16(tmp_path):
    model = trained_like(build_model("rep_mobile", **TINY))
    features = FeatureConfig(n_mels=32).__dict__
    report = deploy_model(model, "rep_mobile", model.options(), tmp_path, features, LABELS,
                          input_shape=INPUT_SHAPE)
    saved = torch.load(tmp_path / "model.pt", weights_only=True)
    assert saved["deployed"] is True and saved["precision"] == "float16" and saved["labels"] == LABELS
    assert saved["complexity"] == report == json.loads((tmp_path / "complexity.json").read_text())
    assert report["within_limits"] and report["param_bytes"] == 2 * report["params"]
    floats = [v for v in saved["state_dict"].values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float16 for v in floats)
    assert not any("branches" in k or "bn" in k for k in saved["state_dict"])   # fused: no branch left
    assert from_dict(FeatureConfig, saved["features"]) == FeatureConfig(n_mels=32)

    x = torch.randn(4, *INPUT_SHAPE)
    with torch.no_grad():
        reference = reparameterize(model)(x)
        m32, feats, labels = load_deployed(tmp_path / "model.pt")
        m16, _, _ = load_deployed(tmp_path / "model.pt", dtype=torch.float16)
        out32, out16 = m32(x), m16(x.half())
    assert labels == LABELS and feats == saved["features"]
    assert out16.dtype == torch.float16
    scale = reference.abs().max().item()
    assert (out32 - reference).abs().max().item() < 1e-2 * scale     # float16-rounded weights
    assert (out16.float() - reference).abs().max().item() < 2e-2 * scale
    assert torch.equal(out16.float().argmax(1), reference.argmax(1))


def test_model_over_the_limits_is_refused_and_nothing_written(tmp_path):
    model = build_model("rep_mobile", **WIDE)
    with pytest.raises(DeployError, match=r"exceeds the DCASE2024 limits: 168,548 B .*42,643,008 MACs"):
        deploy_model(model, "rep_mobile", model.options(), tmp_path / "deploy", {}, LABELS)
    assert not (tmp_path / "deploy").exists()


def test_training_checkpoint_is_not_a_deployed_model(tmp_path):
    model = build_model("rep_mobile", **TINY)
    save_checkpoint(tmp_path / "train.pt", model, "rep_mobile", model.options())
    with pytest.raises(Exception, match="not a deployed model"):
        load_deployed(tmp_path / "train.pt")


def test_stage_fails_clearly_when_the_pruned_model_exceeds_the_limits(tmp_path, capsys):
    # a start model over the limits (counted at the DCASE input size) and a target above the limits
    tiny = make_tiny_prune(tmp_path, options={**TINY, "stem_channels": [8, 32], "stage_channels": [32, 64],
                                              "expansion_rate": 6.0})
    deploy = tmp_path / "deploy"
    code = main(tiny.argv(tmp_path / "prune", "steps=1", "input_shape=[1,256,65]", "target.param_bytes=1000000",
                          "target.macs=1000000000", deploy=deploy))
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().splitlines()[-1].startswith("prune: the deployment form exceeds the DCASE2024 limits")
    assert "Traceback" not in err and not (deploy / "model.pt").exists() and not (deploy / "deploy.done").exists()


def test_stage_writes_the_float16_check(tmp_path):
    tiny = make_tiny_prune(tmp_path)
    deploy = tmp_path / "deploy"
    assert main(tiny.argv(tmp_path / "prune", "steps=1", "target.param_bytes=6000", "target.macs=80000",
                          deploy=deploy)) == 0
    check = json.loads((deploy / "precision.json").read_text())
    assert check["n_clips"] == 144 and abs(check["difference_points"]) <= 0.5
    done = json.loads((deploy / "deploy.done").read_text())
    assert done["complexity"]["param_bytes"] <= 6000 and done["precision_check"]["file_float16"] is not None
    model, features, labels = load_deployed(deploy / "model.pt", dtype=torch.float16)
    assert labels == LABELS and features["n_mels"] == 32


def rewrite_store(path):
    """The feature stage run again on the same clips: same features, a new store (new done marker)."""
    import h5py

    from asc.data.feature_store import write_store

    with h5py.File(path, "r") as f:
        utts, feats = list(f["utts"].asstr()[:]), f["feats"][()]
        config_yaml, config_hash, data_dir = (str(f.attrs[k]) for k in ("config_yaml", "config_hash", "data_dir"))
    write_store(path, utts, feats.astype("float32"), config_yaml, config_hash, data_dir)


def test_a_rebuilt_test_store_redoes_the_deploy_and_a_rebuilt_training_store_stops_pruning(tmp_path, capsys):
    import shutil

    tiny = make_tiny_prune(tmp_path)
    test_feats = tmp_path / "dump" / "test" / "feats.h5"
    test_feats.parent.mkdir(parents=True)
    rewrite_store(tiny.feats)
    shutil.copy(tiny.feats, test_feats)
    shutil.copy(tiny.feats.with_suffix(".done"), test_feats.with_suffix(".done"))
    deploy, exp = tmp_path / "deploy", tmp_path / "prune"
    argv = tiny.argv(exp, "steps=1", "target.param_bytes=6000", "target.macs=80000", deploy=deploy)
    argv[argv.index("--test-feats") + 1] = str(test_feats)
    assert main(argv) == 0
    pruned, deployed = (exp / "prune.done").stat().st_mtime_ns, (deploy / "deploy.done").stat().st_mtime_ns
    assert main(argv) == 0                                       # nothing changed: nothing redone
    assert (deploy / "deploy.done").stat().st_mtime_ns == deployed
    rewrite_store(test_feats)
    assert main(argv) == 0
    assert (deploy / "deploy.done").stat().st_mtime_ns != deployed       # the float16 check again
    assert (exp / "prune.done").stat().st_mtime_ns == pruned             # the pruning not
    rewrite_store(tiny.feats)
    capsys.readouterr()
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "prune.done" in err and "feats changed" in err and f"remove {exp}" in err


def test_stage_5_at_int8_fine_tunes_with_fake_quantisation_and_stores_int8_weights(tmp_path):
    """precision int8: pruning counted at 1 byte per parameter, quantisation-aware fine-tuning, a
    deployable file whose weights are int8, loadable as the int8 network and checked on the test set."""
    tiny = make_tiny_prune(tmp_path)
    deploy = tmp_path / "deploy"
    assert main(tiny.argv(tmp_path / "prune", "steps=1", "target.param_bytes=3000", "target.macs=80000",
                          "target.precision=int8", "qat.epochs=1", "deploy.max_int8_accuracy_drop=100",
                          deploy=deploy)) == 0
    assert (tmp_path / "prune" / "qat" / "checkpoints").is_dir()
    saved = torch.load(deploy / "model.pt", weights_only=True)
    assert saved["model_name"] == "rep_mobile_int8" and saved["precision"] == "int8"
    weights = {k: v for k, v in saved["state_dict"].items() if k.endswith(".weight") and "fake_quant" not in k}
    assert weights and all(v.dtype == torch.int8 for v in weights.values())
    memory = saved["complexity"]["int8_memory"]
    assert saved["complexity"]["param_bytes"] == memory["param_bytes"] <= 128_000
    assert memory["param_bytes"] == (memory["weights_int8"] + 4 * memory["biases_float32"]
                                     + 5 * memory["weight_channels"] + 5 * memory["quantised_activations"])
    assert memory["weights_int8"] <= 3000          # the pruning budget, counted at 1 byte per parameter
    check = json.loads((deploy / "precision.json").read_text())
    assert check["precision"] == "int8" and check["n_clips"] == 144
    assert check["file_int8"]["macro_accuracy"] > 0.25 or check["float32"]["macro_accuracy"] <= 0.3
    model, features, labels = load_deployed(deploy / "model.pt")
    assert labels == LABELS and not list(model.parameters())        # packed int8 kernels
    with torch.no_grad():
        out = model(torch.randn(3, *INPUT_SHAPE))
    assert out.shape == (3, len(LABELS)) and out.dtype == torch.float32
    # asc.bin.infer classifies audio with the int8 file alone
    import numpy as np
    import soundfile as sf

    from asc.bin import infer

    rate = features["sample_rate"]
    wav = tmp_path / "clip.wav"
    sf.write(wav, (0.1 * np.random.default_rng(0).standard_normal(int(1.5 * rate))).astype(np.float32), rate)
    assert infer.main(["--model", str(deploy / "model.pt"), str(wav), "--out", str(tmp_path / "out.tsv")]) == 0
    row = (tmp_path / "out.tsv").read_text().splitlines()[1].split("\t")
    assert row[1] in LABELS and abs(sum(map(float, row[2:-1])) - 1) < 1e-4


def test_complexity_at_int8_counts_the_stored_bytes_of_the_quantised_form(capsys):
    from asc.bin import complexity

    assert complexity.main(["--model", "rep_mobile", "--precision", "int8"]) == 0
    report = json.loads(capsys.readouterr().out)
    memory = report["int8_memory"]
    assert report["precision"] == "int8" and report["param_bytes"] == memory["param_bytes"]
    assert memory["weights_int8"] + memory["biases_float32"] == report["params"]     # every parameter counted
    assert memory["weight_channels"] == memory["biases_float32"]                     # one scale per output channel
    assert report["param_bytes"] == (memory["weights_int8"] + 9 * memory["weight_channels"]
                                     + 5 * memory["quantised_activations"])
    assert report["params"] < report["param_bytes"] < 1.25 * report["params"]        # vs 2x params at float16
