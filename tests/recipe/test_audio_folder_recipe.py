"""egs/audio_folder end to end at tiny size: a generated folder of three classes (varied rates, channels,
lengths; wav, flac and ogg; a label with a space) through every stage of the shared stage layer (the
pretrained mn04 teacher, KD, pruning, the deployable model), one epoch per training, fold 1 of 2; scores
per segment and per recording without devices; the deployed model labels a long file per segment."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "models"))
sys.path.insert(0, str(ROOT / "tests" / "data"))
from shared_pretrained import shared_pretrained  # noqa: E402
from folder_helpers import make_folder, sound, write_recording  # noqa: E402

RECIPE = ROOT / "egs" / "audio_folder"
TINY_ARGS = ["--data-opts", "folds=2", "--folds", "1", "--nj", "1", "--teachers", "mn04:teacher",
             "--students", "rep_mobile_kd", "--train-opts", "epochs=1 batch_size=8 min_steps=0",
             "--prune-opts", "steps=1 epochs_per_step=1 finetune.batch_size=8 finetune.min_steps=0"]


def recipe_copy(tmp: Path) -> Path:
    """tools/, utils/ and egs/r/ whose files link to the recipe's: the run writes under tmp only."""
    (tmp / "egs" / "r").mkdir(parents=True)
    for name in ("tools", "utils"):
        (tmp / name).symlink_to(ROOT / name)
    for entry in RECIPE.iterdir():
        (tmp / "egs" / "r" / entry.name).symlink_to(entry)
    return tmp / "egs" / "r"


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("audio_folder")
    recipe = recipe_copy(tmp)
    make_folder(tmp / "my recordings")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    env.setdefault("PRETRAINED_DIR", str(shared_pretrained()))
    result = subprocess.run(["./run.sh", "--folder", str(tmp / "my recordings"), *TINY_ARGS], cwd=recipe, env=env,
                            text=True, capture_output=True, timeout=1200)
    assert result.returncode == 0, f"run.sh failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return recipe


def test_every_stage_runs_on_segments_and_scores_per_recording(finished):
    r = finished
    assert (r / "data/folds").read_text().split() == ["1", "2"]
    train = set((r / "data/train_fold1/utt2rec").read_text().split()[1::2])
    test = set((r / "data/test_fold1/utt2rec").read_text().split()[1::2])
    assert train and test and not train & test                       # no recording on both sides
    for feats in ("student", "teacher"):
        assert (r / f"dump/{feats}/all/feats.h5").is_file()
    assert (r / "exp/teach/fold1/mn04/train.done").is_file() and (r / "exp/teach/fold1/logits.h5").is_file()
    complexity = json.loads((r / "exp/deploy/fold1/complexity.json").read_text())
    assert complexity["within_limits"]
    for path in ("exp/kd/fold1/rep_mobile_kd/score_test", "exp/deploy/fold1/score_test"):
        scores = json.loads((r / path / "scores.json").read_text())
        assert scores["devices"] == [] and scores["seen_devices"] is None
        assert scores["n_clips"] == len((r / "data/test_fold1/wav.scp").read_text().splitlines())
        per_rec = scores["per_recording"]
        assert per_rec["n_recordings"] == len(test) and 0.0 <= per_rec["macro_accuracy"] <= 1.0
        assert set(per_rec["labels"]) == {"city park", "hum", "noise"}
        assert len((r / path / "predictions_recording.tsv").read_text().splitlines()) == len(test) + 1
    results = (r / "exp/RESULTS.md").read_text()
    assert "per segment, by fold" in results and "per recording, by fold" in results
    assert "| rep_mobile_pruned |" in results and "| rep_mobile_kd |" in results


def test_the_deployed_model_labels_a_long_file_per_segment_and_whole(finished, tmp_path):
    long = write_recording(tmp_path / "long", sound("hum", 3.4, 48000, 3), 48000, 2, "flac")
    result = subprocess.run([str(ROOT / "tools/venv/bin/python"), "-m", "asc.bin.infer", "--model",
                             str(finished / "exp/deploy/fold1/model.pt"), "--segments", str(long)],
                            cwd=tmp_path, text=True, capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.strip().splitlines()]
    assert rows[0][:5] == ["filename", "segment", "start", "end", "scene_label"]
    assert [row[1:4] for row in rows[1:]] == [["0", "0.000", "1.000"], ["1", "1.000", "2.000"],
                                              ["2", "2.000", "3.000"], ["file", "0.000", "3.400"]]   # 0.4-s rest dropped
    assert {row[4] for row in rows[1:]} <= {"city park", "hum", "noise"}
