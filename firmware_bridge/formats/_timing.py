"""Timestamped samples onto the detector's uniform grid, the rules every text reader shares.

- **Jitter.** A timestamp that steps back (or repeats) by less than the gap limit is jitter: it is moved to
  just after its predecessor, keeping the sample order. A step back by more is refused (a reset clock, or
  two recordings pasted together).
- **Packet stamps.** When most timestamps repeat (a whole BLE packet stamped with one time, the time of its
  last sample), each packet's samples are spread evenly back from its stamp over the time since the
  previous packet (at most 1.5 typical sample periods each, so a packet after a hole keeps its rate).
- **Rate.** The typical step is the median step. The measured rate is the number of steps shorter than 1.5
  typical steps over the time they span (so millisecond-rounded stamps still give the true mean rate).
- **Steady clock.** When every stamp lies within 0.3 sample periods of one straight line through the
  sample numbers (a sensor stamping its own regular samples, with stamping jitter), the samples are placed
  by number at the fitted rate and keep their values: no interpolation, whose smoothing would dull the
  calf's vibration. Otherwise (samples truly taken at irregular times) they are interpolated onto a grid.
- **Gaps.** A step longer than :func:`max_gap_s` (5 sample periods, at least 50 ms) is missing data: the grid
  points inside it are NaN (:func:`detector.resample.resample_uniform`); shorter ones are interpolated.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detector.resample import resample_uniform
from firmware_bridge.formats._textio import name
from firmware_bridge.formats.recording import RecordingError

FloatArray = npt.NDArray[np.float64]
Float32Array = npt.NDArray[np.float32]

GAP_PERIODS = 5.0  #: a step longer than this many sample periods is a gap...
MIN_GAP_S = 0.05  #: ...and never shorter than this
MIN_RATE_HZ = 1.0
MAX_RATE_HZ = 20_000.0


def max_gap_s(fs: float) -> float:
    """Longest step between samples that is interpolated rather than kept as missing data."""
    return max(GAP_PERIODS / fs, MIN_GAP_S)


@dataclass(frozen=True, slots=True)
class Timing:
    """Repaired sample times (s, increasing, relative to the file's first timestamp) and the rate."""

    t_s: FloatArray
    measured_hz: float  #: the mean rate of normal steps
    typical_step_s: float  #: the median step


def repair_times(
    path: str | os.PathLike[str], t_s: FloatArray, *, line_of: Callable[[int], int] | None = None
) -> Timing:
    """Jitter and packet stamps repaired (module docstring); RecordingError for a clock that goes back.

    ``line_of(i)`` gives the file line of sample ``i`` for the error message.
    """
    t = np.asarray(t_s, dtype=np.float64)
    if t.size < 2:
        raise RecordingError(f"{name(path)} holds {t.size} sample{'s' if t.size != 1 else ''}; a recording needs more")
    d = np.diff(t)
    pos = d[d > 0]
    if pos.size == 0:
        raise RecordingError(f"{name(path)}: the timestamps never increase, so no sampling rate can be derived")
    if np.count_nonzero(d == 0) > 0.5 * d.size:
        t = _spread_packets(t)
        d = np.diff(t)
        pos = d[d > 0]
    typical = float(np.median(pos))
    limit = max(GAP_PERIODS * typical, MIN_GAP_S)
    back = np.flatnonzero(d < -limit)
    if back.size:
        i = int(back[0]) + 1
        where = f"line {line_of(i)}" if line_of else f"sample {i + 1}"
        raise RecordingError(
            f"{name(path)}: the timestamps go back by {-d[i - 1]:.3g} s at {where} (a reset sensor clock or "
            "files pasted together); split the file there"
        )
    if np.any(d <= 0):
        eps = typical * 1e-3  # never back, at least a thousandth of a period apart
        k = np.arange(t.size) * eps
        t = np.maximum.accumulate(t - k) + k
        d = np.diff(t)
    typical = float(np.median(d))
    normal = d[d < 1.5 * typical]
    measured = normal.size / float(normal.sum())
    if not (MIN_RATE_HZ <= measured <= MAX_RATE_HZ):
        raise RecordingError(
            f"{name(path)}: the timestamps give a sampling rate of {measured:.4g} Hz, outside "
            f"{MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz (wrong time unit?)"
        )
    return Timing(t, measured, typical)


def _spread_packets(t: FloatArray) -> FloatArray:
    """Runs of one timestamp (a packet stamped with its last sample's time) spread back evenly."""
    starts = np.flatnonzero(np.r_[True, np.diff(t) != 0])
    lengths = np.diff(np.r_[starts, t.size])
    stamps = t[starts]
    step = np.empty(starts.size)
    step[1:] = np.diff(stamps) / lengths[1:]
    typical = float(np.median(step[1:][step[1:] > 0])) if np.any(step[1:] > 0) else 0.0
    step[0] = typical
    step[(step <= 0) | (step > 1.5 * typical)] = typical
    back = np.arange(t.size) - np.repeat(starts + lengths - 1, lengths)  # -(L-1) .. 0 within each packet
    out: FloatArray = np.repeat(stamps, lengths) + back * np.repeat(step, lengths)
    return out


def grid_rate(measured_hz: float) -> float:
    """The rate of an interpolated grid: a whole number of Hz within 0.2 % of the measured rate, else the
    measured rate to 0.01 Hz. (The timestamps, not the rate, place the samples.)"""
    whole = float(round(measured_hz))
    if whole > 0 and abs(measured_hz / whole - 1.0) <= 0.002:
        return whole
    return max(round(measured_hz, 2), 0.01)


STEADY_TOLERANCE = 0.3  #: stamps within this many sample periods of one straight line come from a steady clock


def steady_numbers(t_s: FloatArray, measured_hz: float) -> tuple[npt.NDArray[np.int64], float, float] | None:
    """Sample numbers ``k`` and the line ``t = a + b k`` when the stamps come from one steady clock (every
    stamp within 0.3 sample periods of the line), else None.

    Each step is rounded to whole periods (so a hole of any length keeps the count of the samples lost in
    it); the line is fitted by least squares, twice (the second time with the fitted period). A step
    miscounted by one sample shifts every later stamp by a period, which leaves residuals of about half a
    period: such a file is not taken as steady.
    """
    d = np.diff(t_s)
    period = 1.0 / measured_hz
    for _ in range(2):
        k = np.concatenate(([0], np.cumsum(np.maximum(np.rint(d / period), 1.0)))).astype(np.int64)
        kc = k - k.mean()
        tc = t_s - t_s.mean()
        denom = float(kc @ kc)
        if denom <= 0:
            return None
        period = float(kc @ tc) / denom
        if not period > 0:
            return None
    a = float(t_s.mean() - period * k.mean())
    if float(np.max(np.abs(t_s - (a + period * k)))) > STEADY_TOLERANCE * period:
        return None
    return k, a, period


@dataclass(frozen=True, slots=True)
class Uniform:
    """A stream on a uniform grid: sample ``i`` of ``data`` ``(channels, m)`` float32 at ``t0_s + i / fs``."""

    t0_s: float
    fs: float
    data: Float32Array
    steady: bool  #: placed by sample number (no interpolation) rather than interpolated


MAX_EMPTY_SAMPLES = 20_000_000  #: a grid may hold this many samples more than ten times the file's


def to_uniform(path: str | os.PathLike[str], timing: Timing, x: FloatArray) -> Uniform:
    """Samples at repaired times onto a uniform grid.

    From a steady clock (:func:`steady_numbers`), each sample keeps its value and lands on its own number
    at the fitted rate; lost samples are NaN, filled by interpolation only in holes of at most
    :func:`max_gap_s`. Otherwise the samples are interpolated onto a grid at :func:`grid_rate`, NaN in gaps
    (:func:`detector.resample.resample_uniform`).
    """
    span = (timing.t_s[-1] - timing.t_s[0]) * timing.measured_hz
    if span > 10 * timing.t_s.size + MAX_EMPTY_SAMPLES:
        raise RecordingError(
            f"{name(path)}: its {timing.t_s.size} samples are spread over {span / timing.measured_hz / 3600:.3g} h "
            "of timestamps, mostly empty; this is not one recording"
        )
    steady = steady_numbers(timing.t_s, timing.measured_hz)
    if steady is not None:
        k, a, period = steady
        fs = round(1.0 / period, 4)
        _, y = resample_uniform(k.astype(np.float64), x, 1.0, max_gap_s=max_gap_s(fs) * fs)
        return Uniform(a, fs, y.astype(np.float32), True)
    fs = grid_rate(timing.measured_hz)
    t0, y = resample_uniform(timing.t_s, x, fs, max_gap_s=max_gap_s(fs))
    return Uniform(t0, fs, y.astype(np.float32), False)


def place(u: Uniform, t0_s: float) -> Float32Array:
    """``u.data`` on a grid starting at ``t0_s`` (<= ``u.t0_s``): NaN before the stream's first sample, which
    moves to the nearest grid point (at most half a sample period)."""
    lead = max(round((u.t0_s - t0_s) * u.fs), 0)
    if lead == 0:
        return u.data
    return np.concatenate((np.full((u.data.shape[0], lead), np.nan, dtype=np.float32), u.data), axis=1)


def wall_offset(phone_s: FloatArray, sensor_s: FloatArray) -> float:
    """Phone clock minus sensor clock, from stamps taken on packet arrival: a packet's phone time is at least
    its last sample's sensor time plus the offset (delivery only delays), so the smallest difference over
    the packets (runs of one phone stamp) is the best estimate."""
    last = np.flatnonzero(np.r_[np.diff(phone_s) != 0, True])  # each packet's last row
    return float(np.min(phone_s[last] - sensor_s[last]))
