"""End to end: wall time and peak memory of the recipe's `./run.sh` on this machine (target: the
default run under 15 minutes on 2 CPU cores).

The recipe folder is copied to a temporary folder laid out like the repository (egs/dcase2024_task1/
beside links to tools/, utils/ and steps/, so that path.sh finds the virtual environment and the recipe's
utils link resolves), without its outputs, so the run starts from nothing and the repository's own
corpus/, data/, dump/ and exp/ are left alone. Memory is the peak of the sum over run.sh's whole
process tree, sampled every 0.5 s (a spike shorter than that can be missed), and the largest single
process (the kernel's maximum resident size over the tree, exact). The time of each stage is read
from run.sh's log lines.

    python bench/e2e.py            # the default ./run.sh: every stage, five splits (about 15 min)
    python bench/e2e.py --quick    # run.sh with tiny overrides: a small corpus, split 100, 1 epoch
    python bench/e2e.py --tiny     # stages 0-1 on a corpus of 150 clips (that the copy and the measurement work)
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from common import REPO, RECIPE, as_dict, by_mode, merge_results, mode_of, parser, print_table, ratio, run_measured

TARGET_SECONDS = 15 * 60
OUTPUTS = ("corpus", "data", "dump", "exp", "downloads")   # never copied
TINY_CORPUS = ("--set dev.cities=[lisbon,paris,lyon] --set dev.locations_per_city=1 "
               "--set dev.segments_per_location=2 --set dev.train_pieces=2 --set dev.test_pieces=1 "
               "--set eval.recordings_per_scene=1 --set dirs.count=4")
TINY_ARGS = ["--splits", "100", "--nj", "2", "--corpus-opts", TINY_CORPUS,
             "--train-opts", "epochs=1 batch_size=16", "--prune-opts", "steps=2 epochs_per_step=1"]
SMOKE_ARGS = ["--splits", "100", "--stop-stage", "1", "--corpus-opts",
              "--set dev.cities=[lisbon,paris] --set dev.locations_per_city=1 --set dev.segments_per_location=1 "
              "--set dev.train_pieces=1 --set dev.test_pieces=1 --set recording_seconds=2 --set eval.enabled=false "
              "--set dirs.count=0 --set workers=1"]
STAGE_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \[run\.sh stage (\d+)\]")


def recipe_copy(root: Path) -> Path:
    """root/egs/<recipe>/ (a copy without outputs) beside links root/tools, root/utils and root/steps."""
    (root / "egs").mkdir(parents=True)
    for name in ("tools", "utils", "steps"):
        (root / name).symlink_to(REPO / name)
    target = root / "egs" / RECIPE.name
    shutil.copytree(RECIPE, target, symlinks=True, ignore=lambda d, names: OUTPUTS if Path(d) == RECIPE else ())
    return target


def offered_options(run_sh: Path) -> set[str]:
    """The variables run.sh lets the command line set (those assigned at the start of a line)."""
    return set(re.findall(r"^([a-z_]+)=", run_sh.read_text(), flags=re.M))


def stage_seconds(log: str, total: float) -> dict[str, float]:
    """Seconds from each stage's first log line to the next stage's (the last: to the end of the run)."""
    firsts: dict[str, datetime] = {}
    for line in log.splitlines():
        m = STAGE_LINE.match(line)
        if m and m.group(2) not in firsts:
            firsts[m.group(2)] = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")
    stages = sorted(firsts, key=lambda s: firsts[s])
    if not stages:
        return {}
    end = firsts[stages[0]].timestamp() + total
    bounds = [firsts[s].timestamp() for s in stages] + [end]
    return {f"stage{s}": round(max(0.0, bounds[i + 1] - bounds[i]), 1) for i, s in enumerate(stages)}


def main(argv=None) -> int:
    """Run the recipe in a fresh copy, print, merge into the results (exit 1 if run.sh failed)."""
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--keep", type=Path, help="run in this folder and keep it (default: a temporary one, removed)")
    p.add_argument("--args", default="", help="extra run.sh options, e.g. \"--nj 2\"")
    args = p.parse_args(argv)
    mode = mode_of(args)
    run_args = by_mode(mode, SMOKE_ARGS, TINY_ARGS, []) + args.args.split()
    missing = {"corpus_opts", "train_opts", "prune_opts"} - offered_options(RECIPE / "run.sh")
    if mode != "full" and missing:
        note = f"skipped: run.sh offers no {', '.join(sorted(missing))} for a tiny run"
        print(f"e2e: {note}")
        merge_results(args.out, "e2e", {"note": note}, {"e2e_seconds": None, "e2e_peak_rss_mb": None}, mode)
        return 0
    work = Path(tempfile.mkdtemp(prefix="asc_e2e_")) if args.keep is None else args.keep
    try:
        recipe = recipe_copy(work)
        env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
        log = work / "run.log"
        print(f"e2e: ./run.sh {' '.join(run_args)} in {recipe} (log: {log})", flush=True)
        m = run_measured(["./run.sh", *run_args], cwd=recipe, env=env, log=log, interval=0.5)
        text = log.read_text()
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    stages = stage_seconds(text, m.seconds)
    details = {"command": f"./run.sh {' '.join(run_args)}".strip(), "rc": m.rc, "measured": as_dict(m),
               "stage_seconds": stages, "target_seconds": TARGET_SECONDS, "cpu_count": os.cpu_count(),
               "note": "peak_rss: the sum over run.sh's process tree, sampled every 0.5 s; max_process_rss: the "
                       "largest single process (exact)"}
    if m.rc:
        details["log_tail"] = text[-3000:]
    headline = {"e2e_seconds": m.seconds if m.rc == 0 else None,
                "e2e_peak_rss_mb": m.peak_tree_rss_mb if m.rc == 0 else None,
                "e2e_max_process_rss_mb": m.max_process_rss_mb if m.rc == 0 else None,
                "e2e_cpu_seconds": m.cpu_seconds if m.rc == 0 else None,
                "e2e_vs_target": ratio(m.seconds, TARGET_SECONDS) if m.rc == 0 and mode == "full" else None}
    print_table(f"./run.sh {' '.join(run_args)}".strip()[:120],
                [(k, v) for k, v in stages.items()] + [("total", m.seconds)], ["stage", "seconds"])
    print(f"  CPU time {m.cpu_seconds:.0f} s; peak memory {m.peak_tree_rss_mb:.0f} MB (process tree), "
          f"{m.max_process_rss_mb:.0f} MB (largest process)")
    merge_results(args.out, "e2e", details, headline, mode)
    print(json.dumps(headline))
    if m.rc:
        print(f"e2e: run.sh failed ({m.rc}):\n{text[-3000:]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
