"""A cramp ends where its contraction falls away, not where the raised tone of the wake after it does."""

from __future__ import annotations

import numpy as np

from detector.night import analyze_arrays


def _emg(rng: np.random.Generator, levels: list[tuple[float, float]], fs: float) -> np.ndarray:
    """Gaussian EMG with RMS ``a`` µV for ``d`` seconds, for each ``(d, a)`` in turn."""
    env = np.concatenate([np.full(int(d * fs), a) for d, a in levels])
    return (rng.standard_normal(env.size) * env).astype(np.float32)


def test_a_cramp_followed_by_the_raised_tone_of_wake_keeps_its_own_end() -> None:
    rng = np.random.default_rng(5)
    fs = 1000.0
    # rest at 2 µV, a 40-s cramp at 3.5 times rest, then five minutes awake at 1.5 times rest (above the
    # 1.4-times level that alone would keep a contraction going), then rest again; the other leg rests
    left = _emg(rng, [(600.0, 2.0), (40.0, 7.0), (300.0, 3.0), (60.0, 2.0)], fs)
    right = _emg(rng, [(1000.0, 2.0)], fs)
    det = analyze_arrays({"left": left, "right": right}, {}, emg_fs=fs, acc_fs=None, duration_s=1000.0)
    cramps = [e for e in det.all_events() if e.kind == "cramp"]
    assert [c.leg for c in cramps] == ["left"]
    assert abs(cramps[0].start_s - 600.0) <= 2.0
    assert abs(cramps[0].end_s - 640.0) <= 4.0
