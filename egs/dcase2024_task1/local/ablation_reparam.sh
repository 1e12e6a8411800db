#!/usr/bin/env bash
# Evidence for the paper's claim 1, re-parameterization: at the same deployed complexity, does a
# network trained as parallel branches (Rep-Mobile, fused for deployment) beat one trained as it is
# deployed? For every training split and seed, with and without KD:
#   rep_mobile[_kd]        Rep-Mobile, multi-branch training form, fused: 57,442 params, 29.54 M MACs
#   cp_mobile_small[_kd]   its single-branch twin, CP-Mobile at the same deployed layers (+12 GRN
#                          scalars: 57,454 params, the same 29.54 M MACs; conf/common/model_cp_mobile_small.yaml)
#   baseline[_kd]          the DCASE2024 baseline (61,148 params, 29.42 M MACs)
# and which branches matter, at --branch-split only, with KD: Rep-Mobile with one branch kind dropped at
# a time (rep_mobile_kd_no_<kinds>: kxk, 1x1, 1xk_kx1, identity) and with one branch per site
# (rep_mobile_kd_kxk_only, the exact twin), each conf/common/model_rep_mobile_<variant>.yaml, all of
# the same deployed form. On the test set: macro accuracy and the unseen devices (s4-s6), mean ±
# standard deviation over seeds (asc.bin.results), the differences and the count of splits won
# (asc.bin.compare); --readme fills that file's reparam_ablation section.
#
#   local/ablation_reparam.sh [--splits "5 10 25 50 100"] [--seeds "0 1 2"] [--jobs 2] [--readme ../../README.md]
#
# Needs stages 0-2. Every seed is one recipe run, ./run.sh --stage 4 --stop-stage 4 --seed S --expdir
# exp/ablation_reparam/seed<S> --students "baseline baseline_kd cp_mobile_small ..."; the recipe's own
# seed (--recipe-seed) is the recipe's run in --recipe-expdir (exp), whose finished systems are found
# (config hash checked), not trained again. The teachers are trained once, by the recipe run (stage 3;
# of the first seed if the recipe seed is not among --seeds): every seed's students distil from the same
# stored logits (exp/ablation_reparam/seed<S>/teach links to that run's teach/), so that the seeds vary
# the students alone. The branch variants are trained and every system scored through the stage layer
# (steps/) into exp/ablation_reparam/seed<S>/split<N>/. Finished work is skipped, so the same command
# resumes a killed run; --train false only re-renders the tables from the scores written so far.
# --jobs: splits at once in each recipe run, then (seed, split) chains at once, cores/jobs threads each
# (one job: OMP_NUM_THREADS of the environment).
set -euo pipefail

splits="5 10 25 50 100"
seeds="0 1 2"
branch_split=100      # the split of the branch study; empty: none
variants="no_kxk no_1x1 no_1xk_kx1 no_identity kxk_only"   # conf/common/model_rep_mobile_<variant>.yaml
jobs=2
profile=embedded
recipe_seed=0         # the seed of the recipe's run in --recipe-expdir; empty: never use it
recipe_expdir=exp
dumpdir=dump
train_opts=           # key=value overrides for every training run (as ./run.sh --train-opts)
readme=               # a Markdown file with <!-- reparam_ablation:begin --> ... <!-- reparam_ablation:end --> lines
train=true            # false: no training or scoring, only the tables of the scores written so far
help_message="Usage: $0 [--splits \"5 10 25 50 100\"] [--seeds \"0 1 2\"] [--branch-split 100]
                [--variants \"no_kxk no_1x1 no_1xk_kx1 no_identity kxk_only\"] [--jobs N]
                [--profile embedded|tau22] [--recipe-seed S] [--recipe-expdir exp] [--dumpdir dump]
                [--train-opts \"k=v ...\"] [--train false] [--readme FILE]"

. ./db.sh
. ./path.sh
. utils/parse_options.sh
. ./cmd.sh
. utils/job_pool.sh
. steps/layout.sh
. local/tables.sh

root=exp/ablation_reparam
threads=0                                       # one job: the threads of the environment
[ "$jobs" -gt 1 ] && threads=$(pool_threads $jobs)
labels=data/labels.txt
# The systems, in the order they are trained (the claim's pair first, each seed's labels-only ones before
# its distilled ones) and in the order of the tables' rows.
students="rep_mobile cp_mobile_small baseline rep_mobile_kd cp_mobile_small_kd baseline_kd"
rows="baseline cp_mobile_small rep_mobile baseline_kd cp_mobile_small_kd rep_mobile_kd"
branch_systems="rep_mobile_kd"; for v in $variants; do branch_systems="$branch_systems rep_mobile_kd_$v"; done
teacher_seed=${seeds%% *}                       # the run that trains the teachers: the recipe's if it is a seed
[[ -n "$recipe_seed" && " $seeds " == *" $recipe_seed "* ]] && teacher_seed=$recipe_seed

run_dir() { seed_expdir $root $1 "$recipe_seed" $recipe_expdir; }   # seed: the recipe run of that seed

share_teachers() {  # seed: its run's teach/ is a link to the teacher run's (made once)
  local run teachers
  run=$(run_dir $1) teachers=$(teach_dir $(run_dir $teacher_seed))
  [ "$run" = "$(run_dir $teacher_seed)" ] && return 0
  mkdir -p $run
  if [ -L $(teach_dir $run) ] || [ ! -e $(teach_dir $run) ]; then
    ln -sfn "$(realpath -m --relative-to=$run $teachers)" $(teach_dir $run)
  else
    echo "$0: $(teach_dir $run) is a folder of its own; the study shares $teachers (remove it)" >&2; return 1
  fi
}

score_chain() {  # seed split: every system's score of the seed's recipe run
  local seed=$1 split=$2 run system
  run=$(run_dir $seed)
  echo "$(date '+%F %T') seed $seed split $split: scores (the recipe run in $run)"
  for system in $students; do
    "${score[@]}" --split $split $(kd_dir $run $split)/$system $system data/test $labels \
      $root/seed$seed/split$split/score/$system
  done
  echo "$(date '+%F %T') seed $seed split $split done"
}

branch_chain() {  # seed split: the branch variants, trained with KD as rep_mobile_kd is, and their scores
  local seed=$1 split=$2 dir=$root/seed$1/split$2 variant
  echo "$(date '+%F %T') seed $seed split $split: branch variants $variants"
  for variant in $variants; do
    steps/train.sh --cmd "$train_cmd" --threads $threads --seed $seed --dir-folder "$DIRS_FOLDER" \
      --train-opts "model_config=../common/model_rep_mobile_$variant.yaml $train_opts" \
      conf/$profile/train_rep_mobile_kd.yaml data/train_split$split $(feats_h5 $dumpdir student train_split100) \
      $labels $dir/rep_mobile_kd_$variant --teacher-logits $(teach_dir $(run_dir $seed) $split)/logits.h5
    "${score[@]}" --split $split $dir/rep_mobile_kd_$variant rep_mobile_kd_$variant data/test $labels \
      $dir/score/rep_mobile_kd_$variant
  done
  echo "$(date '+%F %T') seed $seed split $split done"
}

echo "$(date '+%F %T') [ablation_reparam] splits: $splits; seeds: $seeds; branch study at split" \
     "${branch_split:-(none)}: $variants; teachers of seed $teacher_seed's run; $jobs jobs at once," \
     "$threads thread(s) each; logs: $root/seed<S>/split<N>/{chain,branches}.log"
score=(steps/score.sh --cmd "$decode_cmd" --threads $threads --feats $(feats_h5 $dumpdir student test))
if $train; then
  # Seed by seed, its recipe run then its scores, so that the tables of a study still running hold every
  # system of the seeds done so far; the branch variants after every seed's comparison.
  for seed in $teacher_seed $(echo $seeds | tr ' ' '\n' | grep -vx "$teacher_seed" || true); do
    first=4; [ $seed = $teacher_seed ] && first=3
    share_teachers $seed
    ./run.sh --stage $first --stop-stage 4 --profile $profile --splits "$splits" --jobs $jobs --seed $seed \
      --expdir $(run_dir $seed) --dumpdir $dumpdir --students "$students" --train-opts "$train_opts"
    pool_start $jobs
    for split in $(largest_first $splits); do
      pool_run $root/seed$seed/split$split/chain.log score_chain $seed $split
    done
    pool_finish || { echo "$0: some chains failed (their logs are named above)" >&2; exit 1; }
  done
  if [[ -n "$branch_split" && -n "$variants" && " $splits " == *" $branch_split "* ]]; then
    pool_start $jobs
    for seed in $seeds; do
      pool_run $root/seed$seed/split$branch_split/branches.log branch_chain $seed $branch_split
    done
    pool_finish || { echo "$0: some chains failed (their logs are named above)" >&2; exit 1; }
  fi
fi

finished() {  # name: "seed/split ..." of the chains whose log <name>.log ends with 'done'
  local log s
  for log in $root/seed*/split*/$1.log; do
    [ -f $log ] && tail -n 1 $log | grep -q ' done$' || continue
    s=${log#$root/seed}; s=${s%/$1.log}; echo "${s%%/*}/${s#*/split}"
  done | sort -t/ -k2,2rn -k1,1n | tr '\n' ' ' | sed 's/ $//'
}

table() {  # out splits systems: macro accuracy and unseen devices of those systems alone; 1 if none scored yet
  local out=$1 splits=$2 systems=$3
  if ! python -m asc.bin.results --exp $root --out $out.macro_accuracy.md --systems "$systems" --only \
       --compact --splits "$splits" --no-notes >&2; then
    echo "No scores of \`${systems// /\`, \`}\` yet."; echo
    return 1
  fi
  cat $out.macro_accuracy.md; echo
  # the notes (systems, test set, provenance) once, at the end
  python -m asc.bin.results --exp $root --out $out.unseen_devices.md --metric unseen_devices --systems "$systems" \
    --only --compact --splits "$splits" >&2
  cat $out.unseen_devices.md; echo
}

out=$root/README.md
mkdir -p $root
{
  echo "Rep-Mobile (multi-branch training, fused) against its single-branch twin of the same deployed form"
  echo "(\`cp_mobile_small\`) and the DCASE2024 baseline, without and with KD (\`_kd\`: distilled from the"
  echo "recipe's teacher-ensemble logits, the same for every seed), mean ± standard deviation over seeds"
  echo "$(echo $seeds | tr ' ' ','), profile \`$profile\` (\`local/ablation_reparam.sh --splits \"$splits\" --seeds \"$seeds\"\`)."
  done_scores=$(finished chain) done_branches=$(finished branches)
  echo "Finished (seed/split): the comparison ${done_scores:-none}; the branch variants ${done_branches:-none}."
  echo
  if table $root/models "$table_splits" "$rows"; then
    python -m asc.bin.compare --partial --exp $root --out $root/compare_models.md --splits "$table_splits" \
      rep_mobile:cp_mobile_small rep_mobile:baseline rep_mobile_kd:cp_mobile_small_kd rep_mobile_kd:baseline_kd >&2
    cat $root/compare_models.md
    echo
  fi
  if [ -n "$branch_split" ] && [ -n "$variants" ]; then
    echo "**Which branches matter** (split $branch_split, with KD): Rep-Mobile with every branch"
    echo "(\`rep_mobile_kd\`), with one branch kind dropped at every site that has it (\`_no_<kind>\`), and with one"
    echo "branch per site (\`_kxk_only\`); every variant fuses into the same deployed network (57,442 params,"
    echo "29.54 M MACs). CP-Mobile-small with KD is that network plus GRN, trained without branches."
    echo
    if table $root/branches "$branch_split" "$branch_systems cp_mobile_small_kd"; then
      pairs=; for v in $variants; do pairs="$pairs rep_mobile_kd:rep_mobile_kd_$v"; done
      python -m asc.bin.compare --partial --exp $root --out $root/compare_branches.md --splits "$branch_split" \
        $pairs >&2
      cat $root/compare_branches.md
      echo
    fi
  fi
  echo "Differences built by \`python -m asc.bin.compare\` from the same scores.json files."
} > $out.tmp
mv $out.tmp $out
cat $out
[ -z "$readme" ] || python -m asc.readme_section "$readme" reparam_ablation $out
echo "$(date '+%F %T') [ablation_reparam] tables -> $out"
