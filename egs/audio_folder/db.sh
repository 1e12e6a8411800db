# Where the recordings live. Override on the command line (./run.sh --folder DIR --test-folder DIR) or here.
# FOLDER: <folder>/<label>/<audio files>, one sub-folder per class (wav, flac, ogg, mp3; any rate,
# channel count and length). TEST_FOLDER (optional): a separate test set of the same layout; empty:
# k-fold cross-validation over FOLDER (folds: conf/data.yaml).
FOLDER=${FOLDER:-}
TEST_FOLDER=${TEST_FOLDER:-}
# The folder of official pretrained files the teachers fine-tune from (mn04_as_mAP_432.pt, ...; the
# train_*.yaml files name them with `pretrained:`). Stage 3 fetches them with asc.bin.download unless
# they are there already (offline: nothing is fetched when the files are present and their SHA-256 checks out).
PRETRAINED_DIR=${PRETRAINED_DIR:-downloads/pretrained}
