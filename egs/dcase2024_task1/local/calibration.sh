#!/usr/bin/env bash
# Is the corpus calibrated? The DCASE2024 baseline trained without KD (conf/<profile>/train_baseline.yaml,
# the recipe's stage-4 run), over seeds and splits, scored on the test set and judged by
# asc.bin.calibration: on the largest split 40-85 % macro accuracy and the unseen devices at least 5
# points below the seen ones; the smallest split at least 5 points below the largest (means over seeds). Run it
# after changing the generator (conf/embedded/corpus.yaml) or adapting the recipe to another corpus.
#
#   local/calibration.sh [--splits "5 10 25 50 100"] [--seeds "0 1 2"] [--jobs 2] [--readme ../../README.md]
#
# Needs stages 0-2. Every seed is one recipe run of the baseline, ./run.sh --stage 4 --stop-stage 4
# --students baseline --seed S --expdir exp/calibration/seed<S>; for the recipe's seed (--recipe-seed)
# the recipe's own run in --recipe-expdir (exp) is used where it exists. Scores go to
# exp/calibration/seed<S>/split<N>/score/baseline/ (the stage layer, steps/score.sh). Finished runs are
# skipped, so the same command resumes. Exit status 1 if a check fails (--strict true).
set -euo pipefail

splits="5 10 25 50 100"
seeds="0 1 2"
jobs=2
profile=embedded
recipe_seed=0         # the seed of the recipe's run in --recipe-expdir; empty: never use it
recipe_expdir=exp
dumpdir=dump
train_opts=           # key=value overrides for every training run (as ./run.sh --train-opts)
strict=true           # false: report failed checks without failing
readme=               # a Markdown file with <!-- calibration:begin --> ... <!-- calibration:end --> lines
help_message="Usage: $0 [--splits \"5 10 25 50 100\"] [--seeds \"0 1 2\"] [--jobs N] [--profile embedded|tau22]
                [--recipe-seed S] [--recipe-expdir exp] [--dumpdir dump] [--train-opts \"k=v ...\"]
                [--strict true|false] [--readme FILE]"

. ./db.sh
. ./path.sh
. utils/parse_options.sh
. ./cmd.sh
. utils/job_pool.sh
. steps/layout.sh

root=exp/calibration

run_dir() { seed_expdir $root $1 "$recipe_seed" $recipe_expdir; }   # seed: the recipe run of that seed

echo "$(date '+%F %T') [calibration] splits: $splits; seeds: $seeds; $jobs runs at once"
for seed in $seeds; do
  ./run.sh --stage 4 --stop-stage 4 --profile $profile --splits "$splits" --jobs $jobs --seed $seed \
    --expdir $(run_dir $seed) --dumpdir $dumpdir --students baseline --train-opts "$train_opts"
done
score=(steps/score.sh --cmd "$decode_cmd" --threads $(pool_threads $jobs) --feats $(feats_h5 $dumpdir student test))
pool_start $jobs
for seed in $seeds; do
  for split in $splits; do
    pool_run $root/seed$seed/split$split/score.log "${score[@]}" --split $split $(kd_dir $(run_dir $seed) $split)/baseline \
      baseline data/test data/labels.txt $root/seed$seed/split$split/score/baseline
  done
done
pool_finish || { echo "$0: some runs failed (their logs are named above)" >&2; exit 1; }

python -m asc.bin.calibration --exp $root --out $root/README.md --system baseline
cat $root/README.md
[ -z "$readme" ] || python -m asc.readme_section "$readme" calibration $root/README.md
echo "$(date '+%F %T') [calibration] -> $root/README.md"
if grep -q FAIL $root/README.md; then
  echo "$0: the corpus is not calibrated (the checks above)" >&2
  $strict && exit 1
fi
exit 0
