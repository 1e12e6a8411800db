#!/usr/bin/env bash
# The systems of one training set on its test set (steps/score.sh): each trained system (its
# checkpoints/best.pt) and the deployable model (rep_mobile_pruned), which must be finished (deploy.done).
# Scorings whose inputs are unchanged are skipped.
#
#   steps/score_systems.sh [options] <test-data> <feats.h5> <labels> <kd-dir> <deploy-dir> [<system> ...]
#   steps/score_systems.sh --cmd "$decode_cmd" --split 5 data/test dump/student/test/feats.h5 data/labels.txt \
#       exp/kd/split5 exp/deploy/split5 baseline rep_mobile rep_mobile_kd
#
# System <system> is <kd-dir>/<system>, scored into <kd-dir>/<system>/score_test; the deployable model is
# <deploy-dir>/model.pt, scored into <deploy-dir>/score_test.
set -euo pipefail

cmd=utils/launch.sh   # the scoring jobs' launcher with its options ($decode_cmd of cmd.sh)
threads=0             # CPU threads of each job; 0: the launcher's default
split=                # the training split (or fold number), for the tables; empty: from a split<N> folder
stage=6               # the recipe's stage, named in the progress lines
help_message="Usage: $0 [--cmd CMD] [--threads N] [--split N] [--stage N]
                <test-data> <feats.h5> <labels> <kd-dir> <deploy-dir> [<system> ...]"

. utils/parse_options.sh
[ $# -ge 5 ] || { printf '%s\n' "$help_message" >&2; exit 1; }
data=$1 feats=$2 labels=$3 kd_dir=$4 deploy=$5
shift 5
. steps/stages.sh
score=(steps/score.sh --cmd "$cmd" --threads $threads --split "$split" --feats $feats)

for system in "$@"; do
  log $stage "scoring $kd_dir/$system on $data -> $kd_dir/$system/score_test"
  "${score[@]}" $kd_dir/$system $system $data $labels $kd_dir/$system/score_test
done
[ -f $deploy/deploy.done ] || { echo "$0: stage $stage: $deploy is not finished (no deploy.done); run stage 5" >&2; exit 1; }
log $stage "scoring $deploy/model.pt on $data -> $deploy/score_test"
"${score[@]}" $deploy/model.pt rep_mobile_pruned $data $labels $deploy/score_test
