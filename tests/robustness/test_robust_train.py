"""The training stage (asc.bin.train) and the configs of every stage against bad input: a value of the
wrong type from the command line or the YAML file, YAML that would build Python objects, a feature
store whose keys do not cover the data directory, and a truncated last.pt: each is one line on stderr
naming the file (and key), never a traceback, and a damaged checkpoint is never resumed from."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "prune"))
from tiny_prune import make_tiny_prune  # noqa: E402
from tiny_run import TRAIN_YAML, make_tiny, write_features  # noqa: E402

from asc.bin import prune, train  # noqa: E402
from asc.data.datadir import load_datadir  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield make_tiny(tmp_path_factory.mktemp("robust_train"), recordings_per_label=3, pieces=2,
                    train_yaml={**TRAIN_YAML, "epochs": 1})
    torch.set_num_threads(threads)


def one_line(capsys, prefix: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith(prefix) and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("override, message", [
    ("epochs=three", "key 'epochs': expected an integer, found 'three'"),
    ("lr=[0.1]", "key 'lr': expected a number, found [0.1]"),
    ("augment.mixup.enabled=maybe", "key 'mixup': key 'enabled': expected true or false, found 'maybe'"),
    ("model_options.n_blocks=2", "key 'n_blocks': expected a list, found 2"),
])
def test_train_override_of_the_wrong_type_is_one_line_naming_the_key(tiny, capsys, override, message):
    exp = tiny.root / "wrong_type"
    assert train.main(tiny.argv(exp, override)) == 1
    assert message in one_line(capsys, "train: ")
    assert not (exp / "checkpoints").exists()


def test_train_yaml_value_of_the_wrong_type_names_file_and_key(tiny, tmp_path, capsys):
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump({**TRAIN_YAML, "batch_size": "sixteen"}))
    argv = tiny.argv(tmp_path / "exp")
    argv[argv.index("--config") + 1] = str(config)
    assert train.main(argv) == 1
    err = one_line(capsys, "train: ")
    assert str(config) in err and "batch_size" in err


def test_yaml_that_would_run_code_is_refused_and_runs_nothing(tiny, tmp_path, capsys):
    witness = tmp_path / "pwned"
    config = tmp_path / "train.yaml"
    config.write_text(yaml.safe_dump(TRAIN_YAML) + f"seed: !!python/object/apply:os.system ['touch {witness}']\n")
    argv = tiny.argv(tmp_path / "exp")
    argv[argv.index("--config") + 1] = str(config)
    assert train.main(argv) == 1
    err = one_line(capsys, "train: ")
    assert f"{config} line " in err and "not valid YAML" in err and "python/object/apply" in err
    assert not witness.exists()


def test_prune_override_of_the_wrong_type_is_one_line_naming_the_key(tmp_path, capsys):
    tiny = make_tiny_prune(tmp_path)
    assert prune.main(tiny.argv(tmp_path / "exp", "steps=two")) == 1
    assert f"{tiny.config}: key 'steps': expected an integer, found 'two'" in one_line(capsys, "prune: ")
    assert prune.main(tiny.argv(tmp_path / "exp", "finetune.lr=fast")) == 1
    assert "key 'finetune': key 'lr': expected a number, found 'fast'" in one_line(capsys, "prune: ")
    assert not (tmp_path / "exp" / "step0").exists()


def test_feature_store_of_other_clips_is_refused_naming_it(tiny, tmp_path, capsys):
    data = load_datadir(tiny.data)
    other = data.subset(data.utts[: len(data.utts) // 2])
    store = tmp_path / "feats.h5"
    write_features(store, other, 48, 32, np.random.default_rng(0))
    argv = tiny.argv(tmp_path / "exp")
    argv[argv.index("--feats") + 1] = str(store)
    assert train.main(argv) == 1
    err = one_line(capsys, "train: ")
    assert f"{store}: 16 of 32 utterances of {tiny.data}" in err and "re-run the feature stage" in err


def test_truncated_last_checkpoint_is_not_resumed_from(tiny, capsys):
    exp = tiny.root / "truncated"
    assert train.main(tiny.argv(exp)) == 0
    (exp / "train.done").unlink()                               # as if killed after writing last.pt
    last = exp / "checkpoints" / "last.pt"
    data = last.read_bytes()
    last.write_bytes(data[: len(data) // 2])
    capsys.readouterr()
    assert train.main(tiny.argv(exp)) == 1
    err = one_line(capsys, "train: ")
    assert f"{last}: cannot read checkpoint" in err
    assert not (exp / "train.done").exists() and last.stat().st_size == len(data) // 2
