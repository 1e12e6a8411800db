"""Segment scores aggregated per recording (mean of log-probabilities or of probabilities), and a data
set without devices scored and reported without device figures."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from asc.data.datadir import DataDir
from asc.errors import InputError
from asc.eval.recording_scores import aggregate_probs, recording_predictions
from asc.eval.report import format_scores
from asc.eval.scoring import _per_recording
from asc.metrics import compute_scores

LABELS = ["city park", "hum", "noise"]


def test_mean_log_prob_is_the_renormalised_geometric_mean():
    probs = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.45, 0.05]])
    geometric = np.exp(np.log(probs).mean(axis=0))
    np.testing.assert_allclose(aggregate_probs(probs), geometric / geometric.sum())
    np.testing.assert_allclose(aggregate_probs(probs, "mean_prob"), probs.mean(axis=0))
    np.testing.assert_allclose(aggregate_probs(probs[:1]), probs[0])          # one segment: itself


def test_a_class_one_segment_rules_out_loses_under_log_but_not_under_mean():
    # two segments lean 'hum', one rules 'hum' out firmly; the arithmetic mean still says 'hum'
    probs = np.array([[0.05, 0.9, 0.05], [0.05, 0.9, 0.05], [0.499, 1e-6, 0.500999]])
    assert aggregate_probs(probs, "mean_prob").argmax() == 1
    assert aggregate_probs(probs, "mean_log_prob").argmax() == 2
    assert np.isfinite(aggregate_probs(np.array([[1.0, 0.0, 0.0]]))).all()  # underflowed zeros


def test_segments_are_grouped_by_recording_in_sorted_order():
    utts = ["r2-0", "r1-0", "r1-1", "r2-1", "r2-2"]
    rec = {u: u.split("-")[0] for u in utts}
    truth = ["hum", "noise", "noise", "hum", "hum"]
    probs = np.eye(3)[[1, 2, 0, 1, 1]] * 0.9 + 0.1 / 3
    recs, labels, agg, counts = recording_predictions(utts, rec, truth, probs)
    assert recs == ["r1", "r2"] and labels == ["noise", "hum"] and counts == [2, 3]
    np.testing.assert_allclose(agg[1], probs[0])                 # r2: three equal rows (0, 3, 4)
    with pytest.raises(InputError, match="recording r1: its segments carry different labels"):
        recording_predictions(utts, rec, ["hum", "noise", "hum", "hum", "hum"], probs)


def test_a_set_without_devices_has_no_device_figures_and_reports_per_recording():
    utts = [f"rec{r}-{s}" for r in range(4) for s in range(3)]
    data = DataDir(wav=dict.fromkeys(utts, "x.wav"), label={u: LABELS[int(u[3]) % 3] for u in utts},
                   rec={u: u.split("-")[0] for u in utts}, segment=dict.fromkeys(utts, "0.000 1.000"))
    truth = [data.label[u] for u in utts]
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=len(utts))
    scores = compute_scores(truth, probs, None, LABELS).to_dict()
    assert scores["devices"] == [] and scores["per_device"] == {} and scores["device_groups"] == {}
    assert scores["seen_devices"] is None and scores["unseen_devices"] is None
    assert scores == {**compute_scores(truth, probs, ["d"] * len(utts), LABELS).to_dict(), **{
        k: scores[k] for k in ("per_device", "per_device_class", "seen_devices", "unseen_devices", "device_counts",
                               "devices", "device_groups")}}                 # every other figure as with one device
    scores.update(_per_recording(data, Path("data/test"), truth, probs, LABELS))
    per_rec = scores["per_recording"]
    assert per_rec["n_recordings"] == 4 and per_rec["aggregation"] == "mean_log_prob"
    assert per_rec["recordings"]["segments"] == [3, 3, 3, 3]
    text = format_scores(scores, "t")
    assert "devices" not in text and "accuracy (%) by class\n" in text
    assert "per recording (segment probabilities aggregated: mean_log_prob)" in text and "recordings            4" in text
    assert _per_recording(DataDir(wav=data.wav, label=data.label, rec=data.rec), Path("d"), truth, probs, LABELS) == {}
