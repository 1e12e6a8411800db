#!/usr/bin/env bash
# Evidence for knowledge distillation and for the choice of teachers (the paper compares the data
# efficiency of teacher architectures): for every training split and seed,
#   teachers  each teacher of $teachers (CP-ResNet, PaSST) and their ensemble (the mean of their logits)
#   students  Rep-Mobile on the labels alone (rep_mobile), and distilled from each teacher family
#             (rep_mobile_kd_<family>: from one teacher's logits, or the ensemble's)
# all trained and scored with the recipe's own commands and configs. On the test set: macro accuracy,
# and accuracy on the unseen devices (s4-s6), mean ± standard deviation over the seeds, as markdown
# tables built by asc.bin.results from the scores.json files; --readme fills that file's kd_ablation
# section with them.
#
#   local/ablation_kd.sh [--splits "5 10 25 50 100"] [--seeds "0 1 2"] [--jobs 2] [--readme ../../README.md]
#
# Needs stages 0-2. Runs and scores go to exp/ablation_kd/seed<S>/split<N>/. For the recipe's own seed
# (--recipe-seed, that of ./run.sh), the recipe's runs are used where they exist (stage 3's teachers and
# ensemble logits, stage 4's rep_mobile and rep_mobile_kd = rep_mobile_kd_ensemble): the same command
# finds them finished (the config hash is checked) instead of training them again. Finished runs are
# skipped, so the same command resumes a killed run, and re-renders the tables of a finished one;
# --train false only re-renders them from the scores written so far (cells short of runs say so).
# --jobs chains (one seed and split each, largest splits first) run at once, with cores/jobs threads each.
set -euo pipefail

splits="5 10 25 50 100"
seeds="0 1 2"
jobs=2
profile=embedded
recipe_seed=0         # the recipe's runs (exp/teach, exp/kd) are this seed's; empty: never use them
teachers="cp_resnet:student passt:teacher"
train_opts=           # key=value overrides for every training run (as ./run.sh --train-opts)
readme=               # a Markdown file with <!-- kd_ablation:begin --> ... <!-- kd_ablation:end --> lines
train=true            # false: no training or scoring, only the tables of the scores written so far
help_message="Usage: $0 [--splits \"5 10 25 50 100\"] [--seeds \"0 1 2\"] [--jobs N] [--profile embedded|tau22]
                [--recipe-seed S] [--teachers \"cp_resnet:student passt:teacher\"] [--train-opts \"k=v ...\"]
                [--train false] [--readme FILE]"

. ./db.sh
. ./path.sh
. utils/parse_options.sh
. ./cmd.sh
. utils/job_pool.sh

conf=conf/$profile
root=exp/ablation_kd
. local/train_score.sh  # train, score; dir_opt, threads
names=; for t in $teachers; do names="$names ${t%%:*}"; done
families=$names; [ $(echo $names | wc -w) -gt 1 ] && families="$families ensemble"

logits() {  # out data-set feats-set members...: the members' logits (and their mean) for one set's clips
  local out=$1 set=$2 feats_set=$3; shift 3
  $decode_cmd --num-threads $threads ${out%.h5}.log \
    python -m asc.bin.teacher_logits --data data/$set --labels data/labels.txt --out $out $feats_set "$@"
}

chain() {  # seed split: every teacher, family and student of one seed and split, trained and scored
  seed=$1 split=$2 dir=$root/seed$1/split$2
  local recipe=false name feats exp init members= family fmembers m train_logits
  [ "$seed" = "$recipe_seed" ] && recipe=true
  echo "$(date '+%F %T') seed $seed split $split (recipe runs used: $recipe)"
  for t in $teachers; do
    name=${t%%:*} feats=${t#*:} exp=$dir/$name init=
    $recipe && exp=exp/teach/split$split/$name
    [ "$name" = passt ] && [ -n "$PASST_CHECKPOINT" ] && init="--init-checkpoint $PASST_CHECKPOINT"
    train $exp train_$name.yaml --feats dump/$feats/train_split100/feats.h5 $init
    score $exp $name dump/$feats/test/feats.h5
    members="$members $exp"
  done
  for family in $families; do
    fmembers=$members
    if [ $family != ensemble ]; then
      fmembers=
      for m in $members; do if [ "${m##*/}" = $family ]; then fmembers=$m; fi; done
    fi
    train_logits=$dir/logits_$family.h5
    [ $family = ensemble ] && $recipe && train_logits=exp/teach/split$split/logits.h5
    logits $train_logits train_split$split "" $fmembers
    [ $family = ensemble ] && { logits $dir/test_logits_ensemble.h5 test "--feats-set test" $fmembers
                                 score $dir/test_logits_ensemble.h5 ensemble ""; }
    exp=$dir/rep_mobile_kd_$family
    [ $family = ensemble ] && $recipe && exp=exp/kd/split$split/rep_mobile_kd
    train $exp train_rep_mobile_kd.yaml --feats dump/student/train_split100/feats.h5 --teacher-logits $train_logits
    score $exp rep_mobile_kd_$family dump/student/test/feats.h5
  done
  exp=$dir/rep_mobile
  $recipe && exp=exp/kd/split$split/rep_mobile
  train $exp train_rep_mobile.yaml --feats dump/student/train_split100/feats.h5
  score $exp rep_mobile dump/student/test/feats.h5
  echo "$(date '+%F %T') seed $seed split $split done"
}

echo "$(date '+%F %T') [ablation_kd] splits: $splits; seeds: $seeds; teachers:$names; $jobs chains at once," \
     "$threads thread(s) each; logs: $root/seed<S>/split<N>/chain.log"
if $train; then
  pool_start $jobs
  for split in $(largest_first $splits); do
    for seed in $seeds; do
      pool_run $root/seed$seed/split$split/chain.log chain $seed $split
    done
  done
  pool_finish || { echo "$0: some chains failed (their logs are named above)" >&2; exit 1; }
fi

# The tables: the systems in the order of the comparison, the macro accuracy and the unseen devices.
systems="$families rep_mobile"
for family in $families; do systems="$systems rep_mobile_kd_$family"; done
out=$root/README.md
{
  echo "Teachers and students on the test set, mean ± standard deviation over seeds $(echo $seeds | tr ' ' ','):"
  echo "teachers \`$(echo $families | sed 's/ /`, `/g')\`; \`rep_mobile\` is Rep-Mobile trained on the labels alone,"
  echo "\`rep_mobile_kd_<teacher>\` the same distilled from that teacher's logits (profile \`$profile\`;"
  echo "\`local/ablation_kd.sh --splits \"$splits\" --seeds \"$seeds\"\`). Teachers have no params/MACs limit."
  finished=$(for log in $root/seed*/split*/chain.log; do
               if tail -n 1 $log | grep -q ' done$'; then s=${log#$root/seed}; echo "${s%%/*}/${s#*/split}"; fi
             done | sed 's|/chain.log||' | sort -t/ -k2,2rn -k1,1n | tr '\n' ' ')
  finished=${finished% }
  echo "Finished chains (seed/split): ${finished:-none}."
  echo
  for metric in macro_accuracy unseen_devices; do
    notes=--no-notes
    [ $metric = unseen_devices ] && notes=      # the notes (test set, provenance) once, at the end
    python -m asc.bin.results --exp $root --out $root/$metric.md --metric $metric --systems "$systems" --compact \
      $notes >&2
    cat $root/$metric.md
    echo
  done
  # The claims the tables support: each teacher family, and the student distilled from it, against the
  # student trained on the labels alone.
  pairs=; for family in $families; do pairs="$pairs $family:rep_mobile rep_mobile_kd_$family:rep_mobile"; done
  python -m asc.bin.compare --exp $root --out $root/compare.md $pairs >&2
  cat $root/compare.md
  echo
  echo "Differences built by \`python -m asc.bin.compare\` from the same scores.json files."
} > $out.tmp
mv $out.tmp $out
cat $out
[ -z "$readme" ] || python -m asc.readme_section "$readme" kd_ablation $out
echo "$(date '+%F %T') [ablation_kd] tables -> $out"
