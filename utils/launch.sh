#!/usr/bin/env bash
# Kaldi-style job launcher: utils/launch.sh [options] [JOB=1:N] LOGFILE COMMAND...
# Back ends local, slurm (conf/slurm.conf) and sge (conf/queue.conf); `utils/launch.sh --help` for the
# options. The logic lives in asc/launch/ (standard library only); this only finds a Python for it.
root=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)
if [ -x "$root/tools/venv/bin/python" ]; then
  exec "$root/tools/venv/bin/python" -m asc.launch "$@"
fi
# no project venv (yet): any Python 3.9+ runs the launcher
PYTHONPATH=$root${PYTHONPATH:+:$PYTHONPATH} exec python3 -m asc.launch "$@"
