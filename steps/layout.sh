# Where a recipe's stages keep their outputs, from its --expdir and --dumpdir: the one place these paths
# are spelled out, for run.sh and the local/ scripts of every recipe (sourced). Each function prints a
# path built from its arguments only.
#
#   feats_dir DUMPDIR KIND SET      the feature folder of one data set (KIND: a feats_<KIND>.yaml front end)
#   feats_h5 DUMPDIR KIND SET       its feature store
#   unit_name SPLIT                 the name of a split in every folder below: split<N>, or the name itself
#   teach_dir EXPDIR [SPLIT]        the teachers (<name>/) and their ensemble logits (logits.h5) of a split
#   kd_dir EXPDIR [SPLIT]           the systems trained on the labels or distilled (<system>/)
#   prune_dir EXPDIR [SPLIT]        the pruning run of a split
#   deploy_dir EXPDIR [SPLIT]       the deployable model of a split (model.pt, complexity.json)
#   submission_dir EXPDIR [SPLIT]   the DCASE submission files of a split
#   device_dir EXPDIR [SPLIT]       the device-specific models of a split (<device>/train, <device>/deploy)
#   device_score_dir EXPDIR [SPLIT] the scores of the general and the device-specific system of a split
#   package_dir EXPDIR [SPLIT]      the inference package exported for a split (DCASE2025 layout)
#   seed_expdir ROOT SEED [RECIPE_SEED RECIPE_EXPDIR]
#                                   the --expdir of one seed of a study: ROOT/seed<SEED>, or RECIPE_EXPDIR
#                                   for the recipe's own seed (its finished runs are used, not redone)
# Without SPLIT: the folder of all splits (e.g. to collect their scores). SPLIT is a DCASE training
# split's number (-> split<N>) or a name used as it is (egs/audio_folder's fold<k>).

feats_dir() { echo "$1/$2/$3"; }
feats_h5() { echo "$(feats_dir "$@")/feats.h5"; }
unit_name() {  # a number N is a DCASE training split (split<N>); a name (fold1, ...) is used as it is
  case $1 in
    *[!0-9]*) echo "$1" ;;
    *) echo "split$1" ;;
  esac
}
_split_dir() { if [ -n "${3:-}" ]; then echo "$1/$2/$(unit_name "$3")"; else echo "$1/$2"; fi; }
teach_dir() { _split_dir "$1" teach "${2:-}"; }
kd_dir() { _split_dir "$1" kd "${2:-}"; }
prune_dir() { _split_dir "$1" prune "${2:-}"; }
deploy_dir() { _split_dir "$1" deploy "${2:-}"; }
submission_dir() { _split_dir "$1" submission "${2:-}"; }
device_dir() { _split_dir "$1" device "${2:-}"; }
device_score_dir() { _split_dir "$1" device_score "${2:-}"; }
package_dir() { _split_dir "$1" package "${2:-}"; }
seed_expdir() {
  if [ -n "${4:-}" ] && [ "$2" = "${3:-}" ]; then echo "$4"; else echo "$1/seed$2"; fi
}
