"""CP-Mobile (DCASE2023, with GRN): published layout, exact BatchNorm folding, equal-complexity config."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn as nn
import yaml

from asc.complexity import Complexity, count_complexity, within_limits
from asc.errors import ConfigError
from asc.models import build_model, reparameterize
from random_weights import randomize  # tests/random_weights.py
from asc.models.cp_mobile import GRN, CPMobileBlock

CONF = Path(__file__).resolve().parents[2] / "egs" / "dcase2024_task1" / "conf"


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # tests/conftest.py


def test_published_layout():
    model = build_model("cp_mobile")
    blocks = [m for m in model.modules() if isinstance(m, CPMobileBlock)]
    assert [b.proj.out_channels for b in blocks] == [32, 32, 32, 72, 72, 168]
    assert [b.dw.out_channels for b in blocks] == [96, 96, 96, 96, 216, 216]
    assert [b.dw.stride for b in blocks] == [(1, 1), (2, 2), (1, 1), (2, 1), (1, 1), (1, 1)]
    assert sum(isinstance(m, GRN) for m in model.modules()) == 6
    # our count of the fused model, on the 256 x 64 input its authors counted with: under 30 M MACs
    assert count_complexity(model, (1, 256, 64)) == Complexity(124_862, 29_561_088)


def test_folding_is_exact_and_keeps_grn():
    torch.manual_seed(0)                     # the kernels' initialisation, whatever ran before
    model = randomize(build_model("cp_mobile", base_channels=16, channels_multiplier=1.5,
                                  expansion_rate=2.0), kernels=False)
    deployed = reparameterize(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in deployed.modules())
    assert sum(isinstance(m, GRN) for m in deployed.modules()) == 6
    x = torch.randn(2, 1, 64, 33)
    with torch.no_grad():
        reference = model(x)
        # random GRN scales make logits of ~1e3: exact up to float32 rounding, measured against their size
        assert (reference - deployed(x)).abs().max() <= 1e-5 * reference.abs().max()


def test_small_config_has_the_complexity_of_the_default_rep_mobile():
    options = yaml.safe_load((CONF / "common" / "model_cp_mobile_small.yaml").read_text())["options"]
    small = count_complexity(build_model("cp_mobile", **options))
    rep = count_complexity(build_model("rep_mobile"))
    assert small.macs == rep.macs and small.params == rep.params + 2 * 6   # + GRN's gamma, beta
    assert within_limits(small, "float16")
    assert not within_limits(count_complexity(build_model("cp_mobile")), "float16")


def test_without_grn_and_unknown_option():
    model = build_model("cp_mobile", grn=False)
    assert not any(isinstance(m, GRN) for m in model.modules())
    with pytest.raises(ConfigError, match="expected true or false"):
        build_model("cp_mobile", grn="yes")
    with pytest.raises(ConfigError, match="unknown key"):
        build_model("cp_mobile", gnr=True)
