"""The embedded corpus generator: TAU22 layout and formats, DCASE2024 splits, determinism, resumption."""
from __future__ import annotations

import csv
import dataclasses
import filecmp
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile as sf

from asc.data.embedded import CorpusConfig, make_corpus, render_recording
from asc.data.embedded import devices, scenes
from asc.data.embedded.config import DevLayout, DirsConfig, EvalLayout, check_config
from asc.data.embedded.layout import nested_splits, plan_dev
from asc.errors import ConfigError, InputError

LABELS = ["airport", "bus", "metro", "metro_station", "park", "public_square", "shopping_mall",
          "street_pedestrian", "street_traffic", "tram"]
NAME = re.compile(r"^audio/([a-z_]+)-([a-z]+)-(\d+)-(\d+)-(\d+)-(a|b|c|s[1-6])\.wav$")


def tiny(seed: int = 0, workers: int = 1) -> CorpusConfig:
    """150 one-second clips: 2 cities, 1 location each (one for training, one for test), 2-s recordings."""
    return CorpusConfig(
        seed=seed, recording_seconds=2, workers=workers,
        dev=DevLayout(cities=["lisbon", "lyon"], locations_per_city=1, segments_per_location=1,
                      test_location_fraction=0.5, train_pieces=1, test_pieces=1),
        eval=EvalLayout(recordings_per_scene=1, devices_per_recording=2, pieces=1),
        dirs=DirsConfig(count=3, length=256))


def quiet(_message: str) -> None:
    pass


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "embedded"
    make_corpus(tiny(), out, log=quiet)
    return out


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def recordings(rows) -> set[str]:
    return {r["filename"][len("audio/"):].rsplit("-", 2)[0] for r in rows}


def test_meta_is_in_tau22_format(corpus):
    lines = (corpus / "meta.csv").read_text().splitlines()
    assert lines[0] == "filename\tscene_label\tidentifier\tsource_label"
    rows = read_rows(corpus / "meta.csv")
    assert len(rows) == len(lines) - 1 == len(list((corpus / "audio").glob("*.wav")))
    for row in rows:
        scene, city, location, _, index, device = NAME.match(row["filename"]).groups()
        assert (row["scene_label"], row["identifier"], row["source_label"]) == (scene, f"{city}-{location}", device)
        assert int(index) < 2
    assert {r["scene_label"] for r in rows} == set(LABELS)


def test_audio_is_one_second_mono_16_bit_at_44k1(corpus):
    for path in sorted((corpus / "audio").glob("*.wav"))[:20]:
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.frames, info.subtype) == (44100, 1, 44100, "PCM_16")
        x, _ = sf.read(path)
        assert 1e-4 < np.sqrt(np.mean(x ** 2)) < 0.5 and np.isfinite(x).all()


def test_splits_are_nested_by_recording_and_disjoint_from_test(corpus):
    meta = read_rows(corpus / "meta.csv")
    test = read_rows(corpus / "test.csv")
    assert (corpus / "split5.csv").read_text().splitlines()[0] == "filename\tscene_label"
    previous: set = set()
    for share in (5, 10, 25, 50, 100):
        rows = read_rows(corpus / f"split{share}.csv")
        files = {r["filename"] for r in rows}
        assert previous <= files, f"split{share} does not contain the smaller split"
        assert {r["scene_label"] for r in rows} == set(LABELS)
        previous = files
        # a recording's clips (every piece, every device) are all in a split or none are
        for rec in recordings(rows):
            assert {r["filename"] for r in meta if r["filename"].startswith(f"audio/{rec}-")} <= files
    assert not recordings(read_rows(corpus / "split100.csv")) & recordings(test)
    assert previous | {r["filename"] for r in test} == {r["filename"] for r in meta}


def test_default_layout_splits_grow_nested_and_keep_recordings_whole():
    cfg = CorpusConfig()
    plan = plan_dev(cfg)
    splits = nested_splits(cfg, plan)
    clips = {share: sum(len(r.clips()) for r in recs) for share, recs in splits.items()}
    total = clips[100]
    for small, big in [(5, 10), (10, 25), (25, 50), (50, 100)]:
        assert {r.rec_id for r in splits[small]} < {r.rec_id for r in splits[big]}
    for share in (5, 10, 25, 50):
        assert share / 100 <= clips[share] / total < share / 100 + 0.04, (share, clips[share])
        assert {r.scene for r in splits[share]} == set(LABELS)
    test_sites = {(r.city, r.location) for r in plan if r.subset == "test"}
    assert not test_sites & {(r.city, r.location) for r in splits[100]}   # TAU: split by location


def test_unseen_devices_only_in_test_and_test_has_every_device(corpus):
    train = {r["filename"].rsplit("-", 1)[1][:-4] for r in read_rows(corpus / "split100.csv")}
    test = {r["filename"].rsplit("-", 1)[1][:-4] for r in read_rows(corpus / "test.csv")}
    assert train == {"a", "b", "c", "s1", "s2", "s3"}
    assert test == {"a", "b", "c", "s1", "s2", "s3", "s4", "s5", "s6"}


def test_device_a_dominates_training_of_the_default_corpus():
    plan = plan_dev(CorpusConfig())
    train = [device for r in plan if r.subset == "train" for device, _ in r.clips()]
    test = [device for r in plan if r.subset == "test" for device, _ in r.clips()]
    assert train.count("a") / len(train) > 0.75
    assert 1200 <= len(train) <= 1800 and 1000 <= len(test) <= 2000
    assert {test.count(d) for d in devices.DEV_DEVICES} == {len(test) // 9}


def test_devices_record_the_same_scene_at_the_same_time():
    cfg = tiny()
    first, second = plan_dev(cfg)[:2]
    same_time = dataclasses.replace(first, pieces=(("a", (0,)), ("b", (0,)), ("s1", (0,))))
    audio = render_recording(cfg, same_time)
    other = render_recording(cfg, dataclasses.replace(second, pieces=(("a", (0,)),)))["a"][0]

    def coherence(x, y):
        f, c = scipy.signal.coherence(x, y, fs=44100, nperseg=1024)
        return c[(f > 500) & (f < 4000)].mean()

    assert coherence(audio["a"][0], audio["b"][0]) > 0.5
    assert coherence(audio["a"][0], audio["s1"][0]) > 0.5
    assert coherence(audio["a"][0], other) < 0.2


def test_same_seed_gives_the_same_bytes_whatever_the_processes(corpus, tmp_path):
    again = tmp_path / "again"
    make_corpus(tiny(workers=2), again, log=quiet)
    for name in ["meta.csv", "split5.csv", "split100.csv", "test.csv"]:
        assert filecmp.cmp(corpus / name, again / name, shallow=False), name
    for path in (corpus / "audio").glob("*.wav"):
        assert filecmp.cmp(path, again / "audio" / path.name, shallow=False), path.name
    for folder in ("_eval", "_dirs"):
        mine, theirs = Path(str(corpus) + folder), Path(str(again) + folder)
        for path in mine.rglob("*.wav"):
            assert filecmp.cmp(path, theirs / path.relative_to(mine), shallow=False), path


def test_a_recording_renders_the_same_alone(corpus):
    cfg = tiny()
    rec = plan_dev(cfg)[-1]
    audio = render_recording(cfg, rec)
    device, pieces = rec.pieces[-1]
    written, _ = sf.read(corpus / rec.filename(device, pieces[0]), dtype="int16")
    assert np.array_equal(written, np.clip(np.round(audio[device][pieces[0]] * 32767), -32768, 32767))


def test_another_seed_gives_other_audio():
    rec = dataclasses.replace(plan_dev(tiny())[0], pieces=(("a", (0,)),))
    assert not np.allclose(render_recording(tiny(), rec)["a"][0], render_recording(tiny(seed=1), rec)["a"][0])


def test_rerun_skips_and_another_config_is_refused(corpus):
    stamps = {p: p.stat().st_mtime_ns for p in corpus.rglob("*")}
    messages = []
    make_corpus(tiny(), corpus, log=messages.append)
    assert all("nothing to do" in m for m in messages) and len(messages) == 3
    assert stamps == {p: p.stat().st_mtime_ns for p in corpus.rglob("*")}
    other = dataclasses.replace(tiny(), difficulty=dataclasses.replace(tiny().difficulty, class_overlap=0.9))
    with pytest.raises(InputError, match="another config"):
        make_corpus(other, corpus, log=quiet)


def test_interrupted_run_resumes_with_the_same_result(corpus, tmp_path):
    out = tmp_path / "resumed"
    shutil.copytree(corpus, out)
    cfg = dataclasses.replace(tiny(), eval=EvalLayout(enabled=False), dirs=DirsConfig(count=0))
    # as if killed after some audio: no marker, no metadata, files missing, a temporary left behind
    (out / "corpus.done").unlink()
    (out / "meta.csv").unlink()
    removed = sorted((out / "audio").glob("*.wav"))[::7]
    for path in removed:
        path.unlink()
    (out / "audio" / ".x.wav.tmpabc.wav").write_bytes(b"half")
    messages = []
    make_corpus(cfg, out, log=messages.append)
    assert any("resuming" in m for m in messages)
    assert not list((out / "audio").glob(".*"))
    for path in removed + [out / "meta.csv"]:
        assert filecmp.cmp(path, corpus / path.relative_to(out), shallow=False), path


def test_a_truncated_file_of_a_finished_corpus_is_written_again(corpus, tmp_path):
    out = tmp_path / "damaged"
    shutil.copytree(corpus, out)
    victim = sorted((out / "audio").glob("*.wav"))[5]
    victim.write_bytes(victim.read_bytes()[:1000])
    (out / "split25.csv").write_text("filename\tscene_label\n")
    messages = []
    make_corpus(dataclasses.replace(tiny(), eval=EvalLayout(enabled=False), dirs=DirsConfig(count=0)), out,
                log=messages.append)
    assert any("2 file(s) missing or damaged" in m for m in messages)
    for path in (victim, out / "split25.csv"):
        assert filecmp.cmp(path, corpus / path.relative_to(out), shallow=False), path
    assert (out / "corpus.done").exists()


def test_a_folder_not_made_by_the_generator_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not made by make_corpus"):
        make_corpus(tiny(), tmp_path, log=quiet)


def test_evaluation_set_is_unlabeled_in_tau_evaluation_layout(corpus):
    folder = Path(str(corpus) + "_eval")
    lines = (folder / "meta.csv").read_text().splitlines()
    assert lines == ["filename"] + [f"audio/{i}.wav" for i in range(len(lines) - 1)]
    assert len(lines) - 1 == 10 * 2 * 1 == len(list((folder / "audio").glob("*.wav")))
    assert (folder / "evaluation_setup" / "fold1_test.csv").read_text().splitlines() == lines
    key = read_rows(folder / "evaluation_setup" / "fold1_evaluate.csv")
    assert sorted(r["scene_label"] for r in key) == sorted(LABELS * 2)


def test_device_impulse_responses_are_a_distinct_family(corpus):
    folder = Path(str(corpus) + "_dirs")
    files = sorted(folder.glob("*.wav"))
    assert [f.name for f in files] == ["dir_000.wav", "dir_001.wav", "dir_002.wav"]
    irs = [sf.read(f) for f in files]
    assert all(sr == 44100 and ir.shape == (256,) and abs(np.sum(ir ** 2) - 1) < 1e-4 for ir, sr in irs)
    # no augmentation response resembles a simulated device (log-magnitude correlation)
    grid = np.fft.rfftfreq(8192, 1 / 44100)[1:]
    band = (grid > 100) & (grid < 16000)
    for ir, _ in irs:
        mine = 20 * np.log10(np.abs(np.fft.rfft(ir, 8192))[1:][band] + 1e-9)
        for name in ["s1", "s2", "s3", "s4", "s5", "s6"]:
            theirs = 20 * np.log10(devices.magnitude(devices.device_model(name, 1.0), grid[band]) + 1e-9)
            assert np.corrcoef(mine, theirs)[0, 1] < 0.95, name


def test_class_overlap_knob_blends_scene_recipes():
    assert scenes.blended_recipe("park", 0.0) == pytest.approx(scenes.RECIPES["park"])
    assert scenes.blended_recipe("park", 1.0) == pytest.approx(scenes.blended_recipe("metro", 1.0))
    half = scenes.blended_recipe("park", 0.5)["birds_rate"]
    assert scenes.blended_recipe("park", 1.0)["birds_rate"] < half < scenes.RECIPES["park"]["birds_rate"]


def test_impossible_layouts_are_refused():
    cfg = tiny()
    with pytest.raises(ConfigError, match="at least 2 locations"):
        check_config(dataclasses.replace(cfg, dev=dataclasses.replace(cfg.dev, cities=["lisbon"], locations_per_city=1)))
    with pytest.raises(ConfigError, match="train_pieces"):
        check_config(dataclasses.replace(cfg, dev=dataclasses.replace(cfg.dev, train_pieces=3)))
    with pytest.raises(ConfigError, match="unknown device 'x'"):
        check_config(dataclasses.replace(cfg, eval=dataclasses.replace(cfg.eval, devices=["a", "x"])))
