"""Resampling onto a uniform grid against a per-point loop oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.resample import resample_uniform


def oracle(t: np.ndarray, x: np.ndarray, fs: float, max_gap_s: float) -> np.ndarray:
    out = []
    k = 0
    while t[0] + k / fs <= t[-1] + 1e-9 / fs:
        g = t[0] + k / fs
        j = next(i for i in range(1, t.size) if t[i] >= g) if g > t[0] else 1
        a, b = t[j - 1], t[j]
        if g in (a, b):
            out.append(x[:, j - 1] if g == a else x[:, j])
        elif b - a > max_gap_s:
            out.append(np.full(x.shape[0], np.nan))
        else:
            w = (g - a) / (b - a)
            out.append((1 - w) * x[:, j - 1] + w * x[:, j])
        k += 1
    return np.array(out).T


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(st.floats(0.005, 0.5), min_size=2, max_size=80),
    fs=st.sampled_from([10.0, 25.0, 50.0]),
    seed=st.integers(0, 1000),
)
def test_resample_matches_loop_oracle(steps: list[float], fs: float, seed: int) -> None:
    t = 100.0 + np.concatenate(([0.0], np.cumsum(steps)))
    x = np.random.default_rng(seed).standard_normal((3, t.size))
    t0, y = resample_uniform(t, x, fs, max_gap_s=0.2)
    assert t0 == t[0]
    np.testing.assert_allclose(y, oracle(t, x, fs, 0.2), rtol=1e-9, atol=1e-12)


def test_a_real_gap_stays_missing_and_jitter_is_smoothed_over() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(0, 20, 0.02) + rng.normal(0, 0.002, 1000)
    t = np.sort(np.concatenate((t[:400], t[600:])))  # 4 s lost
    x = np.sin(2 * np.pi * 0.5 * t)[np.newaxis]
    t0, y = resample_uniform(t, x, 50.0, max_gap_s=0.1)
    grid = t0 + np.arange(y.shape[1]) / 50.0
    lost = (grid > t[399]) & (grid < t[400])
    assert lost.sum() >= 195 and np.isnan(y[0, lost]).all()
    np.testing.assert_allclose(y[0, ~lost], np.sin(2 * np.pi * 0.5 * grid[~lost]), atol=2e-3)


@pytest.mark.parametrize(
    ("t", "msg"), [([0.0], "two samples"), ([0.0, 0.0, 1.0], "increasing"), ([0.0, np.nan, 1.0], "finite")]
)
def test_bad_timestamps_are_refused(t: list[float], msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        resample_uniform(t, np.zeros((1, len(t))), 50.0, max_gap_s=0.1)
