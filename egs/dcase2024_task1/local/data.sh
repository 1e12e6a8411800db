#!/usr/bin/env bash
# Stage 1 of this recipe: the data directories from a TAU22-format corpus (meta.csv, audio/, the
# DCASE2024 split files), written by asc.bin.prepare_data:
#   <out>/train_split{5,10,25,50,100}/ and <out>/test/  wav.scp utt2label utt2device utt2city utt2rec
#   <out>/labels.txt                                     the classes, one a line (the models' outputs)
# Another dataset replaces this file with one that writes the same files (README, "Another dataset").
#
#   local/data.sh [--split-dir DIR] <corpus> <out>
set -euo pipefail

split_dir=            # folder of split5.csv ... split100.csv and test.csv; empty: the corpus folder
help_message="Usage: $0 [--split-dir DIR] <corpus> <out>"

. utils/parse_options.sh
[ $# -eq 2 ] || { printf '%s\n' "$help_message" >&2; exit 1; }
corpus=$1 out=$2

python -m asc.bin.prepare_data --corpus "$corpus" --split-dir "${split_dir:-$corpus}" --out "$out"
