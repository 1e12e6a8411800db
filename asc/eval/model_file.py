"""Loading a saved model for evaluation: a training checkpoint, an experiment directory, or the one
deployable file of stage 5.

The deployable file (exp/deploy/split<N>/model.pt) is a checkpoint dict read with
`torch.load(weights_only=True)` (see asc.complexity):

    {"model_name", "model_options", "state_dict" (deployment form, float16), "deployed": True,
     "precision", "features" (the FeatureConfig as a dict), "labels", "complexity"}

so that it alone classifies audio. Its float16 weights are loaded into a float32 model: the
parameters hold exactly the float16 values they are counted with, and the CPU computes in float32
(full speed; float16 arithmetic is emulated on most CPUs). `compute_dtype="float16"` asks otherwise.

asc.prune.deploy writes it and its `load_deployed` reads it (`load_deployable` wraps that). A training checkpoint
(checkpoints/best.pt of asc.bin.train) carries `labels` and `feats_hash` (the config hash of the
feature store it was trained on) instead of the feature config itself.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch.nn as nn

from asc.config import from_dict
from asc.errors import ConfigError, InputError
from asc.eval.checkpoint_path import resolve_checkpoint
from asc.features.logmel import FeatureConfig
from asc.prune.deploy import DEFAULT_COMPUTE_DTYPE, load_deployed
from asc.prune.deploy import compute_dtype as compute_dtype_of
from asc.train.checkpoint import load_checkpoint, load_model


@dataclass
class LoadedModel:
    """A model ready to run (eval mode, in its compute dtype) and what its file says about it."""
    model: nn.Module
    path: Path                           # the .pt file read
    model_name: str
    deployed: bool                       # the file holds the deployment form (stage 5)
    labels: list[str] | None             # class order of the outputs, when the file records it
    features: FeatureConfig | None       # the front end (deployable files)
    feats_hash: str | None               # config hash of the features the model reads
    precision: str | None                # storage precision of a deployable file
    exp_dir: Path | None                 # the experiment directory of a training checkpoint
    complexity: dict | None = None       # the complexity report stored in a deployable file


def load_for_eval(path: str | os.PathLike, map_location: str = "cpu",
                  compute_dtype: str = DEFAULT_COMPUTE_DTYPE) -> LoadedModel:
    """Load any saved model of this project (experiment directory, checkpoint or deployable file),
    computing in `compute_dtype` (float32 unless asked otherwise, whatever the file stores)."""
    file, exp_dir = resolve_checkpoint(path)
    if load_checkpoint(file).get("precision") == "int8":
        return load_deployable(file, map_location, compute_dtype)    # the int8 network, run as stored
    model, ckpt = load_model(file, map_location)
    model.to(compute_dtype_of(compute_dtype))
    features = None
    if ckpt.get("features") is not None:
        features = feature_config_from(ckpt["features"], file)
    labels = ckpt.get("labels")
    if labels is not None and (not isinstance(labels, (list, tuple)) or not all(isinstance(x, str) for x in labels)):
        raise InputError(file, f"'labels' must be a list of class names, found {labels!r}")
    return LoadedModel(
        model=model, path=file, model_name=str(ckpt["model_name"]), deployed=bool(ckpt.get("deployed")),
        labels=list(labels) if labels is not None else None, features=features,
        feats_hash=features.hash() if features is not None else ckpt.get("feats_hash"),
        precision=ckpt.get("precision"), exp_dir=exp_dir)


def load_deployable(path: str | os.PathLike, map_location: str = "cpu",
                    compute_dtype: str = DEFAULT_COMPUTE_DTYPE) -> LoadedModel:
    """A deployable model file as a LoadedModel, refusing files that cannot classify audio alone.

    The model, front end and labels come from asc.prune.deploy.load_deployed, the one reader of the
    format; the storage precision is read from the same (small) file.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(path, "is a directory; give the deployable model file (e.g. exp/deploy/split100/model.pt)")
    model, features, labels = load_deployed(path, compute_dtype_of(compute_dtype), map_location)
    ckpt = load_checkpoint(path)
    config = feature_config_from(features, path)
    return LoadedModel(model=model, path=path, model_name=str(ckpt["model_name"]), deployed=True, labels=labels,
                       features=config, feats_hash=config.hash(), precision=ckpt.get("precision"), exp_dir=None,
                       complexity=ckpt.get("complexity"))


def feature_config_from(data, source: str | os.PathLike) -> FeatureConfig:
    """The FeatureConfig stored in a model file, checked key by key."""
    try:
        return from_dict(FeatureConfig, data, f"{source} (features)")
    except ConfigError as e:
        raise InputError(source, f"its feature config is unusable: {e}") from None
