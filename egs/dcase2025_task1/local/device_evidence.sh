#!/usr/bin/env bash
# Do device-specific models pay? The recipe (stages 0-6) for several seeds, then the table of the general
# model against the device-specific system per test device and seen/unseen, mean ± standard deviation
# over the seeds, with the per-seed differences (asc.bin.device_results), written to
# exp/device_evidence/RESULTS.md and, with --readme, into that file's dcase2025_devices section.
#
#   local/device_evidence.sh [--seeds "0 1 2"] [--readme README.md] [--train-opts "k=v ..."]
#
# Each seed is ./run.sh --stop-stage 6 --seed S --expdir exp/device_evidence/seed<S> (teachers, general
# model and device models all trained with that seed); for the recipe's seed (--recipe-seed) the recipe's
# own exp/ is used. Finished work is skipped, so the same command resumes after a kill. The table is
# rewritten after each seed with the seeds finished so far.
set -euo pipefail

seeds="0 1 2"
recipe_seed=0         # the seed of the recipe's run in --recipe-expdir; empty: never use it
recipe_expdir=exp
split=25
profile=embedded
train_opts=           # key=value overrides for every training run (as ./run.sh --train-opts)
device_opts=          # and for the device fine-tuning alone
prune_opts=
readme=               # a Markdown file with <!-- dcase2025_devices:begin --> ... :end --> lines
help_message="Usage: $0 [--seeds \"0 1 2\"] [--recipe-seed S] [--recipe-expdir exp] [--split 25] [--profile embedded|tau22]
                [--train-opts \"k=v ...\"] [--device-opts \"k=v ...\"] [--prune-opts \"k=v ...\"] [--readme FILE]"

. ./db.sh
. ./path.sh
. utils/parse_options.sh
. steps/layout.sh

root=exp/device_evidence
runs=
for seed in $seeds; do
  dir=$(seed_expdir $root $seed "$recipe_seed" $recipe_expdir)
  echo "$(date '+%F %T') [device_evidence] seed $seed -> $dir"
  ./run.sh --stop-stage 6 --profile $profile --split $split --seed $seed --expdir $dir \
    --train-opts "$train_opts" --device-opts "$device_opts" --prune-opts "$prune_opts"
  runs="$runs $dir"
  # the table of the seeds finished so far, after each (a long study stopped early still reports them)
  python -m asc.bin.device_results --runs $runs --split $split --out $root/RESULTS.md
  [ -z "$readme" ] || python -m asc.readme_section "$readme" dcase2025_devices $root/RESULTS.md
done
cat $root/RESULTS.md
echo "$(date '+%F %T') [device_evidence] -> $root/RESULTS.md${readme:+ and $readme}"
