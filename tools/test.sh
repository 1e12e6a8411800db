#!/usr/bin/env bash
# Runs the test suite in the project's virtual environment (tools/install.sh makes it).
# Extra arguments go to pytest, e.g. `tools/test.sh -m "not slurm" -x`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -x "$root/tools/venv/bin/python" ] || { echo "tools/test.sh: no venv; run tools/install.sh first" >&2; exit 1; }
# glibc's allocator returns memory to the OS too eagerly for PyTorch on the CPU; these keep it.
source "$root/tools/cpu_env.sh"
# Small test models run fastest single-threaded; several intra-op threads on 2 busy cores thrash.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
cd "$root"
# -rs: every skipped test is listed with its reason (a green run that skipped real work must say so).
# --durations=25: every run (CI's log included) ends with its 25 slowest tests, where the suite's time goes.
# Workers (pytest-xdist): two by default (none on a 1-core machine); ASC_TEST_WORKERS=N for N, 0 for none.
# A test file is a unit of work, and the files that share the tiny recipe run are one (tests/conftest.py),
# first, in the order of collection. More than two workers barely help: that unit takes more than half of
# the suite's time on its own.
# (nproc counts OMP_NUM_THREADS, set above, as the cores; without it, the cores this process may use.)
workers=${ASC_TEST_WORKERS:-$(( $(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc) > 1 ? 2 : 0 ))}
parallel=(); [ "$workers" -gt 0 ] && parallel=(-n "$workers" --dist loadfile --no-loadscope-reorder)
# No path given: pytest.ini's testpaths (tests/); a path given runs only that path.
exec "$root/tools/venv/bin/python" -m pytest -q -rs --durations=25 "${parallel[@]}" "$@"
