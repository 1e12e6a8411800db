"""Which file to read for a model given on a command line: an experiment directory or a .pt file.

Kept free of torch imports, so that a stage can decide to skip finished work without loading it.
"""
from __future__ import annotations

import os
from pathlib import Path

from asc.errors import InputError

BEST = Path("checkpoints") / "best.pt"
TRAIN_DONE = "train.done"


def resolve_checkpoint(path: str | os.PathLike) -> tuple[Path, Path | None]:
    """(the .pt file, its experiment directory or None) for an experiment directory or a .pt file.

    An experiment directory must hold a finished run (train.done): scoring a run that is still
    training would report a model that is about to change.
    """
    path = Path(path)
    if path.is_dir():
        if not (path / TRAIN_DONE).is_file():
            raise InputError(path, f"training has not finished here (no {TRAIN_DONE}); finish it (run the "
                                   f"training stage again) or give a checkpoint file explicitly")
        best = path / BEST
        if not best.is_file():
            raise InputError(path, f"finished experiment without {BEST}")
        return best, path
    if not path.exists():
        raise InputError(path, "no such checkpoint file or experiment directory")
    exp_dir = path.parent.parent if path.parent.name == "checkpoints" else None
    return path, exp_dir
