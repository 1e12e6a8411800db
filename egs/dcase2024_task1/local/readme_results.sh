#!/usr/bin/env bash
# The recipe's split tables (macro accuracy, and accuracy on the seen and the unseen devices) as one
# markdown file, <expdir>/RESULTS_tables.md, built from stage 6's scores.json files by asc.bin.results;
# with --readme, also in that file's `results` section. Run after ./run.sh (stage 6).
#
#   local/readme_results.sh [--readme ../../README.md]
set -euo pipefail

readme=               # a Markdown file with <!-- results:begin --> ... <!-- results:end --> lines
expdir=exp            # the recipe run (./run.sh --expdir)
students="baseline rep_mobile rep_mobile_kd"   # its stage-4 systems (./run.sh --students): the rows' order
help_message="Usage: $0 [--expdir exp] [--students \"baseline rep_mobile rep_mobile_kd\"] [--readme FILE]"

. ./path.sh
. utils/parse_options.sh
. steps/layout.sh
. local/tables.sh

out=$expdir/RESULTS_tables.md
{
  for metric in macro_accuracy seen_devices unseen_devices; do
    notes=--no-notes
    [ $metric = unseen_devices ] && notes=      # the notes (systems, test set, provenance) once, at the end
    python -m asc.bin.results --exp $(kd_dir $expdir) $(deploy_dir $expdir) --out $expdir/results_$metric.md \
      --metric $metric --splits "$table_splits" --systems "$students rep_mobile_pruned" --compact $notes >&2
    cat $expdir/results_$metric.md
    echo
  done
} > $out.tmp
mv $out.tmp $out
cat $out
[ -z "$readme" ] || python -m asc.readme_section "$readme" results $out
