"""The fold table of a cross-validated recipe: a cell per fold, per segment and per recording, the mean
and spread over folds, a model's size range over folds, unfinished scorings left out and named."""
from __future__ import annotations

import json
from pathlib import Path

from asc.bin import fold_results


def write_scores(folder: Path, system: str, fold: int, segment: float, recording: float | None, params: int,
                 done: bool = True) -> None:
    folder.mkdir(parents=True)
    scores = {"system": system, "split": fold, "macro_accuracy": segment, "params": params, "macs": 29_000_000,
              "n_clips": 12}
    if recording is not None:
        scores["per_recording"] = {"macro_accuracy": recording, "n_recordings": 3, "aggregation": "mean_log_prob"}
    (folder / "scores.json").write_text(json.dumps(scores))
    if done:
        (folder / "score.done").write_text("{}")


def test_two_tables_over_folds_with_means_and_size_ranges(tmp_path, capsys):
    exp = tmp_path / "exp"
    write_scores(exp / "kd/fold1/a/score_test", "a", 1, 0.5, 0.6, 100)
    write_scores(exp / "kd/fold2/a/score_test", "a", 2, 0.7, 1.0, 100)
    write_scores(exp / "deploy/fold1/score_test", "pruned", 1, 0.4, 0.5, 90)
    write_scores(exp / "deploy/fold2/score_test", "pruned", 2, 0.6, 0.5, 95)
    write_scores(exp / "kd/fold3/a/score_test", "a", 3, 0.1, 0.1, 100, done=False)     # interrupted
    out = exp / "RESULTS.md"
    assert fold_results.main(["--exp", str(exp / "kd"), str(exp / "deploy"), "--out", str(out), "--folds", "1 2",
                              "--systems", "pruned a"]) == 0
    assert "fold3/a/score_test/scores.json: no score.done" in capsys.readouterr().err
    text = out.read_text()
    segment, recording = text.split("per recording, by fold")
    assert "| pruned | 90–95 | 29.00 M | 40.00 | 60.00 | 50.00 ± 14.14 |" in segment
    assert "| a | 100 | 29.00 M | 50.00 | 70.00 | 60.00 ± 14.14 |" in segment
    assert segment.index("| pruned |") < segment.index("| a |")                 # the recipe's order
    assert "| a | 100 | 29.00 M | 60.00 | 100.00 | 80.00 ± 28.28 |" in recording
    assert "fold 1: 12 segments of 3 recordings" in text and "mean_log_prob" in text


def test_a_missing_fold_is_a_dash_and_the_mean_is_starred(tmp_path):
    exp = tmp_path / "exp"
    write_scores(exp / "kd/fold1/a/score_test", "a", 1, 0.5, None, 100)
    out = exp / "RESULTS.md"
    assert fold_results.main(["--exp", str(exp), "--out", str(out), "--folds", "1 2"]) == 0
    assert "| a | 100 | 29.00 M | 50.00 | – | 50.00* |" in out.read_text()
    assert "| a | 100 | 29.00 M | – | – | – |" in out.read_text()              # no per-recording figure
    assert fold_results.main(["--exp", str(tmp_path / "none"), "--out", str(out), "--folds", "1"]) == 1
