"""Training: the config of a run, the trainer loop, losses (CE, knowledge distillation), the learning
rate schedule, checkpoints and the distributed (torchrun/DDP) set-up."""
