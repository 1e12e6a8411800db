import numpy as np
import pytest
import scipy.signal
import soundfile
import torch

from asc.augment.device_ir import apply_device_ir, ir_log_mel_gain, load_dir_gains
from asc.errors import InputError

SR, N_FFT, WIN, HOP, N_MELS = 16000, 1024, 768, 256, 64


def _gain(ir, **kw):
    return ir_log_mel_gain(np.asarray(ir, dtype=float), SR, N_FFT, N_MELS, 0.0, None, **kw)


def test_delta_and_delayed_delta_give_zero_gain():
    assert np.abs(_gain([1.0])).max() < 1e-6
    assert np.abs(_gain(np.r_[np.zeros(17), 1.0])).max() < 1e-6


def test_scaled_delta_is_a_flat_gain():
    np.testing.assert_allclose(_gain([0.5]), np.full(N_MELS, np.log(0.25)), atol=1e-6)
    np.testing.assert_allclose(_gain([0.5], db=True), np.full(N_MELS, 20 * np.log10(0.5)), atol=1e-4)
    np.testing.assert_allclose(_gain([0.5], power=1.0), np.full(N_MELS, np.log(0.5)), atol=1e-6)


@pytest.mark.parametrize("ir", [np.array([1.0, 0.6]), scipy.signal.firwin(31, 4000, fs=SR)],
                            ids=["two-tap", "lowpass"])
def test_gain_matches_the_measured_log_mel_response_of_the_filter(ir):
    """Filtering white noise must shift its log-mel power by the predicted curve."""
    import librosa

    noise = np.random.default_rng(0).standard_normal(SR * 3)
    filtered = scipy.signal.lfilter(ir, [1.0], noise)

    def mel(y):
        return librosa.feature.melspectrogram(y=y, sr=SR, n_fft=N_FFT, win_length=WIN, hop_length=HOP,
                                              n_mels=N_MELS, power=2.0, center=False).mean(axis=1)

    measured = np.log(mel(filtered) / mel(noise))
    predicted = _gain(ir)
    passband = predicted > -4  # deep stop bands are dominated by window leakage, not the filter
    assert passband.sum() > N_MELS // 3
    np.testing.assert_allclose(predicted[passband], measured[passband], atol=0.02)
    if len(ir) > 2:
        assert predicted.min() < -4  # the lowpass really has a stop band the comparison skipped


def test_ir_longer_than_fft_is_averaged_not_truncated():
    rng = np.random.default_rng(1)
    ir = rng.standard_normal(3 * N_FFT) * np.exp(-np.arange(3 * N_FFT) / 600)
    gain = _gain(ir)
    assert gain.shape == (N_MELS,) and np.all(np.isfinite(gain))
    assert np.abs(gain - _gain(ir[:N_FFT])).max() > 0.05


def _write(path, audio, sr):
    soundfile.write(str(path), audio, sr)


def test_load_dir_gains_reads_sorted_resamples_and_mixes_down(tmp_path):
    delta = np.zeros(400)
    delta[200] = 0.5  # in the middle, so the resampling filter is not cut off
    _write(tmp_path / "b_delta.wav", delta, 32000)  # resampled to SR
    _write(tmp_path / "a_stereo.wav", np.stack([delta, delta], axis=1), SR)
    _write(tmp_path / "c_twotap.flac", np.r_[1.0, 0.6, np.zeros(50)] * 0.5, SR)
    (tmp_path / "notes.txt").write_text("not an IR")
    gains = load_dir_gains(tmp_path, SR, N_FFT, N_MELS, 0.0, 7000.0)
    assert gains.shape == (3, N_MELS) and gains.dtype == torch.float32
    flat = np.log(0.25)
    np.testing.assert_allclose(gains[0].numpy(), flat, atol=1e-5)  # a_stereo: mono mix of two equal channels
    np.testing.assert_allclose(gains[1].numpy(), flat, atol=0.05)  # b_delta after resampling (fmax below Nyquist)
    expected = ir_log_mel_gain(np.r_[1.0, 0.6] * 0.5, SR, N_FFT, N_MELS, 0.0, 7000.0)
    np.testing.assert_allclose(gains[2].numpy(), expected, atol=1e-4)


def test_load_dir_gains_errors_name_the_folder_or_file(tmp_path):
    with pytest.raises(InputError, match="no impulse responses") as e:
        load_dir_gains(tmp_path, SR, N_FFT, N_MELS, 0.0, None)
    assert str(tmp_path) in str(e.value)
    with pytest.raises(InputError, match="not found"):
        load_dir_gains(tmp_path / "missing", SR, N_FFT, N_MELS, 0.0, None)
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF this is not audio")
    with pytest.raises(InputError, match="cannot read") as e:
        load_dir_gains(tmp_path, SR, N_FFT, N_MELS, 0.0, None)
    assert "bad.wav" in str(e.value)
    bad.unlink()
    _write(tmp_path / "silent.wav", np.zeros(100), SR)
    with pytest.raises(InputError, match="silent.wav: .*silent"):
        load_dir_gains(tmp_path, SR, N_FFT, N_MELS, 0.0, None)
    (tmp_path / "silent.wav").unlink()
    _write(tmp_path / "empty.wav", np.zeros(0), SR)
    with pytest.raises(InputError, match="empty.wav: .*empty"):
        load_dir_gains(tmp_path, SR, N_FFT, N_MELS, 0.0, None)


def test_apply_adds_one_gain_curve_per_chosen_eligible_clip():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 1, 8, 5)
    gains = torch.randn(3, 8)
    eligible = torch.arange(64) % 2 == 0
    y = apply_device_ir(x, gains, 0.6, g, eligible)
    diff = (y - x)[:, 0]  # [B, F, T]
    torch.testing.assert_close(diff, diff[..., :1].expand_as(diff))  # the same curve in every frame
    curves = diff[..., 0]
    changed = curves.abs().amax(dim=1) > 0
    assert not changed[~eligible].any()
    assert 10 < changed.sum() < 32  # about 0.6 of the 32 eligible clips
    for curve in curves[changed]:
        assert torch.isclose(curve[None], gains, atol=1e-5).all(dim=1).any()


def test_apply_p0_identity_and_shape_check():
    x = torch.randn(4, 1, 8, 5)
    assert torch.equal(apply_device_ir(x, torch.randn(2, 8), 0.0, torch.Generator()), x)
    with pytest.raises(ValueError, match="do not fit"):
        apply_device_ir(x, torch.randn(2, 7), 1.0, torch.Generator())


def test_gain_in_the_pretrained_front_end_matches_the_measured_change():
    """With front_end efficientat the curve uses Kaldi's filterbank and the features' 1/5 scale."""
    from asc.features.efficientat_mel import EfficientATMel

    sr = 32000
    noise = np.random.default_rng(3).standard_normal(4 * sr)
    ir = np.array([1.0, -0.5, 0.2])
    front = EfficientATMel(fmax=15000.0)
    before = front(torch.from_numpy(noise.astype(np.float32))).double().numpy()
    after = front(torch.from_numpy(scipy.signal.lfilter(ir, [1.0], noise).astype(np.float32))).double().numpy()
    measured = (after - before)[:, 2:-2].mean(axis=1)
    gain = ir_log_mel_gain(ir, sr, 1024, 128, 0.0, 15000.0, front_end="efficientat")
    assert np.abs(gain - measured).max() < 0.01
    assert np.abs(gain).max() > 0.1                 # the filter does change the features


def test_gains_equal_librosas_resampling_and_filterbank_without_importing_librosa(tmp_path):
    # what the trainer reads must not change with the memory saving: librosa's resample and mel filterbank,
    # bit for bit; and librosa (numba, LLVM: ~230 MB resident for the whole run) stays out of the process
    import subprocess
    import sys
    rng = np.random.default_rng(0)
    ir = np.r_[1.0, rng.normal(0, 0.3, 2047) * np.exp(-np.arange(2047) / 300)] * 0.5
    _write(tmp_path / "ir.wav", ir, 44100)
    code = (f"import sys; from asc.augment.device_ir import load_dir_gains; import numpy as np; "
            f"g = load_dir_gains({str(tmp_path)!r}, 32000, 4096, 256, 0.0, None).numpy(); "
            f"np.save({str(tmp_path / 'g.npy')!r}, g); print(sorted(m for m in ('numba', 'librosa.core', 'librosa.filters') "
            f"if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    import librosa
    audio, rate = soundfile.read(str(tmp_path / "ir.wav"), dtype="float64")
    resampled = librosa.resample(audio, orig_sr=rate, target_sr=32000) * (rate / 32000)
    grid = 4096 * int(np.ceil(len(resampled) / 4096))
    spectrum = np.abs(np.fft.rfft(resampled, n=grid)) ** 2
    fbank = librosa.filters.mel(sr=32000, n_fft=grid, n_mels=256, fmin=0.0, fmax=None, dtype=np.float64)
    ratio = np.where(fbank.sum(axis=1) > 0, (fbank @ spectrum) / fbank.sum(axis=1), 1.0)
    expected = np.log(np.maximum(ratio, 1e-10)).astype(np.float32)
    np.testing.assert_array_equal(np.load(tmp_path / "g.npy")[0], expected)
