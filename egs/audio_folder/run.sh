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
. steps/stages.sh       # log, run_stage, per_unit (a stage's chain for every fold)

folder=${folder:-$FOLDER} test_folder=${test_folder:-$TEST_FOLDER}
conf=conf/$profile
[ -d "$conf" ] || { echo "$0: no config folder $conf for --profile $profile" >&2; exit 1; }
[ -n "$teachers" ] || teachers=$(cat $conf/teachers)

if run_stage 1; then
  [ -n "$folder" ] || { echo "$0: no folder of recordings: give --folder DIR (or FOLDER in db.sh)" >&2; exit 1; }
  log 1 "segments and folds of $folder${test_folder:+ (test: $test_folder)} -> data/"
  python -m asc.bin.prepare_folder --folder "$folder" ${test_folder:+--test-folder "$test_folder"} \
    --config $data_config --out data $data_opts
fi

if run_stage 2; then
  # Features of data/all only: every fold's training and test sets read it by utterance id.
  for feats in student teacher; do
    steps/extract_features.sh --cmd "$feat_cmd" --nj $nj $conf $feats data/all $(feats_dir $dumpdir $feats all)
  done
fi

# Stages 3-5 train per fold (fold<k> in every exp folder), --jobs at once; every fold's chain is a script
# of steps/, exactly as in the DCASE2024 recipe, with data/train_fold<k> and data/test_fold<k>.
if [ -z "$folds" ] && [ "$stop_stage" -ge 3 ]; then
  [ -f data/folds ] || { echo "$0: no data/folds: run stage 1 first" >&2; exit 1; }
  folds=$(cat data/folds)
fi
fold_names=
for f in $folds; do fold_names="$fold_names fold$f"; done
labels=data/labels.txt
student_feats=$(feats_h5 $dumpdir student all)
threads=0
[ "$jobs" -gt 1 ] && [ "$cmd_backend" = local ] && threads=$(pool_threads $jobs)
train_job=$train_cmd prune_job=$train_cmd
[ "$ngpu" -ge 1 ] && train_job="$cuda_cmd --gpu $ngpu" prune_job="$cuda_cmd --gpu 1"
training=(--cmd "$train_job" --threads $threads --ngpu $ngpu --seed $seed --train-opts "$train_opts")

# stage function: run function fold<k> for every fold, --jobs at once (steps/stages.sh)
per_fold() { per_unit $1 $jobs $expdir/log $2 $fold_names; }

teachers_of_fold() {
  # Every teacher (the pretrained ones fine-tuned from PRETRAINED_DIR), then their ensemble's logits
  # for every training segment of the fold, computed once for stages 4 and 5.
  steps/teachers.sh "${training[@]}" --logits-cmd "$decode_cmd" --pretrained-dir "$PRETRAINED_DIR" $conf \
    data/train_$1 $dumpdir all $labels $(teach_dir $expdir $1) $teachers
}

students_of_fold() {
  # The baseline and Rep-Mobile on the labels alone (the references) and Rep-Mobile distilled from the
  # stored teacher logits of stage 3.
  steps/students.sh "${training[@]}" --teacher-logits $(teach_dir $expdir $1)/logits.h5 $conf data/train_$1 \
    $student_feats $labels $(kd_dir $expdir $1) $students
}

prune_fold() {
  # The wide Rep-Mobile distilled from the teachers, pruned step by step with KD fine-tuning to the
  # DCASE2024 limits (conf/<profile>/prune.yaml), then fused, stored in float16 and checked.
  steps/prune_chain.sh "${training[@]}" --prune-cmd "$prune_job" --prune-opts "$prune_opts" \
    --test-data data/test_$1 --test-feats $student_feats $conf data/train_$1 $student_feats \
    $(teach_dir $expdir $1)/logits.h5 $labels $(kd_dir $expdir $1) $(prune_dir $expdir $1) $(deploy_dir $expdir $1)
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
  for fold in $fold_names; do
    steps/score_systems.sh --cmd "$decode_cmd" --split ${fold#fold} data/test_$fold $student_feats $labels \
      $(kd_dir $expdir $fold) $(deploy_dir $expdir $fold) $students
  done
  log 6 "fold table -> $expdir/RESULTS.md"
  python -m asc.bin.fold_results --exp $(kd_dir $expdir) $(deploy_dir $expdir) --out $expdir/RESULTS.md \
    --folds "$folds" --systems "$students rep_mobile_pruned"
  cat $expdir/RESULTS.md
fi
