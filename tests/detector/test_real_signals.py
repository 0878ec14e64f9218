"""The detector on real recordings made by others (tests/data/README.md): no night with cramps exists in
public, so these check that real EMG bursts, real EMG noise and a real consumer accelerometer's jitter and
micro-movements do not become cramps."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detector.emg import EmgProcessor
from detector.events import Event, mask_to_runs
from detector.night import analyze_arrays
from detector.params import EmgParams
from detector.resample import resample_uniform

DATA = Path(__file__).resolve().parents[1] / "data"
UV_PER_COUNT = 0.8  # a BITalino-type EMG sensor: 3.3 V / 2^12 counts / gain 1009


def biosppy_emg_uv(name: str) -> np.ndarray:
    counts = np.loadtxt(DATA / "biosppy" / f"{name}.txt.gz")  # 12-bit ADC counts around mid-scale, 1000 Hz
    return (counts - np.median(counts)) * UV_PER_COUNT


def emg_events(uv: np.ndarray) -> list[Event]:
    det = analyze_arrays({"left": uv}, {}, emg_fs=1000.0, acc_fs=None, duration_s=uv.size / 1000.0)
    return det.all_events()


def emg_activity(uv: np.ndarray) -> np.ndarray:
    """Per 100-ms frame, whether the EMG stage finds the muscle active (the frames behind leg movements)."""
    proc = EmgProcessor(fs=1000.0, params=EmgParams(), frame_hz=10, full_scale_uv=None)
    frames = proc.push(0, uv) + proc.finish(uv.size)
    return np.concatenate([f.active for f in frames])


def later_bursts(uv: np.ndarray) -> list[tuple[float, float]]:
    """The strong bursts after the first 10-s block (the resting level is learnt from it), in seconds."""
    rms = np.sqrt(np.convolve(uv**2, np.ones(250) / 250, "same"))
    bursts = [(a / 1000, b / 1000) for a, b in mask_to_runs(rms > 4 * np.median(rms)).tolist() if b - a >= 250]
    return [b for b in bursts if b[0] > 10.0]


def test_strong_short_emg_bursts_are_activations_not_cramps() -> None:
    """The recording is of someone awake contracting the muscle: every burst is found as activity, none is
    a cramp, and none is a leg movement (a sleep phenomenon: no sleep was seen, from the EMG alone)."""
    uv = biosppy_emg_uv("emg_1")
    det = analyze_arrays({"left": uv}, {}, emg_fs=1000.0, acc_fs=None, duration_s=uv.size / 1000.0)
    events = det.all_events()
    assert not [e for e in events if e.kind in ("cramp", "limb_movement")]
    info = det.sleep_info()
    assert info is not None and info.sleep_onset_s is None
    active = emg_activity(uv)
    later = later_bursts(uv)
    assert len(later) >= 2
    assert all(active[int(b0 * 10) : int(b1 * 10) + 1].any() for b0, b1 in later)


def test_ten_minutes_of_repeated_real_bursts_never_make_a_cramp() -> None:
    uv = np.tile(biosppy_emg_uv("emg_1"), 10)
    events = emg_events(uv)
    assert not [e for e in events if e.kind == "cramp"]
    assert not [e for e in events if e.kind == "limb_movement"]  # bursts every few seconds: never asleep
    active = emg_activity(uv)
    assert all(active[int(b0 * 10) : int(b1 * 10) + 1].any() for b0, b1 in later_bursts(uv))


def test_weak_real_emg_activity_is_not_a_cramp() -> None:
    events = emg_events(biosppy_emg_uv("emg"))
    assert not [e for e in events if e.kind in ("cramp", "artifact")]


@pytest.fixture(scope="module")
def wrist() -> tuple[np.ndarray, np.ndarray]:
    d = np.loadtxt(DATA / "walch2019" / "46343_acceleration_excerpt.txt.gz")  # t_s ax ay az (g)
    return d[:, 0], d[:, 1:].T


def test_real_consumer_accelerometer_jitter_is_resampled_and_micro_movement_is_not_a_cramp(
    wrist: tuple[np.ndarray, np.ndarray],
) -> None:
    t, xyz = wrist
    dt = np.diff(t)
    assert 0.001 < dt.std() < 0.01  # real timestamp jitter
    _, y = resample_uniform(t, xyz, 50.0, max_gap_s=0.2)
    missing = np.isnan(y).any(axis=0)
    assert missing.sum() < 0.01 * y.shape[1]  # only the few real holes
    runs = mask_to_runs(~missing)
    det = analyze_arrays({}, {"left": y}, emg_fs=None, acc_fs=50.0, duration_s=y.shape[1] / 50.0)
    events = det.all_events()
    assert not [e for e in events if e.kind == "cramp"]
    gaps = [e for e in events if e.kind == "signal_gap"]
    assert len(gaps) == len(runs) - 1  # each hole in the timestamps is reported, nothing else


def test_short_real_accelerometer_recording_runs_clean() -> None:
    xyz = np.loadtxt(DATA / "biosppy" / "acc.txt.gz").T  # 100 Hz, 20 s, in g despite its header
    det = analyze_arrays({}, {"left": xyz}, emg_fs=None, acc_fs=100.0, duration_s=xyz.shape[1] / 100.0)
    assert [e.kind for e in det.all_events()] == []
