"""The training loop behind `python -m asc.bin.train`: any registered model, CE or KD loss, feature-
domain augmentation, per-epoch validation on held-out recordings, checkpoints and resume.

Reproducibility is designed in, not hoped for:
  - the order of the clips of epoch e is DistributedSampler's permutation for (seed, e);
  - at the start of epoch e every random stream (augmentation generator, torch, numpy, python, loader
    workers) is re-seeded from (seed, e, rank);
  - `last.pt` is written at the end of every epoch with the model, optimizer, scheduler, scaler,
    random states and the metrics so far.
So a run killed at any point and restarted with the same command continues at the epoch boundary
of its last checkpoint and computes exactly what the uninterrupted run computes (on the CPU).
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

from asc.atomic import mark_done
from asc.augment.device_ir import gains_for_front_end
from asc.augment.mixup import mixup
from asc.augment.pipeline import Augmenter
from asc.config import dump_yaml
from asc.data.datadir import load_datadir, read_labels
from asc.data.dataset import FeatureDataset, select_devices, split_by_recording
from asc.data.feature_store import FeatureStore
from asc.errors import ConfigError, InputError
from asc.expdir import TRAIN, ExpDir
from asc.finite import NonFiniteError, count_nonfinite
from asc.fingerprint import changed_inputs, datadir_digest, file_digest, marker_digest
from asc.metrics import Scores, compute_scores
from asc.models import build_model
from asc.models.checkpoint_file import load_checkpoint, rng_state, save_checkpoint, set_rng_state, unwrap
from asc.models.checkpoints import load_pretrained
from asc.models.pretrained_files import resolve as resolve_pretrained
from asc.train.config import TrainConfig, config_hash
from asc.train.curves import CurveWriter
from asc.train.distributed import (DistEnv, all_reduce_mean, barrier, make_sampler, wrap_model)
from asc.train.losses import LossParts, kd_loss
from asc.train.online_teacher import OnlineTeachers, member_exps, seconds_per_frame, teacher_digests
from asc.train.predict import autocast, predict_logits
from asc.train.run_log import attach_log, detach_log, write_if_changed, write_metrics
from asc.train.schedule import build_scheduler

log = logging.getLogger("asc.train")

TIMING_KEYS = ("clips_per_s", "data_wait", "epoch_s")  # metrics that vary from run to run


@dataclass
class TrainData:
    """The datasets of a run and what the loop needs to know about them."""
    train: FeatureDataset
    val: FeatureDataset | None
    labels: list[str]
    feats_hash: str
    dir_gains: torch.Tensor | None = None
    inputs: dict = field(default_factory=dict)
    online: OnlineTeachers | None = None   # teachers run in the loop (kd.teacher_mode online)


@dataclass
class Progress:
    """What has been done so far; saved in last.pt."""
    next_epoch: int = 0
    history: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    best_acc: float = -math.inf


def finished(exp: str | os.PathLike, cfg: TrainConfig) -> bool:
    """True if `exp` holds a finished run of this config; InputError if it finished with another one."""
    paths = ExpDir(Path(exp))
    if not paths.done.is_file():
        return False
    info = json.loads(paths.done.read_text() or "{}")
    if info.get("config_hash") != config_hash(cfg):
        raise InputError(paths.done, f"this experiment finished with another config (hash "
                                     f"{info.get('config_hash')}, this command {config_hash(cfg)}); "
                                     f"choose another --exp or remove the directory")
    recorded, now = info.get("teacher_logits_digest"), teacher_logits_digest(cfg)
    if recorded is not None and recorded != now:
        raise InputError(paths.done, f"this experiment was distilled from other teacher logits than those "
                                     f"in {cfg.kd.teacher_logits} now (digest {recorded}, now {now}): the "
                                     f"teachers were trained again; remove the directory to distil from them")
    if "inputs" in info:
        _check_inputs(info["inputs"], train_inputs(cfg), paths.done, "this experiment finished", paths.root)
    return True


def train_inputs(cfg: TrainConfig) -> dict:
    """Digests of what a run reads beyond its config: the feature store (its done marker, new at every
    rebuild), the data directory, the label list and the teacher logits. The config names these
    files; only their digests tell that their content changed."""
    inputs = {"feats": marker_digest(cfg.feats), "train_data": datadir_digest(cfg.train_data),
              "labels": file_digest(cfg.labels) if Path(cfg.labels).is_file() else None,
              "teacher_logits": teacher_logits_digest(cfg)}
    if distils_online(cfg):
        inputs["teachers"] = teacher_digests(member_exps(cfg.kd.members, cfg.kd.teacher_logits))
    return inputs


def distils_online(cfg: TrainConfig) -> bool:
    """True when the run's teachers are run in the loop rather than read from stored logits."""
    return cfg.kd.lambda_ce < 1.0 and cfg.kd.teacher_mode == "online"


def _check_inputs(recorded: dict, now: dict, where: Path, what: str, exp: Path) -> None:
    """InputError naming the inputs that changed since `what`. Training is not started again by itself:
    a teacher takes hours on a GPU, and a silent restart after an edit elsewhere would surprise."""
    changed = changed_inputs(recorded, now)
    if changed:
        raise InputError(where, f"{what} on other inputs than now: {', '.join(changed)} changed since "
                                f"(feats: the feature store was rebuilt; train_data: the data directory; "
                                f"labels: the label list; teacher_logits: the teachers' logits); remove "
                                f"{exp} to train again on the new inputs")


def teacher_logits_digest(cfg: TrainConfig) -> str | None:
    """Digest of the stored teacher logits a KD run reads (None without KD). The config names the file,
    not its content, so a finished student would otherwise outlive the teachers it learned from."""
    if cfg.kd.lambda_ce >= 1.0 or not cfg.kd.teacher_logits or not Path(cfg.kd.teacher_logits).is_file():
        return None
    return file_digest(cfg.kd.teacher_logits)


def train(cfg: TrainConfig, exp: str | os.PathLike, env: DistEnv) -> dict:
    """Train `cfg` into experiment directory `exp` (resuming if it holds a checkpoint); returns the
    metrics of the last epoch. Every process of a DDP run calls this; rank 0 writes."""
    paths = ExpDir(Path(exp))
    digest = config_hash(cfg)
    handlers = _setup_logging(paths, env)
    try:
        return _run(cfg, paths, digest, env)
    finally:
        detach_log(logging.getLogger("asc"), handlers)


def _run(cfg: TrainConfig, paths: ExpDir, digest: str, env: DistEnv) -> dict:
    data = load_data(cfg)
    if distils_online(cfg):
        data.online = OnlineTeachers(member_exps(cfg.kd.members, cfg.kd.teacher_logits), data.train.utts,
                                     data.labels, cfg.augment, seconds_per_frame(data.train.store), env.device)
    model = _build_model(cfg, data.labels, env)
    per_rank = _per_rank_batch(cfg, env, len(data.train))
    sampler = make_sampler(data.train, env, cfg.seed)
    loader = DataLoader(data.train, batch_size=per_rank, sampler=sampler, num_workers=cfg.num_workers,
                        drop_last=True, pin_memory=env.device.type == "cuda")
    given, cfg = cfg, dataclasses.replace(cfg, epochs=epochs_to_run(cfg, len(loader)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = build_scheduler(optimizer, len(loader), cfg.epochs, cfg.warmup_epochs, cfg.schedule,
                                cfg.min_lr_ratio)
    use_amp = cfg.amp and env.device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    progress = Progress()
    if paths.last.is_file():
        progress = _resume(paths.last, cfg, digest, model, optimizer, scheduler, scaler, data.inputs)
    augmenter = Augmenter(cfg.augment, dir_gains=data.dir_gains)
    if env.is_main:
        if cfg.epochs > given.epochs:
            log.info("%d epochs instead of %d, to make min_steps %d steps of %d per epoch", cfg.epochs,
                     given.epochs, cfg.min_steps, len(loader))
        write_if_changed(paths.config, dump_yaml(given))
        _log_start(cfg, env, data, model, augmenter, digest, per_rank, len(loader), progress)
    ddp_model = wrap_model(model, env)
    curves = CurveWriter(paths.curves, paths.tensorboard, title=f"{cfg.model} {paths.root}")

    for epoch in range(progress.next_epoch, cfg.epochs):
        generator = _seed_epoch(cfg.seed, epoch, env.rank)
        sampler.set_epoch(epoch)
        loader.generator = generator_for_workers(generator)
        record = {"epoch": epoch + 1}
        record.update(_train_epoch(ddp_model, loader, data, augmenter, optimizer, scheduler, scaler,
                                   generator, cfg, env, epoch, use_amp))
        _check_not_diverged(model, paths, record)
        if env.is_main:
            if data.val is not None:
                record.update(validate(model, data.val, env.device, cfg, use_amp))
            _end_epoch(paths, cfg, digest, data, model, optimizer, scheduler, scaler, progress, record)
            curves.update(progress.history)
        barrier(env)
        progress.next_epoch = epoch + 1

    if env.is_main:
        curves.update(progress.history, force=True)
        _finish(paths, digest, progress, teacher_logits_digest(cfg), data.inputs)
    barrier(env)
    return progress.history[-1] if progress.history else {}


# ---------------------------------------------------------------------------------------------- data

def load_data(cfg: TrainConfig) -> TrainData:
    """The training and validation datasets of `cfg` (validation: held-out recordings of the split)."""
    data = load_datadir(cfg.train_data)
    labels = read_labels(cfg.labels)
    store = FeatureStore(cfg.feats)
    train_utts, val_utts = split_by_recording(data, cfg.val_fraction, cfg.split_seed, cfg.train_data)
    if cfg.devices:
        train_utts, val_utts = (select_devices(data, utts, cfg.devices, cfg.train_data)
                                for utts in (train_utts, val_utts))
        if not train_utts:
            raise InputError(f"{cfg.train_data}/utt2device", f"no training clip of device(s) {cfg.devices} is left "
                                                            f"after holding out the validation recordings")
    teacher = cfg.kd.teacher_logits if cfg.kd.lambda_ce < 1.0 and cfg.kd.teacher_mode == "stored" else None
    train = FeatureDataset(data, store, labels, train_utts, teacher_logits=teacher, source=cfg.train_data)
    val = FeatureDataset(data, store, labels, val_utts, source=cfg.train_data) if val_utts else None
    unlabeled = int((train.targets < 0).sum())
    if unlabeled:
        raise InputError(f"{cfg.train_data}/utt2label", f"{unlabeled} training utterances have no label")
    gains = None
    if cfg.augment.device_ir.enabled:
        if not cfg.augment.device_ir.folder:
            raise ConfigError("augment.device_ir is enabled but augment.device_ir.folder is not set "
                              "(give --dir-folder, or disable it with augment.device_ir.enabled=false)")
        gains = _dir_gains(cfg.augment.device_ir.folder, store)
    return TrainData(train, val, labels, store.config_hash, gains, train_inputs(cfg))


def _dir_gains(folder: str, store: FeatureStore) -> torch.Tensor:
    """Log-mel gains of the impulse responses under the front end the store was built with."""
    return gains_for_front_end(folder, store.feature_config)


def _build_model(cfg: TrainConfig, labels: list[str], env: DistEnv) -> nn.Module:
    """The model of `cfg` (same initial weights on every process), on the run's device and format."""
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model, **model_options(cfg, labels))
    init = initial_weights(cfg)
    if init is not None:
        load_pretrained(model, init)
    model.to(env.device)
    if cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    return model


def initial_weights(cfg: TrainConfig) -> str | None:
    """The file the model starts from: init_checkpoint, else the verified official `pretrained` file."""
    if cfg.init_checkpoint:
        return cfg.init_checkpoint
    if cfg.pretrained:
        if not cfg.pretrained_dir:
            raise ConfigError(f"pretrained is {cfg.pretrained!r} but no pretrained_dir is given "
                              f"(--pretrained-dir, db.sh's PRETRAINED_DIR)")
        return str(resolve_pretrained(cfg.pretrained, cfg.pretrained_dir))
    return None


def model_options(cfg: TrainConfig, labels: list[str]) -> dict:
    """The model's options with the class count taken from the label list."""
    options = dict(cfg.model_options)
    n = options.setdefault("n_classes", len(labels))
    if n != len(labels):
        raise ConfigError(f"model_options.n_classes is {n} but the label list has {len(labels)} classes")
    return options


def epochs_to_run(cfg: TrainConfig, steps_per_epoch: int) -> int:
    """`cfg.epochs`, or more on a split so small that they would make fewer than `cfg.min_steps` steps.

    More epochs rather than more steps per epoch: an epoch stays one pass over the split, so validation,
    best.pt, last.pt (resume) and the learning curves keep their meaning, and the sampler needs no
    drawing with replacement. The schedule is built for the epochs actually run, so warm-up and the
    cosine follow the real step count. On 5 % of the embedded corpus (about 60 training clips, 1 step
    of 32 per epoch) 15 epochs are 15 steps, which leave a network near chance.
    """
    return max(cfg.epochs, math.ceil(cfg.min_steps / max(1, steps_per_epoch)))


def _per_rank_batch(cfg: TrainConfig, env: DistEnv, n_train: int) -> int:
    if cfg.batch_size % env.world_size:
        raise ConfigError(f"batch_size {cfg.batch_size} is not divisible by the {env.world_size} processes")
    per_rank = cfg.batch_size // env.world_size
    if math.ceil(n_train / env.world_size) < per_rank:
        raise ConfigError(f"batch_size {cfg.batch_size} exceeds the {n_train} training clips "
                          f"({env.world_size} process(es)); lower it")
    return per_rank


# ------------------------------------------------------------------------------------------ the loop

def _seed_epoch(seed: int, epoch: int, rank: int) -> torch.Generator:
    """Re-seed every random stream from (seed, epoch, rank); returns the augmentation generator."""
    value = int(np.random.SeedSequence([seed, epoch, rank]).generate_state(1, np.uint64)[0] >> 1)
    random.seed(value)
    np.random.seed(value % 2**32)
    torch.manual_seed(value)
    return torch.Generator().manual_seed(value)


def generator_for_workers(generator: torch.Generator) -> torch.Generator:
    """A separate generator for the loader's worker seeds, so that their number does not shift the
    augmentation stream."""
    seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
    return torch.Generator().manual_seed(seed)


def _check_not_diverged(model: nn.Module, paths: ExpDir, record: dict) -> None:
    """NonFiniteError naming the experiment if the weights went NaN or infinite in this epoch: saving
    them would make last.pt (the resume point) and best.pt useless and the run would end 'done'.
    Every rank checks (DDP keeps the weights equal), so all stop together."""
    bad = sum(count_nonfinite(p.detach()) for p in model.parameters())
    if bad:
        raise NonFiniteError(f"{paths.root}: training diverged in epoch {record['epoch']}: {bad} weights are NaN "
                             f"or infinite (train loss {record.get('train_loss')}); nothing of this epoch was "
                             f"saved - lower lr or set grad_clip, then remove the folder or resume from last.pt")


def _train_epoch(model: nn.Module, loader: DataLoader, data: TrainData, augmenter: Augmenter,
                 optimizer, scheduler, scaler, generator: torch.Generator, cfg: TrainConfig,
                 env: DistEnv, epoch: int, use_amp: bool) -> dict:
    """One pass over the loader; returns the epoch's mean losses and timing."""
    model.train()
    sums = torch.zeros(4, dtype=torch.float64, device=env.device)   # summed on the device: no sync per step
    seen, data_time, start = 0, 0.0, time.perf_counter()
    bar = _progress_bar(env, len(loader), f"epoch {epoch + 1}/{cfg.epochs}")
    tick = time.perf_counter()
    for step, batch in enumerate(loader):
        data_time += time.perf_counter() - tick
        parts, correct = _loss(model, batch, data, augmenter, generator, cfg, env.device, use_amp)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(parts.total).backward()
        if cfg.grad_clip:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        n = batch[0].shape[0]
        seen += n
        sums += torch.stack([parts.total.detach() * n, parts.ce * n, parts.kd * n, correct]).double()
        if bar is not None:
            bar.update(1)
        elif env.is_main and cfg.log_interval and (step + 1) % cfg.log_interval == 0:
            log.info("epoch %d/%d step %d/%d loss %.4f lr %.3g %.0f clips/s", epoch + 1, cfg.epochs,
                     step + 1, len(loader), sums[0].item() / seen, scheduler.get_last_lr()[0],
                     seen * env.world_size / (time.perf_counter() - start))
        tick = time.perf_counter()
    if bar is not None:
        bar.close()
    elapsed = time.perf_counter() - start
    means = all_reduce_mean(env, sums / max(seen, 1)).cpu()
    return {"lr": scheduler.get_last_lr()[0], "train_loss": float(means[0]), "train_ce": float(means[1]),
            "train_kd": float(means[2]), "train_acc": float(means[3]),
            "clips_per_s": round(seen * env.world_size / elapsed, 1),
            "data_wait": round(data_time / elapsed, 4), "epoch_s": round(elapsed, 2)}


def _loss(model: nn.Module, batch, data: TrainData, augmenter: Augmenter, generator: torch.Generator,
          cfg: TrainConfig, device: torch.device, use_amp: bool) -> tuple[LossParts, torch.Tensor]:
    """Augment (and mix) one batch, run the model; its loss (CE or KD) and how many clips it got right."""
    x, y, dev, idx = batch
    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
    if cfg.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    devices = [data.train.device_names[d] for d in dev.tolist()]
    draws = generator.get_state() if data.online is not None else None   # replayed on the teachers' views
    x = augmenter(x, devices, generator)
    mix = None
    if cfg.augment.mixup.enabled:
        m = cfg.augment.mixup
        mix = mixup(x, m.alpha, generator, p=m.p, per_sample=m.per_sample)
        x = mix.x
    if data.online is not None:
        teacher = data.online(idx, devices, draws, mix).to(device)
    else:
        teacher = data.train.teacher_logits
        teacher = teacher[idx].to(device, non_blocking=True) if teacher is not None else None
    with autocast(device, use_amp):
        logits = model(x)
    return (kd_loss(logits, y, teacher, cfg.kd.lambda_ce, cfg.kd.temperature, mix,
                    teacher_saw_mix=data.online is not None, teacher_temperature=cfg.kd.teacher_temperature,
                    standardized=cfg.kd.logit_standardization), correct_count(logits, y, mix))


def correct_count(logits: torch.Tensor, labels: torch.Tensor, mix=None) -> torch.Tensor:
    """Clips whose top class is their label (of a mixed clip: the label of the larger share), for the
    training accuracy of the learning curves."""
    target = labels if mix is None else torch.where(mix.lam >= 0.5, labels, labels[mix.perm])
    return (logits.detach().argmax(dim=1) == target).sum()


def _progress_bar(env: DistEnv, total: int, desc: str):
    """A tqdm bar on a terminal (rank 0 only); None when the output goes to a log file."""
    if not env.is_main or not sys.stderr.isatty():
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True)


def validate(model: nn.Module, dataset: FeatureDataset, device: torch.device, cfg: TrainConfig,
             use_amp: bool = False) -> dict:
    """Validation loss and macro class accuracy (the DCASE metric) of `model` on `dataset`."""
    logits = predict_logits(unwrap(model), dataset, device, cfg.eval_batch_size, cfg.num_workers,
                            use_amp, cfg.channels_last)
    scores = dataset_scores(dataset, logits)
    return {"val_loss": F.cross_entropy(logits, dataset.targets).item(), "val_acc": scores.macro_accuracy,
            "val_acc_micro": scores.accuracy}


def dataset_scores(dataset: FeatureDataset, logits: torch.Tensor) -> Scores:
    """The DCASE figures of `logits` (one row per clip of the labelled `dataset`)."""
    labels = [dataset.labels[t] for t in dataset.targets.tolist()]
    devices = [dataset.device_names[d] for d in dataset.devices.tolist()]
    return compute_scores(labels, logits.softmax(dim=1).double().numpy(), devices, dataset.labels)


# ----------------------------------------------------------------------------- checkpoints and files

def _end_epoch(paths: ExpDir, cfg: TrainConfig, digest: str, data: TrainData, model: nn.Module,
               optimizer, scheduler, scaler, progress: Progress, record: dict) -> None:
    """Log the epoch, write best.pt if it improved and last.pt always (then metrics.jsonl from it)."""
    progress.history.append(record)
    acc = record.get("val_acc")
    improved = acc is None or acc > progress.best_acc
    if improved:
        progress.best_epoch, progress.best_acc = record["epoch"], (acc if acc is not None else -math.inf)
        save_checkpoint(paths.best, model, cfg.model, model_options(cfg, data.labels), epoch=record["epoch"],
                        metrics=record, config_hash=digest, feats_hash=data.feats_hash, labels=data.labels, inputs=data.inputs)
    save_checkpoint(paths.last, model, cfg.model, model_options(cfg, data.labels), epoch=record["epoch"],
                    optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(),
                    scaler=scaler.state_dict(), rng=rng_state(), sampler={"seed": cfg.seed,
                                                                          "epoch": record["epoch"]},
                    history=progress.history, best_epoch=progress.best_epoch, best_acc=progress.best_acc,
                    config_hash=digest, feats_hash=data.feats_hash, labels=data.labels, inputs=data.inputs)
    write_metrics(paths.metrics, progress.history)
    log.info("epoch %d/%d: %s%s", record["epoch"], cfg.epochs, _summary(record), " (best)" if improved else "")


def _resume(path: Path, cfg: TrainConfig, digest: str, model: nn.Module, optimizer, scheduler,
            scaler, inputs: dict) -> Progress:
    """Load the training state of last.pt into the fresh objects; returns where to continue. A
    checkpoint trained on other inputs (a rebuilt feature store, ...) is refused, naming them."""
    ckpt = load_checkpoint(path, cfg.model, digest)
    if "inputs" in ckpt:
        _check_inputs(ckpt["inputs"], inputs, path, "this checkpoint was trained", path.parent.parent)
    model.load_state_dict(ckpt["state_dict"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    scaler.load_state_dict(ckpt["scaler"])
    set_rng_state(ckpt["rng"])
    log.info("resuming from %s: %d of %d epochs done", path, ckpt["epoch"], cfg.epochs)
    return Progress(next_epoch=ckpt["epoch"], history=list(ckpt["history"]),
                    best_epoch=ckpt["best_epoch"], best_acc=float(ckpt["best_acc"]))


def _finish(paths: ExpDir, digest: str, progress: Progress, logits_digest: str | None, inputs: dict) -> None:
    write_metrics(paths.metrics, progress.history)
    final = progress.history[-1]
    best_acc = progress.best_acc if math.isfinite(progress.best_acc) else None
    info = {"config_hash": digest, "epochs": final["epoch"], "best_epoch": progress.best_epoch,
            "best_val_acc": best_acc, "final": final, "inputs": inputs}
    if logits_digest is not None:
        info["teacher_logits_digest"] = logits_digest
    mark_done(paths.root, TRAIN, info)
    log.info("finished: best epoch %s%s; %s", progress.best_epoch,
             f" (val macro acc {best_acc:.4f})" if best_acc is not None else "", paths.root)


# ------------------------------------------------------------------------------------------- logging

def _setup_logging(paths: ExpDir, env: DistEnv) -> list[logging.Handler]:
    """Log lines to stderr and to <exp>/train.log; ranks other than 0 only report warnings."""
    root = logging.getLogger("asc")
    root.setLevel(logging.INFO if env.is_main else logging.WARNING)
    fmt = logging.Formatter(f"%(asctime)s train{'' if env.is_main else f'[rank {env.rank}]'}: %(message)s",
                            "%Y-%m-%d %H:%M:%S")
    return attach_log(root, paths.log if env.is_main else None, fmt)


def _log_start(cfg: TrainConfig, env: DistEnv, data: TrainData, model: nn.Module, augmenter: Augmenter,
               digest: str, per_rank: int, steps: int, progress: Progress) -> None:
    params = sum(p.numel() for p in model.parameters())
    n_val = len(data.val) if data.val is not None else 0
    devices = f"{env.world_size} processes" if env.distributed else "1 process"
    log.info("model %s (%d parameters), config hash %s, %s on %s", cfg.model, params, digest, devices,
             env.device)
    log.info("%d training clips, %d validation clips (held-out recordings, %.0f%%), batch %d (%d per "
             "process), %d steps/epoch, %d epochs", len(data.train), n_val, 100 * cfg.val_fraction,
             cfg.batch_size, per_rank, steps, cfg.epochs)
    source = (f"teachers in the loop {', '.join(data.online.names)}" if data.online is not None
              else cfg.kd.teacher_logits)
    teacher_t = "" if cfg.kd.teacher_temperature is None else f" (teacher T {cfg.kd.teacher_temperature})"
    standard = ", logits standardized" if cfg.kd.logit_standardization else ""
    kd = (f"KD lambda {cfg.kd.lambda_ce} T {cfg.kd.temperature}{teacher_t}{standard} from {source}"
          if cfg.kd.lambda_ce < 1.0 else "plain cross-entropy")
    augment = augmenter.active + (["mixup"] if cfg.augment.mixup.enabled else [])
    log.info("loss: %s; augmentation: %s", kd, ", ".join(augment) or "none")
    if progress.next_epoch == 0:
        log.info("starting from epoch 1")


def _summary(record: dict) -> str:
    text = f"train loss {record['train_loss']:.4f}"
    if record.get("train_kd"):
        text += f" (ce {record['train_ce']:.4f}, kd {record['train_kd']:.4f})"
    if "val_acc" in record:
        text += f" | val loss {record['val_loss']:.4f} macro acc {100 * record['val_acc']:.2f}%"
    return (text + f" | lr {record['lr']:.3g} | {record['clips_per_s']:.0f} clips/s, data wait "
            f"{100 * record['data_wait']:.1f}% | {record['epoch_s']:.1f} s")
