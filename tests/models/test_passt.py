"""PaSST: shapes, patchout only in training, time-embedding cropping, and the official checkpoint layout."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from asc.config import load_config
from asc.models import ModelConfig, build_from_config
from asc.models.checkpoints import load_pretrained
from asc.models.passt import PaSST

CONF = Path(__file__).resolve().parents[2] / "egs" / "dcase2024_task1" / "conf"
SMALL = dict(embed_dim=32, depth=1, num_heads=2)


def official_shapes(n_classes: int = 527) -> dict[str, tuple[int, ...]]:
    """Names and shapes of passt-s-f128-p16-s10-ap.476-swa.pt (kkoutini/PaSST, models/passt.py)."""
    e, h = 768, 3072
    shapes = {
        "cls_token": (1, 1, e), "dist_token": (1, 1, e), "new_pos_embed": (1, 2, e),
        "freq_new_pos_embed": (1, e, 12, 1), "time_new_pos_embed": (1, e, 1, 99),
        "patch_embed.proj.weight": (e, 1, 16, 16), "patch_embed.proj.bias": (e,),
        "norm.weight": (e,), "norm.bias": (e,),
        "head.0.weight": (e,), "head.0.bias": (e,),
        "head.1.weight": (n_classes, e), "head.1.bias": (n_classes,),
        "head_dist.weight": (n_classes, e), "head_dist.bias": (n_classes,),
    }
    for i in range(12):
        b = f"blocks.{i}."
        shapes.update({
            b + "norm1.weight": (e,), b + "norm1.bias": (e,),
            b + "attn.qkv.weight": (3 * e, e), b + "attn.qkv.bias": (3 * e,),
            b + "attn.proj.weight": (e, e), b + "attn.proj.bias": (e,),
            b + "norm2.weight": (e,), b + "norm2.bias": (e,),
            b + "mlp.fc1.weight": (h, e), b + "mlp.fc1.bias": (h,),
            b + "mlp.fc2.weight": (e, h), b + "mlp.fc2.bias": (e,),
        })
    return shapes


def test_default_model_has_the_official_names_and_shapes():
    with torch.device("meta"):  # shapes only: no 86 M parameters to initialize
        model = PaSST(n_classes=527)
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert got == official_shapes(527)
    # LayerNorm epsilons of the official model: 1e-6 in the blocks and the final norm, default in the head
    assert model.blocks[0].norm1.eps == model.blocks[11].norm2.eps == model.norm.eps == 1e-6
    assert model.head[0].eps == 1e-5


def test_attention_is_standard_scaled_dot_product_attention():
    torch.manual_seed(0)
    attn = PaSST(**SMALL).blocks[0].attn.eval()
    x = torch.randn(2, 5, 32)
    q, k, v = attn.qkv(x).reshape(2, 5, 3, 2, 16).permute(2, 0, 3, 1, 4)
    weights = (q @ k.transpose(-2, -1) * 16 ** -0.5).softmax(-1)
    expected = attn.proj((weights @ v).transpose(1, 2).reshape(2, 5, 32))
    torch.testing.assert_close(attn(x), expected)


def test_official_file_loads_strictly_into_a_10_class_model(tmp_path, caplog):
    torch.manual_seed(0)
    path = tmp_path / "passt-s-f128-p16-s10-ap.476-swa.pt"
    torch.save(PaSST(n_classes=527).state_dict(), path)  # the official files are bare state dicts
    official = torch.load(path, weights_only=True)
    torch.manual_seed(1)
    model = PaSST(n_classes=10)
    fresh_heads = {k: v.clone() for k, v in model.state_dict().items() if k.startswith(("head.1.", "head_dist."))}
    with caplog.at_level(logging.INFO, logger="asc.models.checkpoints"):
        kept = load_pretrained(model, path)
    assert sorted(kept) == ["head.1.bias", "head.1.weight", "head_dist.bias", "head_dist.weight"]
    state = model.state_dict()
    for key, value in state.items():
        if key in fresh_heads:
            assert torch.equal(value, fresh_heads[key]), key
        else:
            assert torch.equal(value, official[key]), key  # the backbone, bit for bit
    assert "re-initialized head.1.weight" in caplog.text and "(527, 768)" in caplog.text


def test_forward_shapes_in_training_and_evaluation():
    model = PaSST(n_classes=7, max_frames=101, s_patchout_f=3, s_patchout_t=2, **SMALL)
    x = torch.randn(3, 1, 128, 101)
    assert model.train()(x).shape == (3, 7)
    assert model.eval()(x).shape == (3, 7)


def test_structured_patchout_only_in_training():
    torch.manual_seed(0)
    model = PaSST(max_frames=101, s_patchout_f=4, s_patchout_t=3, **SMALL)
    x = torch.randn(2, 1, 128, 101)  # 12 x 9 patches
    assert model.train().tokens(x).shape == (2, 2 + (12 - 4) * (9 - 3), 32)
    assert model.eval().tokens(x).shape == (2, 2 + 12 * 9, 32)


def test_structured_patchout_drops_whole_rows_and_columns():
    model = PaSST(max_frames=101, s_patchout_f=5, s_patchout_t=4, **SMALL).train()
    f, t = torch.meshgrid(torch.arange(12), torch.arange(9), indexing="ij")
    grid = (100 * f + t).float().view(1, 1, 12, 9)  # entry = 100 * row + column
    kept = model._structured_patchout(grid)[0, 0]
    assert kept.shape == (7, 5)
    rows, cols = kept // 100, kept % 100
    assert (rows == rows[:, :1]).all() and (cols == cols[:1]).all()  # whole rows and columns
    assert (rows[1:, 0] > rows[:-1, 0]).all() and (cols[0, 1:] > cols[0, :-1]).all()  # order kept


def test_eval_is_deterministic_training_is_not():
    torch.manual_seed(0)
    model = PaSST(max_frames=301, s_patchout_f=4, s_patchout_t=2, **SMALL)
    x = torch.randn(2, 1, 128, 101)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
        model.train()
        outs = [model(x) for _ in range(4)]
    assert any(not torch.equal(outs[0], o) for o in outs[1:])


def test_time_embedding_is_cropped_to_short_inputs():
    torch.manual_seed(0)
    model = PaSST(max_frames=998, **SMALL)  # 99 time positions, as the AudioSet checkpoint
    with torch.no_grad():  # zero patches: the tokens are then the position embeddings alone
        model.patch_embed.proj.weight.zero_()
        model.patch_embed.proj.bias.zero_()
    x = torch.randn(1, 1, 128, 101)  # 1 s at hop 320: 9 time patches
    expected = (model.freq_new_pos_embed + model.time_new_pos_embed[..., :9]).flatten(2).transpose(1, 2)
    torch.testing.assert_close(model.eval().tokens(x)[:, 2:], expected)
    # in training the window starts at a random offset, as the official model does
    model.train()
    found = set()
    for _ in range(5):
        time = model.tokens(x)[0, 2:2 + 9] - model.freq_new_pos_embed[0, :, 0, 0]  # first frequency row
        offsets = [o for o in range(99 - 9 + 1)
                   if torch.allclose(time, model.time_new_pos_embed[0, :, 0, o:o + 9].T)]
        assert len(offsets) == 1
        found.update(offsets)
    assert len(found) > 1


def test_inputs_that_do_not_fit_are_refused():
    model = PaSST(max_frames=101, **SMALL)
    with pytest.raises(ValueError, match="10 time patches but the model has 9"):
        model(torch.randn(1, 1, 128, 111))
    with pytest.raises(ValueError, match="built for n_mels=128"):
        model(torch.randn(1, 1, 256, 101))
    with pytest.raises(ValueError, match="s_patchout_f=12"):
        PaSST(s_patchout_f=12, **SMALL)


def test_logits_are_the_head_of_the_mean_token_and_head_dist_is_frozen():
    torch.manual_seed(0)
    model = PaSST(max_frames=101, **SMALL).eval()
    x = torch.randn(2, 1, 128, 101)
    with torch.no_grad():
        tokens = model.norm(model.blocks(model.tokens(x)))
        expected = model.head((tokens[:, 0] + tokens[:, 1]) / 2)
        torch.testing.assert_close(model(x), expected)
    assert not any(p.requires_grad for p in model.head_dist.parameters())
    model.train()(x).sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("profile,params", [("embedded", 832_276), ("tau22", 85_358_612)])
def test_yaml_config_builds_through_the_registry(profile, params):
    config = load_config(ModelConfig, CONF / profile / "model_passt.yaml")
    assert config.name == "passt" and config.features == "teacher"
    with torch.device("meta"):
        model = build_from_config(config)
    assert isinstance(model, PaSST)
    assert sum(p.numel() for p in model.parameters()) == params
