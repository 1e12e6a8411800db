"""A pruning run on disk: one directory per step, each marked done last, so a killed run resumes.

    <exp>/config.yaml               the resolved config (with the start checkpoint and its hash)
    <exp>/prune.log                 the pruner's log (each fine-tuning also logs to its train.log)
    <exp>/step0/                    the start: model.pt, complexity.json, validation.json, confusion.png
    <exp>/step<k>/pruned.pt         the network right after step k's pruning (the fine-tuning's start)
    <exp>/step<k>/finetune/         the trainer's experiment directory (KD fine-tuning, E epochs)
    <exp>/step<k>/model.pt          the fine-tuned network the step keeps (training form)
    <exp>/step<k>/complexity.json   its deployment form counted as DCASE counts (+ budget, widths)
    <exp>/step<k>/validation.json   held-out validation scores after pruning and after fine-tuning
    <exp>/step<k>/confusion.png     the validation confusion matrix
    <exp>/step<k>/step.done         written last
    <exp>/summary.json, prune.done  one record per step; the run is complete

A finished step (step.done with this config's hash) is never redone or rewritten. An unfinished one
continues where it stopped: pruned.pt is reused if present, and the trainer resumes the fine-tuning
from its last epoch. The same command with another config stops with an error naming the marker.
"""
from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn

from asc.atomic import done_marker, is_done, mark_done, write_json
from asc.complexity import complexity_report, count_complexity, param_bytes
from asc.config import dump_yaml
from asc.data.datadir import read_labels
from asc.data.dataset import FeatureDataset
from asc.errors import ConfigError, InputError
from asc.expdir import resolve_checkpoint
from asc.fingerprint import changed_inputs, datadir_digest, file_digest, marker_digest
from asc.models.checkpoint_file import load_checkpoint, load_model, save_checkpoint
from asc.plots import plot_confusion
from asc.prune.config import PruneConfig, check_prune_config, prune_hash
from asc.prune.finetune import finetune_config, run_finetune
from asc.prune.plan import PruneTargetError, Target, apply_plan, plan_step
from asc.prune.schedule import step_epochs, step_targets
from asc.prune.structured import channel_groups, group_widths
from asc.train.distributed import DistEnv
from asc.train.predict import predict_logits
from asc.train.run_log import attach_log, detach_log, read_metrics, write_if_changed
from asc.train.trainer import dataset_scores, load_data

log = logging.getLogger("asc.prune")

STEP_DONE = "step"
RUN_DONE = "prune"


@dataclass
class StepDir:
    """The files of one step."""
    root: Path

    @property
    def pruned(self) -> Path:
        return self.root / "pruned.pt"

    @property
    def finetune(self) -> Path:
        return self.root / "finetune"

    @property
    def model(self) -> Path:
        return self.root / "model.pt"

    @property
    def complexity(self) -> Path:
        return self.root / "complexity.json"

    @property
    def validation(self) -> Path:
        return self.root / "validation.json"

    @property
    def confusion(self) -> Path:
        return self.root / "confusion.png"


def step_dir(exp: str | Path, k: int) -> StepDir:
    """Directory of step `k` (0: the start) of the run in `exp`."""
    return StepDir(Path(exp) / f"step{k}")


def final_model(exp: str | Path) -> Path:
    """model.pt of the last step of a finished run."""
    info = _read_marker(Path(exp), RUN_DONE)
    return step_dir(exp, info["steps"]).model


def resolve_init(path: str | Path) -> Path:
    """The checkpoint to start from: a file, or a finished training experiment's checkpoints/best.pt."""
    return resolve_checkpoint(path)[0]


def run_pruning(cfg: PruneConfig, init: str | Path, exp: str | Path, env: DistEnv | None = None) -> Path:
    """Prune the model at `init` in the steps of `cfg` into `exp` (resuming); returns the last model.pt."""
    exp = Path(exp)
    env = env or DistEnv(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    check_prune_config(cfg)
    if finished(exp, cfg, init) and _unreadable(final_model(exp)) is None:
        return final_model(exp)
    start_path = resolve_init(init)
    digest = prune_hash(cfg, str(init))
    handlers = _setup_logging(exp)
    try:
        return _run(cfg, Path(init), start_path, exp, env, digest)
    finally:
        detach_log(log, handlers)


def finished(exp: str | Path, cfg: PruneConfig, init: str | Path) -> bool:
    """True if `exp` holds a finished run of this config from this start model; InputError if any of
    its markers was written by another config or start model."""
    exp = Path(exp)
    digest = prune_hash(cfg, str(init))
    for marker in [done_marker(exp, RUN_DONE)] + sorted(exp.glob(f"step*/{STEP_DONE}.done")):
        found = json.loads(marker.read_text() or "{}").get("config_hash") if marker.is_file() else digest
        if found != digest:
            raise InputError(marker, f"written by another config or start model (hash {found}, this command "
                                     f"{digest}); choose another --exp or remove the directory")
    if is_done(exp, RUN_DONE):
        recorded = _read_marker(exp, RUN_DONE).get("inputs")
        changed = changed_inputs(recorded, prune_inputs(cfg, init)) if recorded is not None else []
        if changed:
            raise InputError(done_marker(exp, RUN_DONE),
                             f"this pruning run finished on other inputs than now: {', '.join(changed)} changed "
                             f"since (a retrained start model, a rebuilt feature store, other teacher logits); "
                             f"pruning is not started again by itself (it retrains every step): remove {exp} "
                             f"to prune again")
    return is_done(exp, RUN_DONE)


def prune_inputs(cfg: PruneConfig, init: str | Path) -> dict:
    """Digests of what the steps read beyond their config: the start model (its train.done, or the
    checkpoint file), the feature store, the data directory, the labels and the teacher logits."""
    init, ft = Path(init), cfg.finetune
    return {"init": marker_digest(init) if init.is_dir() else (file_digest(init) if init.is_file() else None),
            "feats": marker_digest(ft.feats) if ft.feats else None,
            "train_data": datadir_digest(ft.train_data) if ft.train_data else None,
            "labels": file_digest(ft.labels) if ft.labels and Path(ft.labels).is_file() else None,
            "teacher_logits": (file_digest(ft.kd.teacher_logits)
                               if ft.kd.teacher_logits and Path(ft.kd.teacher_logits).is_file() else None)}


def _run(cfg: PruneConfig, init: Path, start_path: Path, exp: Path, env: DistEnv, digest: str) -> Path:
    start, start_ckpt = _load_start(start_path)
    name = start_ckpt["model_name"]
    n_steps, epochs = step_epochs(cfg.steps, cfg.epochs_per_step, cfg.one_shot)
    run = _Run(cfg, exp, env, digest, name)
    log.info("pruning %s (%s) in %d step(s) of %d KD epoch(s) to %s, criterion %s, scopes %s", start_path, name,
             n_steps, epochs, cfg.target_budget().describe(), cfg.criterion, ", ".join(cfg.scopes))
    _write_config(exp, cfg, init, digest)
    run.record_start(start, start_path)
    start_complexity = count_complexity(start, cfg.input_shape)
    targets = step_targets(start_complexity, cfg.target_budget(), n_steps)
    for k, target in enumerate(targets, start=1):
        run.step(k, target, epochs)
    records = [_read_marker(step_dir(exp, k).root, STEP_DONE) for k in range(n_steps + 1)]
    write_json(exp / "summary.json", {"config_hash": digest, "init": str(init), "one_shot": cfg.one_shot,
                                      "steps": records})
    mark_done(exp, RUN_DONE, {"config_hash": digest, "steps": n_steps, "final": str(step_dir(exp, n_steps).model),
                              "inputs": prune_inputs(cfg, init)})
    log.info("finished: %s", step_dir(exp, n_steps).model)
    return step_dir(exp, n_steps).model


class _Run:
    """The state shared by the steps of one run (config, paths, validation data)."""

    def __init__(self, cfg: PruneConfig, exp: Path, env: DistEnv, digest: str, model_name: str):
        self.cfg, self.exp, self.env, self.digest, self.model_name = cfg, exp, env, digest, model_name
        self._val: FeatureDataset | None = None
        self._data_loaded = False

    def record_start(self, model: nn.Module, path: Path) -> None:
        """Step 0: the start model as it is (copied, counted and validated) unless already recorded."""
        paths = step_dir(self.exp, 0)
        if self._finished(paths):
            return
        _check_classes(model, read_labels(self.cfg.finetune.labels), path)
        extra = {"step": 0, "source": str(path)}
        save_checkpoint(paths.model, model, self.model_name, model.options(), **extra)
        self._record(paths, 0, model, None, extra={"val_acc_pruned": None, "source": str(path)})

    def step(self, k: int, target: Target, epochs: int) -> None:
        """Prune to `target`, fine-tune `epochs` epochs with KD, record; skipped if already done."""
        paths = step_dir(self.exp, k)
        if self._finished(paths):
            log.info("step %d: already done", k)
            return
        pruned = self._pruned(k, target, paths)
        ft = finetune_config(self.cfg.finetune, self.model_name, pruned["model_options"], paths.pruned, epochs,
                             self.cfg.seed * 1000 + k)
        log.info("step %d: KD fine-tuning, %d epoch(s) -> %s", k, epochs, paths.finetune)
        trained = run_finetune(ft, paths.finetune, self.env)
        chosen = trained.best if self.cfg.select == "best" and trained.best.is_file() else trained.last
        model, ckpt = load_model(chosen)
        extra = {"step": k, "source": str(chosen), "epoch": ckpt.get("epoch")}
        save_checkpoint(paths.model, model, self.model_name, model.options(), **extra)
        self._record(paths, k, model, target, extra={"val_acc_pruned": pruned["val_acc_pruned"],
                                                    "removed": pruned["removed"], "epoch": ckpt.get("epoch"),
                                                    "history": read_metrics(trained.metrics)})

    def _pruned(self, k: int, target: Target, paths: StepDir) -> dict:
        """The checkpoint dict of step k's pruned network (made and saved now, or read back after an
        interruption): model_options, removed channels per group, validation accuracy before fine-tuning."""
        if paths.pruned.is_file():
            log.info("step %d: reusing %s", k, paths.pruned)
            return load_checkpoint(paths.pruned)
        model, _ = load_model(step_dir(self.exp, k - 1).model)
        cfg = self.cfg
        plan = plan_step(model, target, cfg.criterion, cfg.scopes, cfg.min_channels, cfg.input_shape)
        apply_plan(plan)
        scores = self.validate(model)
        info = {"step": k, "removed": plan.removed, "target": dataclasses.asdict(target),
                "expected": {"params": plan.expected.params, "macs": plan.expected.macs},
                "val_acc_pruned": scores["macro_accuracy"] if scores else None}
        save_checkpoint(paths.pruned, model, self.model_name, model.options(), **info)
        log.info("step %d: pruned to %s params, %s MACs (budget %s); removed %s; validation macro "
                 "accuracy %s before fine-tuning", k, f"{plan.expected.params:,}", f"{plan.expected.macs:,}",
                 target.describe(), plan.removed, _percent(info["val_acc_pruned"]))
        return {**info, "model_options": model.options()}

    def _record(self, paths: StepDir, k: int, model: nn.Module, target: Target | None, extra: dict) -> None:
        """complexity.json, validation.json, confusion.png, then the done marker."""
        cfg = self.cfg
        counted = count_complexity(model, cfg.input_shape)
        report = complexity_report(counted, cfg.target.precision, cfg.input_shape)
        report.update(step=k, training_form_params=sum(p.numel() for p in model.parameters()),
                      widths=group_widths(channel_groups(model)))
        if target is not None:
            report.update(budget=dataclasses.asdict(target), budget_met=target.met_by(counted))
            if not target.met_by(counted):
                raise PruneTargetError(f"step {k}: the pruned network has {counted.params:,} params and "
                                       f"{counted.macs:,} MACs, outside its budget {target.describe()}")
        write_json(paths.complexity, report)
        scores = self.validate(model)
        val_acc = scores["macro_accuracy"] if scores else None
        write_json(paths.validation, {"step": k, "val_acc": val_acc, **extra, "scores": scores})
        if scores:
            plot_confusion(scores, paths.confusion, title=f"step {k}: validation macro accuracy "
                                                          f"{100 * val_acc:.1f} %")
        record = {"config_hash": self.digest, "step": k, "params": counted.params,
                  "param_bytes": param_bytes(counted.params, cfg.target.precision), "macs": counted.macs,
                  "val_acc_pruned": extra.get("val_acc_pruned"), "val_acc": val_acc}
        mark_done(paths.root, STEP_DONE, record)
        log.info("step %d done: %s params (%s B at %s), %s MACs, validation macro accuracy %s", k,
                 f"{counted.params:,}", f"{record['param_bytes']:,}", cfg.target.precision, f"{counted.macs:,}",
                 _percent(val_acc))

    def validate(self, model: nn.Module) -> dict | None:
        """Scores of `model` on the held-out validation recordings (None when there are none)."""
        val = self._validation_set()
        if val is None:
            return None
        ft = self.cfg.finetune
        model = model.to(self.env.device)
        try:
            logits = predict_logits(model, val, self.env.device, ft.eval_batch_size, ft.num_workers)
        finally:
            model.cpu()
        return dataset_scores(val, logits).to_dict()

    def _validation_set(self) -> FeatureDataset | None:
        if not self._data_loaded:
            ft = dataclasses.replace(self.cfg.finetune, model=self.model_name, epochs=1)
            self._val = load_data(ft).val
            self._data_loaded = True
        return self._val

    def _finished(self, paths: StepDir) -> bool:
        if not is_done(paths.root, STEP_DONE):
            return False
        found = _read_marker(paths.root, STEP_DONE).get("config_hash")
        if found != self.digest:
            raise InputError(done_marker(paths.root, STEP_DONE),
                             f"this step finished with another config or start model (hash {found}, this "
                             f"command {self.digest}); choose another --exp or remove the directory")
        problem = _unreadable(paths.model)
        if problem is not None:
            log.warning("%s: %s; doing the step again", paths.root.name, problem)
            done_marker(paths.root, STEP_DONE).unlink()
            return False
        return True


def _unreadable(model: Path) -> str | None:
    """Why a finished step's model.pt cannot be trusted (missing, truncated, damaged), or None."""
    try:
        load_checkpoint(model)
    except InputError as e:
        return str(e)
    return None


def _load_start(path: Path) -> tuple[nn.Module, dict]:
    from asc.models.rep_mobile import RepMobile

    model, ckpt = load_model(path)
    if ckpt.get("deployed"):
        raise InputError(path, "is a deployed (fused) model; pruning needs the training form, whose branches "
                               "and BatchNorms the fine-tuning trains")
    if not isinstance(model, RepMobile):
        raise InputError(path, f"is a checkpoint of '{ckpt['model_name']}'; structured pruning knows the "
                               f"channel dependencies of rep_mobile only")
    return model, ckpt


def _check_classes(model: nn.Module, labels: list[str], path: Path) -> None:
    n = model.options()["n_classes"]
    if n != len(labels):
        raise ConfigError(f"{path}: the start model has {n} classes, the label list {len(labels)}")


def _read_marker(directory: Path, name: str) -> dict:
    return json.loads(done_marker(directory, name).read_text() or "{}")


def _write_config(exp: Path, cfg: PruneConfig, init: Path, digest: str) -> None:
    write_if_changed(exp / "config.yaml", dump_yaml({"init": str(init), "config_hash": digest,
                                                     **dataclasses.asdict(cfg)}))


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.2f} %"


def _setup_logging(exp: Path) -> list[logging.Handler]:
    """Log lines to stderr and <exp>/prune.log; not propagated, so the trainer's handlers stay apart."""
    log.setLevel(logging.INFO)
    log.propagate = False
    return attach_log(log, exp / "prune.log", logging.Formatter("%(asctime)s prune: %(message)s",
                                                                "%Y-%m-%d %H:%M:%S"))
