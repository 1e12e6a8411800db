"""EfficientAT's MobileNets: the official mn04 AudioSet file loads strictly and, through the pretrained
front end, tags three real recordings as its README says; wrong or damaged files are refused."""
from __future__ import annotations

import csv

import pytest
import torch

from asc.data.audio import read_audio
from asc.errors import InputError
from asc.features.efficientat_mel import EfficientATMel
from asc.models import build_model
from asc.models.checkpoints import load_pretrained, read_state_dict
from shared_pretrained import CHECKPOINT, shared_pretrained

# /work/shared/pretrained/README.md: sigmoid scores, top 3, first 10 s and first 1 s of each recording.
EXPECTED = {
    "music": {10: [("Music", 0.60), ("Musical instrument", 0.12), ("Guitar", 0.11)],
              1: [("Music", 0.41), ("Speech", 0.05), ("Animal", 0.04)]},
    "speech": {10: [("Speech", 0.82), ("Door", 0.37), ("Slam", 0.20)],
               1: [("Speech", 0.41), ("Music", 0.17), ("Narration, monologue", 0.08)]},
    "typing": {10: [("Computer keyboard", 0.89), ("Typing", 0.87), ("Speech", 0.02)],
               1: [("Computer keyboard", 0.39), ("Typing", 0.36), ("Machine gun", 0.08)]},
}


@pytest.fixture(autouse=True)
def one_thread():
    """Small models: one intra-op thread avoids oversubscription on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def pretrained():
    folder = shared_pretrained(CHECKPOINT, "class_labels_indices.csv",
                               *(f"sample_audio/{name}.wav" for name in EXPECTED))
    model = build_model("mn04")
    assert load_pretrained(model, folder / CHECKPOINT) == []       # every tensor loaded, none kept
    with open(folder / "class_labels_indices.csv", newline="") as f:
        labels = [row["display_name"] for row in csv.DictReader(f)]
    return folder, model.eval(), labels


def test_official_file_matches_key_for_key(pretrained):
    folder, model, _ = pretrained
    state = read_state_dict(folder / CHECKPOINT)
    own = model.state_dict()
    assert list(state) == list(own) and len(own) == 312
    assert all(state[k].shape == own[k].shape for k in own)
    assert sum(p.numel() for p in model.parameters()) == 983_599


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_recordings_get_the_published_labels(pretrained, name):
    folder, model, labels = pretrained
    wave, rate = read_audio(folder / "sample_audio" / f"{name}.wav")
    assert rate == 32000
    front = EfficientATMel(fmax=15000.0)
    for seconds, expected in EXPECTED[name].items():
        with torch.no_grad():
            scores = torch.sigmoid(model(front(torch.from_numpy(wave[:seconds * rate]))[None, None]))[0]
        top = scores.topk(3)
        got = [(labels[i], float(v)) for v, i in zip(top.values, top.indices)]
        assert got[0][0] == expected[0][0], (name, seconds, got)
        assert {g[0] for g in got} == {e[0] for e in expected}, (name, seconds, got)
        for (_, score), (_, want) in zip(got, expected):
            assert score == pytest.approx(want, abs=0.02), (name, seconds, got)


def test_new_classes_replace_only_the_last_layer(pretrained):
    folder, _, _ = pretrained
    model = build_model("mn04", n_classes=10)
    assert load_pretrained(model, folder / CHECKPOINT) == ["classifier.5.weight", "classifier.5.bias"]
    official = read_state_dict(folder / CHECKPOINT)
    assert torch.equal(model.state_dict()["classifier.2.weight"], official["classifier.2.weight"])
    assert model(torch.randn(2, 1, 128, 100)).shape == (2, 10)


def test_other_width_or_family_is_refused_naming_file_and_mismatch(pretrained):
    folder, _, _ = pretrained
    with pytest.raises(InputError, match=rf"{CHECKPOINT}.*shape mismatch.*features\.0\.0\.weight.*\(8, 1, 3, 3\)"):
        load_pretrained(build_model("mn10", n_classes=10), folder / CHECKPOINT)
    with pytest.raises(InputError, match=rf"{CHECKPOINT}.*not a checkpoint of CPResNet"):
        load_pretrained(build_model("cp_resnet", n_classes=10), folder / CHECKPOINT)


def test_truncated_file_is_refused_naming_it(pretrained, tmp_path):
    folder, _, _ = pretrained
    data = (folder / CHECKPOINT).read_bytes()
    cut = tmp_path / "mn04_cut.pt"
    cut.write_bytes(data[:len(data) // 2])
    with pytest.raises(InputError, match=r"mn04_cut\.pt.*not a readable"):
        load_pretrained(build_model("mn04"), cut)


@pytest.mark.parametrize("name, first, last, hidden", [("mn04", 8, 384, 512), ("mn10", 16, 960, 1280),
                                                        ("mn40", 64, 3840, 5120)])
def test_widths_follow_the_multiplier(name, first, last, hidden):
    model = build_model(name, n_classes=10)
    assert model.features[0][0].out_channels == first
    assert model.features[-1][0].out_channels == last
    assert model.classifier[2].out_features == hidden


def test_strides_option_and_its_check():
    wide = build_model("mn04", n_classes=10, strides=[2, 2, 2, 1])
    assert wide.features[13].block[1][0].stride == (1, 1)
    with pytest.raises(ValueError, match="strides"):
        build_model("mn04", strides=[2, 2, 3, 2])
