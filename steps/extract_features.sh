#!/usr/bin/env bash
# The feature store of one data directory with one front end: extracted in --nj shards through a launcher
# (asc.bin.extract_features), then merged (asc.bin.merge_features); skipped when the store is complete
# for the same audio and config.
#
#   steps/extract_features.sh [options] <conf-dir> <kind> <data> <out>
#   steps/extract_features.sh --cmd "$feat_cmd" --nj 4 conf/embedded student data/test dump/student/test
#
# The front end is <conf-dir>/feats_<kind>.yaml, or conf/common/feats_<kind>.yaml when the profile has no
# file of its own; the store is <out>/feats.h5, the shards' logs <out>/log/extract.<n>.log.
set -euo pipefail

cmd=utils/launch.sh   # the extraction jobs' launcher with its options ($feat_cmd of cmd.sh)
nj=4                  # parallel jobs (shards)
stage=2               # the recipe's stage, named in the progress lines
help_message="Usage: $0 [--cmd CMD] [--nj N] [--stage N] <conf-dir> <kind> <data> <out>"

. utils/parse_options.sh
[ $# -eq 4 ] || { printf '%s\n' "$help_message" >&2; exit 1; }
conf=$1 kind=$2 data=$3 out=$4
. steps/stages.sh

config=$conf/feats_$kind.yaml
[ -f $config ] || config=conf/common/feats_$kind.yaml   # a profile's own file wins over the shared one
if python -m asc.bin.extract_features --status --config $config --data $data --out $out; then
  log $stage "$out/feats.h5 is complete; skipped"
  exit 0
fi
log $stage "$kind features of $data -> $out/feats.h5 ($nj jobs, logs in $out/log)"
$cmd JOB=1:$nj $out/log/extract.JOB.log \
  python -m asc.bin.extract_features --config $config --data $data --out $out --shard JOB --num-shards $nj
python -m asc.bin.merge_features --out $out --num-shards $nj --data $data --config $config
