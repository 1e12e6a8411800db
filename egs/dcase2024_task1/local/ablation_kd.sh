#!/usr/bin/env bash
# Evidence for knowledge distillation and for the choice of teachers (the paper compares the data
# efficiency of teacher architectures): for every training split and seed,
#   teachers  each teacher of $teachers (EfficientAT mn04 fine-tuned, CP-ResNet) and their ensemble (the mean of their logits)
#   students  Rep-Mobile on the labels alone (rep_mobile), and distilled from each teacher family
#             (rep_mobile_kd_<family>: from one teacher's logits, or the ensemble's)
# all trained and scored with the recipe's own commands and configs. On the test set: macro accuracy,
# and accuracy on the unseen devices (s4-s6), mean ± standard deviation over the seeds, as markdown
# tables built by asc.bin.results from the scores.json files; --readme fills that file's kd_ablation
# section with them.
#
#   local/ablation_kd.sh [--splits "5 10 25 50 100"] [--seeds "0 1 2"] [--jobs 2] [--readme ../../README.md]
#
# Needs stages 0-2. Every seed is one recipe run, ./run.sh --stage 3 --stop-stage 4 --seed S --expdir
# exp/ablation_kd/seed<S> (its teachers, their ensemble's logits, rep_mobile and rep_mobile_kd =
# rep_mobile_kd_ensemble); for the recipe's own seed (--recipe-seed) the recipe's run in --recipe-expdir
# (exp) is that run, found finished (the config hash is checked) instead of trained again. The rest of
# the comparison goes to exp/ablation_kd/seed<S>/split<N>/ through the stage layer (steps/): each
# family's logits and student, the ensemble's test logits, and every score (score/<system>/).
# Finished runs are skipped, so the same command resumes a killed run, and re-renders the tables of a
# finished one; --train false only re-renders them from the scores written so far (cells short of runs
# say so). --jobs: splits at once in each recipe run, then (seed, split) chains at once, with cores/jobs
# threads each.
set -euo pipefail

splits="5 10 25 50 100"
seeds="0 1 2"
jobs=2
profile=embedded
recipe_seed=0         # the seed of the recipe's run in --recipe-expdir; empty: never use it
recipe_expdir=exp
dumpdir=dump
teachers=             # as ./run.sh --teachers (the recipe seed reuses its run); empty: conf/<profile>/teachers
train_opts=           # key=value overrides for every training run (as ./run.sh --train-opts)
readme=               # a Markdown file with <!-- kd_ablation:begin --> ... <!-- kd_ablation:end --> lines
train=true            # false: no training or scoring, only the tables of the scores written so far
help_message="Usage: $0 [--splits \"5 10 25 50 100\"] [--seeds \"0 1 2\"] [--jobs N] [--profile embedded|tau22]
                [--recipe-seed S] [--recipe-expdir exp] [--dumpdir dump]
                [--teachers \"mn04:teacher cp_resnet:student\"] [--train-opts \"k=v ...\"]
                [--train false] [--readme FILE]"

. ./db.sh
. ./path.sh
. utils/parse_options.sh
. ./cmd.sh
. utils/job_pool.sh
. steps/layout.sh
. local/tables.sh

[ -n "$teachers" ] || teachers=$(cat conf/$profile/teachers)
root=exp/ablation_kd
threads=$(pool_threads $jobs)
labels=data/labels.txt
names=; for t in $teachers; do names="$names ${t%%:*}"; done
families=$names; [ $(echo $names | wc -w) -gt 1 ] && families="$families ensemble"

run_dir() { seed_expdir $root $1 "$recipe_seed" $recipe_expdir; }   # seed: the recipe run of that seed

chain() {  # seed split: each family's logits and student, and every score, of one seed and split
  local seed=$1 split=$2 run dir teach t name feats family member student logits
  run=$(run_dir $seed) dir=$root/seed$1/split$2
  teach=$(teach_dir $run $split)
  local score=(steps/score.sh --cmd "$decode_cmd" --threads $threads --split $split)
  local logits_step=(steps/teacher_logits.sh --cmd "$decode_cmd" --threads $threads)
  echo "$(date '+%F %T') seed $seed split $split (the recipe run in $run)"
  for t in $teachers; do
    name=${t%%:*} feats=${t#*:}
    "${score[@]}" --feats $(feats_h5 $dumpdir $feats test) $teach/$name $name data/test $labels $dir/score/$name
  done
  for family in $families; do
    logits=$teach/logits.h5 student=$(kd_dir $run $split)/rep_mobile_kd        # the run's ensemble and its student
    if [ $family != ensemble ]; then
      logits=$dir/logits_$family.h5 student=$dir/rep_mobile_kd_$family
      "${logits_step[@]}" data/train_split$split $labels $logits $teach/$family
      steps/train.sh --cmd "$train_cmd" --threads $threads --seed $seed --dir-folder "$DIRS_FOLDER" \
        --train-opts "$train_opts" conf/$profile/train_rep_mobile_kd.yaml data/train_split$split \
        $(feats_h5 $dumpdir student train_split100) $labels $student --teacher-logits $logits
    else
      "${logits_step[@]}" --feats-set test data/test $labels $dir/test_logits_ensemble.h5 \
        $(for t in $teachers; do echo $teach/${t%%:*}; done)
      "${score[@]}" $dir/test_logits_ensemble.h5 ensemble data/test $labels $dir/score/ensemble
    fi
    "${score[@]}" --feats $(feats_h5 $dumpdir student test) $student rep_mobile_kd_$family data/test $labels \
      $dir/score/rep_mobile_kd_$family
  done
  "${score[@]}" --feats $(feats_h5 $dumpdir student test) $(kd_dir $run $split)/rep_mobile rep_mobile data/test \
    $labels $dir/score/rep_mobile
  echo "$(date '+%F %T') seed $seed split $split done"
}

recipe_teachers_match() {  # split: false (with the reason) if the recipe run's ensemble has other members
  local marker members=
  marker=$(teach_dir $recipe_expdir $1)/logits.done
  [ -f $marker ] || return 0
  for t in $teachers; do members="$members $(teach_dir $recipe_expdir $1)/${t%%:*}"; done
  python - $marker $members <<'PY'
import json, sys
found = json.load(open(sys.argv[1])).get("members", [])
if found != sys.argv[2:]:
    sys.exit(f"{sys.argv[1]}: the recipe run's teacher ensemble is {' '.join(found)}, not {' '.join(sys.argv[2:])}; "
             f"give --teachers as ./run.sh's teachers (or --recipe-seed '' to train every seed apart)")
PY
}

echo "$(date '+%F %T') [ablation_kd] splits: $splits; seeds: $seeds; teachers:$names; $jobs jobs at once," \
     "$threads thread(s) each; logs: $root/seed<S>/split<N>/chain.log"
if $train; then
  if [ -n "$recipe_expdir" ] && [[ " $seeds " == *" $recipe_seed "* ]]; then   # before anything rewrites it
    for split in $splits; do recipe_teachers_match $split || exit 1; done
  fi
  for seed in $seeds; do
    ./run.sh --stage 3 --stop-stage 4 --profile $profile --splits "$splits" --jobs $jobs --seed $seed \
      --expdir $(run_dir $seed) --dumpdir $dumpdir --teachers "$teachers" --students "rep_mobile rep_mobile_kd" \
      --train-opts "$train_opts"
  done
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
      --splits "$table_splits" $notes >&2
    cat $root/$metric.md
    echo
  done
  # The claims the tables support: each teacher family, and the student distilled from it, against the
  # student trained on the labels alone.
  pairs=; for family in $families; do pairs="$pairs $family:rep_mobile rep_mobile_kd_$family:rep_mobile"; done
  python -m asc.bin.compare --exp $root --out $root/compare.md --splits "$table_splits" $pairs >&2
  cat $root/compare.md
  echo
  echo "Differences built by \`python -m asc.bin.compare\` from the same scores.json files."
} > $out.tmp
mv $out.tmp $out
cat $out
[ -z "$readme" ] || python -m asc.readme_section "$readme" kd_ablation $out
echo "$(date '+%F %T') [ablation_kd] tables -> $out"
