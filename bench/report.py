"""Render bench/results.json as the README's "Benchmarks" section (markdown).

    python bench/report.py [bench/results.json] [--command "bench/run.sh"] [--readme README.md]

Prints the section; with --readme, replaces the text between the lines `<!-- bench:begin -->` and
`<!-- bench:end -->` of that file with it (the markers stay; nothing else is touched).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from asc.errors import InputError
from asc.readme_section import fill_section

HERE = Path(__file__).resolve().parent


def num(value, fmt: str = "{:.3g}", suffix: str = "") -> str:
    """A figure, or '-' when it was not measured."""
    return "-" if value is None else fmt.format(value) + suffix


def verdict(value, ok) -> str:
    """'yes'/'no' against a target, '-' when not measured."""
    return "-" if value is None else ("yes" if ok(value) else "**no**")


def headline_rows(r: dict) -> list[tuple[str, str, str, str, str]]:
    """(figure, measured, reference measured in the same run, target, met) for each headline figure."""
    mel = r.get("mel_frontend", {}).get("variants", {})
    mel_given = mel.get("as_given", {}).get("configs", {}).get("student", {})
    train = r.get("train_throughput", {}).get("models", {})
    dep = r.get("deploy_latency", {})
    forms = dep.get("forms", {})
    prune = r.get("prune_steps", {}).get("steps", [])
    e2e = r.get("e2e", {})
    speed = lambda v: num(v, "{:.2f}", "x")       # noqa: E731
    cpu_cost = num(_pct(r.get("data_path_overhead_cpu_time")), "{:+.1f}", " %")
    read_cost = num(_pct(r.get("data_path_read_share")), "{:.1f}", " %")
    e2e_cpu = num(_min(r.get("e2e_cpu_seconds")), "{:.1f}", " min")
    rows = [
        ("Log-mel front end (student, batches of 32) vs librosa", speed(r.get("mel_speedup_vs_librosa")),
         f"librosa.feature.melspectrogram ({num(mel_given.get('librosa_clips_per_s'), '{:.0f}')} clips/s; ours "
         f"{num(mel_given.get('ours_clips_per_s'), '{:.0f}')})", ">= 2x",
         verdict(r.get("mel_speedup_vs_librosa"), lambda v: v >= 2)),
        ("... the same with OMP_WAIT_POLICY=PASSIVE", speed(r.get("mel_speedup_vs_librosa_omp_passive")), "",
         ">= 2x", verdict(r.get("mel_speedup_vs_librosa_omp_passive"), lambda v: v >= 2)),
        ("Log-mel max relative error (within 50 dB of the peak)", num(r.get("mel_max_rel_error"), "{:.2g}"),
         "librosa", "< 1e-4", verdict(r.get("mel_max_rel_error"), lambda v: v < 1e-4)),
        ("Training data path cost, one epoch (worst model)", num(_pct(r.get("data_path_overhead")), "{:+.1f}", " %"),
         f"same steps on tensors in memory (by CPU time {cpu_cost}; loader alone {read_cost})", "< 10 %",
         verdict(r.get("data_path_overhead"), lambda v: v < 0.10)),
    ]
    for name, res in train.items():
        ep = res.get("epoch", {})
        rows.append((f"Training samples/s, {name} (batch {ep.get('batch')})",
                     num(ep.get("loader_samples_per_s"), "{:.0f}"),
                     f"in memory: {num(ep.get('memory_samples_per_s'), '{:.0f}')}", "", ""))
    rows += [
        ("channels_last (Rep-Mobile training step)", speed(r.get("train_channels_last_speedup")), "contiguous", "", ""),
        (f"{r.get('train_throughput', {}).get('threads', 2)} threads (Rep-Mobile training step)",
         speed(r.get("train_threads_speedup")), "1 thread", "", ""),
        ("Allocator variables of tools/cpu_env.sh (training step)", speed(r.get("train_allocator_speedup")),
         "without MALLOC_*", "", ""),
        ("OMP_WAIT_POLICY=PASSIVE (training step)", speed(r.get("train_omp_passive_speedup")), "as given", "", ""),
    ]
    rows += train_step_rows(r)
    rows += [
        ("Rep-Mobile fused vs training form, batch 1", speed(r.get("fused_speedup")),
         f"training form ({num(forms.get('training', {}).get('latency_ms_batch1'), '{:.2f}')} ms/clip; fused "
         f"{num(forms.get('float32', {}).get('latency_ms_batch1'), '{:.2f}')})", ">= 1.5x",
         verdict(r.get("fused_speedup"), lambda v: v >= 1.5)),
        ("... batch 64", speed(r.get("fused_speedup_batch64")), "training form", ">= 1.5x",
         verdict(r.get("fused_speedup_batch64"), lambda v: v >= 1.5)),
        ("Fused vs training form, max abs difference of logits", num(r.get("fused_max_abs_diff"), "{:.2g}"), "",
         "< 1e-4", verdict(r.get("fused_max_abs_diff"), lambda v: v < 1e-4)),
        ("Deployable float16 file (computing in float32, the default) vs float32 file, batch 1",
         speed(r.get("float16_stored_speed_vs_float32")),
         f"float32 file; max abs diff {num(dep.get('float16_stored_max_abs_diff'), '{:.2g}')}, top-1 agreement "
         f"{num(_pct(dep.get('float16_stored_top1_agreement')), '{:.1f}', ' %')}", ">= 0.95x",
         verdict(r.get("float16_stored_speed_vs_float32"), lambda v: v >= 0.95)),
        ("... batch 64", speed(r.get("float16_stored_speed_vs_float32_batch64")), "float32 file", ">= 0.95x",
         verdict(r.get("float16_stored_speed_vs_float32_batch64"), lambda v: v >= 0.95)),
        ("The same file computing in float16 (--compute-dtype float16), batch 1",
         speed(r.get("float16_compute_speed_vs_float32")),
         f"float32 file; max abs diff {num(dep.get('float16_max_abs_diff'), '{:.2g}')}, top-1 agreement "
         f"{num(_pct(dep.get('float16_top1_agreement')), '{:.1f}', ' %')}", "(reported)", ""),
        ("Pruning: final step latency vs start (fused, batch 1)", speed(r.get("prune_final_latency_vs_start")),
         f"step 0 ({num(prune[0]['macs'] / 1e6 if prune else None, '{:.1f}')} M MACs -> "
         f"{num(prune[-1]['macs'] / 1e6 if prune else None, '{:.1f}')} M)", "", ""),
        ("Scale: stages 1-2 CPU time per added clip, largest vs smallest corpora",
         speed(r.get("scale_marginal_cost_ratio")),
         f"up to {num(r.get('scale_largest_clips'), '{:,}')} clips (wall clock: "
         f"{speed(r.get('scale_marginal_cost_ratio_wall'))})", "~1 (linear)", ""),
        ("Scale: stages 1-2 peak memory, largest vs smallest corpus", speed(r.get("scale_peak_rss_ratio")),
         f"{num(r.get('scale_peak_rss_mb'), '{:.0f}')} MB at the largest", "~1 (flat)", ""),
        (f"Loader peak memory, {num(r.get('loader_store_ratio'), '{:.0f}')}x larger feature store",
         speed(r.get("loader_peak_rss_ratio")), "the smallest store", "~1 (flat)", ""),
        ("End to end: `./run.sh`" if e2e.get("command", "./run.sh") == "./run.sh" else
         "End to end: `./run.sh` with tiny overrides (results.json: e2e.command)",
         num(_min(r.get("e2e_seconds")), "{:.1f}", " min"),
         f"peak {num(r.get('e2e_peak_rss_mb'), '{:.0f}')} MB (process tree), largest process "
         f"{num(r.get('e2e_max_process_rss_mb'), '{:.0f}')} MB, CPU time {e2e_cpu}",
         "< 15 min" if e2e.get("command", "./run.sh") == "./run.sh" else "(quick run)",
         verdict(r.get("e2e_seconds"), lambda v: v < 900) if e2e.get("command") == "./run.sh" else ""),
    ]
    rows.append(memory_row(r))
    return rows


# issue 21: the training step of Rep-Mobile's training form >= 2x the branch-by-branch path (the code path
# before it); every process of the default ./run.sh at most 1.5 GB resident
STEP_TARGET = 2.0
PROCESS_MB_TARGET = 1536


def train_step_rows(r: dict) -> list[tuple[str, str, str, str, str]]:
    """The training-step ratios of bench/train_step_compare.py (topic train_step): Rep-Mobile's training
    step against the branch-by-branch path at 1 and 2 threads, every other step form it timed (the fused
    ceiling, and any training form added beside them), the validation forward, the teachers' channels_last."""
    rep = r.get("train_step", {}).get("rep_mobile", {})
    one, two = rep.get("samples_per_s_1thread", {}), rep.get("samples_per_s_2threads", {})
    speed = lambda v: num(v, "{:.2f}", "x")       # noqa: E731
    rate = lambda table, key: num(table.get(key), "{:.0f}")   # noqa: E731
    batch = f"batch {rep['batch']}" if rep.get("batch") else "batch ?"
    rows = [(f"Rep-Mobile training step ({batch}), 1 thread, CPU time", speed(r.get("train_step_speedup")),
             f"branch by branch, the path before ({rate(one, 'old')} samples/s; now {rate(one, 'new')})",
             f">= {STEP_TARGET:g}x", verdict(r.get("train_step_speedup"), lambda v: v >= STEP_TARGET)),
            ("... 2 threads, wall clock", speed(r.get("train_step_speedup_2threads")),
             f"branch by branch ({rate(two, 'old')} samples/s; now {rate(two, 'new')})", f">= {STEP_TARGET:g}x",
             verdict(r.get("train_step_speedup_2threads"), lambda v: v >= STEP_TARGET))]
    for form in one:
        if form not in ("old", "new"):
            label = "fused single-convolution form (the ceiling)" if form == "fused" else f"'{form}' form"
            rows.append((f"... {label}, 1 thread", speed(ratio(one[form], one.get("old"))),
                         f"branch by branch ({rate(one, form)} samples/s)", "", ""))
    ev = rep.get("eval_samples_per_s_1thread", {})
    if ev:
        rows.append(("Rep-Mobile validation forward, 1 thread", speed(rep.get("eval_speedup")),
                     f"branch by branch ({rate(ev, 'old')} samples/s; now {rate(ev, 'new')})", "", ""))
    for name, t in r.get("train_step", {}).get("teachers", {}).items():
        rows.append((f"Teacher {name} training step, channels_last", speed(t.get("channels_last_speedup")),
                     "contiguous, 1 thread", "", ""))
    return rows


def ratio(numerator, denominator):
    """numerator / denominator, None when either is missing."""
    return None if numerator is None or not denominator else numerator / denominator


def largest_stage(e2e: dict) -> tuple[str, dict] | tuple[None, None]:
    """(stage name, its figures) of the stage whose largest process was the run's largest."""
    stages = {k: v for k, v in (e2e.get("stages") or {}).items() if v.get("max_process_rss_mb") is not None}
    if not stages:
        return None, None
    name = max(stages, key=lambda k: stages[k]["max_process_rss_mb"])
    return name, stages[name]


def memory_row(r: dict) -> tuple[str, str, str, str, str]:
    """The largest process of the end-to-end run against the 1.5 GB target, naming its stage and command."""
    e2e = r.get("e2e", {})
    stage, figures = largest_stage(e2e)
    where = (f"{stage}: `{figures['largest_process'][:70]}`" if figures and figures.get("largest_process")
             else "per stage in the end-to-end table")
    value = r.get("e2e_max_process_rss_mb")
    default = e2e.get("command", "./run.sh") == "./run.sh"
    return ("End to end: largest process" if default else "End to end (tiny overrides): largest process",
            num(value, "{:,.0f}", " MB"), where, f"<= {PROCESS_MB_TARGET:,} MB (1.5 GB)" if default else "(quick run)",
            verdict(value, lambda v: v <= PROCESS_MB_TARGET) if default else "")


FORMAT_NAMES = {"float32": "float32 (the fused network; over 128 kB as a file)", "float16_stored": "float16-stored (computes in float32; default)",
                "float16_compute": "float16-stored, --compute-dtype float16", "int8": "int8 (quantized, fbgemm)",
                "onnx": "ONNX (onnxruntime, float32)"}


def latency_table(r: dict) -> list[str]:
    """The per-format latency table of the deployable model, with each format's test accuracy when
    bench/deploy_accuracy.json (written by local/deploy_evidence.sh) holds it."""
    dep = r.get("deploy_latency", {})
    forms = dep.get("forms", {})
    shown = [k for k in FORMAT_NAMES if k in forms]
    if not shown:
        return []
    big = dep.get("throughput_batch", 64)
    acc = r.get("deploy_accuracy", {})
    accuracy = acc.get("macro_accuracy", {})
    rows = [(FORMAT_NAMES[k], f"{forms[k]['latency_ms_batch1']:.2f}", f"{forms[k][f'clips_per_s_batch{big}']:,.0f}",
             num(_pct(accuracy.get(k)), "{:.2f}", " %")) for k in shown]
    where = (f"; accuracy: macro accuracy on the embedded test set of {acc['source']}" if accuracy
             else "; accuracy: not measured in this results file")
    return ["", f"Deployable formats of Rep-Mobile on this CPU ({dep.get('threads')} thread(s), latency of the "
                f"network on one 1-s clip of log-mels, front end excluded{where}):", "",
            table(["Format", "ms per 1-s clip (batch 1)", f"clips/s (batch {big})", "Test macro accuracy"], rows)]


def train_step_section(r: dict, command: str) -> str:
    """The training-step ratios alone, with the machine and its load (README section train_step)."""
    if "train_step" not in r:
        return "Not measured: no train_step in the results file.\n"
    m = r.get("machine", {})
    when = r.get("measured", {}).get("train_step", {})
    head = (f"Measured with `{command}` ({when.get('mode', '?')} size) on {m.get('cpu_model', '?')}, "
            f"{m.get('usable_cores', '?')} cores, torch {m.get('torch', '?')}; load average at the end "
            f"{when.get('load_average', '?')} (1 thread: CPU time of the process, which a neighbour's load barely "
            f"changes; 2 threads: the wall clock, which it does).")
    return head + "\n\n" + table(["Figure", "Measured", "Reference (same run)", "Target", "Met"],
                                  train_step_rows(r)) + "\n"


def deploy_latency_section(r: dict, command: str) -> str:
    """The latency table alone, with the machine it was measured on (README section deploy_latency)."""
    rows = latency_table(r)
    if not rows:
        return "Not measured: no deploy_latency in the results file.\n"
    m = r.get("machine", {})
    head = (f"Measured with `{command}` on {m.get('cpu_model', '?')}, torch {m.get('torch', '?')}, load average "
            f"{m.get('load_average', '?')} (a shared machine: compare the rows, measured side by side, "
            f"rather than the absolute figures).")
    return head + "\n" + "\n".join(rows) + "\n"


def _pct(v):
    """A fraction in percent (None stays None)."""
    return None if v is None else 100 * v


def _min(v):
    """Seconds in minutes (None stays None)."""
    return None if v is None else v / 60


def table(header: list[str], rows: list) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render(r: dict, command: str) -> str:
    """The whole Benchmarks section."""
    m = r.get("machine", {})
    modes = sorted({v.get("mode") for v in r.get("measured", {}).values()})
    parts = [
        "## Benchmarks",
        "",
        f"Measured with `{command}` (results in `bench/results.json`, this section by `python bench/report.py "
        f"--readme README.md`) on {m.get('cpu_model', '?')}, {m.get('usable_cores', '?')} cores, "
        f"{m.get('memory_gb', '?')} GB, torch {m.get('torch', '?')}, Python {m.get('python', '?')}; size "
        f"{'/'.join(map(str, modes)) or '?'}; CPU settings {m.get('env') or 'none'}; load average at the end "
        f"{m.get('load_average', '?')}. These machines are shared, so every figure is a ratio against a "
        f"reference measured side by side in the same run.",
        "",
        table(["Figure", "Measured", "Reference (same run)", "Target", "Met"], headline_rows(r)),
    ]
    parts += latency_table(r)
    steps = r.get("prune_steps", {}).get("steps", [])
    if steps:
        big = r["prune_steps"].get("throughput_batch", 64)
        parts += ["", f"Progressive pruning steps ({r['prune_steps'].get('source')}), fused form, "
                      f"{r['prune_steps'].get('threads')} thread(s):", "",
                  table(["Step", "Params", "Bytes (float16)", "MACs", "ms/clip (batch 1)", f"clips/s (batch {big})"],
                        [(s["step"], f"{s['params']:,}", f"{s['param_bytes_float16']:,}", f"{s['macs']:,}",
                          s["latency_ms_batch1"], s[f"clips_per_s_batch{big}"]) for s in steps])]
    corpora = r.get("scale", {}).get("corpora", [])
    if corpora:
        parts += ["", "Stages 0-2 against corpus size (each command in its own process; memory: peak of its "
                      "process tree):", "",
                  table(["Corpus", "Clips", "Generate (s)", "Prepare + extract (s)", "... CPU (s)", "ms/clip",
                         "Peak MB"],
                        [(f"{c['multiple']}x", f"{c['clips']:,}", c["generate_seconds"], c["prepare_extract_seconds"],
                          c["prepare_extract_cpu_seconds"], c["prepare_extract_ms_per_clip"],
                          c["prepare_extract_peak_rss_mb"]) for c in corpora])]
    loader = r.get("scale", {}).get("loader", [])
    if loader:
        parts += ["", "Training data loader reading a whole feature store once (shuffled, batch 64):", "",
                  table(["Clips", "Store MB", "Workers", "clips/s", "Peak MB (process tree)"],
                        [(f"{x['clips']:,}", x["store_mb"], x["workers"], f"{x['clips_per_s']:,.0f}",
                          x["peak_tree_rss_mb"]) for x in loader])]
    parts += e2e_stage_table(r.get("e2e", {}))
    return "\n".join(parts) + "\n"


def e2e_section(r: dict, command: str) -> str:
    """The end-to-end run alone, stage by stage, beside the run before it (README section e2e)."""
    e2e = r.get("e2e", {})
    rows = e2e_stage_table(e2e)
    if not rows:
        return "Not measured: no e2e in the results file.\n"
    m = r.get("machine", {})
    start, end = e2e.get("load_average_start"), r.get("measured", {}).get("e2e", {}).get("load_average")
    head = (f"Measured with `{command}` on {m.get('cpu_model', '?')}, {m.get('usable_cores', '?')} cores, torch "
            f"{m.get('torch', '?')}; load average at the start {start or '?'}, at the end {end or '?'} (wall times "
            f"on a loaded machine are longer than on an idle one; CPU times much less so).")
    return head + "\n" + "\n".join(rows) + "\n"


def e2e_stage_table(e2e: dict) -> list[str]:
    """Each stage of the end-to-end run: wall and CPU time and its largest process (resident memory and
    which command), beside the run before; then the run's largest process against the 1.5 GB target."""
    stages = e2e.get("stages") or {k: {"seconds": v} for k, v in e2e.get("stage_seconds", {}).items()}
    if not stages:
        return []
    before = e2e.get("before", {})
    old = before.get("stages") or {k: {"seconds": v} for k, v in before.get("stage_seconds", {}).items()}
    rows = [(name, num(old.get(name, {}).get("seconds"), "{:.0f}"), num(s.get("seconds"), "{:.0f}"),
             num(s.get("cpu_seconds"), "{:.0f}"), num(old.get(name, {}).get("max_process_rss_mb"), "{:.0f}"),
             num(s.get("max_process_rss_mb"), "{:.0f}"),
             f"`{s['largest_process'][:70]}`" if s.get("largest_process") else "")
            for name, s in stages.items()]
    total = lambda table, key: sum(v.get(key) or 0 for v in table.values()) or None   # noqa: E731
    largest = lambda table: max((v.get("max_process_rss_mb") or 0 for v in table.values()), default=0) or None  # noqa: E731
    shared = {k: v for k, v in old.items() if k in stages}          # the same stages on both sides
    rows.append(("all" if len(shared) == len(old) else "these stages", num(total(shared, "seconds"), "{:.0f}"),
                 num(total(stages, "seconds"), "{:.0f}"),
                 num(total(stages, "cpu_seconds"), "{:.0f}"),
                 num(largest(shared) or before.get("measured", {}).get("max_process_rss_mb"), "{:.0f}"),
                 num(largest(stages), "{:.0f}"), ""))
    head = (f"End to end, `{e2e.get('command', './run.sh')}` stage by stage (measured {e2e.get('at', '?')}"
            f"{'; ' + e2e['note'] if e2e.get('note') else ''}; before: {before.get('at', '?')}"
            f"{', ' + before['note'] if before.get('note') else ''}):")
    header = ["Stage", "Before: wall s", "Wall s", "CPU s", "Before: largest process MB", "Largest process MB",
              "Largest process"]
    if all(row[4] == "-" for row in rows):          # the run before has no memory figures: no such column
        header, rows = header[:4] + header[5:], [row[:4] + row[5:] for row in rows]
    return ["", head, "", table(header, rows)] + memory_summary(e2e)


def memory_summary(e2e: dict) -> list[str]:
    """One line: the largest process of the run (its stage and command) against the 1.5 GB target of
    issue 21; nothing when no stage recorded its memory."""
    stage, figures = largest_stage(e2e)
    if figures is None:
        return []
    mb = figures["max_process_rss_mb"]
    target = f"at most {PROCESS_MB_TARGET:,} MB (1.5 GB)"
    met = "met" if mb <= PROCESS_MB_TARGET else "**not met**"
    which = f" (`{figures['largest_process'][:70]}`)" if figures.get("largest_process") else ""
    scope = "" if e2e.get("complete", True) else ", of the stages measured"
    return ["", f"Largest process of the run{scope}: {mb:,.0f} MB resident in {stage}{which}; target for every "
                f"process of the default run: {target}, {met}."]


def main(argv=None) -> int:
    """Print the section; fill the README's when asked."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", nargs="?", type=Path, default=HERE / "results.json")
    p.add_argument("--command", default="bench/run.sh", help="the command that produced the results")
    p.add_argument("--readme", type=Path, help="fill this file's bench section")
    p.add_argument("--section", choices=("bench", "deploy_latency", "e2e", "train_step"), default="bench",
                   help="the whole Benchmarks section (default), or only the deployable formats' latency and "
                        "accuracy table (README section deploy_latency; needs only deploy_latency and "
                        "deploy_accuracy in the results), or only the end-to-end run stage by stage (README "
                        "section e2e; needs only e2e), or only the training-step ratios (README section "
                        "train_step; needs only train_step: bench/train_step.py --quick)")
    args = p.parse_args(argv)
    if not args.results.is_file():
        print(f"report: {args.results} not found; run bench/run.sh first", file=sys.stderr)
        return 1
    results = json.loads(args.results.read_text())
    if args.section == "bench":
        text = render(results, args.command)
    elif args.section == "train_step":
        text = train_step_section(results, args.command)
    elif args.section == "e2e":
        text = e2e_section(results, args.command)
    else:
        text = deploy_latency_section(results, args.command)
    print(text, end="")
    if args.readme:
        try:
            fill_section(args.readme, args.section, text)
        except InputError as e:
            print(f"report: {e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
