#!/usr/bin/env bash
# Evidence for 8-bit deployment: for every split and seed, stage 5's start model (the KD-trained wide
# Rep-Mobile) pruned to today's float16 target, and the int8 start model (train_<int8-start>.yaml: wider
# where a parameter costs few MACs, since at 1 byte per parameter the 30 M MACs bind before the bytes
# do) pruned to the int8 target (about twice the parameters, then quantisation-aware fine-tuning), each
# with its deployable model checked on the test set by stage 5 itself; then the table
# (asc.bin.deploy_evidence), and with --readme in that file's deploy_evidence section.
#
#   local/deploy_evidence.sh [--splits "5 10 25 50 100"] [--seeds "0 1 2"] [--jobs 2] [--readme ../../README.md]
#   local/deploy_evidence.sh --train false ...        # only re-render the table from the finished runs
#
# Needs stages 0-3 and each split's start model of stage 5 in the recipe run of --recipe-expdir (./run.sh
# --stage 5 --stop-stage 5); the int8 start model is trained here, beside it in <recipe-expdir>/kd/split<N>/,
# from the same teacher logits (steps/train.sh). Pruning goes through the stage layer (steps/prune.sh) to
# exp/deploy_evidence/split<N>/{float16,int8}/seed<S>; finished runs are skipped, so re-running resumes.
set -euo pipefail

splits="5 10 25 50 100"
seeds="0 1 2"
jobs=2
profile=embedded
recipe_expdir=exp     # the recipe run whose wide Rep-Mobile and teacher logits the runs start from
dumpdir=dump
train=true
prune_opts=           # key=value overrides for both precisions (as ./run.sh --prune-opts)
# int8: 108,000 of the 128,000 bytes at 1 byte per parameter while pruning; the rest holds the float32
# biases and the per-channel scales the int8 file stores (9 bytes per channel: asc.models.quantized.
# int8_memory, checked exactly at deploy)
# deploy.max_int8_accuracy_drop=100: the table reports each run's int8 - float32 gap, so no run is left out for it
int8_opts="target.precision=int8 target.param_bytes=108000 deploy.max_int8_accuracy_drop=100"
int8_start=rep_mobile_wide_int8_kd   # conf/<profile>/train_<name>.yaml of the int8 start; empty: the float16 start
train_opts=           # key=value overrides for training the int8 start (as ./run.sh --train-opts)
out=                  # default: exp/deploy_evidence/README.md
readme=               # a Markdown file with <!-- deploy_evidence:begin --> ... <!-- deploy_evidence:end --> lines
help_message="Usage: $0 [--splits \"5 10 ...\"] [--seeds \"0 1 2\"] [--jobs N] [--train true|false]
                [--profile embedded|tau22] [--recipe-expdir exp] [--dumpdir dump] [--prune-opts \"k=v ...\"] [--int8-opts \"k=v ...\"]
                [--int8-start NAME] [--train-opts \"k=v ...\"] [--out FILE] [--readme FILE]"

. ./db.sh
. ./path.sh
. utils/parse_options.sh
. ./cmd.sh
. utils/job_pool.sh
. steps/layout.sh

root=exp/deploy_evidence
out=${out:-$root/README.md}

start_model() {  # split precision: the KD-trained model that run prunes
  local name=rep_mobile_wide_kd
  [ "$2" = int8 ] && [ -n "$int8_start" ] && name=$int8_start
  echo $(kd_dir $recipe_expdir $1)/$name
}

train_int8_start() {  # split: the int8 start model, distilled from the recipe run's teacher logits
  local split=$1
  echo "$(date '+%F %T') [deploy_evidence] split $split, int8 start -> $(start_model $split int8)"
  steps/train.sh --cmd "$train_cmd" --threads $threads --dir-folder "$DIRS_FOLDER" --train-opts "$train_opts" \
    conf/$profile/train_$int8_start.yaml data/train_split$split $(feats_h5 $dumpdir student train_split100) \
    data/labels.txt $(start_model $split int8) --teacher-logits $(teach_dir $recipe_expdir $split)/logits.h5
}

deploy() {  # split precision seed opts...: one run of stage 5's pruning and deployment
  local split=$1 precision=$2 seed=$3 exp=$root/split$1/$2/seed$3
  shift 3
  echo "$(date '+%F %T') [deploy_evidence] split $split, $precision, seed $seed -> $exp"
  steps/prune.sh --cmd "$train_cmd" --threads $threads --seed $seed --dir-folder "$DIRS_FOLDER" \
    --prune-opts "$prune_opts $*" --deploy-dir $exp/deploy --test-data data/test \
    --test-feats $(feats_h5 $dumpdir student test) conf/$profile/prune.yaml \
    $(start_model $split $precision) data/train_split$split \
    $(feats_h5 $dumpdir student train_split100) $(teach_dir $recipe_expdir $split)/logits.h5 data/labels.txt $exp
}

if $train; then
  threads=$(pool_threads $jobs)
  for split in $splits; do
    wide=$(kd_dir $recipe_expdir $split)/rep_mobile_wide_kd
    [ -f $wide/train.done ] || {
      echo "$0: no finished start model $wide; run ./run.sh --stage 5 --stop-stage 5" >&2
      exit 1; }
  done
  if [ -n "$int8_start" ]; then
    pool_start $jobs
    for split in $splits; do
      pool_run $root/int8_start/split$split.log train_int8_start $split
    done
    pool_finish || { echo "$0: training an int8 start model failed (its log is named above)" >&2; exit 1; }
  fi
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
