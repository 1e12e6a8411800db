# How jobs run: local (this machine), slurm or sge. See utils/launch.sh and conf/slurm.conf, conf/queue.conf.
cmd_backend=${cmd_backend:-local}
feat_cmd="utils/launch.sh --backend $cmd_backend --mem 4G"
train_cmd="utils/launch.sh --backend $cmd_backend --mem 8G"
