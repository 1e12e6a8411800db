"""prune.yaml states the fine-tuning's KD settings once: `finetune: {base: train_rep_mobile_kd.yaml}`."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from asc.errors import ConfigError
from asc.prune.config import load_prune_config
from asc.train.config import load_train_config

RECIPE_CONF = Path(__file__).resolve().parents[2] / "egs" / "dcase2024_task1" / "conf"


@pytest.mark.parametrize("profile", ["embedded", "tau22"])
def test_the_fine_tuning_shares_the_kd_students_settings(profile):
    conf = RECIPE_CONF / profile
    prune = load_prune_config(conf / "prune.yaml")
    student = load_train_config(conf / "train_rep_mobile_kd.yaml",
                                {"train_data": "d", "feats": "f", "labels": "l", "kd.teacher_logits": "t"})
    ft = prune.finetune
    assert (ft.kd.lambda_ce, ft.kd.temperature) == (student.kd.lambda_ce, student.kd.temperature)
    assert (ft.augment, ft.batch_size, ft.weight_decay) == (student.augment, student.batch_size, student.weight_decay)
    assert ft.lr < student.lr                       # the network is trained already
    assert (ft.model_config, ft.model, ft.model_options) == (None, "", {})   # the pruner's to set


def test_pruner_keys_are_refused_in_the_file_but_dropped_from_its_base(tmp_path):
    (tmp_path / "train.yaml").write_text(yaml.safe_dump({"model": "rep_mobile", "epochs": 9, "seed": 3,
                                                         "lr": 0.5}))
    (tmp_path / "prune.yaml").write_text(yaml.safe_dump({"finetune": {"base": "train.yaml", "lr": 0.1}}))
    cfg = load_prune_config(tmp_path / "prune.yaml")
    assert (cfg.finetune.model, cfg.finetune.lr, cfg.finetune.seed) == ("", 0.1, 0)
    (tmp_path / "prune.yaml").write_text(yaml.safe_dump({"finetune": {"base": "train.yaml", "epochs": 2}}))
    with pytest.raises(ConfigError, match="finetune.epochs is set by the pruner"):
        load_prune_config(tmp_path / "prune.yaml")


@pytest.mark.parametrize("profile", ["embedded", "tau22"])
def test_int8_has_its_own_accuracy_allowance_and_no_run_is_redone_for_it(profile):
    """Deploy's float16 check catches any rounding beyond float16's; int8 rounds every weight and activation,
    so its allowance is its own key, and neither key changes the pruning runs' hash (only deploy is redone)."""
    from asc.prune.config import check_prune_config, prune_hash

    cfg = load_prune_config(RECIPE_CONF / profile / "prune.yaml")
    assert cfg.deploy.allowed_drop("float16") == cfg.deploy.max_accuracy_drop == 0.5
    assert cfg.deploy.allowed_drop("int8") == cfg.deploy.max_int8_accuracy_drop == 2.0
    looser = load_prune_config(RECIPE_CONF / profile / "prune.yaml",
                               {"deploy.max_int8_accuracy_drop": 100, "target.precision": "int8"})
    assert looser.deploy.allowed_drop("int8") == 100
    assert prune_hash(looser, "x") == prune_hash(
        load_prune_config(RECIPE_CONF / profile / "prune.yaml", {"target.precision": "int8"}), "x")
    with pytest.raises(ConfigError, match="max_int8_accuracy_drop must be >= 0"):
        check_prune_config(load_prune_config(RECIPE_CONF / profile / "prune.yaml",
                                             {"deploy.max_int8_accuracy_drop": -1}))
