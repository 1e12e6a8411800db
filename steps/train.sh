#!/usr/bin/env bash
# Train one system on one data directory with asc.bin.train, through a launcher (or find it finished:
# the trainer skips a finished run of the same config and resumes an interrupted one).
#
#   steps/train.sh [options] <config> <train-data> <feats.h5> <labels> <exp> [asc.bin.train options ...]
#   steps/train.sh --cmd "$train_cmd" --seed 1 conf/embedded/train_rep_mobile_kd.yaml data/train_split5 \
#       dump/student/train_split100/feats.h5 data/labels.txt exp/kd/split5/rep_mobile_kd \
#       --teacher-logits exp/teach/split5/logits.h5
#
# The log is <exp>/log/train.log. Run from a recipe folder (utils/ beside it).
set -euo pipefail

cmd=utils/launch.sh   # launcher with its options ($train_cmd, or "$cuda_cmd --gpu N" of cmd.sh)
threads=0             # CPU threads of the job (--num-threads of the launcher); 0: the launcher's default
ngpu=0                # > 1: torchrun with one process per GPU (DDP); the launcher must give them (--cmd)
seed=0
init=                 # weights to start from (asc.bin.train --init-checkpoint), e.g. a pretrained teacher
dir_folder=           # device impulse responses (wav); empty or missing: that augmentation off
train_opts=           # key=value overrides, e.g. "epochs=1 batch_size=16"
help_message="Usage: $0 [--cmd CMD] [--threads N] [--ngpu N] [--seed S] [--init FILE] [--dir-folder DIR]
                [--train-opts \"k=v ...\"] <config> <train-data> <feats.h5> <labels> <exp> [asc.bin.train options ...]"

. utils/parse_options.sh
[ $# -ge 5 ] || { printf '%s\n' "$help_message" >&2; exit 1; }
config=$1 data=$2 feats=$3 labels=$4 exp=$5
shift 5

train_py="python -m asc.bin.train"
[ "$ngpu" -gt 1 ] && train_py="torchrun --standalone --nproc_per_node $ngpu -m asc.bin.train"
threads_opt=
[ "$threads" -gt 0 ] && threads_opt="--num-threads $threads"
init_opt=
[ -n "$init" ] && init_opt="--init-checkpoint $init"
dir_opt="augment.device_ir.enabled=false"
[ -n "$dir_folder" ] && [ -d "$dir_folder" ] && dir_opt="--dir-folder $dir_folder"

$cmd $threads_opt $exp/log/train.log \
  $train_py --config $config --train-data $data --feats $feats --labels $labels --exp $exp \
    $init_opt "$@" $dir_opt seed=$seed $train_opts
