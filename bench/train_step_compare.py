"""Training-step speed, new against old in one run: `python bench/train_step.py --quick` (see there), or
`python bench/train_step_compare.py [--quick | --tiny]` (bench/run.sh's topic train_step, full size too).

Rep-Mobile's multi-branch sites compute through asc.models.rep_training ("new") or branch by branch
("old": asc.models.reparam.FAST_PATH = False, today's code path until this change); both models start
from the same seed and see the same batches, and their steps alternate round by round, so that a
neighbour's load hits both alike. Beside them: the same network in OREPA's online training form
("online": train_form online, asc.models.online_reparam; ratio online/new) and fused ("fused", the
ceiling). With one thread the clock is this process's CPU time (robust to a loaded machine); with two
the wall clock.
"""
from __future__ import annotations

import time
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from common import CONF, by_mode, interleaved, merge_results, mode_of, parser, print_table, ratio

INPUTS = {"student": (256, 65), "teacher": (128, 100)}   # mels x frames of a 1-s clip
TEACHERS = {"cp_resnet": "train_cp_resnet.yaml", "mn04": "train_mn04.yaml"}


def settings(train_yaml: str):
    """(ModelConfig, batch size, channels_last) of a training config of the recipe."""
    from asc.config import load_config, read_config
    from asc.models import ModelConfig

    cfg = read_config(CONF / train_yaml)
    return (load_config(ModelConfig, CONF / cfg["model_config"]), int(cfg["batch_size"]),
            bool(cfg.get("channels_last", False)))


@contextmanager
def branch_path(fast: bool):
    """Rep-Mobile's multi-branch sites computed the new way (True) or branch by branch (False)."""
    from asc.models import reparam

    before = reparam.FAST_PATH
    reparam.FAST_PATH = fast
    try:
        yield
    finally:
        reparam.FAST_PATH = before


class TrainStep:
    """One training step (augmentation, forward, backward, AdamW) of `model` on fixed batches."""

    def __init__(self, model: torch.nn.Module, batches, channels_last: bool, fast: bool = True):
        from asc.augment.pipeline import AugmentConfig, Augmenter

        self.model = model.train()
        if channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.batches = [(x.contiguous(memory_format=torch.channels_last) if channels_last else x, y)
                        for x, y in batches]
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-3)
        self.augment = Augmenter(AugmentConfig())
        self.gen = torch.Generator().manual_seed(0)
        self.fast, self.i = fast, 0

    def __call__(self) -> None:
        x, y = self.batches[self.i % len(self.batches)]
        self.i += 1
        with branch_path(self.fast):
            x = self.augment(x, ["a"] * len(x), self.gen)
            loss = F.cross_entropy(self.model(x), y)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()


class EvalForward:
    """The validation forward (eval mode, no gradient) of `model`, old or new branch path."""

    def __init__(self, model: torch.nn.Module, batches, channels_last: bool, fast: bool):
        self.model = model.eval()
        if channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.batches = [x.contiguous(memory_format=torch.channels_last) if channels_last else x for x, _ in batches]
        self.fast, self.i = fast, 0

    def __call__(self) -> None:
        x = self.batches[self.i % len(self.batches)]
        self.i += 1
        with branch_path(self.fast), torch.no_grad():
            self.model(x)


def random_batches(shape: tuple[int, int], batch: int, count: int = 2):
    """`count` batches of standard-normal log-mels [batch, 1, mels, frames] and labels."""
    gen = torch.Generator().manual_seed(0)
    return [(torch.randn(batch, 1, *shape, generator=gen), torch.randint(0, 10, (batch,), generator=gen))
            for _ in range(count)]


def fresh(model_cfg, **options):
    """The model of `model_cfg` (`options` over its own), built from seed 0 (both paths start from the
    same weights)."""
    from asc.models import build_model

    torch.manual_seed(0)
    return build_model(model_cfg.name, **{**model_cfg.options, **options})


def timed(fns: dict, threads: int, rounds: int, per_call: int) -> dict[str, float]:
    """Median samples/s of each call (per_call samples), interleaved, at `threads` threads."""
    torch.set_num_threads(threads)
    clock = time.process_time if threads == 1 else time.perf_counter
    seconds = interleaved(fns, rounds=rounds, warmup=1, clock=clock)
    return {name: round(per_call / s, 1) for name, s in seconds.items()}


def rep_mobile_figures(mode: str) -> dict:
    """Old vs new training step at 1 and 2 threads, the online training form (train_form: online) against
    today's (new), the fused form, the validation forward."""
    from asc.models import reparameterize

    model_cfg, batch, channels_last = settings("train_rep_mobile.yaml")
    batch = by_mode(mode, 4, batch, batch)
    rounds = by_mode(mode, 1, 7, 7)
    batches = random_batches(INPUTS["student"], batch)
    steps = {"old": TrainStep(fresh(model_cfg), batches, channels_last, fast=False),
             "new": TrainStep(fresh(model_cfg), batches, channels_last, fast=True),
             "online": TrainStep(fresh(model_cfg, train_form="online"), batches, channels_last),
             # one branch per site: plain Conv+BN, the ceiling of any form that trains with BatchNorm
             "conv_bn": TrainStep(fresh(model_cfg, dw_branches=["kxk"], stem_branches=["kxk"]), batches,
                                 channels_last),
             "fused": TrainStep(reparameterize(fresh(model_cfg)), batches, channels_last)}
    one = timed(steps, 1, rounds, batch)
    two = timed({k: steps[k] for k in ("old", "new", "online")}, 2, by_mode(mode, 1, 3, 5), batch)
    eval_batch = by_mode(mode, 4, 64, 64)
    eval_batches = random_batches(INPUTS["student"], eval_batch)
    evals = {"old": EvalForward(fresh(model_cfg), eval_batches, channels_last, fast=False),
             "new": EvalForward(fresh(model_cfg), eval_batches, channels_last, fast=True)}
    ev = timed(evals, 1, rounds, eval_batch)
    torch.set_num_threads(1)
    return {"batch": batch, "channels_last": channels_last, "samples_per_s_1thread": one,
            "samples_per_s_2threads": two, "eval_batch": eval_batch, "eval_samples_per_s_1thread": ev,
            "speedup_1thread": ratio(one["new"], one["old"]), "speedup_2threads": ratio(two["new"], two["old"]),
            "fused_vs_old_1thread": ratio(one["fused"], one["old"]), "eval_speedup": ratio(ev["new"], ev["old"]),
            "online_vs_new_1thread": ratio(one["online"], one["new"]),
            "online_vs_new_2threads": ratio(two["online"], two["new"]),
            "fused_vs_new_1thread": ratio(one["fused"], one["new"]),
            "conv_bn_vs_new_1thread": ratio(one["conv_bn"], one["new"])}


def teacher_figures(mode: str) -> dict:
    """Each teacher's training step, channels_last against contiguous, 1 thread."""
    out = {}
    for name, train_yaml in TEACHERS.items():
        model_cfg, batch, channels_last = settings(train_yaml)
        batch = by_mode(mode, 4, batch, batch)
        batches = random_batches(INPUTS[model_cfg.features], batch)
        steps = {"channels_last": TrainStep(fresh(model_cfg), batches, True),
                 "contiguous": TrainStep(fresh(model_cfg), batches, False)}
        rate = timed(steps, 1, by_mode(mode, 1, 5, 5), batch)
        out[name] = {"batch": batch, "input": list(INPUTS[model_cfg.features]), "configured_channels_last": channels_last,
                     "samples_per_s_1thread": rate,
                     "channels_last_speedup": ratio(rate["channels_last"], rate["contiguous"])}
    return out


def compare(argv=None) -> int:
    """Measure, print, merge into the results file."""
    p = parser("Training-step speed: Rep-Mobile new vs old branch path, fused form, teachers")
    p.add_argument("--no-teachers", action="store_true", help="Rep-Mobile only")
    args = p.parse_args(argv)
    mode = mode_of(args)
    rep = rep_mobile_figures(mode)
    teachers = {} if args.no_teachers else teacher_figures(mode)
    one, two, ev = rep["samples_per_s_1thread"], rep["samples_per_s_2threads"], rep["eval_samples_per_s_1thread"]
    rows = [("Rep-Mobile training step, 1 thread (CPU time)", one["old"], one["new"], rep["speedup_1thread"]),
            ("Rep-Mobile training step, 2 threads (wall)", two["old"], two["new"], rep["speedup_2threads"]),
            ("Rep-Mobile fused form, 1 thread (ceiling)", one["old"], one["fused"], rep["fused_vs_old_1thread"]),
            ("Rep-Mobile online form vs today's, 1 thread", one["new"], one["online"], rep["online_vs_new_1thread"]),
            ("Rep-Mobile online form vs today's, 2 threads", two["new"], two["online"], rep["online_vs_new_2threads"]),
            ("Rep-Mobile fused form vs today's, 1 thread", one["new"], one["fused"], rep["fused_vs_new_1thread"]),
            ("Rep-Mobile as plain Conv+BN (one branch) vs today's, 1 thread", one["new"], one["conv_bn"],
             rep["conv_bn_vs_new_1thread"]),
            ("Rep-Mobile validation forward, 1 thread", ev["old"], ev["new"], rep["eval_speedup"])]
    rows += [(f"{name} training step (contiguous -> channels_last)", t["samples_per_s_1thread"]["contiguous"],
              t["samples_per_s_1thread"]["channels_last"], t["channels_last_speedup"]) for name, t in teachers.items()]
    print_table(f"training step, batch {rep['batch']}, samples/s ({mode})", rows, ["step", "old", "new", "new/old"])
    headline = {"train_step_speedup": rep["speedup_1thread"], "train_step_speedup_2threads": rep["speedup_2threads"],
                "train_step_online_speedup": rep["online_vs_new_1thread"],
                "train_step_online_speedup_2threads": rep["online_vs_new_2threads"]}
    merge_results(args.out, "train_step", {"rep_mobile": rep, "teachers": teachers}, headline, mode)
    return 0


if __name__ == "__main__":      # bench/run.sh's topic train_step, at any size (full: no --quick/--tiny)
    import sys

    sys.exit(compare())
