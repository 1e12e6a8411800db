#!/usr/bin/env bash
# The teachers of one training set, each trained with steps/train.sh (fine-tuned from the official
# pretrained file its config names, found in --pretrained-dir; from a checkpoint of --init; or from
# scratch), then their ensemble's logits for every clip of the set (steps/teacher_logits.sh), computed
# once for the distilled students and the pruning. Finished teachers and logits are found, not redone.
#
#   steps/teachers.sh [options] <conf-dir> <train-data> <dumpdir> <feats-set> <labels> <dir> <name>:<features>...
#   steps/teachers.sh --cmd "$train_cmd" --logits-cmd "$decode_cmd" --pretrained-dir downloads/pretrained \
#       conf/embedded data/train_split5 dump train_split100 data/labels.txt exp/teach/split5 \
#       mn04:teacher cp_resnet:student
#
# Teacher <name> trains with <conf-dir>/train_<name>.yaml on <dumpdir>/<features>/<feats-set>/feats.h5 into
# <dir>/<name>; the logits go to <dir>/logits.h5. Run from a recipe folder (utils/, steps/ beside it).
set -euo pipefail

cmd=utils/launch.sh   # the training jobs' launcher with its options ($train_cmd, or "$cuda_cmd --gpu N")
logits_cmd=utils/launch.sh   # the logits job's launcher ($decode_cmd)
threads=0             # CPU threads of each job; 0: the launcher's default
ngpu=0                # GPUs per training job (steps/train.sh --ngpu)
seed=0
dir_folder=           # device impulse responses (wav); empty or missing: that augmentation off
train_opts=           # key=value overrides for every teacher, e.g. "epochs=1 batch_size=16"
pretrained_dir=       # the official pretrained files the configs name (asc.bin.train --pretrained-dir)
init=                 # "<name>=<checkpoint> ...": these teachers start from the checkpoint instead
stage=3               # the recipe's stage, named in the progress lines
help_message="Usage: $0 [--cmd CMD] [--logits-cmd CMD] [--threads N] [--ngpu N] [--seed S] [--dir-folder DIR]
                [--train-opts \"k=v ...\"] [--pretrained-dir DIR] [--init \"name=FILE ...\"] [--stage N]
                <conf-dir> <train-data> <dumpdir> <feats-set> <labels> <dir> <name>:<features>..."

. utils/parse_options.sh
[ $# -ge 7 ] || { printf '%s\n' "$help_message" >&2; exit 1; }
conf=$1 data=$2 dumpdir=$3 feats_set=$4 labels=$5 dir=$6
shift 6
for teacher in "$@"; do
  case $teacher in ?*:?*) ;; *) echo "$0: teacher '$teacher' is not <name>:<features> (e.g. mn04:teacher)" >&2; exit 1 ;; esac
done
. steps/layout.sh
. steps/stages.sh

members=
for teacher in "$@"; do
  name=${teacher%%:*} feats=${teacher#*:} start= pretrained=${pretrained_dir:+--pretrained-dir $pretrained_dir}
  for pair in $init; do
    if [ "${pair%%=*}" = "$name" ]; then start=${pair#*=} pretrained=; fi
  done
  log $stage "teacher $name on $data -> $dir/$name (log: $dir/$name/log/train.log)"
  steps/train.sh --cmd "$cmd" --threads $threads --ngpu $ngpu --seed $seed --dir-folder "$dir_folder" \
    --train-opts "$train_opts" --init "$start" $conf/train_$name.yaml $data $(feats_h5 $dumpdir $feats $feats_set) \
    $labels $dir/$name $pretrained
  members="$members $dir/$name"
done
log $stage "teacher ensemble logits ($members ) -> $dir/logits.h5"
steps/teacher_logits.sh --cmd "$logits_cmd" --threads $threads $data $labels $dir/logits.h5 $members
