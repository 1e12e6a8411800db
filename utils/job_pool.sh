# Shell functions or commands in the background, at most N at once, each with its log and exit status
# (Kaldi recipes use `&` and `wait`; this adds the limit and the failure count). Source it:
#
#   . utils/job_pool.sh
#   pool_start 2                                 # at most 2 at once
#   pool_run exp/a/log/chain.log my_function 1 2  # runs under `set -e` in a subshell, output to the log
#   pool_finish || exit 1                        # waits for all; 1 (naming the failed logs) if any failed
#
# A killed script (SIGINT/SIGTERM) takes its running jobs with it, and every process they started.
pool_start() {
  _pool_max=${1:?pool_start: how many at once?}
  _pool_status=$(mktemp -d)
  _pool_count=0
  trap '_pool_stop; exit 130' INT TERM
}

_pool_tree() {  # pid: it and all its descendants (collected before any is killed: orphans lose their parent)
  local child
  echo "$1"
  for child in $(pgrep -P "$1" 2>/dev/null); do _pool_tree "$child"; done
}

_pool_stop() {
  local pids= job
  for job in $(jobs -rp); do pids="$pids $(_pool_tree "$job")"; done
  [ -z "$pids" ] || kill $pids 2>/dev/null || true
  wait
}

pool_threads() {  # jobs: CPU threads for each of that many jobs side by side on this machine (at least 1)
  local threads=$(( $(nproc) / ${1:?pool_threads: how many jobs?} ))
  echo $(( threads > 0 ? threads : 1 ))
}

default_jobs() {  # backend ngpu split...: how many splits to run at once when the user gives no --jobs:
  # on this machine's CPU (backend local, ngpu 0) one single-threaded chain per core (torch's threads scale
  # poorly on these small convolutions, so chains side by side beat one multi-threaded chain after
  # another), never more than there are splits; elsewhere (GPUs, a cluster's queue) 1, as before
  local backend=${1:?default_jobs: backend?} ngpu=${2:?default_jobs: ngpu?}; shift 2
  if [ "$backend" != local ] || [ "$ngpu" -gt 0 ] || [ $# -le 1 ]; then echo 1; return; fi
  local cores; cores=$(nproc)
  echo $(( cores < $# ? cores : $# ))
}

largest_first() {  # split percentages: the same, largest first (the longest jobs start first, so the
  # pool's last minutes are not one long job on one core while the others idle)
  printf '%s\n' "$@" | sort -rn | tr '\n' ' '
}

pool_run() {
  local log=${1:?pool_run: log file?}; shift
  while [ "$(jobs -rp | wc -l)" -ge "$_pool_max" ]; do wait -n 2>/dev/null || true; done
  mkdir -p "$(dirname "$log")"
  _pool_count=$((_pool_count + 1))
  local status=$_pool_status/$_pool_count
  echo "$log" > "$status.log"
  { set +e; ( set -e; "$@" ) > "$log" 2>&1; echo $? > "$status.rc"; } &
}

pool_finish() {
  wait
  local failed=0 rc
  for rc in "$_pool_status"/*.rc; do
    [ -e "$rc" ] || continue
    if [ "$(cat "$rc")" != 0 ]; then
      echo "pool: failed (exit $(cat "$rc")): $(cat "${rc%.rc}.log")" >&2
      failed=$((failed + 1))
    fi
  done
  local started=$_pool_count finished
  finished=$(ls "$_pool_status" | grep -c '\.rc$' || true)
  [ "$finished" -eq "$started" ] || { echo "pool: $((started - finished)) job(s) ended without a status" >&2; failed=1; }
  rm -rf "$_pool_status"
  [ "$failed" -eq 0 ]
}
