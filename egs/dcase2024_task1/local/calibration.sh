#!/usr/bin/env bash
# Is the corpus calibrated? The DCASE2024 baseline trained without KD (conf/<profile>/train_baseline.yaml,
# the recipe's stage-4 run), over seeds and splits, scored on the test set and judged by
# asc.bin.calibration: on the largest split 40-85 % macro accuracy and the unseen devices at least 5
# points below the seen ones; the smallest split at least 5 points below the largest (means over seeds). Run it
# after changing the generator (conf/embedded/corpus.yaml) or adapting the recipe to another corpus.
#
#   local/calibration.sh [--splits "5 10 25 50 100"] [--seeds "0 1 2"] [--jobs 2] [--readme ../../README.md]
#
# Needs stages 0-2. Runs and scores go to exp/calibration/seed<S>/split<N>/; for the recipe's seed
# (--recipe-seed) the recipe's own baseline runs (exp/kd/split<N>/baseline) are used where they exist.
# Finished runs are skipped, so the same command resumes. Exit status 1 if a check fails (--strict true).
set -euo pipefail

splits="5 10 25 50 100"
seeds="0 1 2"
jobs=2
profile=embedded
recipe_seed=0         # the recipe's baseline runs (exp/kd) are this seed's; empty: never use them
train_opts=           # key=value overrides for every training run (as ./run.sh --train-opts)
strict=true           # false: report failed checks without failing
readme=               # a Markdown file with <!-- calibration:begin --> ... <!-- calibration:end --> lines
help_message="Usage: $0 [--splits \"5 10 25 50 100\"] [--seeds \"0 1 2\"] [--jobs N] [--profile embedded|tau22]
                [--recipe-seed S] [--train-opts \"k=v ...\"] [--strict true|false] [--readme FILE]"

. ./db.sh
. ./path.sh
. utils/parse_options.sh
. ./cmd.sh
. utils/job_pool.sh

conf=conf/$profile
root=exp/calibration
. local/train_score.sh  # train, score; dir_opt, threads

baseline() {  # seed split: the baseline of one seed and split, trained (or found) and scored
  seed=$1 split=$2 dir=$root/seed$1/split$2
  local exp=$dir/baseline
  [ "$seed" = "$recipe_seed" ] && exp=exp/kd/split$split/baseline
  train $exp train_baseline.yaml --feats dump/student/train_split100/feats.h5
  score $exp baseline dump/student/test/feats.h5
}

echo "$(date '+%F %T') [calibration] splits: $splits; seeds: $seeds; $jobs runs at once"
pool_start $jobs
for split in $(largest_first $splits); do
  for seed in $seeds; do pool_run $root/seed$seed/split$split/baseline.log baseline $seed $split; done
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
