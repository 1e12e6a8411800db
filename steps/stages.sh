# What every recipe's stages share (sourced by run.sh after utils/job_pool.sh and steps/layout.sh, and by
# the stage chains of steps/ for their progress lines):
#
#   log STAGE MESSAGE...          a progress line, "<date> <time> [run.sh stage STAGE] MESSAGE"
#   run_stage STAGE               true when STAGE lies within the recipe's --stage .. --stop-stage
#   per_unit STAGE JOBS LOG_DIR FN UNIT...
#                                 `FN UNIT` for every unit of the data (a DCASE training split's number, or a
#                                 name such as fold1; steps/layout.sh's unit_name), the units independent:
#                                 JOBS <= 1: one after the other in this shell, output on the screen, the first
#                                 failure stops the recipe (set -e); JOBS > 1: that many at once (the largest
#                                 split first, named units in order), each one's output in
#                                 LOG_DIR/stage<STAGE>.<unit name>.log, and once all have ended the recipe
#                                 stops if any failed, naming their logs.

log() { echo "$(date '+%F %T') [run.sh stage $1] ${*:2}"; }
run_stage() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }

per_unit() {
  local stage=$1 jobs=$2 logs=$3 fn=$4 unit first kind shown note= placeholder='<k>'
  shift 4
  [ $# -gt 0 ] || return 0
  if [ "$jobs" -le 1 ]; then
    for unit in "$@"; do $fn $unit; done
    return
  fi
  first=$(unit_name $1)
  kind=${first%%[0-9]*}             # split (numbers) or the units' own word (fold1 -> fold)
  shown="${*#$kind}"                # the units as the user gave them: 5 10 ... or 1 2 (fold1 fold2)
  if [ "$first" != "$1" ]; then     # split numbers: the longest jobs start first
    note=", largest first" placeholder='<N>'
    set -- $(largest_first "$@")
  fi
  log $stage "${kind}s $shown, $jobs at once$note (logs: $logs/stage$stage.$kind$placeholder.log)"
  pool_start $jobs
  for unit in "$@"; do pool_run $logs/stage$stage.$(unit_name $unit).log $fn $unit; done
  pool_finish || { echo "$0: stage $stage failed for a $kind; its log is named above" >&2; exit 1; }
}
