"""Accelerometer stage: the mechanomyography (tremor) band against a whole-signal scipy oracle."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from detector.accel import AccFrames, AccProcessor
from detector.params import AccParams
from detector.streaming import first_sample_of_frame, rational_rate


def run(xyz: np.ndarray, fs: float, cuts: list[int], start: int = 0) -> AccFrames:
    proc = AccProcessor(fs=fs, params=AccParams(), frame_hz=10)
    out: list[AccFrames] = []
    for seg in np.split(np.arange(xyz.shape[1]), cuts):
        if seg.size:
            out += proc.push(start + int(seg[0]), xyz[:, seg])
    out += proc.finish(start + xyz.shape[1])
    keys = [k for k in AccFrames.__dataclass_fields__ if k != "first"]
    merged = {k: np.concatenate([getattr(f, k) for f in out], axis=-1) for k in keys}
    return AccFrames(first=out[0].first, **merged)


def lying(n: int, rng: np.random.Generator, noise_g: float = 0.003) -> np.ndarray:
    x = noise_g * rng.standard_normal((3, n))
    x[2] += 1.0  # supine: gravity on z
    return x


@pytest.mark.parametrize("fs", [50.0, 52.0, 100.0])
def test_tremor_level_equals_whole_signal_oracle_for_any_chunking(fs: float) -> None:
    rng = np.random.default_rng(1)
    n = int(120 * fs)
    xyz = lying(n, rng)
    cuts = sorted(rng.integers(1, n, size=25).tolist())
    chunked, whole = run(xyz, fs, cuts), run(xyz, fs, [])
    for k in AccFrames.__dataclass_fields__:
        if k != "first":
            np.testing.assert_array_equal(getattr(chunked, k), getattr(whole, k), err_msg=k)
    # oracle: one causal band-pass over the whole signal, then the mean square of each frame's samples
    p = AccParams()
    sos = signal.butter(2, p.tremor_band_hz, btype="bandpass", output="sos", fs=fs)
    y, _ = signal.sosfilt(sos, xyz, axis=1, zi=signal.sosfilt_zi(sos)[:, None, :] * xyz[:, 0][None, :, None])
    power = (y * y).sum(axis=0)
    settle = round(p.tremor_settle_s * fs)
    rate = rational_rate(fs)
    for f in range(12, chunked.tremor_g.size - 1):
        a, b = (first_sample_of_frame(k, fs=rate, frame_hz=10) for k in (f, f + 1))
        a = max(a, settle)
        expected = np.sqrt(power[a:b].mean() / 3.0)
        assert chunked.tremor_g[f] == pytest.approx(expected, rel=1e-9)


def test_tremor_ratio_rises_with_calf_vibration_but_not_with_slow_sway() -> None:
    fs, rng = 50.0, np.random.default_rng(2)
    n = int(900 * fs)
    xyz = lying(n, rng)
    t = np.arange(n) / fs
    vib = (t >= 700) & (t < 730)  # a 30-s calf vibration at 10 Hz, 5 mg RMS
    xyz[2, vib] += 0.005 * np.sqrt(2) * np.sin(2 * np.pi * 10.0 * t[vib])
    sway = (t >= 800) & (t < 830)  # a slow 1 Hz sway of 5 mg: limb still, nothing in the band
    xyz[1, sway] += 0.005 * np.sqrt(2) * np.sin(2 * np.pi * 1.0 * t[sway])
    fr = run(xyz, fs, [])
    ratio = fr.tremor_ratio
    assert np.median(ratio[6500:6900]) == pytest.approx(1.0, abs=0.1)  # resting level learnt from still frames
    assert np.median(ratio[7050:7300]) > 1.5
    assert fr.still[7050:7300].all() and fr.still[8050:8300].all()
    assert np.median(ratio[8050:8300]) < 1.15


def test_a_gap_restarts_the_band_filter() -> None:
    fs, rng = 50.0, np.random.default_rng(3)
    xyz = lying(int(60 * fs), rng)
    xyz[0, :1000] += 0.5  # the posture changed during the gap: the 1-g step must not ring through the band-pass
    xyz[0, 1000:] -= 0.5
    proc = AccProcessor(fs=fs, params=AccParams(), frame_hz=10)
    frames = proc.push(0, xyz[:, :1000]) + proc.push(2000, xyz[:, 1000:]) + proc.finish(2000 + xyz.shape[1] - 1000)
    tremor = np.concatenate([f.tremor_g for f in frames])
    assert np.isnan(tremor[200:400]).all()  # the 20-s gap
    assert np.isnan(tremor[400:410]).all()  # the filter settles first (tremor_settle_s)
    before, after = tremor[20:200], tremor[410:600]
    assert np.isfinite(after).all()
    assert np.median(after) == pytest.approx(np.median(before), rel=0.2) and after.max() < 2 * before.max()


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_shank_axis_finds_the_long_axis_however_the_band_was_worn_and_never_moves_x(seed: int) -> None:
    from detector.accel import shank_axis
    from detector.simulate import NightConfig, simulate_night

    cfg = NightConfig(duration_s=3 * 3600.0, emg_fs_hz=None, acc_fs_hz=25.0, n_cramps=1, position_change_rate_per_h=4.0)
    night = simulate_night(cfg, rng=np.random.default_rng(seed))
    for acc in night.acc.values():  # the simulator's bands: x along the shank
        assert shank_axis(acc, 25.0) is None
        assert shank_axis(-acc, 25.0) is None  # worn the other way round: still x (|elevation| is used)
        assert shank_axis(acc[[1, 0, 2]], 25.0) == 1
        assert shank_axis(acc[[2, 1, 0]], 25.0) == 2
        assert shank_axis(-acc[[1, 2, 0]], 25.0) == 2
    assert shank_axis(np.zeros((3, 25 * 60 * 5)), 25.0) is None  # too short, and no gravity
