#!/usr/bin/env bash
# Every benchmark in one run; the figures go to bench/results.json, and bench/report.py renders them
# as the README's table. Each figure is a ratio against a reference measured in the same run.
#
#   bench/run.sh            full size (about 35 minutes on 2 idle cores, 15 of them the default ./run.sh)
#   bench/run.sh --quick    a few minutes
#   bench/run.sh --tiny     the smallest run of every script (the smoke test's)
#   bench/run.sh --out FILE another results file (figures already in it are kept unless measured again)
#   bench/run.sh --skip e2e  leave a script out, e.g. to keep the end-to-end figure of an earlier run
#
# A script that fails does not stop the others; the run exits 1 naming it, and its figures are absent.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
size= out=$root/bench/results.json skip= command="bench/run.sh${*:+ $*}"
topics="mel_frontend train_throughput train_step deploy_latency prune_steps scale e2e"
# the script of a topic: bench/<topic>.py, but the training-step ratio (topic train_step) is
# bench/train_step_compare.py at every size (bench/train_step.py is that only with --quick or --tiny; at
# full size it is the loader benchmark behind train_throughput, which writes its own JSON to --out)
script_of() { case $1 in train_step) echo train_step_compare ;; *) echo $1 ;; esac; }
while [ $# -gt 0 ]; do
  case $1 in
    --quick|--tiny) size=$1 ;;
    --out) out=$(realpath -m "$2"); shift ;;
    --skip) skip="$skip $2"; shift ;;
    *) echo "usage: $0 [--quick | --tiny] [--out FILE] [--skip TOPIC]...  (topics: $topics)" >&2; exit 2 ;;
  esac
  shift
done
[ -f "$root/tools/venv/bin/activate" ] || { echo "$0: no $root/tools/venv; run tools/install.sh first" >&2; exit 1; }
. "$root/tools/venv/bin/activate"
. "$root/tools/cpu_env.sh"
for t in $skip; do
  case " $topics " in *" $t "*) ;; *) echo "$0: --skip $t: no such benchmark (topics: $topics)" >&2; exit 2 ;; esac
done
running=$out.running
rm -f "$running"
[ -n "$skip" ] && [ -f "$out" ] && cp "$out" "$running"   # the skipped scripts' figures stay
failed=
for topic in $topics; do
  case " $skip " in *" $topic "*) echo "== $topic: skipped"; continue ;; esac
  script=$(script_of $topic)
  echo "== python bench/$script.py $size"
  python "$root/bench/$script.py" $size --out "$running" || failed="$failed $topic"
done
[ -f "$running" ] && mv "$running" "$out"
echo "== results: $out"
python "$root/bench/report.py" "$out" --command "$command"
[ -z "$failed" ] || { echo "$0: failed:$failed" >&2; exit 1; }
