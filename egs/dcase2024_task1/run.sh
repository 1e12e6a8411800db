#!/usr/bin/env bash
# DCASE2024 Task 1 recipe: data-efficient, low-complexity acoustic scene classification with
# Rep-Mobile, knowledge distillation from teacher ensembles, and progressive pruning.
#
#   ./run.sh                                   # every stage on the embedded default corpus
#   ./run.sh --stage 3 --stop-stage 5          # a range of stages
#   ./run.sh --corpus /data/TAU-urban-acoustic-scenes-2022-mobile-development --profile tau22
#   ./run.sh --cmd-backend slurm --stage 2 --stop-stage 2
set -euo pipefail

stage=0
stop_stage=6
corpus=               # TAU22-format corpus folder; empty: the embedded corpus of db.sh (generated in stage 0)
split_dir=            # folder of split5.csv ... split100.csv, test.csv; empty: the corpus folder
profile=embedded      # conf/<profile>/: embedded (CPU, minutes) or tau22 (real data, GPU, published settings)
splits="5 10 25 50 100"
nj=4                  # parallel jobs for feature extraction
jobs=                 # splits trained at once in stages 3-5; empty: on this machine (local back end, CPU)
                      # one single-threaded chain per core, at most one per split; otherwise 1
cmd_backend=           # local, slurm or sge; empty: the default of cmd.sh (local)
seed=0
teachers=             # stage 3: "<name>:<features> ..." (conf/<profile>/train_<name>.yaml, dump/<features>);
                      # empty: conf/<profile>/teachers
students="baseline rep_mobile rep_mobile_kd"   # stage 4: conf/<profile>/train_<name>.yaml (*_kd: distilled)
ngpu=0                # GPUs per training job: 0 CPU, 1 one GPU, N > 1 torchrun (DDP) on N GPUs
train_opts=           # key=value overrides for every training run (stages 3-5), e.g. "epochs=1 batch_size=16"
corpus_opts=          # extra make_corpus options, e.g. "--set dev.locations_per_city=1" (stage 0)
prune_opts=           # key=value overrides for pruning, e.g. "steps=2 epochs_per_step=1" (stage 5)
eval_set=             # TAU-format evaluation folder for the submission files; empty: <corpus>_eval
expdir=exp            # stages 3-6 write here (a study over seeds: --expdir exp/<study>/seed<S>)
dumpdir=dump          # stage 2 writes the features here, stages 3-6 read them
help_message="Usage: $0 [--stage N] [--stop-stage M] [--corpus PATH] [--profile embedded|tau22]
                [--splits \"5 10 25 50 100\"] [--nj N] [--jobs N] [--cmd-backend local|slurm|sge] [--seed S]
                [--expdir exp] [--dumpdir dump] [--eval-set DIR] [--teachers \"mn04:teacher cp_resnet:student\"]
                [--students \"baseline rep_mobile rep_mobile_kd\"] [--ngpu N] [--train-opts \"k=v ...\"]
                [--corpus-opts \"--set k=v ...\"] [--prune-opts \"k=v ...\"]
Stages: 0 corpus, 1 data dirs, 2 features, 3 teachers, 4 distillation, 5 pruning+deploy,
        6 scoring, <expdir>/RESULTS.md and submission files"

. ./db.sh
. ./path.sh
_cmdline="$0 $*"
. utils/parse_options.sh
# One run per recipe folder: a second ./run.sh here stops naming the first; a dead one's lock is taken over.
# (After the options, so that --help needs no lock.)
python -m asc.lock acquire . --pid $$ --what "$_cmdline" || exit 1
trap 'python -m asc.lock release . --pid $$' EXIT
. ./cmd.sh
. utils/job_pool.sh
. steps/layout.sh       # where each stage's outputs go, from --expdir and --dumpdir
. steps/stages.sh       # log, run_stage, per_unit (a stage's chain for every split)
. local/tables.sh       # the columns of the recipe's tables

# Default corpus: the real one of db.sh for the tau22 profile, the generated one otherwise.
[ -n "$corpus" ] || { [ "$profile" = tau22 ] && corpus=$TAU22 || corpus=$EMBEDDED; }
eval_set=${eval_set:-${corpus%/}_eval}
conf=conf/$profile
[ -d "$conf" ] || { echo "$0: no config folder $conf for --profile $profile" >&2; exit 1; }
[ -n "$teachers" ] || teachers=$(cat $conf/teachers)   # the profile's default teachers

if run_stage 0; then
  if [ "$corpus" = "$EMBEDDED" ]; then
    log 0 "embedded corpus -> $corpus"
    python -m asc.bin.make_corpus --config $conf/corpus.yaml --out "$corpus" $corpus_opts
  else
    log 0 "using the corpus at $corpus (nothing to generate)"
  fi
fi

if run_stage 1; then
  log 1 "data directories from $corpus -> data/ (local/data.sh)"
  local/data.sh ${split_dir:+--split-dir "$split_dir"} "$corpus" data
fi

if run_stage 2; then
  # Features of the supersets only: the smaller splits read the train_split100 store by utt id.
  for feats in student teacher; do
    for set in train_split100 test; do
      steps/extract_features.sh --cmd "$feat_cmd" --nj $nj $conf $feats data/$set $(feats_dir $dumpdir $feats $set)
    done
  done
fi

# Stages 3-6 work per split; the splits are independent, so with --jobs N > 1 they run N at once, each
# split's jobs in order, its output in <expdir>/log/stage<S>.split<N>.log (on this machine with cores/N
# threads per job; on Slurm/SGE as N jobs queued at once). Without --jobs, on this machine's CPU: one
# single-threaded chain per core (utils/job_pool.sh default_jobs). --jobs 1 runs them one after the
# other, on the screen. Every job is a step of steps/ (train, teacher logits, prune, score) with its
# inputs as arguments; a split's chain of them is a script of steps/ too (teachers, students, prune_chain,
# score_systems), shared with egs/audio_folder.
labels=data/labels.txt
student_feats=$(feats_h5 $dumpdir student train_split100) test_feats=$(feats_h5 $dumpdir student test)
[ -n "$jobs" ] || jobs=$(default_jobs "$cmd_backend" "$ngpu" $splits)
threads=0
[ "$jobs" -gt 1 ] && [ "$cmd_backend" = local ] && threads=$(pool_threads $jobs)
# Training jobs: one process on the CPU or on one GPU, torchrun with one process per GPU beyond that.
train_job=$train_cmd prune_job=$train_cmd
[ "$ngpu" -ge 1 ] && train_job="$cuda_cmd --gpu $ngpu" prune_job="$cuda_cmd --gpu 1"
training=(--cmd "$train_job" --threads $threads --ngpu $ngpu --seed $seed --dir-folder "$DIRS_FOLDER"
          --train-opts "$train_opts")   # steps/train.sh's options, for every chain that trains

# stage function: run function <split> for every split, --jobs at once (steps/stages.sh)
per_split() { per_unit $1 $jobs $expdir/log $2 $splits; }

teachers_of_split() {
  # Teachers (PaSST fine-tuned from db.sh's PASST_CHECKPOINT if set; the others from the official files in
  # PRETRAINED_DIR that their configs name, or from scratch), then their ensemble's logits for every
  # training clip of the split, computed once for stages 4 and 5.
  steps/teachers.sh "${training[@]}" --logits-cmd "$decode_cmd" --pretrained-dir "$PRETRAINED_DIR" \
    ${PASST_CHECKPOINT:+--init passt=$PASST_CHECKPOINT} $conf data/train_split$1 $dumpdir train_split100 \
    $labels $(teach_dir $expdir $1) $teachers
}

students_of_split() {
  # The baseline and Rep-Mobile trained on the labels alone (the references) and Rep-Mobile distilled
  # from the stored teacher logits of stage 3, all with the same augmentations.
  steps/students.sh "${training[@]}" --teacher-logits $(teach_dir $expdir $1)/logits.h5 $conf data/train_split$1 \
    $student_feats $labels $(kd_dir $expdir $1) $students
}

prune_split() {
  # The wide Rep-Mobile (above the limits) distilled from the teacher logits of stage 3 (stage 4 trains
  # the default width), then K steps of pruning and KD fine-tuning to the DCASE2024 limits
  # (conf/$profile/prune.yaml) and the deployable model: fused, float16, limits checked (the stage
  # fails if they are exceeded), float16 vs float32 measured.
  steps/prune_chain.sh "${training[@]}" --prune-cmd "$prune_job" --prune-opts "$prune_opts" --test-data data/test \
    --test-feats $test_feats $conf data/train_split$1 $student_feats $(teach_dir $expdir $1)/logits.h5 $labels \
    $(kd_dir $expdir $1) $(prune_dir $expdir $1) $(deploy_dir $expdir $1)
}

if run_stage 3; then
  [ -d "$DIRS_FOLDER" ] || log 3 "no impulse responses at $DIRS_FOLDER: device IR augmentation off"
  # The official pretrained files the teachers' configs name, verified into db.sh's PRETRAINED_DIR
  # (nothing is fetched when they are there already; PaSST with PASST_CHECKPOINT needs none).
  teacher_confs=
  for teacher in $teachers; do
    [ "${teacher%%:*}" = passt ] && [ -n "$PASST_CHECKPOINT" ] && continue
    teacher_confs="$teacher_confs --for-config $conf/train_${teacher%%:*}.yaml"
  done
  if [ -n "$teacher_confs" ]; then
    log 3 "pretrained files of the teachers -> $PRETRAINED_DIR"
    python -m asc.bin.download --out "$PRETRAINED_DIR" $teacher_confs
  fi
  per_split 3 teachers_of_split
fi

if run_stage 4; then
  per_split 4 students_of_split
fi

if run_stage 5; then
  per_split 5 prune_split
fi

score_split() {
  # Each system of stage 4 (its checkpoints/best.pt) and the deployable model of stage 5 on the test
  # set; the submission output for the evaluation set if there is one.
  local split=$1 dir out
  steps/score_systems.sh --cmd "$decode_cmd" --threads $threads --split $split data/test $test_feats $labels \
    $(kd_dir $expdir $split) $(deploy_dir $expdir $split) $students
  if [ -f "$eval_set/meta.csv" ]; then
    dir=$(deploy_dir $expdir $split) out=$(submission_dir $expdir $split)
    log 6 "submission output of $dir/model.pt for $eval_set -> $out"
    $decode_cmd $out/log/submission.log \
      python -m asc.bin.submission --model $dir/model.pt --eval-dir "$eval_set" --out $out
  fi
}

if run_stage 6; then
  # Every split scored (side by side as in stages 3-5), then the split table from the scores.json files
  # of those systems (not those of local/ablation_*.sh).
  per_split 6 score_split
  log 6 "split table -> $expdir/RESULTS.md"
  python -m asc.bin.results --exp $(kd_dir $expdir) $(deploy_dir $expdir) --out $expdir/RESULTS.md \
    --splits "$table_splits" --systems "$students rep_mobile_pruned"
  cat $expdir/RESULTS.md
fi
