# Device impulse responses for training (sourced after db.sh by run.sh, local/ablation_prune.sh and
# local/train_score.sh): db.sh's DIRS_FOLDER, else those generated with the embedded corpus, else none
# (augmentation off). Sets
#   dirs_folder     the folder used
#   dir_opt         the asc.bin.train option for it
#   prune_dir_opt   the same for asc.bin.prune (its fine-tuning options sit under finetune.)
dirs_folder=${DIRS_FOLDER:-${EMBEDDED%/}_dirs}
dir_opt="--dir-folder $dirs_folder"
prune_dir_opt=$dir_opt
if [ ! -d "$dirs_folder" ]; then
  dir_opt="augment.device_ir.enabled=false"
  prune_dir_opt="finetune.augment.device_ir.enabled=false"
fi
