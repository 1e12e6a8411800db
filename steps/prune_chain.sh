#!/usr/bin/env bash
# The pruned, deployable Rep-Mobile of one training set: the wide Rep-Mobile (above the limits) distilled
# from the teacher logits (steps/students.sh), then K steps of pruning and KD fine-tuning to the limits of
# <conf-dir>/prune.yaml and the deployable model (steps/prune.sh --deploy-dir: fused, float16, the limits
# checked, which fails the chain if they are exceeded; with --test-data float16 measured against float32).
# Finished work is found, not redone; a killed chain resumes.
#
#   steps/prune_chain.sh [options] <conf-dir> <train-data> <feats.h5> <teacher-logits.h5> <labels> <kd-dir> \
#       <prune-exp> <deploy-dir>
#   steps/prune_chain.sh --cmd "$train_cmd" --prune-cmd "$train_cmd" --test-data data/test \
#       --test-feats dump/student/test/feats.h5 conf/embedded data/train_split5 \
#       dump/student/train_split100/feats.h5 exp/teach/split5/logits.h5 data/labels.txt exp/kd/split5 \
#       exp/prune/split5 exp/deploy/split5
#
# The wide student trains with <conf-dir>/train_rep_mobile_wide_kd.yaml into <kd-dir>/rep_mobile_wide_kd.
set -euo pipefail

cmd=utils/launch.sh   # the wide student's launcher with its options ($train_cmd, or "$cuda_cmd --gpu N")
prune_cmd=utils/launch.sh   # the pruning job's launcher ($train_cmd, or "$cuda_cmd --gpu 1")
threads=0             # CPU threads of each job; 0: the launcher's default
ngpu=0                # GPUs of the wide student's training (steps/train.sh --ngpu)
seed=0
dir_folder=           # device impulse responses (wav) for both trainings; empty or missing: off
train_opts=           # key=value overrides for the wide student, e.g. "epochs=1 batch_size=16"
prune_opts=           # key=value overrides for the pruning, e.g. "steps=2 epochs_per_step=1"
test_data=            # the float16 check's test set (with --test-feats); empty: no check
test_feats=
stage=5               # the recipe's stage, named in the progress lines
help_message="Usage: $0 [--cmd CMD] [--prune-cmd CMD] [--threads N] [--ngpu N] [--seed S] [--dir-folder DIR]
                [--train-opts \"k=v ...\"] [--prune-opts \"k=v ...\"] [--test-data DIR --test-feats FILE] [--stage N]
                <conf-dir> <train-data> <feats.h5> <teacher-logits.h5> <labels> <kd-dir> <prune-exp> <deploy-dir>"

. utils/parse_options.sh
[ $# -eq 8 ] || { printf '%s\n' "$help_message" >&2; exit 1; }
conf=$1 data=$2 feats=$3 logits=$4 labels=$5 kd_dir=$6 exp=$7 deploy=$8
[ -z "$test_data" ] || [ -n "$test_feats" ] || { echo "$0: --test-data $test_data needs --test-feats" >&2; exit 1; }
. steps/stages.sh

wide=$kd_dir/rep_mobile_wide_kd
steps/students.sh --cmd "$cmd" --threads $threads --ngpu $ngpu --seed $seed --dir-folder "$dir_folder" \
  --train-opts "$train_opts" --teacher-logits $logits --stage $stage $conf $data $feats $labels $kd_dir \
  rep_mobile_wide_kd
log $stage "pruning $wide -> $exp, deployable model -> $deploy (log: $exp/log/prune.log)"
steps/prune.sh --cmd "$prune_cmd" --threads $threads --seed $seed --dir-folder "$dir_folder" \
  --prune-opts "$prune_opts" --deploy-dir $deploy ${test_data:+--test-data $test_data --test-feats $test_feats} \
  $conf/prune.yaml $wide $data $feats $logits $labels $exp
