"""Scheduler configs in Kaldi's format (conf/slurm.conf, conf/queue.conf): how the launcher's generic
options become the site's flags.

    command sbatch --export=ALL          # the submit command and the flags every job gets
    option mem=* --mem=$0                # --mem 4G       -> --mem=4G  ($0 is the value)
    option mem=0                         # --mem 0        -> nothing
    default gpu=0                        # the value used when the option is not given
    option gpu=0 --partition=cpu         # a fixed value has its own flags ...
    option gpu=* --partition=gpu --gres=gpu:$0   # ... before the catch-all

Option names are the launcher's options with '_' for '-': mem, num_threads, gpu, time, max_jobs_run.
An option given to the launcher that the config does not map is an error, so that a request for a GPU
or a time limit is never dropped silently.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from asc.errors import ConfigError


@dataclass
class SchedulerConfig:
    """A parsed scheduler config: the submit command, option defaults and option-to-flags maps."""

    source: str
    command: list[str]
    defaults: dict[str, str] = field(default_factory=dict)
    options: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, source: str) -> "SchedulerConfig":
        """Parse the text of a config; `source` names it in error messages."""
        conf = cls(source, [])
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            keyword, _, rest = line.partition(" ")
            rest = rest.strip()
            where = f"{source} line {number}"
            if keyword == "command":
                conf.command = shlex.split(rest)
            elif keyword in ("option", "default"):
                spec, _, flags = rest.partition(" ")
                name, eq, value = spec.partition("=")
                if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or not value:
                    raise ConfigError(f"{where}: expected '{keyword} NAME=VALUE ...', found '{raw.strip()}'")
                if keyword == "default":
                    conf.defaults[name] = value
                else:
                    conf.options.setdefault(name, {})[value] = flags.strip()
            else:
                raise ConfigError(f"{where}: unknown keyword '{keyword}' (expected command, option or default)")
        if not conf.command:
            raise ConfigError(f"{source}: no 'command' line (e.g. 'command sbatch --export=ALL')")
        return conf

    @classmethod
    def load(cls, path: str | Path) -> "SchedulerConfig":
        """Read and parse the config file `path`."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"{path}: scheduler config not found")
        return cls.parse(path.read_text(), str(path))

    def flags(self, requested: dict[str, str | None]) -> list[str]:
        """The scheduler flags for the options the user gave (None: not given) and the defaults."""
        values = dict(self.defaults)
        values.update({name: value for name, value in requested.items() if value is not None})
        flags: list[str] = []
        for name, value in values.items():
            table = self.options.get(name)
            if table is None:
                raise ConfigError(f"{self.source}: no 'option {name}=...' line, so --{name.replace('_', '-')} "
                                  f"{value} cannot be passed to the scheduler; add one")
            if value in table:
                text = table[value]
            elif "*" in table:
                text = table["*"].replace("$0", value)
            else:
                raise ConfigError(f"{self.source}: no 'option {name}={value}' or 'option {name}=*' line "
                                  f"for --{name.replace('_', '-')} {value}")
            flags += shlex.split(text)
        return flags
