#!/usr/bin/env bash
# Evidence for the paper's claim 3, that pruning in small steps beats pruning once, across schedules:
# from the same start model (stage 5's KD-trained wide Rep-Mobile of the recipe run) to the same target
# (conf/<profile>/prune.yaml: the DCASE2024 limits) at equal total fine-tuning epochs, K pruning steps
# of E epochs each (--schedules "KxE ...": by default K = 1, 2, 3, 6 at 6 epochs in all, and K = 1
# and 6 at 12), for each importance criterion (--criteria: l2, bn_scale; asc/prune/importance.py),
# seed and split; then the table of the final models, which K wins per setting and over all, and a
# PNG of test accuracy against MACs along each schedule (asc.bin.prune_report --schedules); --readme
# fills that file's prune_schedules section and copies the PNG beside it.
#
#   local/ablation_prune_schedule.sh [--splits "25 100"] [--seeds "0 1 2"] [--jobs 2] [--readme ../../README.md]
#
# Needs stages 0-3 of the recipe run in --recipe-expdir (the teacher logits of each split). The start
# model is trained, if it is not there yet, exactly as stage 5 trains it (steps/train.sh with
# train_rep_mobile_wide_kd.yaml into <recipe-expdir>/kd/split<N>/rep_mobile_wide_kd, where ./run.sh
# --stage 5 finds it finished). Runs go through the stage layer (steps/prune.sh) to
# exp/ablation_prune_schedule/split<N>/<criterion>/k<K>x<E>/seed<S>, seed by seed so that a partial
# study has every schedule; finished runs are skipped, so re-running resumes a killed run; --train
# false only re-renders the table and plot from the runs finished so far. --jobs runs at once, with
# cores/jobs threads each (one job: OMP_NUM_THREADS of the environment).
set -euo pipefail

splits="25 100"
seeds="0 1 2"
criteria="l2 bn_scale"
schedules="1x6 2x3 3x2 6x1 1x12 6x2"   # K x E: K pruning steps, E epochs of KD fine-tuning after each
jobs=2
profile=embedded
recipe_expdir=exp     # the recipe run whose teacher logits (and wide Rep-Mobile) the runs start from
dumpdir=dump
train_opts=           # for the start model, as ./run.sh --train-opts (the same, to find the recipe's finished)
prune_opts=           # key=value overrides for every run (as ./run.sh --prune-opts), e.g. "finetune.batch_size=16"
readme=               # a Markdown file with <!-- prune_schedules:begin --> ... <!-- prune_schedules:end --> lines
train=true            # false: no training, only the table and plot of the runs finished so far
help_message="Usage: $0 [--splits \"25 100\"] [--seeds \"0 1 2\"] [--criteria \"l2 bn_scale\"]
                [--schedules \"1x6 2x3 3x2 6x1 1x12 6x2\"] [--jobs N] [--profile embedded|tau22]
                [--recipe-expdir exp] [--dumpdir dump] [--train-opts \"k=v ...\"] [--prune-opts \"k=v ...\"]
                [--train false] [--readme FILE]"

. ./db.sh
. ./path.sh
. utils/parse_options.sh
. ./cmd.sh
. utils/job_pool.sh
. steps/layout.sh

root=exp/ablation_prune_schedule
threads=0                                       # one job: the threads of the environment
[ "$jobs" -gt 1 ] && threads=$(pool_threads $jobs)
feats=$(feats_h5 $dumpdir student train_split100)
# Equal epochs means equal epochs: a profile's fine-tuning min_steps (more epochs for a short step on a small
# split) would give K short steps more epochs in all than one long one, so it is turned off here.
equal=; grep -q '^ *min_steps:' conf/$profile/prune.yaml && equal="finetune.min_steps=0"

run_of() { echo $root/split$1/$2/k$3/seed$4; }   # split criterion KxE seed

start_model() {  # split: the recipe run's wide Rep-Mobile, trained as stage 5 trains it if not yet there
  local split=$1 logits
  logits=$(teach_dir $recipe_expdir $split)/logits.h5
  [ -f $logits ] || {
    echo "$0: no teacher logits $logits; run ./run.sh --stage 3 --stop-stage 3 --splits $split first" >&2; return 1; }
  steps/train.sh --cmd "$train_cmd" --threads $threads --dir-folder "$DIRS_FOLDER" \
    --train-opts "$train_opts" conf/$profile/train_rep_mobile_wide_kd.yaml data/train_split$split $feats \
    data/labels.txt $(kd_dir $recipe_expdir $split)/rep_mobile_wide_kd --teacher-logits $logits
}

echo "$(date '+%F %T') [ablation_prune_schedule] splits: $splits; seeds: $seeds; criteria: $criteria;" \
     "schedules (K x E): $schedules; $jobs runs at once, $threads thread(s) each"
if $train; then
  for split in $(largest_first $splits); do
    echo "$(date '+%F %T') [ablation_prune_schedule] start model of split $split"
    start_model $split
  done
  pool_start $jobs
  for split in $(largest_first $splits); do
    for seed in $seeds; do
      for criterion in $criteria; do
        for schedule in $schedules; do
          k=${schedule%x*} e=${schedule#*x} exp=$(run_of $split $criterion $schedule $seed)
          echo "$(date '+%F %T') [ablation_prune_schedule] split $split, $criterion, K=$k x E=$e, seed $seed -> $exp"
          pool_run $exp/ablation.log steps/prune.sh --cmd "$train_cmd" --threads $threads --seed $seed \
            --dir-folder "$DIRS_FOLDER" \
            --prune-opts "steps=$k epochs_per_step=$e one_shot=false criterion=$criterion $equal $prune_opts" \
            conf/$profile/prune.yaml $(kd_dir $recipe_expdir $split)/rep_mobile_wide_kd data/train_split$split \
            $feats $(teach_dir $recipe_expdir $split)/logits.h5 data/labels.txt $exp
        done
      done
    done
  done
  pool_finish || { echo "$0: some runs failed (their logs are named above)" >&2; exit 1; }
fi

runs=$(ls -d $root/split*/*/k*x*/seed* 2>/dev/null | while read -r run; do
         [ -f $run/prune.done ] && echo $run; done | sort -V | tr '\n' ' ')
[ -n "$runs" ] || { echo "$0: no finished run under $root yet" >&2; exit 1; }
out=$root/README.md
python -m asc.bin.prune_report --schedules --plot $root/prune_schedules.png --test-data data/test \
  --test-feats $(feats_h5 $dumpdir student test) --labels data/labels.txt --out $out $runs
if [ -n "$readme" ]; then   # the plot beside the README (doc/prune_schedules.png), shown under the table
  png=$(dirname $readme)/doc/prune_schedules.png
  mkdir -p $(dirname $png)
  cp $root/prune_schedules.png $png.tmp && mv $png.tmp $png
  { cat $out; echo; echo "![Test accuracy against MACs along each pruning schedule](doc/prune_schedules.png)"; } \
    > $root/README.section.md
  python -m asc.readme_section "$readme" prune_schedules $root/README.section.md
fi
echo "$(date '+%F %T') [ablation_prune_schedule] table -> $out, plot -> $root/prune_schedules.png"
