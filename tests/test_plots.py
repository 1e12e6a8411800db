import matplotlib.image
import numpy as np

from asc.metrics import LABELS, compute_scores
from asc.plots import device_class_matrix, normalize_rows, plot_confusion, plot_device_class

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _scores():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 300)
    logits = rng.standard_normal((300, 10))
    logits[np.arange(300), y] += 1.0
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    devices = [("a", "b", "c", "s4")[i] for i in rng.integers(0, 4, 300)]
    return compute_scores([LABELS[i] for i in y], probs, devices).to_dict()


def _check_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert len(data) > 20_000  # a drawn matrix with labels, not an empty canvas
    image = matplotlib.image.imread(str(path))
    assert image.shape[0] > 300 and image.shape[1] > 300
    assert image[..., :3].std() > 0.05  # not a blank picture


def test_pictures_are_valid_pngs_written_atomically(tmp_path):
    scores = _scores()
    plot_confusion(scores, tmp_path / "confusion.png")
    plot_device_class(scores, tmp_path / "sub" / "device_class.png")
    _check_png(tmp_path / "confusion.png")
    _check_png(tmp_path / "sub" / "device_class.png")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["confusion.png", "device_class.png"]


def test_matrices_behind_the_pictures():
    np.testing.assert_allclose(normalize_rows([[2, 2], [0, 0], [1, 3]]), [[.5, .5], [0, 0], [.25, .75]])
    scores = {"labels": ["x", "y"], "devices": ["a", "s4"],
              "per_device_class": {"a": {"x": 0.5, "y": None}, "s4": {"x": 1.0, "y": 0.0}}}
    np.testing.assert_array_equal(device_class_matrix(scores), [[0.5, 1.0], [np.nan, 0.0]])


def test_pruning_paths_one_panel_per_setting_a_line_per_schedule(tmp_path):
    from asc.plots import plot_prune_paths

    start = (42.6e6, 45.0)
    panels = {f"split {split} %, criterion l2": [
        ("K = 1 × 6", 1, 6, [start[0], 29.9e6], [start[1], 40.0]),
        ("K = 3 × 2", 3, 6, [start[0], 37.8e6, 33.7e6, 29.9e6], [start[1], 43.0, 42.0, 41.0]),
        ("K = 1 × 12", 1, 12, [start[0], 29.9e6], [start[1], 42.5])] for split in (25, 100)}
    plot_prune_paths(panels, tmp_path / "paths.png", target_macs=30e6)
    _check_png(tmp_path / "paths.png")
    assert [p.name for p in tmp_path.iterdir()] == ["paths.png"]
