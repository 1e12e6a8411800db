#!/usr/bin/env bash
# Any folder of labelled recordings, <folder>/<label>/<audio files>: recordings cut into fixed-length
# segments, the DCASE2024 Task 1 winner's pipeline on them (pretrained and from-scratch teachers,
# Rep-Mobile with knowledge distillation, progressive pruning, a deployable model), scored per segment
# and per recording, by k-fold cross-validation grouped by recording or on a separate test folder.
#
#   ./run.sh --folder /data/my_recordings                       # 4-fold cross-validation, every stage
#   ./run.sh --folder /data/train --test-folder /data/test      # one train/test division
#   ./run.sh --folder /data/my_recordings --folds 1 --stage 3   # fold 1 only, from the teachers on
set -euo pipefail

stage=1
stop_stage=6
folder=               # <folder>/<label>/<audio files>; empty: FOLDER of db.sh
test_folder=          # a test folder of the same layout; empty: TEST_FOLDER of db.sh, else k-fold over --folder
data_config=conf/data.yaml   # segments (length, hop), silence, short recordings, folds (asc.data.audio_folder)
data_opts=            # key=value overrides of the data config, e.g. "folds=5 silence.policy=drop"
profile=cpu           # conf/<profile>/: cpu (minutes on a CPU) or gpu (the published settings); both are links
                      # to the DCASE2024 recipe's conf/embedded and conf/tau22
folds=                # the folds trained and scored; empty: every fold of data/folds
nj=4                  # parallel jobs for feature extraction
jobs=1                # folds trained at once in stages 3-5
cmd_backend=          # local, slurm or sge; empty: the default of cmd.sh (local)
seed=0
teachers=             # stage 3: "<name>:<features> ..." (conf/<profile>/train_<name>.yaml); empty: conf/<profile>/teachers
students="baseline rep_mobile rep_mobile_kd"   # stage 4: conf/<profile>/train_<name>.yaml (*_kd: distilled)
ngpu=0                # GPUs per training job: 0 CPU, 1 one GPU, N > 1 torchrun (DDP) on N GPUs
train_opts=           # key=value overrides for every training run (stages 3-5), e.g. "epochs=1 batch_size=16"
prune_opts=           # key=value overrides for pruning, e.g. "steps=2 epochs_per_step=1" (stage 5)
expdir=exp            # stages 3-6 write here
dumpdir=dump          # stage 2 writes the features here, stages 3-6 read them
help_message="Usage: $0 --folder DIR [--test-folder DIR] [--stage N] [--stop-stage M] [--data-config FILE]
                [--data-opts \"k=v ...\"] [--profile cpu|gpu] [--folds \"1 2\"] [--nj N] [--jobs N]
                [--cmd-backend local|slurm|sge] [--seed S] [--teachers \"mn04:teacher cp_resnet:student\"]
                [--students \"baseline rep_mobile rep_mobile_kd\"] [--ngpu N] [--train-opts \"k=v ...\"]
                [--prune-opts \"k=v ...\"] [--expdir exp] [--dumpdir dump]
Stages: 1 data dirs (segments, folds), 2 features, 3 teachers, 4 distillation, 5 pruning+deploy,
        6 scoring per segment and per recording, <expdir>/RESULTS.md"

. ./db.sh
. ./path.sh
_cmdline="$0 $*"
. utils/parse_options.sh
python -m asc.lock acquire . --pid $$ --what "$_cmdline" || exit 1
trap 'python -m asc.lock release . --pid $$' EXIT
. ./cmd.sh
. utils/job_pool.sh
. steps/layout.sh       # where each stage's outputs go, from --expdir and --dumpdir

folder=${folder:-$FOLDER} test_folder=${test_folder:-$TEST_FOLDER}
conf=conf/$profile
[ -d "$conf" ] || { echo "$0: no config folder $conf for --profile $profile" >&2; exit 1; }
[ -n "$teachers" ] || teachers=$(cat $conf/teachers)
log() { echo "$(date '+%F %T') [run.sh stage $1] ${*:2}"; }
run_stage() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }

if run_stage 1; then
  [ -n "$folder" ] || { echo "$0: no folder of recordings: give --folder DIR (or FOLDER in db.sh)" >&2; exit 1; }
  log 1 "segments and folds of $folder${test_folder:+ (test: $test_folder)} -> data/"
  python -m asc.bin.prepare_folder --folder "$folder" ${test_folder:+--test-folder "$test_folder"} \
    --config $data_config --out data $data_opts
fi

if run_stage 2; then
  # Features of data/all only: every fold's training and test sets read it by utterance id.
  for feats in student teacher; do
    fconf=$conf/feats_$feats.yaml out=$(feats_dir $dumpdir $feats all)
    [ -f $fconf ] || fconf=conf/common/feats_$feats.yaml   # a profile's own file wins over the shared one
    if python -m asc.bin.extract_features --status --config $fconf --data data/all --out $out; then
      log 2 "$out/feats.h5 is complete; skipped"
      continue
    fi
    log 2 "$feats features of data/all -> $out/feats.h5 ($nj jobs, logs in $out/log)"
    $feat_cmd JOB=1:$nj $out/log/extract.JOB.log \
      python -m asc.bin.extract_features --config $fconf --data data/all --out $out --shard JOB --num-shards $nj
    python -m asc.bin.merge_features --out $out --num-shards $nj --data data/all --config $fconf
  done
fi

# Stages 3-5 train per fold (fold<k> in every exp folder), --jobs at once; every job is a step of
# steps/, exactly as in the DCASE2024 recipe, with data/train_fold<k> and data/test_fold<k>.
if [ -z "$folds" ] && [ "$stop_stage" -ge 3 ]; then
  [ -f data/folds ] || { echo "$0: no data/folds: run stage 1 first" >&2; exit 1; }
  folds=$(cat data/folds)
fi
labels=data/labels.txt
student_feats=$(feats_h5 $dumpdir student all)
threads=0
[ "$jobs" -gt 1 ] && [ "$cmd_backend" = local ] && threads=$(pool_threads $jobs)
train_job=$train_cmd prune_job=$train_cmd
[ "$ngpu" -ge 1 ] && train_job="$cuda_cmd --gpu $ngpu" prune_job="$cuda_cmd --gpu 1"
train_step=(steps/train.sh --cmd "$train_job" --threads $threads --ngpu $ngpu --seed $seed --train-opts "$train_opts")

per_fold() {  # stage function: run function fold<k> for every fold, --jobs at once
  local stage=$1 fn=$2 f
  if [ "$jobs" -le 1 ]; then
    for f in $folds; do $fn fold$f; done
    return
  fi
  log $stage "folds $folds, $jobs at once (logs: $expdir/log/stage$stage.fold<k>.log)"
  pool_start $jobs
  for f in $folds; do pool_run $expdir/log/stage$stage.fold$f.log $fn fold$f; done
  pool_finish || { echo "$0: stage $stage failed for a fold; its log is named above" >&2; exit 1; }
}

teachers_of_fold() {
  # Every teacher (the pretrained ones fine-tuned from PRETRAINED_DIR), then their ensemble's logits
  # for every training segment of the fold, computed once for stages 4 and 5.
  local fold=$1 dir members= teacher name feats
  dir=$(teach_dir $expdir $fold)
  for teacher in $teachers; do
    name=${teacher%%:*} feats=${teacher#*:}
    log 3 "teacher $name on data/train_$fold -> $dir/$name (log: $dir/$name/log/train.log)"
    "${train_step[@]}" $conf/train_$name.yaml data/train_$fold $(feats_h5 $dumpdir $feats all) $labels \
      $dir/$name --pretrained-dir $PRETRAINED_DIR
    members="$members $dir/$name"
  done
  log 3 "teacher ensemble logits ($members ) -> $dir/logits.h5"
  steps/teacher_logits.sh --cmd "$decode_cmd" --threads $threads data/train_$fold $labels $dir/logits.h5 $members
}

students_of_fold() {
  # The baseline and Rep-Mobile on the labels alone (the references) and Rep-Mobile distilled from the
  # stored teacher logits of stage 3.
  local fold=$1 dir system kd
  dir=$(kd_dir $expdir $fold)
  for system in $students; do
    kd=
    case $system in *_kd) kd="--teacher-logits $(teach_dir $expdir $fold)/logits.h5" ;; esac
    log 4 "$system on data/train_$fold -> $dir/$system (log: $dir/$system/log/train.log)"
    "${train_step[@]}" $conf/train_$system.yaml data/train_$fold $student_feats $labels $dir/$system $kd
  done
}

prune_fold() {
  # The wide Rep-Mobile distilled from the teachers, pruned step by step with KD fine-tuning to the
  # DCASE2024 limits (conf/<profile>/prune.yaml), then fused, stored in float16 and checked.
  local fold=$1 wide logits exp deploy
  wide=$(kd_dir $expdir $fold)/rep_mobile_wide_kd logits=$(teach_dir $expdir $fold)/logits.h5
  exp=$(prune_dir $expdir $fold) deploy=$(deploy_dir $expdir $fold)
  log 5 "rep_mobile_wide_kd on data/train_$fold -> $wide (log: $wide/log/train.log)"
  "${train_step[@]}" $conf/train_rep_mobile_wide_kd.yaml data/train_$fold $student_feats $labels $wide \
    --teacher-logits $logits
  log 5 "pruning $wide -> $exp, deployable model -> $deploy (log: $exp/log/prune.log)"
  steps/prune.sh --cmd "$prune_job" --threads $threads --seed $seed --prune-opts "$prune_opts" \
    --deploy-dir $deploy --test-data data/test_$fold --test-feats $student_feats \
    $conf/prune.yaml $wide data/train_$fold $student_feats $logits $labels $exp
}

if run_stage 3; then
  teacher_confs=
  for teacher in $teachers; do teacher_confs="$teacher_confs --for-config $conf/train_${teacher%%:*}.yaml"; done
  log 3 "pretrained files of the teachers -> $PRETRAINED_DIR"
  python -m asc.bin.download --out "$PRETRAINED_DIR" $teacher_confs
  per_fold 3 teachers_of_fold
fi

if run_stage 4; then
  per_fold 4 students_of_fold
fi

if run_stage 5; then
  per_fold 5 prune_fold
fi

if run_stage 6; then
  # Every system of stage 4 and the deployable model of stage 5 on its fold's test set: scores per
  # segment and per recording (segment probabilities aggregated per recording, asc.eval.recording_scores);
  # then the table over the folds.
  for f in $folds; do
    for system in $students; do
      dir=$(kd_dir $expdir fold$f)/$system
      log 6 "scoring $dir on data/test_fold$f -> $dir/score_test"
      steps/score.sh --cmd "$decode_cmd" --split $f --feats $student_feats $dir $system data/test_fold$f $labels \
        $dir/score_test
    done
    dir=$(deploy_dir $expdir fold$f)
    [ -f $dir/deploy.done ] || { echo "$0: stage 6: $dir is not finished (no deploy.done); run stage 5" >&2; exit 1; }
    log 6 "scoring $dir/model.pt on data/test_fold$f -> $dir/score_test"
    steps/score.sh --cmd "$decode_cmd" --split $f --feats $student_feats $dir/model.pt rep_mobile_pruned \
      data/test_fold$f $labels $dir/score_test
  done
  log 6 "fold table -> $expdir/RESULTS.md"
  python -m asc.bin.fold_results --exp $(kd_dir $expdir) $(deploy_dir $expdir) --out $expdir/RESULTS.md \
    --folds "$folds" --systems "$students rep_mobile_pruned"
  cat $expdir/RESULTS.md
fi
