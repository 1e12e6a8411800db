"""Data preparation (stage 1) through its command line: bad split and meta files stop the stage with
one line naming the file and line, and nothing is written. (Single cases of meta.csv are checked on
the reader in tests/data/test_tau22.py; here the ones it leaves out, end to end.)"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from test_tau22 import edit, fake_corpus  # noqa: E402

from asc.bin.prepare_data import main  # noqa: E402


def first_row(path: Path) -> str:
    return path.read_text().splitlines(keepends=True)[1]


CASES = {
    "duplicate split row": ("split25.csv", 3, first_row,
                            r"split25.csv line 3: duplicate filename '.*' \(first on line 2\)"),
    "split path outside": ("split10.csv", 2, lambda p: "../audio/park-lisbon-50-500-0-a.wav\tpark\n",
                           r"split10.csv line 2: .*outside the corpus"),
    "unknown split label": ("test.csv", 2, lambda p: first_row(p).split("\t")[0] + "\tparkk\n",
                            r"test.csv line 2: scene_label 'parkk' .* disagrees"),
    "meta missing column": ("meta.csv", 1, lambda p: "filename\tscene_label\tidentifier\n",
                            r"meta.csv line 1: missing column\(s\) source_label"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_table_stops_the_stage_with_one_line(tmp_path, capsys, case):
    name, line, text, pattern = CASES[case]
    corpus = fake_corpus(tmp_path / "corpus")
    edit(corpus / name, line, text(corpus / name))
    out = tmp_path / "data"
    assert main(["--corpus", str(corpus), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("prepare_data: ") and len(err.strip().splitlines()) == 1, err
    assert re.search(pattern, err) and str(corpus / name) in err, err
    assert not (out / "labels.txt").exists() and not list(out.glob("*/wav.scp"))
