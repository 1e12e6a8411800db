#!/usr/bin/env bash
# DCASE2025 Task 1 recipe: low-complexity acoustic scene classification with device information.
# Trained on the 25 % split only: a general model (the DCASE2024 recipe's Rep-Mobile, distilled from
# its teachers and progressively pruned), then one model per device seen in training, fine-tuned from
# it; inference picks the model by device ID and falls back to the general one for any other device.
#
#   ./run.sh                                   # every stage on the embedded default corpus
#   ./run.sh --stage 5 --stop-stage 7          # a range of stages
#   ./run.sh --corpus /data/TAU-urban-acoustic-scenes-2022-mobile-development --profile tau22 --ngpu 1
#
# Stages 0-4 are those of ../dcase2024_task1 (BASE_RECIPE in db.sh), run there for this split with
# --expdir pointing here: its corpus, data/ and dump/ serve both recipes.
set -euo pipefail

stage=0
stop_stage=7
corpus=               # TAU22-format corpus folder; empty: the base recipe's default (embedded or TAU22)
split_dir=            # folder of split5.csv ... split100.csv, test.csv; empty: the corpus folder
profile=embedded      # conf/<profile>/ here and in the base recipe: embedded (CPU) or tau22 (GPU)
split=25              # DCASE2025 trains on the 25 % subset
devices=              # devices that get their own model; empty: every device of data/train_split<split>
nj=4                  # parallel jobs for feature extraction (stage 2)
cmd_backend=          # local, slurm or sge; empty: cmd.sh's default (local)
seed=0
teachers=             # stage 3 (base recipe): "<name>:<features> ..."; empty: its conf/<profile>/teachers
ngpu=0                # GPUs per training job: 0 CPU, 1 one GPU, N > 1 torchrun (DDP)
train_opts=           # key=value overrides for every training run, e.g. "epochs=1 batch_size=16"
device_opts=          # key=value overrides for the device fine-tuning only (after train_opts)
corpus_opts=          # extra make_corpus options (stage 0)
prune_opts=           # key=value overrides for pruning (stage 4)
eval_set=             # TAU-format evaluation folder for output.csv; empty: <corpus>_eval
expdir=exp            # stages 3-7 write here (a study over seeds: --expdir exp/<study>/seed<S>)
package_name=Asc_Recipe_task1   # the inference package: <name>/<name>_1.py (DCASE's <label>_task1)
help_message="Usage: $0 [--stage N] [--stop-stage M] [--corpus PATH] [--split-dir DIR] [--profile embedded|tau22]
                [--split 25] [--devices \"a b c s1 s2 s3\"] [--nj N] [--cmd-backend local|slurm|sge] [--seed S]
                [--teachers \"mn04:teacher cp_resnet:student\"] [--ngpu N] [--train-opts \"k=v ...\"]
                [--device-opts \"k=v ...\"] [--corpus-opts \"--set k=v ...\"] [--prune-opts \"k=v ...\"]
                [--eval-set DIR] [--expdir exp] [--package-name NAME]
Stages: 0 corpus, 1 data dirs, 2 features, 3 teachers (those of ../dcase2024_task1 for the split),
        4 general model (wide KD student, progressive pruning, deploy), 5 device-specific models,
        6 scores (general against device-specific, per device) and <expdir>/RESULTS.md,
        7 inference package (DCASE2025 API), its complexity.json, test accuracy and output.csv"

. ./db.sh
. ./path.sh
_cmdline="$0 $*"
. utils/parse_options.sh
python -m asc.lock acquire . --pid $$ --what "$_cmdline" || exit 1
trap 'python -m asc.lock release . --pid $$' EXIT
. ./cmd.sh
. steps/layout.sh
. steps/stages.sh       # log, run_stage

[ -d conf/$profile ] || { echo "$0: no config folder conf/$profile for --profile $profile" >&2; exit 1; }
abs() { case $1 in /*|'') echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
corpus=$(abs "$corpus") split_dir=$(abs "$split_dir") expdir=$(abs "$expdir") eval_set=$(abs "$eval_set")

# What the base recipe's stages write and this one reads.
base=$BASE_RECIPE data=$BASE_RECIPE/data labels=$BASE_RECIPE/data/labels.txt
student_feats=$(feats_h5 $BASE_RECIPE/dump student train_split100) test_feats=$(feats_h5 $BASE_RECIPE/dump student test)
general=$(deploy_dir $expdir $split)
[ -n "$corpus" ] || { [ "$profile" = tau22 ] && corpus=$TAU22 || corpus=$EMBEDDED; }
eval_set=${eval_set:-${corpus%/}_eval}

if [ "$stage" -le 4 ]; then
  # The base recipe's stages 0-3 and its stage 5 (the pruned, deployed Rep-Mobile) for this split; its
  # stage 4 trains nothing here (no --students). Its outputs go to this recipe's --expdir.
  last=$stop_stage; [ "$last" -ge 4 ] && last=5
  log $stage "stages $stage-$stop_stage: ../$(basename $base)/run.sh --stage $stage --stop-stage $last --splits $split"
  (cd $base && ./run.sh --stage $stage --stop-stage $last --splits $split --students "" --seed $seed \
     --expdir $expdir --nj $nj --profile $profile --ngpu $ngpu --train-opts "$train_opts" \
     --prune-opts "$prune_opts" --corpus-opts "$corpus_opts" ${cmd_backend:+--cmd-backend $cmd_backend} \
     ${teachers:+--teachers "$teachers"} ${split_dir:+--split-dir "$split_dir"} \
     $([ "$corpus" = "$EMBEDDED" ] || echo --corpus "$corpus"))
fi

[ -n "$devices" ] || [ ! -f $data/train_split$split/utt2device ] || \
  devices=$(cut -d' ' -f2 $data/train_split$split/utt2device | sort -u | tr '\n' ' ')
device_models=
for device in $devices; do device_models="$device_models $device=$(device_dir $expdir $split)/$device/deploy/model.pt"; done

if run_stage 5; then
  # One model per device seen in training: the last pruning step of stage 4 (the training form, before
  # fusion: BatchNorms and branches train better than the fused network, and fusing afterwards gives the
  # general model's architecture) fine-tuned on that device's clips, then deployed like the general model.
  pruned=$(python -c 'import sys; from asc.prune.steps import final_model; print(final_model(sys.argv[1]))' \
           $(prune_dir $expdir $split))
  [ -d "$DIRS_FOLDER" ] || log 5 "no impulse responses at $DIRS_FOLDER: device IR augmentation off"
  for device in $devices; do
    dir=$(device_dir $expdir $split)/$device
    log 5 "device $device: $pruned fine-tuned on its clips of $data/train_split$split -> $dir/train"
    steps/train.sh --cmd "$train_cmd" --seed $seed --ngpu $ngpu --dir-folder "$DIRS_FOLDER" \
      --train-opts "$train_opts devices=[$device] $device_opts" --init $pruned conf/$profile/train_device.yaml \
      $data/train_split$split $student_feats $labels $dir/train --teacher-logits $(teach_dir $expdir $split)/logits.h5
    # float16 against float32 on the device's own test clips (embedded: 160, TAU22: ~3,300): one flipped clip
    # is 0.6 points on 160, so the check allows two clips' worth where the general model's allows 0.5
    log 5 "device $device: deployable model -> $dir/deploy (limits checked)"
    $train_cmd $dir/log/deploy.log python -m asc.bin.deploy --checkpoint $dir/train --feats $student_feats \
      --labels $labels --out-dir $dir/deploy --test-data $data/test --test-feats $test_feats --test-device $device \
      --max-accuracy-drop 1.3
  done
fi

if run_stage 6; then
  # The general model on every test clip, and the device-specific system: each clip scored by the model of
  # its device, by the general model for a device without one (unseen in training); then the tables.
  [ -f $general/deploy.done ] || { echo "$0: stage 6: $general is not finished (no deploy.done); run stage 4" >&2; exit 1; }
  out=$(device_score_dir $expdir $split)
  log 6 "general model $general/model.pt on $data/test -> $out/general"
  steps/score.sh --cmd "$decode_cmd" --split $split --feats $test_feats $general/model.pt general $data/test \
    $labels $out/general
  log 6 "device-specific system ($devices-> own model, others -> general) on $data/test -> $out/device_specific"
  $decode_cmd $out/device_specific/log/score.log python -m asc.bin.score_devices --general $general/model.pt \
    --data $data/test --feats $test_feats --labels $labels --split $split --out $out/device_specific $device_models
  log 6 "tables -> $expdir/RESULTS.md"
  python -m asc.bin.device_results --runs $expdir --split $split --out $expdir/RESULTS.md
  cat $expdir/RESULTS.md
fi

if run_stage 7; then
  # The inference package (the DCASE2025 Task 1 inference repository's layout and API, TorchScript
  # files, no asc needed), then its own scripts: per-device complexity, test accuracy, output.csv.
  pkg=$(package_dir $expdir $split)
  log 7 "inference package $package_name -> $pkg"
  python -m asc.bin.export_package --general $general/model.pt --name $package_name --out $pkg \
    --test-csv "${split_dir:-$corpus}/test.csv" $device_models
  log 7 "package checks: complexity per device, test-split accuracy against stage 6, output.csv of $eval_set"
  (cd $pkg && python test_complexity.py --submission_name $package_name --submission_index 1 &&
     python evaluate_submission.py --submission_name $package_name --submission_index 1 \
       --dev_set_dir "$corpus" --eval_set_dir "$eval_set" \
       --expected_scores $(device_score_dir $expdir $split)/device_specific/scores.json)
  log 7 "$pkg/predictions/${package_name}_1/: output.csv, complexity.json, test_accuracy.json"
fi
