"""End to end: wall time and peak memory of the recipe's `./run.sh` on this machine (target: the
default run under 15 minutes on 2 CPU cores).

The recipe folder is copied to a temporary folder laid out like the repository (egs/dcase2024_task1/
beside links to tools/, utils/ and steps/, so that path.sh finds the virtual environment and the recipe's
utils link resolves), without its outputs, so the run starts from nothing and the repository's own
corpus/, data/, dump/ and exp/ are left alone. Each stage runs as its own `./run.sh --stage N
--stop-stage N` (what one ./run.sh does, stage after stage, with a second of start-up each), so that
every stage has its own wall time, CPU time (user + system of all its processes) and largest process
(the kernel's maximum resident size over the stage's process tree, exact; which process it was, by
sampling every 0.5 s). The end-to-end figures are the sums (time) and maxima (memory) over the stages.

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

from common import (REPO, RECIPE, Measured, as_dict, by_mode, merge_results, mode_of, parser, print_table, ratio,
                    run_measured)

TARGET_SECONDS = 15 * 60
OUTPUTS = ("corpus", "data", "dump", "exp", "downloads")   # never copied
TINY_CORPUS = ("--set dev.cities=[lisbon,paris,lyon] --set dev.locations_per_city=1 "
               "--set dev.segments_per_location=2 --set dev.train_pieces=2 --set dev.test_pieces=1 "
               "--set eval.recordings_per_scene=1 --set dirs.count=4")
TINY_ARGS = ["--splits", "100", "--nj", "2", "--corpus-opts", TINY_CORPUS,
             "--train-opts", "epochs=1 batch_size=16 min_steps=0", "--prune-opts",
             "steps=2 epochs_per_step=1 finetune.min_steps=0"]
SMOKE_ARGS = ["--splits", "100", "--corpus-opts",
              "--set dev.cities=[lisbon,paris] --set dev.locations_per_city=1 --set dev.segments_per_location=1 "
              "--set dev.train_pieces=1 --set dev.test_pieces=1 --set recording_seconds=2 --set eval.enabled=false "
              "--set dirs.count=0 --set workers=1"]
STAGES = range(7)                  # run.sh's stages 0-6
SMOKE_STAGES = range(2)            # --tiny: corpus and data directories only


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


def run_stages(recipe: Path, run_args: list[str], stages, env: dict, log: Path) -> tuple[dict, Measured, str]:
    """Run each stage in turn (stopping at a failure); ({stageN: figures}, the whole run's figures, log)."""
    figures: dict[str, dict] = {}
    text, total = "", None
    for stage in stages:
        stage_log = log.with_name(f"{log.stem}.stage{stage}.log")
        m = run_measured(["./run.sh", *run_args, "--stage", str(stage), "--stop-stage", str(stage)], cwd=recipe,
                         env=env, log=stage_log, interval=0.5)
        text += stage_log.read_text()
        figures[f"stage{stage}"] = {"seconds": m.seconds, "cpu_seconds": m.cpu_seconds,
                                    "max_process_rss_mb": m.max_process_rss_mb,
                                    "largest_process": short_command(m.largest_process)}
        total = m if total is None else Measured(
            total.cmd, m.rc, round(total.seconds + m.seconds, 2), round(total.cpu_seconds + m.cpu_seconds, 2),
            max(total.peak_tree_rss_mb, m.peak_tree_rss_mb), max(total.max_process_rss_mb, m.max_process_rss_mb),
            m.largest_process if m.max_process_rss_mb > total.max_process_rss_mb else total.largest_process)
        if m.rc:
            break
    log.write_text(text)
    return figures, total, text


def parse_stages(text: str) -> range:
    """'0-2' or '3' as a range of stages."""
    first, _, last = text.partition("-")
    return range(int(first), int(last or first) + 1)


def short_command(command: str) -> str:
    """The part of a command line that names the work: `python -m asc.bin.X --config ...` from its module."""
    words = command.split()
    if "--multiprocessing-fork" in words:
        return "a multiprocessing worker of the stage's command"
    if "-m" in words and words.index("-m") + 1 < len(words):
        words = words[words.index("-m") + 1:]
    return " ".join(words)[:160]


def main(argv=None) -> int:
    """Run the recipe in a fresh copy, print, merge into the results (exit 1 if run.sh failed)."""
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--keep", type=Path, help="run in this folder and keep it (default: a temporary one, removed)")
    p.add_argument("--args", default="", help="extra run.sh options, e.g. \"--nj 2\"")
    p.add_argument("--stages", type=parse_stages, help="only these stages, e.g. 0-2 (the rest of a run measured "
                                                       "later, or a run too long for the machine's load)")
    p.add_argument("--note", default="", help="a note kept with the figures (e.g. that the machine was loaded)")
    args = p.parse_args(argv)
    start_load = [round(x, 2) for x in os.getloadavg()]
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
        print(f"e2e: ./run.sh {' '.join(run_args)} in {recipe}, one stage at a time (log: {log})", flush=True)
        chosen = args.stages or by_mode(mode, SMOKE_STAGES, STAGES, STAGES)
        stages, m, text = run_stages(recipe, run_args, chosen, env, log)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    previous = json.loads(args.out.read_text()).get("e2e") if args.out.is_file() else None
    details = {"command": f"./run.sh {' '.join(run_args)}".strip(), "rc": m.rc, "measured": as_dict(m),
               "complete": list(chosen) == list(by_mode(mode, SMOKE_STAGES, STAGES, STAGES)),
               "stage_seconds": {k: v["seconds"] for k, v in stages.items()}, "stages": stages,
               "target_seconds": TARGET_SECONDS, "cpu_count": os.cpu_count(),
               "load_average_start": start_load, "note": args.note or None,
               "note_memory": "peak_rss: the sum over run.sh's process tree, sampled every 0.5 s; max_process_rss: "
                              "the largest single process (exact)"}
    if previous and previous.get("command") == details["command"] and mode == "full":
        details["before"] = {k: previous[k] for k in ("stage_seconds", "stages", "measured", "command", "note")
                             if k in previous} | {"at": previous.get("at")}
    if m.rc:
        details["log_tail"] = text[-3000:]
    ok = m.rc == 0 and details["complete"]       # a part of a run is no end-to-end figure
    headline = {"e2e_seconds": m.seconds if ok else None,
                "e2e_peak_rss_mb": m.peak_tree_rss_mb if ok else None,
                "e2e_max_process_rss_mb": m.max_process_rss_mb if ok else None,
                "e2e_cpu_seconds": m.cpu_seconds if ok else None,
                "e2e_vs_target": ratio(m.seconds, TARGET_SECONDS) if ok and mode == "full" else None}
    details["at"] = datetime.now().strftime("%Y-%m-%d %H:%M")
    print_table(f"./run.sh {' '.join(run_args)}".strip()[:120],
                [(k, v["seconds"], v["cpu_seconds"], v["max_process_rss_mb"], v["largest_process"][:60])
                 for k, v in stages.items()] + [("total", m.seconds, m.cpu_seconds, m.max_process_rss_mb, "")],
                ["stage", "seconds", "CPU s", "largest MB", "largest process"])
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
