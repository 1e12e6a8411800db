"""The int8-against-float16 table: figures from stage 5's own files, means over seeds, missing runs
named and not counted, a verdict over the splits."""
from __future__ import annotations

import json

import pytest

from asc.bin import deploy_evidence
from asc.errors import InputError
from asc.eval.deploy_evidence import collect, render


def finished(root, split, precision, seed, accuracy, float32, params, done=True):
    deploy = root / f"split{split}" / precision / f"seed{seed}" / "deploy"
    deploy.mkdir(parents=True)
    stored = "file_int8" if precision == "int8" else "file_float32"
    (deploy / "precision.json").write_text(json.dumps({"float32": {"macro_accuracy": float32},
                                                       stored: {"macro_accuracy": accuracy}}))
    (deploy / "complexity.json").write_text(json.dumps({"params": params, "param_bytes": params * 2, "macs": 10}))
    if done:
        (deploy / "deploy.done").write_text("{}")


def test_the_table_averages_seeds_and_counts_the_splits_where_int8_is_ahead(tmp_path):
    finished(tmp_path, 10, "float16", 0, 0.40, 0.41, 57000)
    finished(tmp_path, 10, "float16", 1, 0.42, 0.42, 57000)
    finished(tmp_path, 10, "int8", 0, 0.45, 0.46, 110000)
    finished(tmp_path, 10, "int8", 1, 0.47, 0.47, 110000)
    finished(tmp_path, 25, "float16", 0, 0.50, 0.50, 57000)
    finished(tmp_path, 25, "int8", 0, 0.48, 0.49, 110000)
    finished(tmp_path, 25, "int8", 1, 0.99, 0.99, 110000, done=False)       # killed: not a result
    runs, missing = collect(tmp_path, [10, 25], [0, 1])
    assert len(runs) == 6 and len(missing) == 2
    text = render(runs, missing, [10, 25], [0, 1], "local/deploy_evidence.sh")
    row10 = next(line for line in text.splitlines() if line.startswith("| 10 |"))
    assert "41.00 ± 1.41" in row10 and "46.00 ± 1.41" in row10 and "+5.00" in row10 and "-0.50" in row10
    assert "110,000" in row10 and "2/2" in row10
    row25 = next(line for line in text.splitlines() if line.startswith("| 25 |"))
    assert "-2.00" in row25 and "1/1" in row25
    assert "int8 ahead at 1 of 2 splits" in text and "split25/int8/seed1" in text


def test_the_command_fills_the_readme_section_and_refuses_unreadable_files(tmp_path, capsys):
    finished(tmp_path, 10, "float16", 0, 0.40, 0.41, 57000)
    finished(tmp_path, 10, "int8", 0, 0.45, 0.46, 110000)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- deploy_evidence:begin -->\nold\n<!-- deploy_evidence:end -->\nrest\n")
    argv = ["--root", str(tmp_path), "--splits", "10", "--seeds", "0", "--readme", str(readme)]
    assert deploy_evidence.main(argv) == 0
    assert "| 10 | 57,000 |" in readme.read_text() and "old" not in readme.read_text()
    (tmp_path / "split10" / "int8" / "seed0" / "deploy" / "precision.json").write_text("{")
    with pytest.raises(InputError):
        collect(tmp_path, [10], [0])
    assert deploy_evidence.main(argv) == 1 and "precision.json" in capsys.readouterr().err
