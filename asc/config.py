"""YAML configs become typed dataclasses at the edge of the program.

Every option has a default in its dataclass; a YAML file only overrides. Unknown keys and values of
the wrong type are refused with the file and key named, because a misspelt option that is silently
ignored costs a cluster run. YAML is read with the safe loader only.

A settings block shared by several files is stated once: a mapping (the whole file, or a nested one)
may name another file in `base: other.yaml` (relative to the file that names it); its keys are that
file's mapping with this mapping's keys merged over it, key by key (`read_config`). The merged result
is checked like any other, so an unknown key in either file is still refused.
"""
from __future__ import annotations

import dataclasses
import os
import types
import typing
from pathlib import Path
from typing import Any, Mapping, TypeVar

import yaml

from asc.errors import ConfigError

T = TypeVar("T")


def read_yaml(path: str | os.PathLike) -> dict:
    """Read a YAML mapping with the safe loader; an empty file is an empty mapping."""
    path = Path(path)
    try:
        with open(path) as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as e:
        raise ConfigError(_yaml_error(path, e)) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of options, found {type(data).__name__}")
    return data


BASE = "base"


def read_config(path: str | os.PathLike) -> dict:
    """The mapping of a config file with every `base:` resolved (see the module docstring)."""
    return _resolve_bases(read_yaml(path), Path(path), (Path(path).resolve(),))


def _resolve_bases(data: dict, path: Path, chain: tuple[Path, ...]) -> dict:
    """`data` (read from `path`) with its own and its nested mappings' `base:` files merged under it."""
    data = {key: _resolve_bases(value, path, chain) if isinstance(value, dict) else value
            for key, value in data.items()}
    if BASE not in data:
        return data
    name = data.pop(BASE)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{path}: '{BASE}' must name a YAML file, found {name!r}")
    base_path = path.parent / name
    if base_path.resolve() in chain:
        raise ConfigError(f"{path}: '{BASE}: {name}' leads back to itself "
                          f"({' -> '.join(str(p) for p in chain + (base_path.resolve(),))})")
    base = _resolve_bases(read_yaml(base_path), base_path, chain + (base_path.resolve(),))
    return merge(base, data)


def merge(base: Mapping, over: Mapping) -> dict:
    """`over` merged over `base`: nested mappings key by key, anything else replaced."""
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _yaml_error(path: Path, error: yaml.YAMLError) -> str:
    """One line naming the file, the line and the problem (PyYAML's own text spans several lines)."""
    mark = getattr(error, "problem_mark", None)
    where = f" line {mark.line + 1}" if mark is not None else ""
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"{path}{where}: not valid YAML: {problem}"


def from_dict(cls: type[T], data: Mapping[str, Any], source: str = "config") -> T:
    """Build dataclass `cls` from `data`, checking keys and types (nested dataclasses recurse)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a mapping for {cls.__name__}, found {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{source}: unknown key(s) {', '.join(map(repr, unknown))} for {cls.__name__}; "
                          f"known keys: {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = _coerce(value, hints[name], f"{source}: key '{name}'")
    try:
        return cls(**kwargs)
    except TypeError as e:  # a field without default that was not given
        raise ConfigError(f"{source}: {e}") from None


def load_config(cls: type[T], path: str | os.PathLike | None = None,
                overrides: Mapping[str, Any] | None = None) -> T:
    """Defaults of `cls`, then the YAML file at `path` (its bases resolved), then `overrides` (e.g. from
    the command line)."""
    data: dict = read_config(path) if path else {}
    return from_dict(cls, apply_overrides(data, overrides), source=str(path) if path else "config")


def apply_overrides(data: dict, overrides: Mapping[str, Any] | None) -> dict:
    """`data` with the dotted `overrides` ({"kd.temperature": 3}) set in place; returns it."""
    for key, value in (overrides or {}).items():
        _set_dotted(data, key, value)
    return data


def to_dict(obj) -> dict:
    """The dataclass as a plain dict, ready for yaml.safe_dump (the resolved config of a run)."""
    return dataclasses.asdict(obj)


def dump_yaml(obj) -> str:
    """The resolved config as YAML text."""
    data = to_dict(obj) if dataclasses.is_dataclass(obj) else obj
    return yaml.safe_dump(data, sort_keys=False)


def parse_override(text: str) -> tuple[str, Any]:
    """`key=value` from a command line; the value is parsed as YAML (`lr=1e-3`, `branches=[1,3]`)."""
    if "=" not in text:
        raise ConfigError(f"override '{text}': expected key=value")
    key, value = text.split("=", 1)
    return key.strip(), yaml.safe_load(value)


def _set_dotted(data: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    for part in parts[:-1]:
        data = data.setdefault(part, {})
    data[parts[-1]] = value


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{where}: {value!r} matches none of {hint}")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, found {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} items, found {len(value)}")
            return tuple(_coerce(v, a, where) for v, a in zip(value, args))
        item = args[0] if args else Any
        items = [_coerce(v, item, where) for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, found {value!r}")
        return dict(value)
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: expected one of {list(args)}, found {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, found {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, found {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, found {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, found {value!r}")
        return value
    return value
