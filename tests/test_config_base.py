"""Configs: `base:` states a shared block once; the merged result is checked like any other."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import yaml

from asc.config import load_config, read_config
from asc.errors import ConfigError


@dataclass
class Inner:
    p: float = 0.5
    enabled: bool = False


@dataclass
class Outer:
    lr: float = 0.1
    epochs: int = 1
    inner: Inner = field(default_factory=Inner)


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_file_overrides_its_base_key_by_key_at_any_depth(tmp_path):
    write(tmp_path / "shared" / "a.yaml", {"lr": 0.2, "epochs": 5, "inner": {"p": 0.9, "enabled": True}})
    write(tmp_path / "b.yaml", {"base": "shared/a.yaml", "epochs": 7, "inner": {"p": 0.1}})
    cfg = load_config(Outer, tmp_path / "b.yaml", {"inner.enabled": False})
    assert cfg == Outer(lr=0.2, epochs=7, inner=Inner(p=0.1, enabled=False))


def test_a_nested_mapping_may_name_a_base_relative_to_its_file(tmp_path):
    write(tmp_path / "inner.yaml", {"p": 0.3, "enabled": True})
    write(tmp_path / "sub" / "base.yaml", {"lr": 0.4, "inner": {"base": "../inner.yaml", "p": 0.7}})
    write(tmp_path / "sub" / "c.yaml", {"base": "base.yaml"})
    assert read_config(tmp_path / "sub" / "c.yaml") == {"lr": 0.4, "inner": {"p": 0.7, "enabled": True}}


def test_unknown_keys_of_a_base_are_still_refused(tmp_path):
    write(tmp_path / "a.yaml", {"learning_rate": 0.2})
    write(tmp_path / "b.yaml", {"base": "a.yaml"})
    with pytest.raises(ConfigError, match="b.yaml: unknown key.*'learning_rate'"):
        load_config(Outer, tmp_path / "b.yaml")


def test_a_missing_base_or_a_cycle_is_named(tmp_path):
    write(tmp_path / "a.yaml", {"base": "nowhere.yaml"})
    with pytest.raises(ConfigError, match="nowhere.yaml: config file not found"):
        read_config(tmp_path / "a.yaml")
    write(tmp_path / "x.yaml", {"base": "y.yaml"})
    write(tmp_path / "y.yaml", {"base": "x.yaml"})
    with pytest.raises(ConfigError, match="leads back to itself"):
        read_config(tmp_path / "x.yaml")
    write(tmp_path / "z.yaml", {"base": 3})
    with pytest.raises(ConfigError, match="must name a YAML file"):
        read_config(tmp_path / "z.yaml")
