#!/usr/bin/env bash
# Score one model (an experiment directory, a checkpoint or a deployable model.pt) or one file of
# stored logits on a labelled data directory (asc.bin.score: scores.json, tables, pictures; skipped when
# its inputs are unchanged), through a launcher.
#
#   steps/score.sh [options] <model> <system> <data> <labels> <out>
#   steps/score.sh --cmd "$decode_cmd" --split 5 --feats dump/student/test/feats.h5 exp/kd/split5/baseline \
#       baseline data/test data/labels.txt exp/kd/split5/baseline/score_test
#
# The log is <out>/log/score.log. Without --feats the model is a logits file (e.g. a teacher ensemble's).
set -euo pipefail

cmd=utils/launch.sh   # launcher with its options ($decode_cmd of cmd.sh)
threads=0             # CPU threads of the job; 0: the launcher's default
split=                # the training split, for the tables; empty: from a split<N> folder in the path
feats=                # the feature store covering <data>; empty: <model> is a logits file
help_message="Usage: $0 [--cmd CMD] [--threads N] [--split N] [--feats FILE] <model> <system> <data> <labels> <out>"

. utils/parse_options.sh
[ $# -eq 5 ] || { printf '%s\n' "$help_message" >&2; exit 1; }
model=$1 system=$2 data=$3 labels=$4 out=$5

threads_opt=
[ "$threads" -gt 0 ] && threads_opt="--num-threads $threads"
$cmd $threads_opt $out/log/score.log \
  python -m asc.bin.score --checkpoint $model --system $system ${split:+--split $split} --data $data \
    ${feats:+--feats $feats} --labels $labels --out $out
