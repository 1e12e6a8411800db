"""The training config: unknown keys refused, the model config merged in, bad values refused early."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from asc.errors import ConfigError
from asc.train.config import RUNTIME_KEYS, config_hash, load_train_config

RECIPE_CONF = Path(__file__).resolve().parents[2] / "egs" / "dcase2024_task1" / "conf"
PATHS = {"train_data": "data/train_split25", "feats": "dump/student/train_split100/feats.h5",
         "labels": "data/labels.txt", "kd.lambda_ce": 1.0}


def write(tmp_path: Path, data: dict, name: str = "train.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_unknown_key_refused_naming_file_and_key(tmp_path):
    path = write(tmp_path, {"model": "baseline", "epochs": 2, "learning_rate": 0.1})
    with pytest.raises(ConfigError, match=r"train\.yaml.*'learning_rate'"):
        load_train_config(path, PATHS)


def test_unknown_nested_key_and_override_refused(tmp_path):
    path = write(tmp_path, {"model": "baseline"})
    with pytest.raises(ConfigError, match="temprature"):
        load_train_config(path, {**PATHS, "kd.temprature": 3})
    with pytest.raises(ConfigError, match="alpha"):
        load_train_config(path, {**PATHS, "augment.freq_mixstyle.alpha": "high"})


def test_model_config_merged_and_options_override(tmp_path):
    write(tmp_path, {"name": "cp_resnet", "features": "student",
                     "options": {"base_channels": 32, "rho": 7}}, "model_cp_resnet.yaml")
    path = write(tmp_path, {"model_config": "model_cp_resnet.yaml", "model_options": {"base_channels": 16}})
    cfg = load_train_config(path, PATHS)
    assert cfg.model == "cp_resnet" and cfg.features == "student"
    assert cfg.model_options == {"base_channels": 16, "rho": 7}
    assert cfg.model_config is None      # the resolved config needs no other file


def test_model_config_contradiction_refused(tmp_path):
    write(tmp_path, {"name": "passt", "features": "teacher"}, "model_passt.yaml")
    path = write(tmp_path, {"model_config": "model_passt.yaml", "model": "baseline"})
    with pytest.raises(ConfigError, match="contradicts"):
        load_train_config(path, PATHS)


def test_distillation_without_logits_refused(tmp_path):
    path = write(tmp_path, {"model": "rep_mobile", "kd": {"lambda_ce": 0.02}})
    distil = {k: v for k, v in PATHS.items() if k != "kd.lambda_ce"}
    with pytest.raises(ConfigError, match="teacher_logits"):
        load_train_config(path, distil)
    assert load_train_config(path, {**distil, "kd.teacher_logits": "x.h5"}).kd.lambda_ce == 0.02
    assert load_train_config(path, PATHS).kd.lambda_ce == 1.0


def test_online_distillation_needs_teachers_and_members_need_online(tmp_path):
    path = write(tmp_path, {"model": "rep_mobile", "kd": {"lambda_ce": 0.02, "teacher_mode": "online"}})
    distil = {k: v for k, v in PATHS.items() if k != "kd.lambda_ce"}
    with pytest.raises(ConfigError, match="kd.members"):
        load_train_config(path, distil)
    assert load_train_config(path, {**distil, "kd.members": ["exp/t"]}).kd.members == ["exp/t"]
    assert load_train_config(path, {**distil, "kd.teacher_logits": "x.h5"}).kd.teacher_mode == "online"
    with pytest.raises(ConfigError, match="teacher_mode=online"):
        load_train_config(path, {**distil, "kd.members": ["exp/t"], "kd.teacher_mode": "stored"})
    with pytest.raises(ConfigError, match="teacher_mode"):
        load_train_config(path, {**distil, "kd.members": ["exp/t"], "kd.teacher_mode": "live"})


def test_missing_paths_and_bad_values_refused(tmp_path):
    path = write(tmp_path, {"model": "baseline", "kd": {"lambda_ce": 1.0}})
    with pytest.raises(ConfigError, match="feats"):
        load_train_config(path, {"train_data": "d", "labels": "l"})
    for key, value in (("epochs", 0), ("val_fraction", 1.0), ("warmup_epochs", 50), ("batch_size", 1)):
        with pytest.raises(ConfigError, match=key):
            load_train_config(path, {**PATHS, key: value})


def test_hash_ignores_runtime_options_only(tmp_path):
    path = write(tmp_path, {"model": "baseline", "kd": {"lambda_ce": 1.0}})
    base = config_hash(load_train_config(path, PATHS))
    assert "num_workers" in RUNTIME_KEYS
    assert config_hash(load_train_config(path, {**PATHS, "num_workers": 3})) == base
    assert config_hash(load_train_config(path, {**PATHS, "lr": 0.002})) != base
    assert config_hash(load_train_config(path, {**PATHS, "augment.roll.max_shift": 3})) != base


@pytest.mark.parametrize("profile", ["embedded", "tau22"])
@pytest.mark.parametrize("system", ["baseline", "rep_mobile", "rep_mobile_kd", "cp_resnet", "passt"])
def test_recipe_configs_load(profile, system):
    paths = {k: v for k, v in PATHS.items() if k != "kd.lambda_ce"}
    cfg = load_train_config(RECIPE_CONF / profile / f"train_{system}.yaml",
                            {**paths, "kd.teacher_logits": "exp/teach/split25/logits.h5"})
    assert cfg.model in ("baseline", "rep_mobile", "cp_resnet", "passt")
    assert (cfg.kd.lambda_ce < 1.0) == system.endswith("_kd")
    if profile == "tau22":   # the published GPU recipe
        assert (cfg.epochs, cfg.batch_size) == (150, 256)
        assert cfg.augment.freq_mixstyle.p == 0.4 and cfg.augment.freq_mixstyle.alpha == 0.3


def test_the_class_count_comes_from_the_label_list(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("dog\ncat\nrain\n")
    write(tmp_path, {"name": "baseline", "options": {"base_channels": 8}}, "model_baseline.yaml")
    path = write(tmp_path, {"model_config": "model_baseline.yaml"})
    cfg = load_train_config(path, {**PATHS, "labels": str(labels)})
    assert cfg.model_options == {"base_channels": 8, "n_classes": 3}


def test_a_model_config_that_disagrees_with_the_labels_is_refused_naming_both(tmp_path):
    labels = tmp_path / "labels.txt"
    labels.write_text("dog\ncat\nrain\n")
    write(tmp_path, {"name": "baseline", "options": {"n_classes": 10}}, "model_baseline.yaml")
    path = write(tmp_path, {"model_config": "model_baseline.yaml"})
    with pytest.raises(ConfigError, match=r"train\.yaml.*n_classes: 10 but .*labels\.txt lists 3 classes"):
        load_train_config(path, {**PATHS, "labels": str(labels)})


def test_recipe_students_share_their_settings_through_base():
    """train_rep_mobile*.yaml state only what differs from the file they build on (asc.config base:)."""
    for profile in ("embedded", "tau22"):
        conf = RECIPE_CONF / profile
        paths = {**PATHS, "kd.lambda_ce": 0.02, "kd.teacher_logits": "t.h5"}
        plain = load_train_config(conf / "train_rep_mobile.yaml", PATHS)
        kd = load_train_config(conf / "train_rep_mobile_kd.yaml", paths)
        baseline = load_train_config(conf / "train_baseline.yaml", PATHS)
        assert (plain.epochs, plain.lr, plain.augment) == (baseline.epochs, baseline.lr, baseline.augment)
        assert (kd.epochs, kd.lr, kd.augment, kd.model_options) == (plain.epochs, plain.lr, plain.augment,
                                                                      plain.model_options)
        assert (kd.kd.lambda_ce, kd.kd.temperature) == (0.02, 2.0) and plain.kd.lambda_ce == 1.0


def test_new_kd_options_at_their_default_leave_the_hash_of_earlier_runs_alone(tmp_path):
    import dataclasses
    import hashlib
    import json
    path = write(tmp_path, {"model": "rep_mobile"})
    cfg = load_train_config(path, {**PATHS, "kd.lambda_ce": 0.02, "kd.teacher_logits": "x.h5"})
    earlier = dataclasses.asdict(cfg)            # the config as hashed before teacher_mode and members
    for key in RUNTIME_KEYS:
        earlier.pop(key)
    for key in ("teacher_mode", "members", "teacher_temperature", "logit_standardization"):
        del earlier["kd"][key]
    text = json.dumps(earlier, sort_keys=True, default=str)
    assert config_hash(cfg) == hashlib.sha256(text.encode()).hexdigest()[:16]
    for key, value in (("teacher_mode", "online"), ("teacher_temperature", 0.8),
                       ("logit_standardization", True)):
        changed = load_train_config(path, {**PATHS, "kd.lambda_ce": 0.02, "kd.teacher_logits": "x.h5",
                                           f"kd.{key}": value})
        assert config_hash(changed) != config_hash(cfg), key


def test_kd_target_options_from_the_command_line_and_their_checks(tmp_path):
    from asc.config import parse_override
    path = write(tmp_path, {"model": "rep_mobile"})
    distil = {**PATHS, "kd.lambda_ce": 0.02, "kd.teacher_logits": "x.h5"}
    cfg = load_train_config(path, {**distil, **dict(map(parse_override, ["kd.teacher_temperature=0.8",
                                                                         "kd.logit_standardization=true"]))})
    assert cfg.kd.teacher_temperature == 0.8 and cfg.kd.logit_standardization is True
    with pytest.raises(ConfigError, match="kd.teacher_temperature"):
        load_train_config(path, {**distil, "kd.teacher_temperature": 0.0})


def test_train_form_at_its_default_leaves_the_hash_of_earlier_runs_alone(tmp_path):
    options = {"stem_channels": [8], "stage_channels": [16], "n_blocks": [1], "strides": [[1, 1]]}
    hashes = {}
    for form in (None, "branch_bn", "online"):    # None: a model config from before the option
        extra = {} if form is None else {"train_form": form}
        write(tmp_path, {"name": "rep_mobile", "options": {**options, **extra}}, "model.yaml")
        path = write(tmp_path, {"model_config": "model.yaml"})
        hashes[form] = config_hash(load_train_config(path, PATHS))
    assert hashes["branch_bn"] == hashes[None] != hashes["online"]
