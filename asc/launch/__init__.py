"""Kaldi-style job launchers: `utils/launch.sh [options] [JOB=1:N] LOGFILE COMMAND...`.

One calling convention, three back ends (local processes, Slurm array jobs, SGE array jobs). The
shell script only execs `python -m asc.launch`; parsing, JOB expansion, the log header and footer,
launching, waiting and the failure report live here, in the standard library only, so that the
launcher starts fast and runs under any Python 3.9+.

Modules: `jobs` (the job array and the command string), `joblog` (running one job into its log and
reading the log back), `schedconf` (conf/slurm.conf and conf/queue.conf), `local`, `slurm`, `sge`
(the back ends), `batch` (what the two schedulers share), `cli` (the command line).
"""
