#!/usr/bin/env bash
# Evidence for progressive pruning: progressive (K steps × E epochs) against one-shot (1 step × K·E
# epochs) pruning of the same start model (stage 5's KD-trained wide Rep-Mobile) to the same target,
# for several seeds; then the table of params, MACs and accuracy after each step, as markdown
# (asc.bin.prune_report), and with --readme in that file's prune_ablation section.
#
#   local/ablation_prune.sh [--split 100] [--seeds "0 1 2"] [--jobs 2] [--readme ../../README.md]
#
# Needs stages 0-3 and the start model of stage 5 (./run.sh --stage 5 --stop-stage 5 --splits N, or
# at least its first job). Runs are exp/ablation_prune/split<N>/{progressive,one_shot}/seed<S>; finished
# runs are skipped, so re-running resumes a killed run or only re-renders the table. --jobs runs at
# once, with cores/jobs threads each.
set -euo pipefail

split=100
seeds="0 1 2"
jobs=2
profile=embedded
prune_opts=           # key=value overrides for both schedules (as ./run.sh --prune-opts)
out=                  # default: exp/ablation_prune/split<N>/README.md
readme=               # a Markdown file with <!-- prune_ablation:begin --> ... <!-- prune_ablation:end --> lines
help_message="Usage: $0 [--split N] [--seeds \"0 1 2\"] [--jobs N] [--profile embedded|tau22]
                [--prune-opts \"k=v ...\"] [--out FILE] [--readme FILE]"

. ./db.sh
. ./path.sh
. utils/parse_options.sh
. ./cmd.sh
. utils/job_pool.sh

conf=conf/$profile
root=exp/ablation_prune/split$split
out=${out:-$root/README.md}
wide=exp/kd/split$split/rep_mobile_wide_kd
[ -f $wide/train.done ] || {
  echo "$0: no finished start model $wide; run ./run.sh --stage 5 --stop-stage 5 --splits $split first" >&2; exit 1; }
. local/dir_opts.sh     # device impulse responses: dir_opt, prune_dir_opt
threads=$(pool_threads $jobs)

prune() {  # exp seed one_shot
  echo "$(date '+%F %T') [ablation_prune] one_shot=$3, seed $2 -> $1"
  $train_cmd --num-threads $threads $1/log/prune.log \
    python -m asc.bin.prune --config $conf/prune.yaml --init $wide --train-data data/train_split$split \
      --feats dump/student/train_split100/feats.h5 --teacher-logits exp/teach/split$split/logits.h5 \
      --labels data/labels.txt --exp $1 $prune_dir_opt seed=$2 one_shot=$3 $prune_opts
}

runs=
pool_start $jobs
for seed in $seeds; do
  for schedule in progressive one_shot; do
    exp=$root/$schedule/seed$seed one_shot=false
    [ $schedule = one_shot ] && one_shot=true
    pool_run $exp/ablation.log prune $exp $seed $one_shot
    runs="$runs $exp"
  done
done
pool_finish || { echo "$0: some runs failed (their logs are named above)" >&2; exit 1; }
python -m asc.bin.prune_report --test-data data/test --test-feats dump/student/test/feats.h5 \
  --labels data/labels.txt --out $out $runs
[ -z "$readme" ] || python -m asc.readme_section "$readme" prune_ablation $out
echo "$(date '+%F %T') [ablation_prune] table -> $out"
