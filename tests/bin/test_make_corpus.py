"""Stage 0's entry point, and that what it writes passes stage 1's checks (the real data path)."""
from __future__ import annotations

from pathlib import Path

from asc.bin import make_corpus, prepare_data
from asc.config import load_config
from asc.data.datadir import load_datadir
from asc.data.embedded import CorpusConfig

CONF = Path(__file__).resolve().parents[2] / "egs" / "dcase2024_task1" / "conf" / "embedded" / "corpus.yaml"
TINY = ["dev.cities=[lisbon, london]", "dev.locations_per_city=1", "dev.segments_per_location=1",
        "dev.train_pieces=1", "dev.test_pieces=1", "recording_seconds=2", "eval.recordings_per_scene=1",
        "eval.devices_per_recording=1", "eval.pieces=1", "dirs.count=2", "workers=1"]


def sets(options: list[str]) -> list[str]:
    return [arg for text in options for arg in ("--set", text)]


def test_recipe_config_is_the_documented_default():
    assert load_config(CorpusConfig, CONF) == CorpusConfig()


def test_generated_corpus_goes_through_data_preparation(tmp_path, capsys):
    corpus = tmp_path / "corpus" / "embedded"
    assert make_corpus.main(["--config", str(CONF), "--out", str(corpus), *sets(TINY)]) == 0
    assert "development corpus: 150 clips" in capsys.readouterr().out
    assert sorted(p.name for p in corpus.parent.iterdir()) == ["embedded", "embedded_dirs", "embedded_eval"]
    data = tmp_path / "data"
    assert prepare_data.main(["--corpus", str(corpus), "--out", str(data),
                              "--eval-corpus", str(corpus.parent / "embedded_eval")]) == 0
    train, test, evaluation = (load_datadir(data / name) for name in ("train_split100", "test", "eval"))
    assert (len(train), len(test), len(evaluation)) == (60, 90, 10)
    assert set(test.device.values()) == {"a", "b", "c", "s1", "s2", "s3", "s4", "s5", "s6"}
    assert not set(train.rec.values()) & set(test.rec.values())
    assert not evaluation.label


def test_bad_option_exits_1_with_one_line(tmp_path, capsys):
    assert make_corpus.main(["--out", str(tmp_path / "c"), "--set", "difficulty.class_overlapp=0.2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("make_corpus: ") and err.count("\n") == 1 and "class_overlapp" in err
    assert make_corpus.main(["--out", str(tmp_path / "c"), "--set", "dev.cities=[Lisbon]"]) == 1
    assert "lower-case" in capsys.readouterr().err
