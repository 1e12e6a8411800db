"""Print a model's DCASE complexity (params, parameter bytes, MACs, verdict) as JSON.

    python -m asc.bin.complexity --model rep_mobile [--options opts.yaml]
    python -m asc.bin.complexity --config conf/common/model_rep_mobile.yaml
    python -m asc.bin.complexity --checkpoint exp/deploy/split100/model.pt --out complexity.json
    python -m asc.bin.complexity --readme README.md      # README's table of the recipe's models

The last form counts every model of README's table (README_MODELS, configs under
egs/dcase2024_task1/conf/common/) and writes the table between README's complexity markers, so
that no figure in it is typed by hand.

A model config is a YAML with `name` and `options` (conf/*/model_*.yaml), or a training config with
`model` and `model_options`. The deployment form is counted (see asc.complexity for how, and for
the checkpoint format).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from asc.atomic import write_json
from asc.complexity import (BYTES_PER_PARAM, DEFAULT_INPUT_SHAPE, complexity_report,
                            count_complexity)
from asc.config import from_dict, read_config, read_yaml
from asc.errors import AscError, ConfigError, InputError
from asc.readme_section import fill_section

RECIPE_CONF = Path(__file__).resolve().parents[2] / "egs" / "dcase2024_task1" / "conf" / "common"
# README's complexity table: (what the row is, model config under RECIPE_CONF), in README's order.
README_MODELS = (
    ("Rep-Mobile, default", "model_rep_mobile.yaml"),
    ("Rep-Mobile, wide start of pruning", "model_rep_mobile_wide.yaml"),
    ("Rep-Mobile, wide start of int8 pruning", "model_rep_mobile_wide_int8.yaml"),
    ("DCASE2024 baseline", "model_baseline.yaml"),
    ("CP-Mobile, DCASE2023 as published", "model_cp_mobile.yaml"),
    ("CP-Mobile at Rep-Mobile's complexity", "model_cp_mobile_small.yaml"),
)
README_SECTION = "complexity"


def main(argv: list[str] | None = None) -> int:
    """Build or load the model, count its deployment form, print (and optionally write) the JSON."""
    args = _parser().parse_args(argv)
    if args.readme is not None:
        return _write_readme(args.readme, args.precision)
    try:
        name, model = _model(args)
        shape = _input_shape(args.input_shape)
        try:
            complexity = count_complexity(model, shape, deploy=not args.training_form)
        except RuntimeError as e:  # torchinfo could not run the model on that input
            cause = str(e.__cause__ or e).strip().splitlines() or [type(e).__name__]
            raise ConfigError(f"cannot run model '{name}' on an input of shape {list(shape)}: "
                              f"{cause[0][:300]}") from None
        report = {"model": name, **complexity_report(complexity, args.precision, shape)}
        if args.precision == "int8" and not args.training_form:
            report.update(_int8_bytes(model, complexity.macs))
        if args.training_form:
            report["form"] = "training"
        if args.out:
            write_json(args.out, report)
    except AscError as e:
        print(f"complexity: {e}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=2))
    return 0


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m asc.bin.complexity", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--readme", type=Path,
                        help="write the table of README_MODELS between the file's complexity markers")
    source.add_argument("--model", help="registered model name (see asc.models.available_models)")
    source.add_argument("--config", type=Path, help="model config YAML (name + options) or training config")
    source.add_argument("--checkpoint", type=Path, help="saved model (model_name, model_options, state_dict)")
    p.add_argument("--options", type=Path, help="YAML of model options for --model")
    p.add_argument("--precision", default="float16", choices=sorted(BYTES_PER_PARAM),
                   help="storage type of the parameters (default: float16)")
    p.add_argument("--input-shape", default=",".join(map(str, DEFAULT_INPUT_SHAPE)),
                   help="channels,mels,frames of one clip (default: %(default)s)")
    p.add_argument("--out", type=Path, help="also write the JSON here (e.g. complexity.json)")
    p.add_argument("--training-form", action="store_true",
                   help="count the model as built, without re-parameterizing (for comparison only)")
    return p


def readme_table(precision: str = "float16") -> str:
    """README's complexity table (Markdown) of README_MODELS, and Rep-Mobile's training form below it."""
    from asc.complexity import count_complexity, param_bytes, within_limits
    from asc.models import ModelConfig, build_model

    lines = [f"| model (config under `conf/common/`) | params | bytes at {precision} | MACs | within the limits |",
             "|---|---:|---:|---:|---|"]
    for title, file in README_MODELS:
        config = _model_config(RECIPE_CONF / file, ModelConfig)
        c = count_complexity(build_model(config.name, **config.options))
        verdict = "yes" if within_limits(c, precision) else "no"
        lines.append(f"| {title} (`{file}`) | {c.params:,} | {param_bytes(c.params, precision):,} | {c.macs:,} "
                     f"| {verdict} |")
    config = _model_config(RECIPE_CONF / README_MODELS[0][1], ModelConfig)
    training = count_complexity(build_model(config.name, **config.options), deploy=False)
    lines += ["", f"Rep-Mobile's training form (before fusing) has {training.params:,} params and "
                  f"{training.macs / 1e6:.2f} M MACs."]
    return "\n".join(lines) + "\n"


def _write_readme(readme: Path, precision: str) -> int:
    try:
        changed = fill_section(readme, README_SECTION, readme_table(precision))
    except AscError as e:
        print(f"complexity: {e}", file=sys.stderr)
        return 1
    print(f"complexity: {readme}: table " + ("written" if changed else "already up to date"))
    return 0


def _model(args: argparse.Namespace):
    from asc.models import ModelConfig, build_model

    if args.options is not None and args.model is None:
        raise ConfigError("--options goes with --model (a config file or checkpoint has its own)")
    if args.model is not None:
        options = read_yaml(args.options) if args.options else {}
        return args.model, build_model(args.model, **options)
    if args.config is not None:
        config = _model_config(args.config, ModelConfig)
        return config.name, build_model(config.name, **config.options)
    from asc.models.checkpoint_file import load_model

    model, ckpt = load_model(args.checkpoint)
    if ckpt["model_name"] == "rep_mobile_int8":    # count the float network of the same structure (torchinfo
        return ckpt["model_name"], build_model("rep_mobile", **ckpt["model_options"])   # cannot see fake-quant)
    return ckpt["model_name"], model


def _int8_bytes(model, macs: int) -> dict:
    """The int8 deployable form's parameter bytes as asc.models.quantized counts them (int8 weights,
    float32 biases, per-channel scales and zero points, activation scales and zero points)."""
    from asc.complexity import MAX_MACS, MAX_PARAM_BYTES
    from asc.models.quantized import from_float, int8_memory

    try:
        memory = int8_memory(from_float(model))
    except Exception as e:  # torch.fx cannot trace every family
        raise ConfigError(f"cannot prepare this model for int8 quantisation: {type(e).__name__}: "
                          f"{str(e).splitlines()[0][:200]}") from None
    return {"param_bytes": memory["param_bytes"], "int8_memory": memory,
            "within_limits": memory["param_bytes"] <= MAX_PARAM_BYTES and macs <= MAX_MACS}


def _model_config(path: Path, cls):
    """A ModelConfig from a model YAML (`name`, `options`) or a training YAML (`model`, `model_options`);
    a `base:` file is merged in (the branch-study variants name model_rep_mobile.yaml as theirs)."""
    data = read_config(path)
    if "name" in data:
        return from_dict(cls, data, source=str(path))
    if isinstance(data.get("model"), str):
        options = data.get("model_options") or {}
        return from_dict(cls, {"name": data["model"], "options": options}, source=str(path))
    raise InputError(path, "not a model config: expected 'name' (and 'options'), or 'model' and "
                           "'model_options' as in a training config")


def _input_shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise ConfigError(f"--input-shape '{text}': expected channels,mels,frames, e.g. 1,256,65")
    return shape


if __name__ == "__main__":
    sys.exit(main())
