"""The files a run keeps beside its checkpoints, shared by training and pruning: the log (to stderr
and to a file in the experiment directory), the per-epoch metrics, and the resolved config."""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from asc.atomic import write_text


def attach_log(logger: logging.Logger, log_file: Path | None, fmt: logging.Formatter) -> list[logging.Handler]:
    """Send `logger` to stderr and to `log_file` (unless None, or unless stderr already is that file, as
    under the recipe's launcher, which would write every line twice); returns the handlers to detach."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        if not stderr_is(log_file):
            handlers.append(logging.FileHandler(log_file))
    for handler in handlers:
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    return handlers


def detach_log(logger: logging.Logger, handlers: list[logging.Handler]) -> None:
    """Undo `attach_log`."""
    for handler in handlers:
        logger.removeHandler(handler)
        handler.close()


def stderr_is(path: Path) -> bool:
    """True if this process's stderr is the file at `path`."""
    try:
        return path.exists() and os.path.samestat(os.fstat(sys.stderr.fileno()), os.stat(path))
    except (OSError, ValueError, AttributeError):  # stderr replaced by an object without a file
        return False


def write_if_changed(path: Path, text: str) -> None:
    """Write `text` to `path` atomically unless the file already holds exactly it (a resumed run)."""
    if not path.is_file() or path.read_text() != text:
        write_text(path, text)


def write_metrics(path: Path, history: list[dict]) -> None:
    """metrics.jsonl: one JSON record per epoch."""
    write_text(path, "".join(json.dumps(r) + "\n" for r in history))


def read_metrics(path: Path) -> list[dict]:
    """The records of a metrics.jsonl ([] if there is none yet)."""
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
