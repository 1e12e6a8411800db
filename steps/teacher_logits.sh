#!/usr/bin/env bash
# The logits of trained teachers for every clip of a data directory, each member's and their mean
# (asc.bin.teacher_logits; skipped when the same members already wrote them), through a launcher.
#
#   steps/teacher_logits.sh [options] <data> <labels> <out.h5> <teacher-exp> [<teacher-exp> ...]
#   steps/teacher_logits.sh --cmd "$decode_cmd" data/train_split5 data/labels.txt exp/teach/split5/logits.h5 \
#       exp/teach/split5/cp_resnet exp/teach/split5/passt
#
# The log is <out folder>/log/<out name>.log. --feats-set test runs the teachers on another set of the
# feature stores they were trained on (e.g. to score the ensemble on the test set).
set -euo pipefail

cmd=utils/launch.sh   # launcher with its options ($decode_cmd of cmd.sh)
threads=0             # CPU threads of the job; 0: the launcher's default
feats_set=            # another set of the teachers' feature stores (e.g. test); empty: the training store
help_message="Usage: $0 [--cmd CMD] [--threads N] [--feats-set SET] <data> <labels> <out.h5> <teacher-exp>..."

. utils/parse_options.sh
[ $# -ge 4 ] || { printf '%s\n' "$help_message" >&2; exit 1; }
data=$1 labels=$2 out=$3
shift 3

threads_opt=
[ "$threads" -gt 0 ] && threads_opt="--num-threads $threads"
set_opt=
[ -n "$feats_set" ] && set_opt="--feats-set $feats_set"
name=$(basename $out .h5)
$cmd $threads_opt $(dirname $out)/log/$name.log \
  python -m asc.bin.teacher_logits --data $data --labels $labels --out $out $set_opt "$@"
