#!/usr/bin/env bash
# Evidence for progressive pruning: progressive (K steps × E epochs) against one-shot (1 step × K·E
# epochs) pruning of the same start model (stage 5's KD-trained wide Rep-Mobile) to the same target,
# for several seeds; then the table of params, MACs and accuracy after each step, as markdown
# (asc.bin.prune_report), and with --readme in that file's prune_ablation section.
#
#   local/ablation_prune.sh [--split 100] [--seeds "0 1 2"] [--jobs 2] [--readme ../../README.md]
#
# Needs stages 0-3 and the start model of stage 5 in the recipe run of --recipe-expdir (./run.sh --stage 5
# --stop-stage 5 --splits N, or at least its first job). Runs go through the stage layer (steps/prune.sh)
# to exp/ablation_prune/split<N>/{progressive,one_shot}/seed<S>; finished runs are skipped, so re-running
# resumes a killed run or only re-renders the table. --jobs runs at once, with cores/jobs threads each.
set -euo pipefail

split=100
seeds="0 1 2"
jobs=2
profile=embedded
recipe_expdir=exp     # the recipe run whose wide Rep-Mobile and teacher logits the runs start from
dumpdir=dump
prune_opts=           # key=value overrides for both schedules (as ./run.sh --prune-opts)
out=                  # default: exp/ablation_prune/split<N>/README.md
readme=               # a Markdown file with <!-- prune_ablation:begin --> ... <!-- prune_ablation:end --> lines
help_message="Usage: $0 [--split N] [--seeds \"0 1 2\"] [--jobs N] [--profile embedded|tau22] [--recipe-expdir exp]
                [--dumpdir dump] [--prune-opts \"k=v ...\"] [--out FILE] [--readme FILE]"

. ./db.sh
. ./path.sh
. utils/parse_options.sh
. ./cmd.sh
. utils/job_pool.sh
. steps/layout.sh

root=exp/ablation_prune/split$split
out=${out:-$root/README.md}
wide=$(kd_dir $recipe_expdir $split)/rep_mobile_wide_kd
[ -f $wide/train.done ] || {
  echo "$0: no finished start model $wide; run ./run.sh --stage 5 --stop-stage 5 --splits $split first" >&2; exit 1; }
prune=(steps/prune.sh --cmd "$train_cmd" --threads $(pool_threads $jobs) --dir-folder "$DIRS_FOLDER")
# Equal epochs, as local/ablation_prune_schedule.sh: a profile's fine-tuning min_steps would give the K short
# steps of a small split more epochs in all than the one long step, so it is turned off here.
equal=; grep -q '^ *min_steps:' conf/$profile/prune.yaml && equal="finetune.min_steps=0"

runs=
pool_start $jobs
for seed in $seeds; do
  for schedule in progressive one_shot; do
    exp=$root/$schedule/seed$seed one_shot=false
    [ $schedule = one_shot ] && one_shot=true
    echo "$(date '+%F %T') [ablation_prune] one_shot=$one_shot, seed $seed -> $exp"
    pool_run $exp/ablation.log "${prune[@]}" --seed $seed --prune-opts "one_shot=$one_shot $equal $prune_opts" \
      conf/$profile/prune.yaml $wide data/train_split$split $(feats_h5 $dumpdir student train_split100) \
      $(teach_dir $recipe_expdir $split)/logits.h5 data/labels.txt $exp
    runs="$runs $exp"
  done
done
pool_finish || { echo "$0: some runs failed (their logs are named above)" >&2; exit 1; }
python -m asc.bin.prune_report --test-data data/test --test-feats $(feats_h5 $dumpdir student test) \
  --labels data/labels.txt --out $out $runs
[ -z "$readme" ] || python -m asc.readme_section "$readme" prune_ablation $out
echo "$(date '+%F %T') [ablation_prune] table -> $out"
