"""Structured, progressive pruning of Rep-Mobile and the deployable model (stage 5).

    structured   channel groups: which channels are removed together (every branch, every BatchNorm)
    importance   L1/L2 weight norm and BatchNorm-scale criteria, per site, summed over branches
    cost         deployed params and MACs as a function of the channel counts (as torchinfo counts)
    plan         one step: the least important channels until a complexity budget is met
    schedule     the budgets of K progressive steps (one-shot: K = 1)
    finetune     KD fine-tuning of a pruned network through the project's trainer
    steps        the run on disk: step directories, done markers, resume
    deploy       fuse, check the limits, float16, one self-contained model.pt (read by asc.models.model_file)
    report       the progressive-against-one-shot evidence table (markdown)
    config       conf/<profile>/prune.yaml
"""
