"""The model registry: names, option checking, model configs, and reparameterize leaving the original."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn as nn

from asc.config import load_config
from asc.errors import ConfigError
from asc.models import (ModelConfig, available_models, build_from_config, build_model, register,
                        reparameterize)
from asc.models.reparam import RepConv2d

CONF = Path(__file__).resolve().parents[2] / "egs" / "dcase2024_task1" / "conf"


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # tests/conftest.py


@register("_registry_test_linear")
class _Linear(nn.Module):
    def __init__(self, n_classes: int = 10):
        super().__init__()
        self.fc = nn.Linear(4, n_classes)


def test_names_and_option_checking():
    assert {"baseline", "cp_mobile", "rep_mobile"} <= set(available_models())
    with pytest.raises(ConfigError, match="unknown model 'rep_mobil'"):
        build_model("rep_mobil")
    with pytest.raises(ConfigError, match="unknown key.*'n_class'.*known keys: n_classes"):
        build_model("_registry_test_linear", n_class=3)
    assert build_model("_registry_test_linear", n_classes=3).fc.out_features == 3
    with pytest.raises(ValueError, match="registered twice"):
        register("_registry_test_linear")(_Linear)


@pytest.mark.parametrize("profile", ["common"])   # shared by the embedded and tau22 profiles
@pytest.mark.parametrize("stem", ["rep_mobile", "rep_mobile_wide", "rep_mobile_wide_int8", "baseline", "cp_mobile",
                                  "cp_mobile_small"])
def test_shipped_model_configs_build(profile, stem):
    config = load_config(ModelConfig, CONF / profile / f"model_{stem}.yaml")
    assert config.features == "student"
    model = build_from_config(config)
    assert model.eval()(torch.zeros(1, 1, 256, 65)).shape == (1, 10)


def test_reparameterize_returns_a_fused_copy_and_leaves_the_model_alone():
    model = build_model("rep_mobile", stem_channels=[4, 8], stage_channels=[8], n_blocks=[1],
                        strides=[[1, 1]])
    deployed = reparameterize(model)
    assert model.training and not deployed.training
    assert all(site.fused is None for site in model.modules() if isinstance(site, RepConv2d))
    assert all(site.fused is not None for site in deployed.modules() if isinstance(site, RepConv2d))
    again = reparameterize(deployed)
    x = torch.randn(2, 1, 32, 16)
    with torch.no_grad():
        assert torch.equal(again(x), deployed(x))
