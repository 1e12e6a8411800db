"""The log-mel front end (torch, CPU or GPU) and its configs; stage 2's sharded extraction."""
from asc.features.logmel import FeatureConfig, LogMel, load_feature_config, mel_filterbank

__all__ = ["FeatureConfig", "LogMel", "load_feature_config", "mel_filterbank"]
