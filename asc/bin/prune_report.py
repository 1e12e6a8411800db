"""Tabulate pruning runs (progressive against one-shot, several seeds) as markdown for README.

    python -m asc.bin.prune_report --test-data data/test --test-feats dump/student/test/feats.h5 \
        --labels data/labels.txt --out exp/ablation_prune/split25/README.md \
        exp/ablation_prune/split25/progressive/seed{0,1,2} exp/ablation_prune/split25/one_shot/seed{0,1,2}

    python -m asc.bin.prune_report --schedules --plot exp/ablation_prune_schedule/paths.png ... \
        exp/ablation_prune_schedule/split100/l2/k3x2/seed0 ...

Each argument is a finished pruning experiment (asc.bin.prune, prune.done). Its schedule and seed are
read from its config.yaml, the complexity and validation figures of every step from summary.json; the
test accuracy of every step's model is computed here (float32) and kept in step<k>/test_scores.json,
so a second call only re-renders. The test set is used for reporting only, never for a choice.
--schedules writes the schedule study instead (asc.prune.schedule_report: runs grouped by split,
criterion and K × E; which K wins at equal total epochs), and --plot a PNG of test accuracy against
MACs along each schedule.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import torch
import yaml

from asc.atomic import is_done, write_json, write_text
from asc.data.datadir import load_datadir, read_labels
from asc.data.dataset import FeatureDataset
from asc.data.feature_store import FeatureStore
from asc.errors import AscError, InputError
from asc.metrics import compute_scores
from asc.prune.deploy import predict
from asc.eval.results_table import split_number
from asc.plots import plot_prune_paths
from asc.train.predict import EVAL_BATCH_SIZE
from asc.prune.report import ablation_markdown
from asc.prune.schedule import step_epochs
from asc.prune.schedule_report import schedule_markdown, schedule_paths
from asc.prune.steps import RUN_DONE, step_dir
from asc.models.checkpoint_file import load_model


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m asc.bin.prune_report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="finished pruning experiment directories")
    p.add_argument("--test-data", required=True, help="data directory of the test set")
    p.add_argument("--test-feats", required=True, help="feature store of the test set")
    p.add_argument("--labels", required=True, help="label list (data/labels.txt)")
    p.add_argument("--out", required=True, help="markdown file to write")
    p.add_argument("--title", help="heading of the section (default: from the runs' config)")
    p.add_argument("--schedules", action="store_true",
                   help="the schedule study: the runs by split, criterion and K × E (default: progressive "
                        "against one-shot per step)")
    p.add_argument("--plot", help="with --schedules: a PNG of test accuracy against MACs along each schedule")
    p.add_argument("--batch-size", type=int, default=EVAL_BATCH_SIZE,
                   help="clips per forward pass (default: asc.train.predict.EVAL_BATCH_SIZE, %(default)s)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Collect the runs, score every step on the test set (cached), write the markdown."""
    args = parse_args(argv)
    try:
        labels = read_labels(args.labels)
        store = FeatureStore(args.test_feats)
        test = FeatureDataset(load_datadir(args.test_data), store, labels, source=args.test_data)
        records, configs = [], []
        for run in map(Path, args.runs):
            config = _run_config(run)
            configs.append(config)
            records += _run_records(run, config, test, store.config_hash, args.batch_size)
        if args.schedules:
            notes = _schedule_notes(configs, argv, args.runs)
            text = schedule_markdown(records, args.title or _schedules_title(configs), notes)
            if args.plot:
                _plot(records, args.plot, configs[0]["target"]["macs"])
        else:
            text = ablation_markdown(records, args.title or _title(configs), _notes(configs, argv, args.runs))
        write_text(args.out, text)
        print(text, end="")
    except AscError as e:
        print(f"prune_report: {e}", file=sys.stderr)
        return 1
    return 0


def _run_config(run: Path) -> dict:
    if not is_done(run, RUN_DONE):
        raise InputError(run, "not a finished pruning experiment (no prune.done); run asc.bin.prune first")
    return yaml.safe_load((run / "config.yaml").read_text())


def _run_records(run: Path, config: dict, test: FeatureDataset, feats_hash: str, batch_size: int) -> list[dict]:
    summary = json.loads((run / "summary.json").read_text())
    one_shot = bool(config["one_shot"])
    steps, epochs = step_epochs(config["steps"], config["epochs_per_step"], one_shot)   # as run
    records = []
    for step in summary["steps"]:
        scores = _test_scores(step_dir(run, step["step"]).root, test, feats_hash, batch_size)
        records.append({**step, "schedule": "one-shot" if one_shot else "progressive", "seed": config["seed"],
                        "split": _split(config), "criterion": config["criterion"], "steps_run": steps,
                        "epochs_per_step": epochs, "test_acc": scores["macro_accuracy"],
                        "test_seen": scores["seen_devices"], "test_unseen": scores["unseen_devices"]})
    return records


def _test_scores(directory: Path, test: FeatureDataset, feats_hash: str, batch_size: int) -> dict:
    """Test scores of the step's model.pt, computed once per test feature store."""
    cache = directory / "test_scores.json"
    if cache.is_file():
        cached = json.loads(cache.read_text())
        if cached.get("feats_hash") == feats_hash and cached.get("n_clips") == len(test):
            return cached["scores"]
    model, _ = load_model(directory / "model.pt")
    logits = predict(model, test, torch.float32, batch_size=batch_size)
    labels = [test.labels[t] for t in test.targets.tolist()]
    devices = [test.device_names[d] for d in test.devices.tolist()]
    scores = compute_scores(labels, logits.softmax(dim=1).double().numpy(), devices, test.labels).to_dict()
    write_json(cache, {"feats_hash": feats_hash, "n_clips": len(test), "scores": scores})
    return scores


def _title(configs: list[dict]) -> str:
    first = configs[0]
    split = Path(first["finetune"]["train_data"]).name or "?"
    target = first["target"]
    return (f"Progressive against one-shot pruning ({split}, to {target['param_bytes']:,} B at "
            f"{target['precision']} and {_macs(target['macs'])})")


def _split(config: dict) -> int | None:
    """The training split of a run (its fine-tuning's data directory, e.g. data/train_split25)."""
    try:
        return split_number(Path(config["finetune"]["train_data"]).name)
    except (KeyError, TypeError, ValueError):
        return None


def _schedules_title(configs: list[dict]) -> str:
    target = configs[0]["target"]
    return (f"Pruning schedules at equal total fine-tuning epochs (to {target['param_bytes']:,} B at "
            f"{target['precision']} and {_macs(target['macs'])})")


def _schedule_notes(configs: list[dict], argv, runs: list[str]) -> list[str]:
    starts = sorted({c["init"] for c in configs})
    return [f"Start models (one per split, every run of a split starts from it): {', '.join(starts)}; scopes "
            f"{', '.join(configs[0]['scopes'])}. Written by `{command_line(argv, runs)}`."]


def command_line(argv, runs: list[str], max_listed: int = 8) -> str:
    """The command as run, for the note under a table; a study's tens of run directories would make it a
    paragraph, so past max_listed they are written as one pattern that matches them all, with their count."""
    argv = list(argv if argv is not None else sys.argv[1:])
    pattern = run_pattern(runs)
    if len(runs) > max_listed and pattern:
        listed = set(runs)
        argv = [a for a in argv if a not in listed] + [f"{pattern}  # {len(runs)} runs"]
    return "python -m asc.bin.prune_report " + " ".join(argv)


def run_pattern(runs: list[str]) -> str | None:
    """A shell glob covering the runs, component by component (exp/study/split*/*/k*/seed*), or None when
    they lie at different depths."""
    parts = [Path(r).parts for r in runs]
    if len({len(p) for p in parts}) != 1:
        return None
    return str(Path(*(_component_pattern(names) for names in zip(*parts))))


def _component_pattern(names: tuple[str, ...]) -> str:
    """One path component of run_pattern: the name they share, or their common start and end around '*'."""
    if len(set(names)) == 1:
        return names[0]
    head = os.path.commonprefix(names)
    tail = os.path.commonprefix([n[len(head):][::-1] for n in names])[::-1]
    return f"{head}*{tail}"


def _plot(records: list[dict], path: str, target_macs: int) -> None:
    """One panel per (split, criterion), a line per schedule (asc.plots.plot_prune_paths)."""
    panels: dict[str, list] = {}
    for p in schedule_paths(records):
        s = p.schedule
        label = f"K = {s.steps} × {s.epochs} epochs" + (f" (n={p.seeds})" if p.seeds > 1 else " (1 seed)")
        panels.setdefault(f"split {s.split} %, criterion {s.criterion}", []).append(
            (label, s.steps, s.total, p.macs, p.accuracy))
    plot_prune_paths(panels, path, target_macs)


def _macs(macs: int) -> str:
    """A MAC count for a title: '30 M MACs', '29.54 M MACs', or in full below a million ('60,000 MACs')."""
    if macs < 1_000_000:
        return f"{macs:,} MACs"
    return f"{macs // 1_000_000} M MACs" if macs % 1_000_000 == 0 else f"{macs / 1e6:.2f} M MACs"


def _notes(configs: list[dict], argv, runs: list[str]) -> list[str]:
    first = configs[0]
    starts = sorted({c["init"] for c in configs})
    total = first["steps"] * first["epochs_per_step"]
    return [f"Same start model ({', '.join(starts)}), same target and the same {total} epochs of KD fine-tuning "
            f"in all: progressive = {first['steps']} steps × {first['epochs_per_step']} epochs, one-shot = "
            f"1 step × {total} epochs; criterion {first['criterion']}, scopes {', '.join(first['scopes'])}. "
            f"Step 0 is the start model. Written by `{command_line(argv, runs)}`."]


if __name__ == "__main__":
    sys.exit(main())
