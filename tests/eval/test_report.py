import numpy as np

from asc.metrics import compute_scores
from asc.eval.report import format_scores


def _scores():
    labels = ["x", "x", "y", "z", "x", "y"]
    devices = ["a", "a", "a", "a", "s4", "s4"]
    probs = np.array([[.7, .2, .1], [.2, .5, .3], [.1, .8, .1], [.3, .3, .4], [.6, .3, .1], [.5, .4, .1]])
    return compute_scores(labels, probs, devices, class_names=["x", "y", "z"]).to_dict()


def test_summary_and_class_by_device_table():
    text = format_scores(_scores(), title="kd / split5")
    lines = text.splitlines()
    assert lines[0] == "kd / split5" and lines[1] == "=" * len("kd / split5")
    assert "macro accuracy    72.22 %" in text  # x 2/3, y 1/2, z 1 -> (0.667 + 0.5 + 1) / 3
    assert "accuracy          66.67 %  (all clips)" in text  # 4 of 6
    assert "seen devices      75.00 %  (a b c s1 s2 s3)" in text
    assert "unseen devices    50.00 %  (s4 s5 s6)" in text
    header = next(line for line in lines if line.startswith("class"))
    assert header.split() == ["class", "a", "s4", "all"]
    rows = {line.split()[0]: line.split()[1:] for line in lines
            if line.split() and line.split()[0] in {"x", "y", "z", "all", "clips"}}
    assert rows["x"] == ["50.0", "100.0", "66.7"]
    assert rows["z"] == ["100.0", "–", "100.0"]  # no z clip of device s4
    assert rows["all"] == ["classes", "75.0", "50.0", "66.7"]
    assert rows["clips"] == ["4", "2", "6"]
