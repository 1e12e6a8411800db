import json
import math
import subprocess
import sys

import numpy as np
import pytest
import sklearn.metrics

from asc.metrics import LABELS, compute_scores

CLASSES = ["x", "y", "z"]
# (true label, device, predicted probabilities); the argmax is the prediction
CLIPS = [
    ("x", "a", [0.7, 0.2, 0.1]),   # x right
    ("x", "a", [0.2, 0.5, 0.3]),   # -> y wrong
    ("y", "a", [0.1, 0.8, 0.1]),   # y right
    ("z", "a", [0.3, 0.3, 0.4]),   # z right
    ("x", "s4", [0.6, 0.3, 0.1]),  # x right
    ("y", "s4", [0.5, 0.4, 0.1]),  # -> x wrong
    ("y", "s4", [0.2, 0.2, 0.6]),  # -> z wrong
    ("z", "s4", [0.1, 0.1, 0.8]),  # z right
]


def _score(clips=CLIPS, **kw):
    labels, devices, probs = zip(*clips)
    return compute_scores(labels, np.array(probs), devices, class_names=CLASSES, **kw)


def test_hand_computed_three_classes_two_devices():
    s = _score()
    assert s.per_class == pytest.approx({"x": 2 / 3, "y": 1 / 3, "z": 1.0})
    assert s.macro_accuracy == pytest.approx(2 / 3)
    assert s.accuracy == pytest.approx(5 / 8)
    assert s.devices == ["a", "s4"]
    assert s.per_device == pytest.approx({"a": 3 / 4, "s4": 1 / 2})
    assert s.per_device_class["a"] == pytest.approx({"x": 0.5, "y": 1.0, "z": 1.0})
    assert s.per_device_class["s4"] == pytest.approx({"x": 1.0, "y": 0.0, "z": 1.0})
    assert s.seen_devices == pytest.approx(3 / 4) and s.unseen_devices == pytest.approx(1 / 2)
    assert s.confusion == [[2, 1, 0], [1, 1, 1], [0, 0, 2]]
    true_probs = [0.7, 0.2, 0.8, 0.4, 0.6, 0.4, 0.2, 0.8]
    assert s.log_loss == pytest.approx(-np.mean(np.log(true_probs)))
    assert s.n_clips == 8 and s.device_counts == {"a": 4, "s4": 4}
    assert s.labels == CLASSES


def test_per_device_accuracy_pools_clips_like_the_cpjku_baseline():
    # device a: three x right, one y wrong -> 3/4 pooled (a class average within a would give 1/2)
    clips = [("x", "a", [0.9, 0.05, 0.05])] * 3 + [("y", "a", [0.9, 0.05, 0.05]), ("z", "b", [0, 0, 1.0])]
    s = _score(clips)
    assert s.per_device["a"] == pytest.approx(0.75)
    assert s.seen_devices == pytest.approx(4 / 5)  # pooled over the clips of a and b
    assert s.unseen_devices is None  # no s4-s6 clips


def test_absent_class_is_none_and_left_out_of_the_macro_average():
    clips = [c for c in CLIPS if c[0] != "z"]
    s = _score(clips)
    assert s.per_class["z"] is None and s.per_device_class["a"]["z"] is None
    assert s.macro_accuracy == pytest.approx((2 / 3 + 1 / 3) / 2)


def test_log_loss_and_confusion_agree_with_sklearn_on_random_data():
    rng = np.random.default_rng(0)
    n = 200
    y = rng.integers(0, 9, n)  # the last class never occurs
    logits = rng.standard_normal((n, 10)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    devices = [("a", "b", "s5", "phone")[i] for i in rng.integers(0, 4, n)]
    s = compute_scores([LABELS[i] for i in y], probs, devices)
    p64 = probs.astype(np.float64)
    p64 /= p64.sum(axis=1, keepdims=True)
    assert s.log_loss == pytest.approx(sklearn.metrics.log_loss(y, p64, labels=range(10)))
    assert s.confusion == sklearn.metrics.confusion_matrix(y, probs.argmax(1), labels=range(10)).tolist()
    recalls = sklearn.metrics.recall_score(y, probs.argmax(1), labels=range(9), average=None)
    assert s.macro_accuracy == pytest.approx(recalls.mean())
    assert s.devices == ["a", "b", "s5", "phone"]  # official order first, unknown devices after


def test_to_dict_is_json_ready_with_the_required_keys():
    d = json.loads(json.dumps(_score().to_dict()))
    for key in ("macro_accuracy", "per_device", "per_class", "seen_devices", "unseen_devices",
                "log_loss", "n_clips", "confusion", "labels"):
        assert key in d
    assert d["device_groups"] == {"seen": ["a", "b", "c", "s1", "s2", "s3"], "unseen": ["s4", "s5", "s6"]}
    assert math.isclose(d["macro_accuracy"], 2 / 3)


def test_bad_inputs_are_refused_with_a_reason():
    labels, devices, probs = zip(*CLIPS)
    probs = np.array(probs)
    with pytest.raises(ValueError, match="unknown label"):
        compute_scores(["w"] + list(labels[1:]), probs, devices, class_names=CLASSES)
    with pytest.raises(ValueError, match="probabilities"):
        compute_scores(labels, probs * 3, devices, class_names=CLASSES)  # logits-like rows
    with pytest.raises(ValueError, match="shape"):
        compute_scores(labels, probs[:, :2], devices, class_names=CLASSES)
    with pytest.raises(ValueError, match="devices"):
        compute_scores(labels, probs, devices[:-1], class_names=CLASSES)
    with pytest.raises(ValueError, match="no clips"):
        compute_scores([], np.zeros((0, 3)), [], class_names=CLASSES)


def test_a_set_without_devices_is_scored_without_device_figures():
    labels, _, probs = zip(*CLIPS)
    s = compute_scores(labels, np.array(probs), None, class_names=CLASSES)
    with_devices = _score()
    assert s.macro_accuracy == with_devices.macro_accuracy and s.confusion == with_devices.confusion
    assert (s.devices, s.per_device, s.per_device_class, s.device_counts, s.device_groups) == ([], {}, {}, {}, {})
    assert s.seen_devices is None and s.unseen_devices is None


def test_log_loss_is_sklearns_bit_for_bit_also_where_it_clips():
    rng = np.random.default_rng(1)
    n = 500
    y = rng.integers(0, 10, n)
    logits = 800 * rng.standard_normal((n, 10))       # many probabilities round to 0 or to 1: the clipping
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    s = compute_scores([LABELS[i] for i in y], probs, ["a"] * n)
    assert (probs == 0).any() and (probs == 1).any()
    assert s.log_loss == sklearn.metrics.log_loss(y, probs / probs.sum(axis=1, keepdims=True), labels=range(10))


def test_scoring_does_not_import_sklearn():
    # ~80 MB and ~3 s in every training process (validation) and scoring job: the memory bound of issue 21
    code = ("import sys, numpy as np; from asc.metrics import compute_scores; "
            "compute_scores(['x', 'y'], np.array([[0.9, 0.1], [0.3, 0.7]]), ['a', 'b'], ['x', 'y']); "
            "assert 'sklearn' not in sys.modules, 'sklearn imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
