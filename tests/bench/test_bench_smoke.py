"""bench/: every benchmark script at its tiny size through `bench/run.sh --tiny`, the results file it
writes (the keys README's table reads, the machine beside them) and the report rendered from it.

The figures of a tiny run are not benchmarks (seconds of work on a shared machine); what is checked is
that each script runs end to end, writes its keys, and that the correctness figures hold: the log-mel
front end computes what librosa computes, the fused Rep-Mobile equals its training form, pruning
reaches the limits.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ("mel_speedup_vs_librosa", "data_path_overhead", "fused_speedup", "train_step_speedup", "e2e_seconds",
            "e2e_peak_rss_mb")
TOPICS = ("mel_frontend", "train_throughput", "train_step", "deploy_latency", "prune_steps", "scale", "e2e")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "results.json"
    done = subprocess.run([str(ROOT / "bench" / "run.sh"), "--tiny", "--out", str(out)], cwd=ROOT, text=True,
                          capture_output=True, timeout=600)
    assert done.returncode == 0, f"bench/run.sh --tiny failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return json.loads(out.read_text()), done.stdout


def test_every_script_writes_its_keys_and_the_machine(tiny_run):
    results, _ = tiny_run
    for key in REQUIRED:
        assert key in results
    for key in ("mel_speedup_vs_librosa", "data_path_overhead", "fused_speedup", "e2e_seconds", "e2e_peak_rss_mb"):
        assert isinstance(results[key], float), key
    assert results["mel_speedup_vs_librosa"] > 0 and results["fused_speedup"] > 0
    # the training-step ratio is the new path's samples/s over the branch-by-branch path's, same run
    one = results["train_step"]["rep_mobile"]["samples_per_s_1thread"]
    assert results["train_step_speedup"] == pytest.approx(one["new"] / one["old"], rel=0.01)
    # the headline is the ratio of the two measured rates, not some other figure
    student = results["mel_frontend"]["variants"]["as_given"]["configs"]["student"]
    assert results["mel_speedup_vs_librosa"] == pytest.approx(
        student["ours_clips_per_s"] / student["librosa_clips_per_s"], rel=0.05)
    assert results["e2e_seconds"] > 0 and results["e2e_peak_rss_mb"] > 10
    # each stage on its own: wall and CPU time, its largest process and which one it was; the totals add up
    stages = results["e2e"]["stages"]
    assert list(stages) == ["stage0", "stage1"]
    assert all(s["seconds"] > 0 and s["cpu_seconds"] > 0 and s["max_process_rss_mb"] > 10 for s in stages.values())
    assert stages["stage0"]["largest_process"].startswith("asc.bin.make_corpus")
    assert results["e2e_seconds"] == pytest.approx(sum(s["seconds"] for s in stages.values()), abs=0.1)
    assert results["e2e_max_process_rss_mb"] == max(s["max_process_rss_mb"] for s in stages.values())
    assert set(results["measured"]) == set(TOPICS)
    assert {v["mode"] for v in results["measured"].values()} == {"tiny"}
    machine = results["machine"]
    assert machine["cores"] >= 1 and machine["torch"] and machine["cpu_model"]


def test_correctness_figures_hold(tiny_run):
    results, _ = tiny_run
    # README's bound: 1e-4 within 50 dB of each clip's peak (measured here with 2 threads).
    assert results["mel_max_rel_error"] < 1e-4
    assert results["fused_max_abs_diff"] < 1e-4
    steps = results["prune_steps"]["steps"]
    assert [s["step"] for s in steps] == list(range(len(steps))) and len(steps) >= 2
    assert all(a["macs"] > b["macs"] for a, b in zip(steps, steps[1:]))
    assert steps[-1]["macs"] <= 30_000_000 and steps[-1]["param_bytes_float16"] <= 128_000


def test_scale_measures_every_size_and_store(tiny_run):
    results, _ = tiny_run
    corpora, loader = results["scale"]["corpora"], results["scale"]["loader"]
    assert [c["multiple"] for c in corpora] == [1, 2] and corpora[0]["clips"] < corpora[1]["clips"]
    assert all(c["prepare_extract_peak_rss_mb"] > 10 for c in corpora)
    assert [x["clips"] for x in loader] == [64, 256]
    assert results["loader_peak_rss_ratio"] > 0


def test_report_renders_and_fills_a_readme(tiny_run, tmp_path):
    results, stdout = tiny_run
    assert "## Benchmarks" in stdout and "bench/run.sh --tiny" in stdout
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results))
    readme = tmp_path / "README.md"
    readme.write_text("# P\n\n<!-- bench:begin -->\nold\n<!-- bench:end -->\n\n## After\n")
    report = [sys.executable, str(ROOT / "bench" / "report.py"), str(path)]
    done = subprocess.run(report + ["--readme", str(readme)], text=True, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    text = readme.read_text()
    assert "old" not in text and "| Figure | Measured |" in text and text.endswith("<!-- bench:end -->\n\n## After\n")
    assert "| Stage | Before: wall s | Wall s | CPU s | Largest process MB | Largest process |" in text   # no run before
    assert "| stage0 | - |" in text                       # no run before this one in the results file
    assert "| Rep-Mobile training step (batch 4), 1 thread, CPU time |" in text   # bench/run.sh's topic train_step
    assert "Largest process of the run: " in text and " MB resident in stage" in text
    readme.write_text("# no markers\n")
    done = subprocess.run(report + ["--readme", str(readme)], text=True, capture_output=True, timeout=120)
    assert done.returncode != 0 and "bench:begin" in done.stderr
