"""./run.sh killed with SIGKILL in the middle of stage 3 (teachers), as a power cut or `kill -9` of the
whole run would leave it, then re-run with the same command: exp/RESULTS.md is the one an
uninterrupted run writes, and the teacher that had finished is not trained again. Also the DCASE
submission file that stage 6 writes for the generated evaluation set.

The uninterrupted run is the session's recipe run (conftest.py: splits 5 and 100, one epoch); the
killed one starts from its corpus, data and features and runs split 5 only (every stage of a split, on
the smallest one), so its RESULTS.md is compared with the one asc.bin.results writes from the
uninterrupted run's split-5 scores."""
from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from test_run_sh import ROOT, TINY_ARGS, recipe_copy
from shared_pretrained import shared_pretrained  # tests/models, on the path through test_run_sh

# The later --splits wins. The copied stages 0-2 record the uninterrupted run's folders in their done
# markers, so this run starts at stage 3, which reads only data/ and dump/.
SPLIT = 5
ARGS = [*TINY_ARGS, "--splits", str(SPLIT), "--stage", "3"]
# The header of a DCASE2024 Task 1 submission file, written out (not taken from the code's label list).
DCASE_HEADER = ("filename\tscene_label\tairport\tbus\tmetro\tmetro_station\tpark\tpublic_square\t"
                "shopping_mall\tstreet_pedestrian\tstreet_traffic\ttram")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    env.setdefault("PRETRAINED_DIR", str(shared_pretrained()))     # the mn04 teacher's AudioSet weights
    return env


def _fail(what: str, log: str) -> str:
    return f"{what}:\n{log[-4000:]}"


@pytest.fixture(scope="module")
def uninterrupted(finished_recipe) -> Path:
    return finished_recipe


def _results_of_split(recipe: Path, split: int, where: Path) -> str:
    """exp/RESULTS.md as asc.bin.results writes it from the scores of one split of `recipe` alone."""
    for part in ("kd", "deploy"):
        for scores in (recipe / "exp" / part / f"split{split}").rglob("scores.json"):
            target = where / scores.relative_to(recipe)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(scores, target)
            shutil.copy(scores.parent / "score.done", target.parent)     # RESULTS.md takes finished scores only
    done = subprocess.run([str(ROOT / "tools/venv/bin/python"), "-m", "asc.bin.results", "--exp", "exp/kd",
                           "exp/deploy", "--out", "exp/RESULTS.md"], cwd=where, env=_env(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return (where / "exp" / "RESULTS.md").read_text()


def test_submission_file_has_the_dcase_header_and_every_evaluation_clip(uninterrupted):
    eval_meta = uninterrupted / "corpus" / "embedded_eval" / "meta.csv"
    assert eval_meta.is_file(), "the generated evaluation set lacks the meta.csv that stage 6 needs"
    with eval_meta.open() as f:
        clips = [row["filename"] for row in csv.DictReader(f, delimiter="\t")]
    assert clips and all(c.startswith("audio/") for c in clips)
    lines = (uninterrupted / "exp" / "submission" / "split100" / "output.csv").read_text().splitlines()
    assert lines[0] == DCASE_HEADER
    classes = DCASE_HEADER.split("\t")[2:]
    rows = [line.split("\t") for line in lines[1:]]
    assert sorted(r[0] for r in rows) == sorted(c.removeprefix("audio/") for c in clips)
    for row in rows:
        assert len(row) == 12
        probs = [float(p) for p in row[2:]]
        assert all(0.0 <= p <= 1.0 for p in probs) and abs(sum(probs) - 1.0) < 1e-3, row
        assert row[1] == classes[probs.index(max(probs))], row          # the label is the most probable class
    assert len({tuple(row[2:]) for row in rows}) == len(rows)          # the model read each clip's audio


def _wait_for(condition, proc: subprocess.Popen, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_run_sh_killed_in_stage_3_ends_with_the_same_results(uninterrupted, tmp_path):
    recipe = recipe_copy(tmp_path)
    for top in ("corpus", "data", "dump"):          # stages 0-2 as the uninterrupted run left them
        shutil.copytree(uninterrupted / top, recipe / top, symlinks=True)
    teach = recipe / "exp" / "teach" / f"split{SPLIT}"
    log = tmp_path / "killed.log"
    with log.open("w") as out:
        run = subprocess.Popen(["./run.sh", *ARGS], cwd=recipe, env=_env(), stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)
        try:
            # mid stage 3: one teacher trained, the ensemble's logits not yet written
            reached = _wait_for(lambda: any(teach.glob("*/train.done")), run, 900)
        finally:
            try:
                os.killpg(run.pid, signal.SIGKILL)   # run.sh and every process it started
            except ProcessLookupError:               # the whole group had already ended
                pass
            run.wait(timeout=60)
    assert reached, _fail("run.sh never reached the middle of stage 3", log.read_text())
    assert run.returncode == -signal.SIGKILL
    assert not (teach / "logits.done").exists() and not (recipe / "exp" / "RESULTS.md").exists()
    finished = {p: p.stat().st_mtime_ns for p in teach.glob("*/train.done")}

    again = subprocess.run(["./run.sh", *ARGS], cwd=recipe, env=_env(), capture_output=True, text=True, timeout=1200)
    assert again.returncode == 0, _fail("the re-run failed", again.stdout + again.stderr)
    assert {p: p.stat().st_mtime_ns for p in finished} == finished          # not trained again
    results = (recipe / "exp" / "RESULTS.md").read_text()
    assert "rep_mobile_pruned" in results
    assert results == _results_of_split(uninterrupted, SPLIT, tmp_path / "reference")
