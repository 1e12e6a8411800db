# How jobs run: cmd_backend=local (this machine; the default), slurm (conf/slurm.conf) or sge
# (conf/queue.conf); per run: ./run.sh --cmd-backend slurm. Each *_cmd is utils/launch.sh with options
# a stage may add to or override (`$cuda_cmd --gpu 2 ...`); see `utils/launch.sh --help`.
cmd_backend=${cmd_backend:-local}
feat_cmd="utils/launch.sh --backend $cmd_backend --mem 4G"             # feature extraction, JOB=1:nj
decode_cmd="utils/launch.sh --backend $cmd_backend --mem 4G"           # teacher logits, scoring
train_cmd="utils/launch.sh --backend $cmd_backend --mem 8G"            # training on the CPU
cuda_cmd="utils/launch.sh --backend $cmd_backend --mem 16G --gpu 1"    # training on GPUs (torchrun inside)
