# Job runners: utils/run.pl runs jobs on this machine; on a Slurm cluster use
# utils/slurm.pl (options such as --gpu, --mem and --num-threads are passed on).
export train_cmd="utils/run.pl"
export cuda_cmd="utils/run.pl"
export decode_cmd="utils/run.pl"
