"""The log-mel front end as a plain graph of STFT, power, one matrix product and a log, for export.

asc.features.logmel.LogMel computes the same thing faster in eager PyTorch (the filterbank cut into
bands, squares done in place, the config kept as a dataclass); those tricks do not trace or export.
This module keeps only what TorchScript (torch.stft) and ONNX (the STFT operator of opset 17) both
carry: centered STFT with the model's Hann window and padding, |X|^2, the dense librosa filterbank,
log(mel + eps). A test checks it against LogMel.
"""
from __future__ import annotations

import torch
from torch import nn

from asc.features.logmel import FeatureConfig, mel_filterbank


class LogMelGraph(nn.Module):
    """Waveforms [batch, samples] -> log-mel [batch, n_mels, frames], export-friendly."""

    def __init__(self, cfg: FeatureConfig):
        super().__init__()
        self.n_fft, self.hop_length, self.win_length = cfg.n_fft, cfg.hop_length, cfg.win_length
        self.pad_mode, self.log_eps = cfg.pad_mode, cfg.log_eps
        self.register_buffer("window", torch.hann_window(cfg.win_length, periodic=True))
        self.register_buffer("filterbank", torch.from_numpy(mel_filterbank(cfg)))    # [n_mels, bins]

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """log(mel power + eps) of each waveform."""
        spec = torch.stft(wave, n_fft=self.n_fft, hop_length=self.hop_length, win_length=self.win_length,
                          window=self.window, center=True, pad_mode=self.pad_mode, return_complex=True)
        power = spec.real.square() + spec.imag.square()                       # [batch, bins, frames]
        return torch.log(torch.matmul(self.filterbank, power) + self.log_eps)


class WaveClassifier(nn.Module):
    """Front end and network in one module: waveforms [batch, samples] -> logits [batch, classes]."""

    def __init__(self, front: nn.Module, network: nn.Module):
        super().__init__()
        self.front, self.network = front, network

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of 1-channel clips at the front end's sample rate."""
        return self.network(self.front(wave).unsqueeze(1))
