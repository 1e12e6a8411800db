"""The DCASE2024 baseline CNN reproduces the published complexity exactly."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from asc.complexity import Complexity, count_complexity, within_limits
from asc.errors import ConfigError
from asc.models import build_model, reparameterize
from asc.models.baseline import BaselineBlock


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # tests/conftest.py


def test_published_params_and_macs():
    # DCASE2024 Task 1 baseline: 61,148 parameters, 29,419,156 MACs on 1x256x65 (torchinfo)
    assert count_complexity(build_model("baseline"), (1, 256, 65)) == Complexity(61_148, 29_419_156)


def test_published_layout_and_limits_at_float16():
    model = build_model("baseline")
    blocks = [m for m in model.modules() if isinstance(m, BaselineBlock)]
    assert [b.block[2][0].out_channels for b in blocks] == [32, 32, 32, 56, 56, 104]
    assert [b.block[1][0].stride for b in blocks] == [(1, 1), (1, 1), (1, 2), (2, 1), (1, 1), (1, 1)]
    assert [b.has_shortcut for b in blocks] == [True, True, True, False, True, False]
    assert within_limits(count_complexity(model), "float16")


def test_deployment_form_is_the_model_as_published():
    model = build_model("baseline").eval()
    deployed = reparameterize(model)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in deployed.modules()) == 21
    x = torch.randn(2, 1, 256, 65)
    with torch.no_grad():
        assert torch.equal(model(x), deployed(x))
    assert deployed(x).shape == (2, 10)


def test_unknown_option_is_refused():
    with pytest.raises(ConfigError, match="unknown key.*'width'"):
        build_model("baseline", width=3)
    with pytest.raises(ConfigError, match="one per block"):
        build_model("baseline", n_blocks=[1, 1])
