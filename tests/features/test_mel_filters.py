"""The numpy mel filterbank is librosa's, bit for bit, for the configs the recipes use and others."""
from __future__ import annotations

import librosa
import numpy as np
import pytest

from asc.features.mel_filters import mel_filters


@pytest.mark.parametrize("sr, n_fft, n_mels, fmin, fmax, htk, norm", [
    (32000, 4096, 256, 0.0, None, False, "slaney"),       # the student front end
    (32000, 1024, 128, 0.0, 15500.0, False, "slaney"),    # PaSST's
    (32000, 1024, 128, 0.0, None, False, "slaney"),       # EfficientAT's
    (16000, 512, 32, 0.0, None, False, "slaney"),
    (44100, 2048, 64, 50.0, 14000.0, True, None),
    (22050, 2048, 40, 300.0, 8000.0, True, "slaney"),
    (48000, 4096, 96, 20.0, 23000.0, False, None),
])
def test_equal_to_librosa(sr, n_fft, n_mels, fmin, fmax, htk, norm):
    ours = mel_filters(sr, n_fft, n_mels, fmin, fmax, htk, norm)
    theirs = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm,
                                 dtype=np.float32)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


def test_inference_does_not_load_numba():
    import subprocess
    import sys

    code = ("import sys; from asc.features.logmel import FeatureConfig, LogMel; LogMel(FeatureConfig()); "
            "print('numba' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120).stdout.strip() == "False"
