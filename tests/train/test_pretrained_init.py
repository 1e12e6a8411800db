"""Stage 3's fine-tuning start: a config naming an official pretrained file (`pretrained:`) starts from
the verified copy in --pretrained-dir, with a fresh head for the dataset's classes; a missing folder or
file, or a file that is not the official one, stops the run with the path named."""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tiny_run import LABELS, TRAIN_YAML, make_tiny, weights  # noqa: E402

from asc.bin import train  # noqa: E402
from asc.models import build_model, pretrained_files  # noqa: E402
from asc.models.pretrained_files import PretrainedFile  # noqa: E402

NAME = "mn04_test_as.pt"
YAML = {**TRAIN_YAML, "model": "mn04", "model_options": {}, "pretrained": NAME, "epochs": 1, "lr": 1e-12,
        "warmup_epochs": 0, "kd": {"lambda_ce": 1.0}, "channels_last": False}


@pytest.fixture
def official(tmp_path, monkeypatch) -> tuple[Path, dict]:
    """A folder holding an 'official' mn04 file (random weights, AudioSet's 527 classes) the registry knows."""
    folder = tmp_path / "pretrained"
    folder.mkdir()
    torch.manual_seed(1)
    state = build_model("mn04").state_dict()
    torch.save(state, folder / NAME)
    data = (folder / NAME).read_bytes()
    monkeypatch.setitem(pretrained_files.OFFICIAL, NAME,
                        PretrainedFile(NAME, "unused", hashlib.sha256(data).hexdigest(), len(data), "mn04"))
    return folder, state


def test_fine_tuning_starts_from_the_pretrained_file_with_a_new_head(tmp_path, official):
    folder, state = official
    tiny = make_tiny(tmp_path / "tiny", train_yaml=YAML)
    exp = tmp_path / "exp"
    assert train.main(tiny.argv(exp, kd=False) + ["--pretrained-dir", str(folder)]) == 0
    trained = weights(exp / "checkpoints" / "last.pt")
    assert torch.allclose(trained["features.0.0.weight"], state["features.0.0.weight"], atol=1e-6)
    assert torch.allclose(trained["classifier.2.weight"], state["classifier.2.weight"], atol=1e-6)
    assert trained["classifier.5.weight"].shape == (len(LABELS), state["classifier.5.weight"].shape[1])


def test_missing_folder_option_or_file_or_a_different_file_is_refused(tmp_path, official, capsys):
    folder, _ = official
    tiny = make_tiny(tmp_path / "tiny", train_yaml=YAML)
    assert train.main(tiny.argv(tmp_path / "e1", kd=False)) == 1
    assert "no pretrained_dir is given" in capsys.readouterr().err
    assert train.main(tiny.argv(tmp_path / "e2", kd=False) + ["--pretrained-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / NAME}: pretrained file not found" in err and "asc.bin.download" in err
    data = (folder / NAME).read_bytes()
    (folder / NAME).write_bytes(data[:100] + b"x" + data[101:])
    assert train.main(tiny.argv(tmp_path / "e3", kd=False) + ["--pretrained-dir", str(folder)]) == 1
    assert f"{folder / NAME}: SHA-256" in capsys.readouterr().err


@pytest.mark.parametrize("profile, system", [("embedded", "mn04"), ("tau22", "mn10"), ("tau22", "mn20"),
                                             ("tau22", "passt")])
def test_recipe_teacher_configs_name_official_files_and_their_model(profile, system):
    from asc.train.config import load_train_config

    conf = Path(__file__).resolve().parents[2] / "egs" / "dcase2024_task1" / "conf" / profile
    cfg = load_train_config(conf / f"train_{system}.yaml",
                            {"train_data": "d", "feats": "f.h5", "labels": "l.txt", "kd.lambda_ce": 1.0})
    entry = pretrained_files.official(cfg.pretrained)
    assert entry.model == cfg.model and cfg.features == "teacher"
    if system != "passt":        # PaSST-S (85 M parameters) is checked by tests/models/test_passt.py
        model = build_model(cfg.model, **{**cfg.model_options, "n_classes": 527})
        assert set(model.state_dict()) >= {"classifier.5.weight", "features.0.0.weight"}
