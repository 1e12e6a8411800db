"""The DCASE submission output for an unlabeled evaluation set in TAU's layout."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch
import yaml

from asc.bin import infer, submission
from eval_helpers import LABELS, save_deployed, tiny_model


pytestmark = pytest.mark.usefixtures("one_torch_thread")   # tests/conftest.py


def eval_set(root, n: int = 5, listing: str = "meta.csv"):
    """An evaluation folder as TAU ships it: audio/<n>.wav (1 s, 44.1 kHz) and a list of file names."""
    rng = np.random.default_rng(1)
    (root / "audio").mkdir(parents=True)
    for i in range(n):
        sf.write(root / "audio" / f"{i}.wav", (0.1 * rng.standard_normal(44100)).astype(np.float32), 44100)
    (root / listing).parent.mkdir(parents=True, exist_ok=True)
    (root / listing).write_text("filename\n" + "".join(f"audio/{i}.wav\n" for i in range(n)))
    return root


def run(model, folder, out) -> int:
    return submission.main(["--model", str(model), "--eval-dir", str(folder), "--out", str(out)])


def test_the_output_has_the_official_columns_and_the_complexity_figures(tmp_path, capsys):
    folder = eval_set(tmp_path / "eval")
    model = save_deployed(tmp_path / "model.pt", tiny_model())
    out = tmp_path / "sub"
    assert run(model, folder, out) == 0
    lines = (out / "output.csv").read_text().splitlines()
    # the official header, written out: not the code's own label list, which could drift with it
    assert lines[0] == ("filename\tscene_label\tairport\tbus\tmetro\tmetro_station\tpark\tpublic_square\t"
                        "shopping_mall\tstreet_pedestrian\tstreet_traffic\ttram")
    assert [line.split("\t")[0] for line in lines[1:]] == [f"{i}.wav" for i in range(5)]   # no audio/ prefix
    for line in lines[1:]:
        fields = line.split("\t")
        probs = np.array([float(v) for v in fields[2:]])
        assert len(probs) == 10 and abs(probs.sum() - 1) < 1e-4 and fields[1] == LABELS[int(probs.argmax())]
    complexity = yaml.safe_load((out / "complexity.yaml").read_text())["complexity"]
    assert complexity["total_parameters"] == complexity["total_parameters_non_zero"] > 0
    assert complexity["total_model_size"] == 2 * complexity["total_parameters"]
    assert complexity["precision"] == "float16" and complexity["macs"] > 0 and complexity["within_limits"]
    capsys.readouterr()
    assert run(model, folder, out) == 0
    assert "nothing to do" in capsys.readouterr().out


def test_columns_follow_the_official_order_whatever_the_models_order(tmp_path, capsys):
    folder = eval_set(tmp_path / "eval", n=2, listing="evaluation_setup/fold1_test.csv")   # the generator's listing
    shuffled = LABELS[5:] + LABELS[:5]
    model = save_deployed(tmp_path / "model.pt", tiny_model(), labels=shuffled)
    assert run(model, folder, tmp_path / "sub") == 0
    rows = (tmp_path / "sub" / "output.csv").read_text().splitlines()[1:]
    capsys.readouterr()
    assert infer.main(["--model", str(model), str(folder / "audio" / "0.wav")]) == 0
    by_model = capsys.readouterr().out.splitlines()[1].split("\t")[2:12]       # the model's own order
    official = rows[0].split("\t")[2:]
    assert [official[LABELS.index(label)] for label in shuffled] == by_model


def test_a_bad_file_leaves_a_partial_output_and_no_submission(tmp_path, capsys):
    folder = eval_set(tmp_path / "eval", n=3)
    (folder / "audio" / "1.wav").write_bytes(b"")
    out = tmp_path / "sub"
    assert run(save_deployed(tmp_path / "model.pt", tiny_model()), folder, out) == 1
    err = capsys.readouterr().err
    assert f"submission: error: {folder / 'audio' / '1.wav'}: empty file (0 bytes)" in err
    assert "1 of 3 files failed" in err and "output.csv was not written" in err
    assert not (out / "output.csv").exists() and not (out / "submission.done").exists()
    assert [l.split("\t")[0] for l in (out / "output.partial.csv").read_text().splitlines()[1:]] == ["0.wav", "2.wav"]


@pytest.mark.parametrize("listing, message", [
    ("filename\naudio/0.wav\n../secret.wav\n", "meta.csv line 3: file name '../secret.wav' points outside"),
    ("filename\naudio/0.wav\naudio/0.wav\n", "meta.csv line 3: duplicate file name 'audio/0.wav' (first on line 2)"),
    ("name\naudio/0.wav\n", "meta.csv line 1: expected a tab-separated header with a 'filename' column"),
    ("filename\n", "meta.csv: lists no files"),
    (None, "not an evaluation set in TAU's layout"),
])
def test_a_bad_listing_is_refused_naming_file_and_line(tmp_path, capsys, listing, message):
    folder = eval_set(tmp_path / "eval", n=1)
    if listing is None:
        (folder / "meta.csv").unlink()
    else:
        (folder / "meta.csv").write_text(listing)
    assert run(save_deployed(tmp_path / "model.pt", tiny_model()), folder, tmp_path / "sub") == 1
    err = capsys.readouterr().err
    assert err.startswith("submission: ") and message in err and err.count("\n") == 1


def test_a_model_of_other_classes_cannot_make_a_submission(tmp_path, capsys):
    folder = eval_set(tmp_path / "eval", n=1)
    labels = LABELS[:9] + ["beach"]
    assert run(save_deployed(tmp_path / "model.pt", tiny_model(), labels=labels), folder, tmp_path / "sub") == 1
    assert "are not the DCASE2024 Task 1 classes" in capsys.readouterr().err


def test_a_failed_run_leaves_neither_the_old_output_nor_a_nan_one(tmp_path, capsys):
    folder = eval_set(tmp_path / "eval", n=3)
    out = tmp_path / "sub"
    assert run(save_deployed(tmp_path / "a" / "model.pt", tiny_model()), folder, out) == 0
    assert (out / "output.csv").exists()
    broken = tiny_model(seed=1)
    with torch.no_grad():
        next(broken.parameters()).fill_(float("nan"))
    assert run(save_deployed(tmp_path / "b" / "model.pt", broken), folder, out) == 1
    assert "the model's weights hold NaN or infinite values" in capsys.readouterr().err
    (folder / "audio" / "1.wav").write_bytes(b"")            # another model, one bad file: partial
    assert run(save_deployed(tmp_path / "c" / "model.pt", tiny_model(seed=2)), folder, out) == 1
    assert not (out / "output.csv").exists() and not (out / "submission.done").exists()
