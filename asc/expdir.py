"""The one layout of an experiment directory, used by training, pruning, teacher logits and scoring.

    <exp>/config.yaml               the resolved training config
    <exp>/train.log                 the trainer's log
    <exp>/metrics.jsonl             one record per epoch
    <exp>/curves.png                its learning curves (asc.train.curves); tensorboard/ where installed
    <exp>/checkpoints/last.pt       the state after the last finished epoch (resume)
    <exp>/checkpoints/best.pt       the model of the best validation epoch (what later stages read)
    <exp>/train.done                written last: the run is finished

Kept free of torch imports, so that a stage can decide to skip finished work without loading it.
A model given on a command line is an experiment directory or a .pt file (`resolve_checkpoint`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from asc.atomic import done_marker
from asc.errors import InputError

TRAIN = "train"                                 # the done marker's name: train.done
TRAIN_DONE = f"{TRAIN}.done"
BEST = Path("checkpoints") / "best.pt"
LAST = Path("checkpoints") / "last.pt"


@dataclass
class ExpDir:
    """The files of one experiment directory."""
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def log(self) -> Path:
        return self.root / "train.log"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def curves(self) -> Path:
        return self.root / "curves.png"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def last(self) -> Path:
        return self.root / LAST

    @property
    def best(self) -> Path:
        return self.root / BEST

    @property
    def done(self) -> Path:
        return done_marker(self.root, TRAIN)


def resolve_checkpoint(path: str | os.PathLike) -> tuple[Path, Path | None]:
    """(the .pt file, its experiment directory or None) for an experiment directory or a .pt file.

    An experiment directory must hold a finished run (train.done): scoring a run that is still
    training would report a model that is about to change.
    """
    path = Path(path)
    if path.is_dir():
        paths = ExpDir(path)
        if not paths.done.is_file():
            raise InputError(path, f"training has not finished here (no {TRAIN_DONE}); finish it (run the "
                                   f"training stage again) or give a checkpoint file explicitly")
        if not paths.best.is_file():
            raise InputError(path, f"finished experiment without {BEST}")
        return paths.best, path
    if not path.exists():
        raise InputError(path, "no such checkpoint file or experiment directory")
    exp_dir = path.parent.parent if path.parent.name == "checkpoints" else None
    return path, exp_dir
