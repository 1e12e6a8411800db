import pytest
import torch

from asc.augment.pipeline import AugmentConfig, Augmenter
from asc.config import from_dict, load_config
from asc.errors import ConfigError

DEVICES = ["a", "b", "c", "s1", "a", "s2", "a", "s3"]


def _cfg(**sections):
    return from_dict(AugmentConfig, sections)


def _off(**on):
    data = {name: {"enabled": False} for name in ("freq_mixstyle", "device_ir", "roll", "freq_mask", "mixup")}
    for name, options in on.items():
        data[name] = {"enabled": True, **options}
    return _cfg(**data)


def test_defaults_follow_the_cpjku_recipe_and_yaml_overrides(tmp_path):
    cfg = AugmentConfig()
    assert (cfg.freq_mixstyle.enabled, cfg.freq_mixstyle.p, cfg.freq_mixstyle.alpha) == (True, 0.4, 0.3)
    assert (cfg.device_ir.enabled, cfg.device_ir.p, cfg.device_ir.only_devices) == (False, 0.6, ["a"])
    assert not cfg.mixup.enabled
    path = tmp_path / "aug.yaml"
    path.write_text("roll:\n  max_shift: 10\n  wrap: false\ndevice_ir:\n  only_devices: []\n")
    cfg = load_config(AugmentConfig, path, {"freq_mask.fill": "mean"})
    assert (cfg.roll.max_shift, cfg.roll.wrap, cfg.device_ir.only_devices) == (10, False, [])
    assert cfg.freq_mask.fill == "mean" and cfg.freq_mask.max_width == 48


def test_bad_options_are_config_errors(tmp_path):
    path = tmp_path / "aug.yaml"
    path.write_text("roll:\n  max_shfit: 3\n")
    with pytest.raises(ConfigError, match="max_shfit"):
        load_config(AugmentConfig, path)
    with pytest.raises(ConfigError, match="freq_mixstyle.p"):
        _cfg(freq_mixstyle={"p": 1.5})
    with pytest.raises(ConfigError, match="mixup.alpha"):
        _cfg(mixup={"alpha": 0.0})
    with pytest.raises(ConfigError, match="fill"):
        _cfg(freq_mask={"fill": "median"})
    with pytest.raises(ConfigError, match="device_ir is enabled"):
        Augmenter(_cfg(device_ir={"enabled": True}), None)


def test_all_disabled_is_identity():
    x = torch.randn(8, 1, 16, 10)
    assert torch.equal(Augmenter(_off())(x, DEVICES, torch.Generator()), x)
    assert Augmenter(_off()).active == []


def test_device_ir_only_touches_clips_of_the_listed_devices():
    gains = torch.randn(4, 16) + 3.0
    aug = Augmenter(_off(device_ir={"p": 1.0}), gains)
    assert aug.active == ["device_ir"]
    x = torch.randn(8, 1, 16, 10)
    y = aug(x, DEVICES, torch.Generator().manual_seed(0))
    changed = (y != x).flatten(1).any(dim=1)
    assert changed.tolist() == [d == "a" for d in DEVICES]
    # remove_level (default): the added curves have zero mean over the mel bands
    torch.testing.assert_close((y - x)[changed].mean(dim=(1, 2)), torch.zeros(3, 10), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="devices"):
        aug(x, None, torch.Generator())
    everyone = Augmenter(_off(device_ir={"p": 1.0, "only_devices": []}), gains)
    assert (everyone(x, None, torch.Generator()) != x).flatten(1).any(dim=1).all()


def test_deterministic_and_resumable_with_the_generator_state():
    aug = Augmenter(_cfg(freq_mixstyle={"p": 1.0}, device_ir={"enabled": True}), torch.randn(3, 16))
    assert aug.active == ["device_ir", "freq_mixstyle", "roll", "freq_mask"]
    batches = [torch.randn(8, 1, 16, 10) for _ in range(3)]

    def run(gen, xs):
        return [aug(x, DEVICES, gen) for x in xs]

    first = run(torch.Generator().manual_seed(11), batches)
    again = run(torch.Generator().manual_seed(11), batches)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], run(torch.Generator().manual_seed(12), batches[:1])[0])
    # "kill" after the first batch, keep the generator state as a checkpoint would, resume
    gen = torch.Generator().manual_seed(11)
    run(gen, batches[:1])
    state = gen.get_state()
    resumed = torch.Generator()
    resumed.set_state(state)
    assert all(torch.equal(a, b) for a, b in zip(first[1:], run(resumed, batches[1:])))


def test_half_precision_batches_keep_their_dtype():
    aug = Augmenter(_cfg(freq_mixstyle={"p": 1.0}, device_ir={"enabled": True}), torch.randn(3, 16))
    y = aug(torch.randn(8, 1, 16, 10).half(), DEVICES, torch.Generator().manual_seed(0))
    assert y.dtype == torch.float16 and torch.isfinite(y).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_batches_match_cpu_with_a_cpu_generator():
    aug = Augmenter(_cfg(freq_mixstyle={"p": 1.0}, device_ir={"enabled": True}), torch.randn(3, 16))
    x = torch.randn(8, 1, 16, 10)
    cpu = aug(x, DEVICES, torch.Generator().manual_seed(5))
    cuda = aug(x.cuda(), DEVICES, torch.Generator().manual_seed(5))
    assert cuda.is_cuda
    torch.testing.assert_close(cuda.cpu(), cpu, atol=1e-4, rtol=1e-4)
