"""Pruning: params, MACs and measured CPU latency of each step of progressive pruning.

Two sources, the first that applies:
  --exp DIR   a finished pruning run (exp/prune/split<N>/ of the recipe): each step's complexity.json
              and model.pt (the fine-tuned network the step keeps);
  planning    otherwise: the recipe's wide Rep-Mobile (conf/common/model_rep_mobile_wide.yaml) with
              random weights, pruned step by step with the recipe's schedule and planning
              (conf/embedded/prune.yaml: asc.prune.schedule.step_targets, plan_step, apply_plan),
              without the fine-tuning, which changes the weights but not the shapes or the cost.
Each step's network is fused (asc.models.reparameterize) and timed on the CPU at batch 1 and batch 64,
all steps in turn, round after round; latency and MACs are also given as ratios to step 0.

    python bench/prune_steps.py [--quick | --tiny] [--exp egs/dcase2024_task1/exp/prune/split100]
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from common import CONF, SHARED_CONF, by_mode, interleaved, merge_results, mode_of, parser, print_table, ratio
from deploy_latency import random_rep_mobile


def planned_steps(prune_yaml: Path, model_yaml: Path, steps: int | None) -> list[torch.nn.Module]:
    """The wide model and its pruned versions after each step of the recipe's schedule (random weights)."""
    import copy

    from asc.complexity import count_complexity
    from asc.prune.config import load_prune_config
    from asc.prune.plan import apply_plan, plan_step
    from asc.prune.schedule import step_targets

    cfg = load_prune_config(prune_yaml)
    _, _, model = random_rep_mobile(model_yaml)
    n_steps = 1 if cfg.one_shot else (steps or cfg.steps)
    targets = step_targets(count_complexity(model, cfg.input_shape), cfg.target_budget(), n_steps)
    nets = [copy.deepcopy(model)]
    for target in targets:
        plan = plan_step(model, target, cfg.criterion, cfg.scopes, cfg.min_channels, cfg.input_shape)
        apply_plan(plan)
        nets.append(copy.deepcopy(model).eval())
    return nets


def finished_steps(exp: Path) -> list[torch.nn.Module]:
    """The networks each finished step of a pruning run keeps (step0 ... stepK)."""
    from asc.models.checkpoint_file import load_model

    nets, k = [], 0
    while (exp / f"step{k}" / "step.done").is_file():
        nets.append(load_model(exp / f"step{k}" / "model.pt")[0])
        k += 1
    if not nets:
        raise SystemExit(f"prune_steps: {exp} holds no finished step (step0/step.done)")
    return nets


def main(argv=None) -> int:
    """Count and time every step, print, merge into the results."""
    p = parser(__doc__.split("\n\n")[0])
    p.add_argument("--exp", type=Path, help="a finished pruning run to read instead of planning one")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default: %(default)s)")
    args = p.parse_args(argv)
    mode = mode_of(args)
    torch.set_num_threads(args.threads)
    from asc.complexity import count_complexity, param_bytes
    from asc.models import reparameterize

    if args.exp:
        source, nets = str(args.exp), finished_steps(args.exp)
    else:
        source = "planned on model_rep_mobile_wide.yaml (random weights) with prune.yaml's schedule"
        nets = planned_steps(CONF / "prune.yaml", SHARED_CONF / "model_rep_mobile_wide.yaml", by_mode(mode, 2, None, None))
    fused = [reparameterize(n) for n in nets]
    counts = [count_complexity(f, deploy=False) for f in fused]
    big = by_mode(mode, 8, 64, 64)
    xs = {1: torch.randn(1, 1, 256, 65), big: torch.randn(big, 1, 256, 65)}

    def forward(net, x, calls):
        def go():
            with torch.inference_mode():
                for _ in range(calls):
                    net(x)
        return go

    rounds = by_mode(mode, 1, 3, 5)
    calls1 = by_mode(mode, 2, 10, 30)
    lat = interleaved({k: forward(f, xs[1], calls1) for k, f in enumerate(fused)}, rounds=rounds)
    thr = interleaved({k: forward(f, xs[big], 1) for k, f in enumerate(fused)}, rounds=rounds)
    steps = []
    for k, (net, c) in enumerate(zip(nets, counts)):
        steps.append({"step": k, "params": c.params, "param_bytes_float16": param_bytes(c.params, "float16"),
                      "macs": c.macs, "training_form_params": sum(p.numel() for p in net.parameters()),
                      "latency_ms_batch1": round(1000 * lat[k] / calls1, 3),
                      f"clips_per_s_batch{big}": round(big / thr[k], 1),
                      "latency_vs_step0": ratio(lat[k], lat[0]), "macs_vs_step0": ratio(c.macs, counts[0].macs)})
    print_table(f"progressive pruning steps, fused form on the CPU ({torch.get_num_threads()} thread(s)); {source}",
                [(s["step"], s["params"], s["param_bytes_float16"], s["macs"], s["latency_ms_batch1"],
                  s[f"clips_per_s_batch{big}"], s["latency_vs_step0"], s["macs_vs_step0"]) for s in steps],
                ["step", "params", "bytes fp16", "MACs", "ms/clip b1", f"clips/s b{big}", "latency/step0",
                 "MACs/step0"])
    final = steps[-1]
    headline = {"prune_steps": len(steps) - 1, "prune_final_macs": final["macs"], "prune_final_params": final["params"],
                "prune_final_latency_vs_start": final["latency_vs_step0"]}
    details = {"source": source, "threads": torch.get_num_threads(), "throughput_batch": big, "steps": steps}
    merge_results(args.out, "prune_steps", details, headline, mode)
    print(json.dumps(headline))
    return 0


if __name__ == "__main__":
    sys.exit(main())
