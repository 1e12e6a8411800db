# Training and scoring one run with the recipe's own commands, for the local/ scripts that repeat the
# recipe's runs over seeds, --jobs at once (sourced after db.sh, cmd.sh and utils/job_pool.sh, once
# $jobs is known). Sourcing it checks that stages 1-2 have run and sets
#   dir_opt, prune_dir_opt   the device impulse responses (local/dir_opts.sh)
#   threads                  CPU threads per job, for $jobs jobs side by side
# Both functions read conf split seed threads dir_opt train_opts (the profile's config folder, the run's
# split and seed, extra overrides); score writes into $dir/score/<system>.

[ -f data/labels.txt ] && [ -f dump/student/test/feats.h5 ] || {
  echo "$0: no data/ or dump/; run ./run.sh --stop-stage 2 first" >&2; exit 1; }
. local/dir_opts.sh
threads=$(pool_threads $jobs)

train() {  # exp config [more asc.bin.train options]: train (or find finished) on train_split$split
  local exp=$1 config=$2; shift 2
  $train_cmd --num-threads $threads $exp/log/train.log \
    python -m asc.bin.train --config $conf/$config --train-data data/train_split$split --labels data/labels.txt \
      --exp $exp "$@" $dir_opt seed=$seed $train_opts
}

score() {  # model system [feats]: score a model (or, without feats, a logits file) on the test set
  local out=$dir/score/$2
  $decode_cmd --num-threads $threads $out/log/score.log \
    python -m asc.bin.score --checkpoint $1 --system $2 --split $split --data data/test ${3:+--feats $3} \
      --labels data/labels.txt --out $out
}
