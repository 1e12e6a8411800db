# Where each corpus lives: this recipe runs on the corpus, data directories and features of the
# DCASE2024 recipe (BASE_RECIPE; its stages 0-2 are run there, not copied here), so its db.sh is the
# one to edit. Its relative paths are relative to that folder; here they are made absolute.
BASE_RECIPE=${BASE_RECIPE:-../dcase2024_task1}
BASE_RECIPE=$(cd "$BASE_RECIPE" && pwd)
. "$BASE_RECIPE/db.sh"
_from_base() { case $1 in /*|'') echo "$1" ;; *) echo "$BASE_RECIPE/$1" ;; esac; }
TAU22=$(_from_base "$TAU22") EMBEDDED=$(_from_base "$EMBEDDED")
PRETRAINED_DIR=$(_from_base "$PRETRAINED_DIR") DIRS_FOLDER=$(_from_base "$DIRS_FOLDER")
PASST_CHECKPOINT=$(_from_base "$PASST_CHECKPOINT")
export PRETRAINED_DIR DIRS_FOLDER PASST_CHECKPOINT    # the same files for the stages run there
