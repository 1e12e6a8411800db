#!/usr/bin/env python3
"""A one-node Slurm cluster on 127.0.0.1, with every file it writes in one folder: for the real-Slurm
test (tests/launch/test_slurm.py) and for trying the Slurm back end of utils/launch.sh on one machine.

    tools/install_slurm.sh                          # Debian's slurm-wlm and munge, if missing
    python3 tools/slurm_test_cluster.py start DIR   # prints the SLURM_CONF to export
    export SLURM_CONF=DIR/slurm.conf                # then: sinfo, sbatch, utils/launch.sh --backend slurm
    python3 tools/slurm_test_cluster.py stop DIR

It starts its own munged (own key and socket), slurmctld and slurmd as root, on free ports, with
state, spool, pid and log files under DIR, and stops them by the process ids it recorded in
DIR/pids.json; nothing else on the machine is touched. Jobs run as root with sbatch's environment.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SBIN = "/usr/sbin:/sbin"
DAEMONS = ("munged", "slurmctld", "slurmd")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _memory_mb() -> int:
    """The machine's memory in MB, as slurmd will count it (a little less, so the node is not drained)."""
    with open("/proc/meminfo") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("MemTotal:"))
    return int(kib / 1024 * 0.9)


def short_hostname() -> str:
    """The name slurmctld checks SlurmctldHost against (`hostname -s`)."""
    return socket.gethostname().split(".")[0]


def slurm_conf_text(root: Path, cpus: int, memory_mb: int, ports: tuple[int, int]) -> str:
    """A slurm.conf for one node on 127.0.0.1 with all paths under `root`."""
    host = short_hostname()
    return "\n".join([
        "ClusterName=asctest",
        f"SlurmctldHost={host}(127.0.0.1)",
        f"SlurmctldPort={ports[0]}",
        f"SlurmdPort={ports[1]}",
        "SlurmUser=root",
        "SlurmdUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={root}/munge.socket",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/none",
        "MpiDefault=none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core",
        "SlurmdParameters=config_overrides",
        "ReturnToService=2",
        # sbatch --wait polls a job every 2 s and backs off up to MinJobAge/2: keep it at 2 s; and
        # schedule a batch job as soon as it is submitted (the default waits up to 3 s)
        "MinJobAge=4",
        "SchedulerParameters=batch_sched_delay=0,sched_min_interval=0",
        "MailProg=/bin/true",
        f"PlugStackConfig={root}/plugstack.conf",
        f"StateSaveLocation={root}/state",
        f"SlurmdSpoolDir={root}/spool",
        f"SlurmctldPidFile={root}/slurmctld.pid",
        f"SlurmdPidFile={root}/slurmd.pid",
        f"SlurmctldLogFile={root}/slurmctld.log",
        f"SlurmdLogFile={root}/slurmd.log",
        f"NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN",
        "PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
        "",
    ])


class SlurmTestCluster:
    """munged + slurmctld + slurmd for one node, all state under `root`."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root).resolve()
        self.conf = self.root / "slurm.conf"
        self._procs: dict[str, subprocess.Popen] = {}

    @property
    def env(self) -> dict[str, str]:
        """The environment for clients (sbatch, sinfo, utils/launch.sh): ours with SLURM_CONF set."""
        return {**os.environ, "SLURM_CONF": str(self.conf), "PATH": f"{os.environ.get('PATH', '')}:{SBIN}"}

    def _write_files(self) -> None:
        for sub in ("state", "spool"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        key = self.root / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
            key.chmod(0o400)
        (self.root / "plugstack.conf").write_text("")
        self.conf.write_text(slurm_conf_text(self.root, os.cpu_count() or 1, _memory_mb(),
                                             (_free_port(), _free_port())))

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.root / f"{name}.out", "w")
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                env=self.env, start_new_session=True)
        self._procs[name] = proc
        pids = self._recorded_pids()
        pids[name] = proc.pid
        (self.root / "pids.json").write_text(json.dumps(pids))

    def _recorded_pids(self) -> dict[str, int]:
        path = self.root / "pids.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def start(self, timeout: float = 60.0) -> None:
        """Start the three daemons in the foreground of their own sessions; wait until the node is idle."""
        self._write_files()
        r = self.root
        self._spawn("munged", ["munged", "--foreground", "--force", f"--key-file={r}/munge.key",
                               f"--socket={r}/munge.socket", f"--pid-file={r}/munged.pid",
                               f"--log-file={r}/munged.log", f"--seed-file={r}/munged.seed"])
        self._wait(lambda: (r / "munge.socket").exists(), 10, "munged to create its socket")
        self._spawn("slurmctld", ["slurmctld", "-D", "-f", str(self.conf)])
        self._spawn("slurmd", ["slurmd", "-D", "-f", str(self.conf)])
        self._wait(self.node_idle, timeout, "the node to become idle")

    def node_idle(self) -> bool:
        """True once sinfo reports the node idle."""
        out = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], env=self.env, capture_output=True, text=True)
        return out.returncode == 0 and out.stdout.strip() == "idle"

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with code {proc.returncode} while waiting for {what}:\n"
                                       + self.logs())
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}:\n" + self.logs())
            time.sleep(0.25)

    def logs(self, lines: int = 15) -> str:
        """The last lines of every daemon's log, for error messages."""
        parts = []
        for name in ("munged.out", "slurmctld.out", "slurmctld.log", "slurmd.out", "slurmd.log"):
            path = self.root / name
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path}\n" + "\n".join(tail))
        return "\n".join(parts)

    def _ours(self, pid: int) -> bool:
        """True if `pid` is still one of our daemons (its command line names our folder)."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return False
        return str(self.root) in cmdline

    def running_daemons(self) -> list[str]:
        """The daemons this cluster started that still run."""
        return [name for name, pid in self._recorded_pids().items() if self._ours(pid)]

    def stop(self, grace: float = 10.0) -> None:
        """Stop the daemons this cluster started, by their recorded pids: SIGTERM, then SIGKILL."""
        for name in reversed(DAEMONS):
            pid = self._recorded_pids().get(name)
            if pid is None or not self._ours(pid):
                continue
            os.kill(pid, signal.SIGTERM)
            proc = self._procs.get(name)
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline and (proc.poll() is None if proc else self._ours(pid)):
                time.sleep(0.1)
            if proc.poll() is None if proc else self._ours(pid):
                os.kill(pid, signal.SIGKILL)
                if proc:
                    proc.wait()


def main(argv: list[str] | None = None) -> int:
    """`start DIR` or `stop DIR` from the command line."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print(__doc__, file=sys.stderr)
        return 2
    cluster = SlurmTestCluster(argv[1])
    if argv[0] == "stop":
        cluster.stop()
        return 0
    try:
        cluster.start()
    except (RuntimeError, FileNotFoundError) as err:
        print(f"slurm_test_cluster.py: {err}", file=sys.stderr)
        cluster.stop()
        return 1
    print(f"export SLURM_CONF={cluster.conf}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
