"""Training: the config of a run, the trainer loop, losses (CE, knowledge distillation), the learning
rate schedule, the run's log and metrics files, the data flags of the commands that train, and the
distributed (torchrun/DDP) set-up. Checkpoint files are asc.models.checkpoint_file's; the experiment
folder's layout is asc.expdir's."""
