"""Small numeric building blocks of the simulator: sample indexing, windows and shaped noise."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

#: Rate (Hz) of the envelope grid that carries every slow quantity (EMG amplitude, motion artifact,
#: hum amplitude) before it is interpolated to the EMG rate.
GRID_FS_HZ = 100.0

F64 = npt.NDArray[np.float64]


def n_samples(duration_s: float, fs: float) -> int:
    """Number of samples at ``fs`` Hz whose time ``i / fs`` lies before ``duration_s``."""
    return max(1, first_index(duration_s, fs))


def first_index(t_s: float, fs: float) -> int:
    """Smallest sample index ``i >= 0`` with ``i / fs >= t_s`` (exact in float64)."""
    if t_s <= 0.0:
        return 0
    k = math.ceil(t_s * fs)
    while k > 0 and (k - 1) / fs >= t_s:
        k -= 1
    while k / fs < t_s:
        k += 1
    return k


def index_range(start_s: float, end_s: float, fs: float, n: int) -> tuple[int, int]:
    """``[i0, i1)``: the samples with ``start_s <= i / fs < end_s``, clipped to ``[0, n)``."""
    i0 = min(n, first_index(start_s, fs))
    i1 = min(n, first_index(end_s, fs))
    return i0, max(i0, i1)


def loguniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    """One draw, log-uniform in ``[lo, hi]``."""
    if hi <= lo:
        return float(lo)
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def smoothstep(x: npt.ArrayLike) -> F64:
    """Raised-cosine step: 0 for ``x <= 0``, 1 for ``x >= 1``, smooth in between."""
    u = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0)
    out: F64 = 0.5 - 0.5 * np.cos(np.pi * u)
    return out


def plateau(t: F64, start_s: float, end_s: float, ramp_s: float) -> F64:
    """Window that is 1 on ``[start_s, end_s]`` with raised-cosine ramps centred on the edges.

    The window is 0.5 at ``start_s`` and ``end_s`` and 0 outside ``[start_s - ramp_s/2, end_s + ramp_s/2]``.
    Adjacent windows sharing an edge and a ramp sum to one.
    """
    r = max(ramp_s, 1e-9)
    up = smoothstep((t - (start_s - r / 2)) / r)
    down = 1.0 - smoothstep((t - (end_s - r / 2)) / r)
    out: F64 = up * down
    return out


def grid_span(start_s: float, end_s: float, n_grid: int) -> tuple[int, F64]:
    """First grid index and grid times covering ``[start_s, end_s]`` (clipped to the grid)."""
    k0 = max(0, math.floor(start_s * GRID_FS_HZ))
    k1 = min(n_grid, math.ceil(end_s * GRID_FS_HZ) + 1)
    k1 = max(k0, k1)
    return k0, np.arange(k0, k1, dtype=np.float64) / GRID_FS_HZ


def band_noise(
    rng: np.random.Generator,
    shape: tuple[int, ...],
    *,
    fs: float,
    band_hz: tuple[float, float],
    slope: float = 0.0,
) -> F64:
    """Gaussian noise with a band-limited spectrum, unit RMS along the last axis.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    shape : tuple of int
        Output shape; time on the last axis.
    fs : float
        Sampling rate in Hz.
    band_hz : (float, float)
        Pass band in Hz; the upper edge is limited to 0.45 ``fs``.
    slope : float
        Power-spectrum slope inside the band (0 flat, -1 pink).

    Returns
    -------
    ndarray of float64
        Unit-RMS noise (zeros when the band holds no frequency bin).
    """
    n = shape[-1]
    x = rng.standard_normal(shape)
    if n < 4:
        return np.zeros(shape)
    spec = np.fft.rfft(x, axis=-1)
    f = np.fft.rfftfreq(n, 1.0 / fs)
    lo, hi = band_hz[0], min(band_hz[1], 0.45 * fs)
    gain = ((f >= lo) & (f <= hi)).astype(np.float64)
    if not gain.any():
        nearest = int(np.clip(round(0.5 * (lo + hi) * n / fs), 1, len(f) - 1))
        gain[nearest] = 1.0
    if slope != 0.0:
        gain[1:] *= f[1:] ** (slope / 2.0)
    y = np.fft.irfft(spec * gain, n, axis=-1)
    rms = np.sqrt(np.mean(y**2, axis=-1, keepdims=True))
    out: F64 = y / np.where(rms > 0, rms, 1.0)
    return out


def pink_band_fraction(band_hz: tuple[float, float], fs: float) -> float:
    """Fraction of a 1/f power spectrum on ``band_hz`` that lies below 0.45 ``fs``."""
    lo, hi = band_hz
    top = min(hi, 0.45 * fs)
    if top <= lo:
        return 0.0
    return math.log(top / lo) / math.log(hi / lo)


def unit_vector(v: npt.ArrayLike) -> F64:
    """``v`` scaled to unit length along the last axis."""
    a = np.asarray(v, dtype=np.float64)
    out: F64 = a / np.linalg.norm(a, axis=-1, keepdims=True)
    return out


def interp_rows(t: F64, knots_t: F64, knots_v: F64) -> F64:
    """Linear interpolation of each column of ``knots_v`` (shape (k, d)) at times ``t``: shape (d, n)."""
    return np.stack([np.interp(t, knots_t, knots_v[:, j]) for j in range(knots_v.shape[1])])


def walk_phase(t: F64, start_s: float, cadence_hz: float, phase_rad: float) -> F64:
    """Gait phase in [0, 1) of a leg (0 = its heel strike) while walking; a stride is two steps."""
    cycles: F64 = 0.5 * cadence_hz * (t - start_s) + phase_rad / (2.0 * math.pi)
    out: F64 = cycles - np.floor(cycles)
    return out
