"""DCASE2025 Task 1 inference module (the API of the challenge's inference package), exported by the
`asc` recipe egs/dcase2025_task1 (stage 7). It needs torch, numpy, soundfile and soxr, not `asc`:
the front end and every model are TorchScript files in ckpts/ (models.json says which is which).

    predict(file_paths, device_ids, model_file_path=None) -> (one logit tensor [n_classes] per file, class order)
    load_model(model_file_path=None)              -> the models (front end, general, one per device)
    load_inputs(file_paths, device_ids, model)    -> one log-mel tensor [1, 1, n_mels, frames] per file
    get_model_for_device(model, device_id)        -> the network for that device; the general one for a
                                                     device without its own model ("unknown", unseen, None)

The networks are stored as the challenge counts them: parameters in float16 (get_model_for_device
returns them so, for complexity checks); predict computes in float32, which holds every float16 value
exactly, so its outputs are those of the stored weights at full CPU speed.
"""
from __future__ import annotations

import copy
import json
import warnings
from importlib import resources
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np
import soundfile as sf
import soxr
import torch
from torch import Tensor, nn

MODELS_FILE = "models.json"
RESAMPLER_QUALITY = "HQ"      # libsoxr's HQ: the resampler the features were trained with


class DeviceModels(nn.Module):
    """The front end, the general network and one network per device seen in training."""

    def __init__(self, folder: Path):
        super().__init__()
        meta = json.loads((folder / MODELS_FILE).read_text())
        self.config = meta
        self.class_order: List[str] = list(meta["labels"])
        self.sample_rate = int(meta["sample_rate"])
        self.clip_samples = int(meta["clip_samples"])
        self.train_device_ids = sorted(meta["devices"])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            self.front_end = torch.jit.load(str(folder / meta["front_end"]), map_location="cpu").eval()
            self.general = torch.jit.load(str(folder / meta["general"]), map_location="cpu").eval()
            self.device_models = nn.ModuleDict({d: torch.jit.load(str(folder / f), map_location="cpu").eval()
                                                for d, f in sorted(meta["devices"].items())})

    def model_for_device(self, device_id: Optional[str]) -> nn.Module:
        """The network of `device_id`, or the general one when that device has none."""
        if device_id and device_id in self.device_models:
            return self.device_models[device_id]
        return self.general


def float32_copy(network: nn.Module, device: torch.device) -> nn.Module:
    """A float32 copy of a stored (float16) network on `device`: the same values, full-speed arithmetic."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)        # .float()/.to() read .grad of every parameter
        return copy.deepcopy(network).float().to(device)


def _models_folder(model_file_path: Optional[str]) -> Path:
    if model_file_path is None:
        return Path(str(resources.files(__package__) / "ckpts"))
    path = Path(model_file_path)
    folder = path.parent if path.name == MODELS_FILE else path
    if not (folder / MODELS_FILE).is_file():
        raise FileNotFoundError(f"{model_file_path}: expected a ckpts folder of this package (with {MODELS_FILE}) "
                                f"or its {MODELS_FILE}")
    return folder


def load_model(model_file_path: Optional[str] = None) -> DeviceModels:
    """The packaged models (or those of another export's ckpts folder / models.json)."""
    return DeviceModels(_models_folder(model_file_path)).eval()


def _read_wave(path: str, sample_rate: int, clip_samples: int) -> np.ndarray:
    """Mono float32 at `sample_rate`, cut or zero-padded to one clip, as the training features were made."""
    data, rate = sf.read(path, dtype="float32", always_2d=True)
    if data.shape[0] == 0:
        raise ValueError(f"{path}: contains no audio samples")
    wave = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    if rate != sample_rate:
        length = -(-len(wave) * sample_rate // rate)
        wave = soxr.resample(wave, rate, sample_rate, quality=RESAMPLER_QUALITY).astype(np.float32)
        wave = np.pad(wave, (0, max(0, length - len(wave))))[:length]
    wave = wave[:clip_samples]
    return np.pad(wave, (0, clip_samples - len(wave))) if len(wave) < clip_samples else wave


def load_inputs(file_paths: List[str], device_ids: List[str], model: DeviceModels,
                batch_size: int = 64) -> List[Tensor]:
    """Log-mel inputs [1, 1, n_mels, frames] of each file, in the order of `file_paths`."""
    if len(file_paths) != len(device_ids):
        raise ValueError(f"{len(file_paths)} files but {len(device_ids)} device IDs")
    inputs: List[Tensor] = []
    for start in range(0, len(file_paths), batch_size):
        waves = [_read_wave(p, model.sample_rate, model.clip_samples) for p in file_paths[start:start + batch_size]]
        with torch.no_grad():
            mels = model.front_end(torch.from_numpy(np.stack(waves)))          # [batch, n_mels, frames]
        inputs.extend(m.unsqueeze(0).unsqueeze(0) for m in mels)
    return inputs


def get_model_for_device(model: DeviceModels, device_id: str) -> nn.Module:
    """The network for `device_id` (float16 parameters, as counted); the general one for any device
    without a model of its own."""
    return model.model_for_device(device_id)


def predict(file_paths: List[str], device_ids: List[str], model_file_path: Optional[str] = None,
            use_cuda: bool = False, batch_size: int = 64) -> Tuple[List[Tensor], List[str]]:
    """Logits [n_classes] of each file by the model of its device, and the class order."""
    if len(file_paths) != len(device_ids):
        raise ValueError(f"{len(file_paths)} files but {len(device_ids)} device IDs")
    device = torch.device("cuda" if use_cuda and torch.cuda.is_available() else "cpu")
    model = load_model(model_file_path)
    inputs = load_inputs(file_paths, device_ids, model, batch_size)
    outputs: List[Optional[Tensor]] = [None] * len(file_paths)
    groups: dict = {}
    for i, device_id in enumerate(device_ids):
        groups.setdefault(id(get_model_for_device(model, device_id)), (get_model_for_device(model, device_id), []))[1].append(i)
    for network, rows in groups.values():
        network = float32_copy(network, device)                 # float16 values, float32 arithmetic
        for start in range(0, len(rows), batch_size):
            chunk = rows[start:start + batch_size]
            with torch.no_grad():
                logits = network(torch.cat([inputs[i] for i in chunk]).to(device)).float().cpu()
            for i, row in zip(chunk, logits):
                outputs[i] = row
    return outputs, list(model.class_order)
