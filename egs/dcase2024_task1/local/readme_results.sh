#!/usr/bin/env bash
# The recipe's split tables (macro accuracy, and accuracy on the seen and the unseen devices) as one
# markdown file, exp/RESULTS_tables.md, built from stage 6's scores.json files by asc.bin.results;
# with --readme, also in that file's `results` section. Run after ./run.sh (stage 6).
#
#   local/readme_results.sh [--readme ../../README.md]
set -euo pipefail

readme=               # a Markdown file with <!-- results:begin --> ... <!-- results:end --> lines
help_message="Usage: $0 [--readme FILE]"

. ./path.sh
. utils/parse_options.sh

out=exp/RESULTS_tables.md
{
  for metric in macro_accuracy seen_devices unseen_devices; do
    notes=--no-notes
    [ $metric = unseen_devices ] && notes=      # the notes (systems, test set, provenance) once, at the end
    python -m asc.bin.results --exp exp/kd exp/deploy --out exp/results_$metric.md --metric $metric --compact \
      $notes >&2
    cat exp/results_$metric.md
    echo
  done
} > $out.tmp
mv $out.tmp $out
cat $out
[ -z "$readme" ] || python -m asc.readme_section "$readme" results $out
