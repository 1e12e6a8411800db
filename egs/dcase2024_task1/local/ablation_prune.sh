#!/usr/bin/env bash
# Evidence for progressive pruning: progressive (K steps × E epochs) against one-shot (1 step × K·E
# epochs) pruning of the same start model (stage 5's KD-trained wide Rep-Mobile) to the same target,
# for several seeds; then the table of params, MACs and accuracy after each step, as markdown.
#
#   local/ablation_prune.sh [--split 25] [--seeds "0 1 2"] [--profile embedded] [--out FILE]
#
# Needs stages 0-3 and the start model of stage 5 (./run.sh --stage 5 --stop-stage 5 --splits N, or
# at least its first job). Runs are exp/ablation_prune/split<N>/{progressive,one_shot}/seed<S>; finished
# runs are skipped, so re-running only re-renders the table.
set -euo pipefail

split=25
seeds="0 1 2"
profile=embedded
out=                  # default: exp/ablation_prune/split<N>/README.md
help_message="Usage: $0 [--split N] [--seeds \"0 1 2\"] [--profile embedded|tau22] [--out FILE]"

. ./path.sh
. utils/parse_options.sh
. ./cmd.sh

conf=conf/$profile
root=exp/ablation_prune/split$split
out=${out:-$root/README.md}
wide=exp/kd/split$split/rep_mobile_wide_kd
[ -f $wide/train.done ] || {
  echo "$0: no finished start model $wide; run ./run.sh --stage 5 --stop-stage 5 --splits $split first" >&2; exit 1; }
dirs_folder=${DIRS_FOLDER:-${EMBEDDED%/}_dirs}
dir_opt="--dir-folder $dirs_folder"
[ -d "$dirs_folder" ] || dir_opt="finetune.augment.device_ir.enabled=false"

runs=
for seed in $seeds; do
  for schedule in progressive one_shot; do
    exp=$root/$schedule/seed$seed one_shot=false
    [ $schedule = one_shot ] && one_shot=true
    echo "$(date '+%F %T') [ablation_prune] $schedule, seed $seed -> $exp"
    $train_cmd $exp/log/prune.log \
      python -m asc.bin.prune --config $conf/prune.yaml --init $wide --train-data data/train_split$split \
        --feats dump/student/train_split100/feats.h5 --teacher-logits exp/teach/split$split/logits.h5 \
        --labels data/labels.txt --exp $exp $dir_opt seed=$seed one_shot=$one_shot
    runs="$runs $exp"
  done
done
python -m asc.bin.prune_report --test-data data/test --test-feats dump/student/test/feats.h5 \
  --labels data/labels.txt --out $out $runs
echo "$(date '+%F %T') [ablation_prune] table -> $out"
