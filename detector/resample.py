"""Irregularly timed samples onto a uniform grid, keeping real gaps as gaps.

Consumer sensors and phone apps deliver samples with jittered timestamps (BLE batches, OS scheduling). The
detector works on uniform streams, so samples are interpolated linearly onto ``t0 + k / fs``. A grid point
between two samples farther apart than ``max_gap_s`` is missing data (NaN), not a straight line drawn
across the gap.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def resample_uniform(t_s: npt.ArrayLike, x: npt.ArrayLike, fs: float, *, max_gap_s: float) -> tuple[float, FloatArray]:
    """Samples ``x`` (channels, n) at increasing times ``t_s`` (n,) -> ``(t0, y)`` with ``y`` (channels, m)
    at ``t0 + k / fs``, ``t0 = t_s[0]``; NaN where the nearest samples on either side are more than
    ``max_gap_s`` apart."""
    t = np.asarray(t_s, dtype=np.float64)
    v = np.atleast_2d(np.asarray(x, dtype=np.float64))
    if t.ndim != 1 or v.shape[-1] != t.size:
        raise ValueError(f"need one timestamp per sample: {t.size} timestamps for {v.shape[-1]} samples")
    if t.size < 2:
        raise ValueError("need at least two samples to resample")
    if not (np.isfinite(t).all() and np.all(np.diff(t) > 0)):
        raise ValueError("timestamps must be finite and strictly increasing")
    if not (np.isfinite(fs) and fs > 0):
        raise ValueError(f"sampling rate must be positive, got {fs}")
    m = int(np.floor((t[-1] - t[0]) * fs + 1e-9)) + 1
    grid = t[0] + np.arange(m) / fs
    y = np.empty((v.shape[0], m))
    for c in range(v.shape[0]):
        y[c] = np.interp(grid, t, v[c])
    right = np.clip(np.searchsorted(t, grid, side="left"), 1, t.size - 1)
    gap = (t[right] - t[right - 1]) > max_gap_s
    exact = t[right - 1] == grid  # a grid point on a sample lies in no gap
    y[:, gap & ~exact & (t[right] != grid)] = np.nan
    return float(t[0]), y
