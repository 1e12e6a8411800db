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
cmd_backend=local     # local, slurm or sge (cmd.sh)
seed=0
help_message="Usage: $0 [--stage N] [--stop-stage M] [--corpus PATH] [--profile embedded|tau22]
                [--splits \"5 10 25 50 100\"] [--nj N] [--cmd-backend local|slurm|sge] [--seed S]
Stages: 0 corpus, 1 data dirs, 2 features, 3 teachers, 4 distillation, 5 pruning+deploy, 6 scoring"

. ./db.sh
. ./path.sh
. utils/parse_options.sh
. ./cmd.sh

corpus=${corpus:-$EMBEDDED}
split_dir=${split_dir:-$corpus}
conf=conf/$profile
[ -d "$conf" ] || { echo "$0: no config folder $conf for --profile $profile" >&2; exit 1; }
log() { echo "$(date '+%F %T') [run.sh stage $1] ${*:2}"; }
run_stage() { [ "$stage" -le "$1" ] && [ "$stop_stage" -ge "$1" ]; }

if run_stage 0; then
  if [ "$corpus" = "$EMBEDDED" ]; then
    log 0 "embedded corpus -> $corpus"
    python -m asc.bin.make_corpus --config $conf/corpus.yaml --out "$corpus"
  else
    log 0 "using the corpus at $corpus (nothing to generate)"
  fi
fi

if run_stage 1; then
  log 1 "data directories from $corpus -> data/"
  python -m asc.bin.prepare_data --corpus "$corpus" --split-dir "$split_dir" --out data
fi

if run_stage 2; then
  for feats in student teacher; do
    for set in train_split100 test; do
      out=dump/$feats/$set
      log 2 "$feats features of data/$set -> $out/feats.h5 ($nj jobs)"
      python -m asc.bin.extract_features --check-only --config $conf/feats_$feats.yaml \
        --data data/$set --out $out --num-shards $nj \
      || $feat_cmd JOB=1:$nj $out/log/extract.JOB.log \
           python -m asc.bin.extract_features --config $conf/feats_$feats.yaml \
             --data data/$set --out $out --shard JOB --num-shards $nj
      python -m asc.bin.merge_features --out $out --num-shards $nj
    done
  done
fi
