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
