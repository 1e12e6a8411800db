#!/usr/bin/env bash
# Systems trained on one training set with steps/train.sh, one after the other, all with the same
# augmentations: those on the labels alone, and the distilled ones (named *_kd) from the stored teacher
# logits of --teacher-logits (steps/teachers.sh). Finished systems are found, not redone.
#
#   steps/students.sh [options] <conf-dir> <train-data> <feats.h5> <labels> <dir> [<system> ...]
#   steps/students.sh --cmd "$train_cmd" --teacher-logits exp/teach/split5/logits.h5 conf/embedded \
#       data/train_split5 dump/student/train_split100/feats.h5 data/labels.txt exp/kd/split5 \
#       baseline rep_mobile rep_mobile_kd
#
# System <system> trains with <conf-dir>/train_<system>.yaml into <dir>/<system>. No system: nothing to do.
set -euo pipefail

cmd=utils/launch.sh   # the training jobs' launcher with its options ($train_cmd, or "$cuda_cmd --gpu N")
threads=0             # CPU threads of each job; 0: the launcher's default
ngpu=0                # GPUs per training job (steps/train.sh --ngpu)
seed=0
dir_folder=           # device impulse responses (wav); empty or missing: that augmentation off
train_opts=           # key=value overrides for every system, e.g. "epochs=1 batch_size=16"
teacher_logits=       # the teachers' logits (<teach-dir>/logits.h5) the *_kd systems distil from
stage=4               # the recipe's stage, named in the progress lines
help_message="Usage: $0 [--cmd CMD] [--threads N] [--ngpu N] [--seed S] [--dir-folder DIR] [--train-opts \"k=v ...\"]
                [--teacher-logits FILE] [--stage N] <conf-dir> <train-data> <feats.h5> <labels> <dir> [<system> ...]"

. utils/parse_options.sh
[ $# -ge 5 ] || { printf '%s\n' "$help_message" >&2; exit 1; }
conf=$1 data=$2 feats=$3 labels=$4 dir=$5
shift 5
for system in "$@"; do
  case $system in
    *_kd) [ -n "$teacher_logits" ] || { echo "$0: $system is distilled (*_kd): give --teacher-logits" >&2; exit 1; } ;;
  esac
done
. steps/stages.sh

for system in "$@"; do
  kd=
  case $system in *_kd) kd="--teacher-logits $teacher_logits" ;; esac
  log $stage "$system on $data -> $dir/$system (log: $dir/$system/log/train.log)"
  steps/train.sh --cmd "$cmd" --threads $threads --ngpu $ngpu --seed $seed --dir-folder "$dir_folder" \
    --train-opts "$train_opts" $conf/train_$system.yaml $data $feats $labels $dir/$system $kd
done
