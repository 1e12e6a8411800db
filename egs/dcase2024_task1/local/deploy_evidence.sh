#!/usr/bin/env bash
# Evidence for 8-bit deployment: for every split and seed, stage 5's start model (the KD-trained wide
# Rep-Mobile) pruned once to today's float16 target and once to the int8 target (1 byte per parameter,
# so about twice the parameters, then quantisation-aware fine-tuning), each with its deployable model
# checked on the test set by stage 5 itself; then the table (asc.bin.deploy_evidence), and with
# --readme in that file's deploy_evidence section.
#
#   local/deploy_evidence.sh [--splits "5 10 25 50 100"] [--seeds "0 1 2"] [--jobs 2] [--readme ../../README.md]
#   local/deploy_evidence.sh --train false ...        # only re-render the table from the finished runs
#
# Needs stages 0-3 and each split's start model of stage 5 (./run.sh --stage 5 --stop-stage 5). Runs are
# exp/deploy_evidence/split<N>/{float16,int8}/seed<S>; finished runs are skipped, so re-running resumes.
set -euo pipefail

splits="5 10 25 50 100"
seeds="0 1 2"
jobs=2
profile=embedded
train=true
prune_opts=           # key=value overrides for both precisions (as ./run.sh --prune-opts)
# int8: 108,000 of the 128,000 bytes at 1 byte per parameter while pruning; the rest holds the float32
# biases and the per-channel scales the int8 file stores (9 bytes per channel: asc.models.quantized.
# int8_memory, checked exactly at deploy)
int8_opts="target.precision=int8 target.param_bytes=108000"
out=                  # default: exp/deploy_evidence/README.md
readme=               # a Markdown file with <!-- deploy_evidence:begin --> ... <!-- deploy_evidence:end --> lines
help_message="Usage: $0 [--splits \"5 10 ...\"] [--seeds \"0 1 2\"] [--jobs N] [--train true|false]
                [--profile embedded|tau22] [--prune-opts \"k=v ...\"] [--int8-opts \"k=v ...\"] [--out FILE] [--readme FILE]"

. ./db.sh
. ./path.sh
. utils/parse_options.sh
. ./cmd.sh
. utils/job_pool.sh

conf=conf/$profile
root=exp/deploy_evidence
out=${out:-$root/README.md}

deploy() {  # split precision seed opts...
  local split=$1 precision=$2 seed=$3 exp=$root/split$1/$2/seed$3 wide=exp/kd/split$1/rep_mobile_wide_kd
  shift 3
  echo "$(date '+%F %T') [deploy_evidence] split $split, $precision, seed $seed -> $exp"
  $train_cmd --num-threads $threads $exp/log/prune.log \
    python -m asc.bin.prune --config $conf/prune.yaml --init $wide --train-data data/train_split$split \
      --feats dump/student/train_split100/feats.h5 --teacher-logits exp/teach/split$split/logits.h5 \
      --labels data/labels.txt --exp $exp --deploy-dir $exp/deploy \
      --test-data data/test --test-feats dump/student/test/feats.h5 $prune_dir_opt seed=$seed $prune_opts "$@"
}

if $train; then
  . local/dir_opts.sh     # device impulse responses: dir_opt, prune_dir_opt
  threads=$(pool_threads $jobs)
  for split in $splits; do
    [ -f exp/kd/split$split/rep_mobile_wide_kd/train.done ] || {
      echo "$0: no finished start model exp/kd/split$split/rep_mobile_wide_kd; run ./run.sh --stage 5 --stop-stage 5" >&2
      exit 1; }
  done
  pool_start $jobs
  for split in $splits; do
    for seed in $seeds; do
      pool_run $root/split$split/float16/seed$seed/evidence.log deploy $split float16 $seed
      pool_run $root/split$split/int8/seed$seed/evidence.log deploy $split int8 $seed $int8_opts
    done
  done
  pool_finish || { echo "$0: some runs failed (their logs are named above)" >&2; exit 1; }
fi
python -m asc.bin.deploy_evidence --root $root --splits "$splits" --seeds "$seeds" --out $out ${readme:+--readme $readme}
