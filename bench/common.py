"""What every benchmark shares: the size modes, timing, peak memory, the machine, and results.json.

Each bench/<topic>.py measures a figure and its reference in the same run (these machines are shared
and noisy, so only ratios measured side by side mean anything) and merges its section into
bench/results.json: the headline keys at the top level, the details under the topic's name, and the
machine beside them. Sizes: `--tiny` (seconds, for the smoke test), `--quick` (bench/run.sh --quick,
a few minutes) and the default full size (what README reports).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "egs" / "dcase2024_task1"
CONF = RECIPE / "conf" / "embedded"
SHARED_CONF = RECIPE / "conf" / "common"   # model and feature configs of every profile
CPU_ENV = REPO / "tools" / "cpu_env.sh"
DEFAULT_OUT = REPO / "bench" / "results.json"
PYTHON = sys.executable


# ------------------------------------------------------------------------------------------ modes

def parser(description: str) -> argparse.ArgumentParser:
    """The options every benchmark script takes: the size mode and the results file."""
    p = argparse.ArgumentParser(description=description)
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a short run (bench/run.sh --quick)")
    size.add_argument("--tiny", action="store_true", help="the smallest run that exercises everything (tests)")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results JSON to merge into (default: %(default)s)")
    return p


def mode_of(args: argparse.Namespace) -> str:
    """'tiny', 'quick' or 'full'."""
    return "tiny" if args.tiny else "quick" if args.quick else "full"


def by_mode(mode: str, tiny, quick, full):
    """The value of a size knob for `mode`."""
    return {"tiny": tiny, "quick": quick, "full": full}[mode]


# ----------------------------------------------------------------------------------------- timing

def interleaved(fns: Mapping[str, Callable[[], object]], rounds: int, warmup: int = 1,
                clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Median seconds per call of each function, calling them in turn round after round (the order
    rotating), so that a neighbour's load hits every candidate alike."""
    names = list(fns)
    for _ in range(warmup):
        for name in names:
            fns[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t = clock()
            fns[name]()
            times[name].append(clock() - t)
    return {name: statistics.median(v) for name, v in times.items()}


def ratio(numerator: float | None, denominator: float | None, digits: int = 3) -> float | None:
    """numerator / denominator rounded, None if either is missing or the denominator is zero."""
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, digits)


# ----------------------------------------------------------------------------------------- memory

def _children_of() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def tree_rss_mb(pid: int) -> float:
    """Resident memory of process `pid` and all its descendants now (MB), from /proc."""
    return sum(mb for mb, _ in tree_processes(pid).values())


def tree_processes(pid: int) -> dict[int, tuple[float, str]]:
    """{pid: (resident MB, command line)} of process `pid` and all its descendants now, from /proc."""
    children, found, todo, page = _children_of(), {}, [pid], os.sysconf("SC_PAGE_SIZE")
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                rss = int(f.read().split()[1]) * page / 2**20
            with open(f"/proc/{p}/cmdline", "rb") as f:
                found[p] = (rss, f.read().replace(b"\0", b" ").decode(errors="replace").strip())
        except OSError:
            pass
        todo += children.get(p, [])
    return found


@dataclass
class Measured:
    """One command: its exit status, wall time, CPU time and memory."""
    cmd: str
    rc: int
    seconds: float
    cpu_seconds: float          # user + system time of the whole tree (a neighbour's load barely changes it)
    peak_tree_rss_mb: float     # the largest sum over the process tree seen by sampling (every `interval` s;
                                # at least the largest process, which sampling can miss in a short run)
    max_process_rss_mb: float   # the largest single process of the tree (the kernel's ru_maxrss via wait4)
    largest_process: str = ""   # the command line of the process seen largest by sampling (which one it was)


def run_measured(cmd: Sequence[str], cwd: str | os.PathLike | None = None, env: Mapping[str, str] | None = None,
                 log: str | os.PathLike | None = None, interval: float = 0.2) -> Measured:
    """Run `cmd`, timing it and tracking its process tree's memory; output goes to `log` (or is kept
    from the terminal), and a failure is returned (rc), not raised. CPU time and the largest process
    come from wait4, which covers every descendant the command waited for."""
    out = open(log, "w") if log else subprocess.DEVNULL
    peak, stop, largest = [0.0], threading.Event(), [0.0, ""]
    try:
        t = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=cwd, env=dict(env) if env is not None else None, stdout=out,
                                stderr=subprocess.STDOUT)

        def sample() -> None:
            while not stop.is_set():
                processes = tree_processes(proc.pid)
                peak[0] = max(peak[0], sum(mb for mb, _ in processes.values()))
                for mb, command in processes.values():
                    if mb > largest[0]:
                        largest[:] = [mb, command]
                stop.wait(interval)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t
        proc.returncode = os.waitstatus_to_exitcode(status)
        stop.set()
        sampler.join()
    finally:
        if log:
            out.close()
    largest_rss = usage.ru_maxrss / 1024
    return Measured(" ".join(map(str, cmd)), proc.returncode, round(seconds, 2),
                    round(usage.ru_utime + usage.ru_stime, 2), round(max(peak[0], largest_rss), 1),
                    round(largest_rss, 1), largest[1][:300])


# ------------------------------------------------------------------------------------ environment

def cpu_env_settings() -> dict[str, str]:
    """The variables tools/cpu_env.sh sets (read by sourcing it in a clean shell)."""
    script = f'env -i bash -c \'unset ASC_KEEP_MALLOC; . "{CPU_ENV}"; env -0\''
    out = subprocess.run(script, shell=True, check=True, capture_output=True, text=True).stdout
    pairs = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    return {k: v for k, v in pairs.items() if k not in ("PWD", "SHLVL", "_", "OLDPWD")}


def env_variant(with_cpu_env: bool = True, **extra: str | None) -> dict[str, str]:
    """This process's environment with tools/cpu_env.sh's settings present or removed, plus `extra`
    (a value None removes the variable)."""
    env = dict(os.environ)
    settings = cpu_env_settings()
    for key in settings:
        env.pop(key, None)
    if with_cpu_env:
        env.update(settings)
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "bench"), env.get("PYTHONPATH")]))
    return env


def run_json(cmd: Sequence[str], env: Mapping[str, str] | None = None, timeout: float | None = None) -> dict:
    """Run a worker command that prints one JSON object as its last line of output; return it."""
    done = subprocess.run(list(cmd), env=dict(env) if env is not None else None, capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------ machine

def cpu_model() -> str:
    """The CPU's model name."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict:
    """What the figures were measured on (cores, CPU, versions, threads, load, CPU settings); reads the
    versions from the installed metadata, so that a process that does not need torch does not load it."""
    from importlib.metadata import version

    settings = {k: os.environ[k] for k in sorted(os.environ)
                if k.startswith("MALLOC_") or k.startswith("OMP_") or k in ("MKL_NUM_THREADS", "ASC_KEEP_MALLOC")}
    torch = sys.modules.get("torch")
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "torch": version("torch"),
        "torch_threads": torch.get_num_threads() if torch is not None else None,
        "numpy": version("numpy"),
        "librosa": version("librosa"),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "env": settings,
    }


# ------------------------------------------------------------------------------------------ results

def merge_results(path: str | os.PathLike, topic: str, details: dict, headline: dict, mode: str) -> None:
    """Merge one topic into the results file: `headline` keys at the top level, `details` under `topic`,
    and the machine and time of the measurement under `machine` and `measured`."""
    from asc.atomic import write_json

    path = Path(path)
    results = json.loads(path.read_text()) if path.is_file() else {}
    results.update(headline)
    results[topic] = details
    results.setdefault("measured", {})[topic] = {"mode": mode, "at": time.strftime("%Y-%m-%d %H:%M:%S"),
                                                 "load_average": [round(x, 2) for x in os.getloadavg()]}
    results["machine"] = machine_info()
    write_json(path, results)


def print_table(title: str, rows: Sequence[Sequence[object]], header: Sequence[str]) -> None:
    """A plain aligned table on stdout."""
    cells = [[str(c) for c in header]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    print(title)
    for r, row in enumerate(cells):
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if r == 0:
            print("  " + "  ".join("-" * w for w in widths))
    sys.stdout.flush()


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "-" if value is None else str(value)


def as_dict(measured: Measured) -> dict:
    """A Measured as a JSON-ready dict."""
    return asdict(measured)
