#!/usr/bin/env bash
# Progressive pruning of a trained Rep-Mobile with KD fine-tuning (asc.bin.prune), and with --deploy-dir
# the deployable model (fused, float16, the limits checked; with --test-data/--test-feats float16 is
# measured against float32), through a launcher. Finished steps are skipped, a killed run resumes.
#
#   steps/prune.sh [options] <config> <start-exp> <train-data> <feats.h5> <teacher-logits.h5> <labels> <exp>
#   steps/prune.sh --cmd "$train_cmd" --deploy-dir exp/deploy/split5 --test-data data/test \
#       --test-feats dump/student/test/feats.h5 conf/embedded/prune.yaml exp/kd/split5/rep_mobile_wide_kd \
#       data/train_split5 dump/student/train_split100/feats.h5 exp/teach/split5/logits.h5 data/labels.txt \
#       exp/prune/split5
#
# The log is <exp>/log/prune.log.
set -euo pipefail

cmd=utils/launch.sh   # launcher with its options ($train_cmd, or "$cuda_cmd --gpu 1")
threads=0             # CPU threads of the job; 0: the launcher's default
seed=0
dir_folder=           # device impulse responses (wav) for the fine-tuning; empty or missing: off
prune_opts=           # key=value overrides, e.g. "steps=2 epochs_per_step=1 one_shot=true"
deploy_dir=           # write the deployable model here after the last step; empty: none
test_data=            # the float16 check's test set (with --test-feats)
test_feats=
help_message="Usage: $0 [--cmd CMD] [--threads N] [--seed S] [--dir-folder DIR] [--prune-opts \"k=v ...\"]
                [--deploy-dir DIR [--test-data DIR --test-feats FILE]]
                <config> <start-exp> <train-data> <feats.h5> <teacher-logits.h5> <labels> <exp>"

. utils/parse_options.sh
[ $# -eq 7 ] || { printf '%s\n' "$help_message" >&2; exit 1; }
config=$1 init=$2 data=$3 feats=$4 logits=$5 labels=$6 exp=$7

threads_opt=
[ "$threads" -gt 0 ] && threads_opt="--num-threads $threads"
dir_opt="finetune.augment.device_ir.enabled=false"   # the fine-tuning's options sit under finetune.
[ -n "$dir_folder" ] && [ -d "$dir_folder" ] && dir_opt="--dir-folder $dir_folder"
deploy_opts=
[ -n "$deploy_dir" ] && deploy_opts="--deploy-dir $deploy_dir"
[ -n "$test_data" ] && deploy_opts="$deploy_opts --test-data $test_data --test-feats $test_feats"

$cmd $threads_opt $exp/log/prune.log \
  python -m asc.bin.prune --config $config --init $init --train-data $data --feats $feats \
    --teacher-logits $logits --labels $labels --exp $exp $deploy_opts $dir_opt seed=$seed $prune_opts
