"""Surface EMG of one leg: an interference pattern with a time-varying RMS, plus what contaminates it.

Two slow quantities live on a 100 Hz envelope grid for the whole night: the RMS envelope of muscle
activity (µV) and the mains-hum amplitude (µV). The EMG is generated in chunks: unit-variance white noise
shaped by a fixed surface-EMG filter (state carried between chunks, so chunks join seamlessly),
multiplied by the interpolated envelope, plus amplifier noise and hum. Low-frequency terms (motion
artifact < 15 Hz, heel-strike transients, lead-off wander, clipping offsets), pops and ECG are then added
at the full rate where they occur (interpolating them from the grid would leak images into the EMG
band), the amplifier range is applied and dropouts are blanked.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy import signal

from ._config import EMG_RANGE_UV
from ._model import F64, ArtifactPlan, Scenario
from ._shapes import GRID_FS_HZ, band_noise, grid_span, index_range, n_samples, plateau, walk_phase

_CHUNK = 1 << 19
_HP_HZ = 20.0  # surface-EMG spectrum: 2nd-order high-pass ...
_LP_HZ = (125.0, 155.0)  # ... and 4th-order low-pass, corner drawn per leg: mean frequency 80-95 Hz
_HUM_HARMONICS = ((1, 1.0), (2, 0.1), (3, 0.35))  # (harmonic, relative amplitude)
_TONE_RAMP_S = 2.0
_HUM_TABLE = 4096


def shaping_filter(fs: float, lp_hz: float) -> tuple[npt.NDArray[np.float64], float]:
    """Surface-EMG spectral shaping filter at ``fs`` and the gain that calibrates it.

    Returns
    -------
    sos : ndarray, shape (n_sections, 6)
        2nd-order Butterworth high-pass at 20 Hz, 4th-order low-pass at ``lp_hz`` (when below 0.45 ``fs``)
        and, when the spectrum reaches beyond 0.45 ``fs``, a 6th-order anti-alias low-pass there.
    gain : float
        Scale that gives the filtered unit white noise the variance of the part of the continuous
        spectrum below 0.45 ``fs``: a full-band RMS of 1 is kept, minus what the rate cannot carry.
    """
    f = np.linspace(0.0, 5000.0, 50001)
    w = 2.0 * np.pi * f
    _, h_hp = signal.freqs(*signal.butter(2, 2.0 * np.pi * _HP_HZ, "high", analog=True), worN=w)
    _, h_lp = signal.freqs(*signal.butter(4, 2.0 * np.pi * lp_hz, "low", analog=True), worN=w)
    power = np.abs(h_hp * h_lp) ** 2
    top = 0.45 * fs
    frac = float(power[f <= top].sum() / power.sum())
    sections = [signal.butter(2, _HP_HZ, "high", fs=fs, output="sos")]
    if lp_hz < top:
        sections.append(signal.butter(4, lp_hz, "low", fs=fs, output="sos"))
    if frac < 0.99:
        sections.append(signal.butter(6, top, "low", fs=fs, output="sos"))
    sos = np.vstack(sections)
    impulse = np.zeros(max(int(2.0 * fs), 64))
    impulse[0] = 1.0
    var = float(np.sum(signal.sosfilt(sos, impulse) ** 2))
    return sos, math.sqrt(frac / var)


def render_emg(
    scn: Scenario, plan: ArtifactPlan, leg: str, *, fs: float, rng: np.random.Generator
) -> npt.NDArray[np.float32]:
    """EMG of one leg in µV at ``fs`` Hz, shape (n_samples,), float32 (NaN in gaps, pinned when clipped)."""
    n = n_samples(scn.duration_s, fs)
    n_grid = math.floor((n - 1) * GRID_FS_HZ / fs) + 3
    act, hum = _grids(scn, plan, leg, n_grid, rng)
    sos, gain = shaping_filter(fs, rng.uniform(*_LP_HZ))
    white_uv = rng.uniform(0.7, 1.3)
    _, zi = signal.sosfilt(sos, rng.standard_normal(int(fs)), zi=np.zeros((sos.shape[0], 2)))
    harmonics = [(k, a, rng.uniform(0.0, 2.0 * math.pi)) for k, a in _HUM_HARMONICS if k * plan.mains_hz < 0.45 * fs]
    table = _hum_table(harmonics) if harmonics and np.any(hum) else None
    # One generator per noise stream: the samples do not depend on the chunk size.
    muscle_rng, amp_rng = (np.random.default_rng(int(s)) for s in rng.integers(0, 2**63 - 1, size=2))
    out = np.empty(n, dtype=np.float32)
    step = GRID_FS_HZ / fs
    for i0 in range(0, n, _CHUNK):
        m = min(_CHUNK, n - i0)
        idx = np.arange(i0, i0 + m, dtype=np.float64)
        u = idx * step
        k = u.astype(np.intp)
        frac = (u - k).astype(np.float32)
        y, zi = signal.sosfilt(sos, muscle_rng.standard_normal(m), zi=zi)
        x = y.astype(np.float32) * np.float32(gain) * _lerp(act, k, frac)
        x += np.float32(white_uv) * amp_rng.standard_normal(m, dtype=np.float32)
        if table is not None:
            x += _lerp(hum, k, frac) * _hum_unit(idx, fs, plan, table)
        out[i0 : i0 + m] = x
    _add_low_frequency(out, scn, plan, leg, fs, rng)
    _add_pops(out, plan, leg, fs)
    _add_ecg(out, plan, leg, fs)
    np.clip(out, -EMG_RANGE_UV, EMG_RANGE_UV, out=out)
    for gap_leg, start, end in plan.gaps:
        if gap_leg == leg:
            i0, i1 = index_range(start, end, fs, n)
            out[i0:i1] = np.nan
    return out


def _lerp(
    grid: npt.NDArray[np.float32], k: npt.NDArray[np.intp], frac: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    g0 = grid[k]
    out: npt.NDArray[np.float32] = g0 + frac * (grid[k + 1] - g0)
    return out


def _hum_table(harmonics: list[tuple[int, float, float]]) -> npt.NDArray[np.float32]:
    """One mains cycle (unit fundamental) sampled at ``_HUM_TABLE`` points, plus the wrap-around point."""
    x = 2.0 * np.pi * np.arange(_HUM_TABLE + 1) / _HUM_TABLE
    wave = sum(amp * np.sin(k * x + phi) for k, amp, phi in harmonics)
    return np.asarray(wave, dtype=np.float32)


def _hum_unit(idx: F64, fs: float, plan: ArtifactPlan, table: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Mains waveform with unit fundamental amplitude; the phase stays exact over the whole night."""
    cycles = idx * (plan.mains_hz / fs) + plan.mains_phase / (2.0 * math.pi)
    pos = (cycles - np.floor(cycles)) * _HUM_TABLE
    k = pos.astype(np.intp)
    return _lerp(table, k, (pos - k).astype(np.float32))


def _grids(
    scn: Scenario, plan: ArtifactPlan, leg: str, n_grid: int, rng: np.random.Generator
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """Night-long envelope grids: activity RMS and hum amplitude (µV)."""
    g = GRID_FS_HZ
    tg = np.arange(n_grid, dtype=np.float64) / g
    rest = np.interp(tg, *scn.rest_knots[leg])
    tone = np.ones(n_grid)
    for seg in scn.tones:
        k0, tt = grid_span(seg.start_s - _TONE_RAMP_S, seg.end_s + _TONE_RAMP_S, n_grid)
        tone[k0 : k0 + len(tt)] += (scn.tone_levels[seg.kind] - 1.0) * plateau(tt, seg.start_s, seg.end_s, _TONE_RAMP_S)
    act = rest * tone
    hum = np.zeros(n_grid)
    for c in scn.cramps:
        if c.leg == leg:
            k1 = min(n_grid, c.k0 + len(c.multiplier))
            act[c.k0 : k1] += rest[c.k0 : k1] * (c.multiplier[: k1 - c.k0] - 1.0)
    for b in scn.bursts:
        if b.leg != leg:
            continue
        k0, tt = grid_span(b.start_s - b.ramp_s, b.end_s + b.ramp_s, n_grid)
        if len(tt) == 0:
            continue
        w = plateau(tt, b.start_s, b.end_s, b.ramp_s)
        if b.irregular:
            pattern = 1.6 * np.clip(band_noise(rng, (len(tt),), fs=g, band_hz=(0.2, 1.5)), 0.0, None)
        else:
            pattern = 1.0 + 0.15 * band_noise(rng, (len(tt),), fs=g, band_hz=(0.0, 2.0))
        act[k0 : k0 + len(tt)] += b.emg_uv * w * pattern
    for walk in scn.walks:
        k0, tt = grid_span(walk.start_s - 1.0, walk.end_s + 1.0, n_grid)
        env = plateau(tt, walk.start_s, walk.end_s, 1.0)
        phase = walk_phase(tt, walk.start_s, walk.cadence_hz, walk.phase_rad + (math.pi if leg == "right" else 0.0))
        push = np.cos(np.pi * np.clip((phase - 0.35) / 0.3, -0.5, 0.5)) ** 2
        act[k0 : k0 + len(tt)] += walk.push_uv * env * push
    for s in plan.stretches:
        if s.leg != leg or s.reason not in ("mains", "lead_off"):
            continue
        k0, tt = grid_span(s.start_s - s.ramp_s, s.end_s + s.ramp_s, n_grid)
        sl = slice(k0, k0 + len(tt))
        w = plateau(tt, s.start_s, s.end_s, s.ramp_s)
        if s.reason == "lead_off":  # the electrode no longer sees the muscle, but sees the mains
            act[sl] *= 1.0 - 0.85 * w
        hum[sl] += (s.level if s.reason == "mains" else 0.5 * s.level) * w
    if plan.hum_uv[leg] > 0.0:
        knots = np.arange(0.0, scn.duration_s + 1800.0, 1800.0)
        drift = np.interp(tg, knots, np.exp(rng.normal(0.0, 0.3, len(knots))))
        hum += plan.hum_uv[leg] * drift
    return act.astype(np.float32), hum.astype(np.float32)


def _add_low_frequency(
    out: npt.NDArray[np.float32],
    scn: Scenario,
    plan: ArtifactPlan,
    leg: str,
    fs: float,
    rng: np.random.Generator,
) -> None:
    """Motion artifact (< 15 Hz) of movements, heel-strike transients, lead-off wander, clipping offsets."""
    n = len(out)
    pieces: list[tuple[float, float, float, float, tuple[float, float] | None]] = [
        (b.start_s, b.end_s, b.ramp_s, b.lf_uv, (0.5, 15.0)) for b in scn.bursts if b.leg == leg and b.lf_uv > 0.0
    ]
    for s in plan.stretches:
        if s.leg == leg and s.reason in ("lead_off", "motion", "clipping"):
            band = {"lead_off": (0.05, 3.0), "motion": (0.5, 15.0), "clipping": None}[s.reason]
            pieces.append((s.start_s, s.end_s, s.ramp_s, s.level, band))
    for start, end, ramp, level, band in pieces:
        i0, i1 = index_range(start - ramp, end + ramp, fs, n)
        if i1 - i0 < 2:
            continue
        w = level * plateau(np.arange(i0, i1) / fs, start, end, ramp)
        if band is not None:  # motion artifacts have most power at the lowest frequencies
            w *= band_noise(rng, (i1 - i0,), fs=fs, band_hz=band, slope=-1.0)
        out[i0:i1] += w.astype(np.float32)
    for walk in scn.walks:
        i0, i1 = index_range(walk.start_s - 1.0, walk.end_s + 1.0, fs, n)
        t = np.arange(i0, i1) / fs
        phase = walk_phase(t, walk.start_s, walk.cadence_hz, walk.phase_rad + (math.pi if leg == "right" else 0.0))
        stride_s = 2.0 / walk.cadence_hz
        own, other = phase * stride_s, ((phase - 0.5) % 1.0) * stride_s
        impact = _transient(own) + 0.3 * _transient(other)
        out[i0:i1] += (walk.impact_uv * plateau(t, walk.start_s, walk.end_s, 1.0) * impact).astype(np.float32)


def _transient(since_s: F64) -> F64:
    """Heel-strike motion artifact: a damped 10 Hz oscillation (50 ms decay)."""
    out: F64 = np.exp(-since_s / 0.05) * np.sin(2.0 * np.pi * 10.0 * since_s)
    return out


def _add_pops(out: npt.NDArray[np.float32], plan: ArtifactPlan, leg: str, fs: float) -> None:
    """Electrode pops: a step of hundreds of µV decaying exponentially (50-200 ms)."""
    n = len(out)
    for s in plan.stretches:
        if s.leg != leg or s.reason != "pops":
            continue
        for t, amp, tau in s.pops:
            i0, i1 = index_range(t, t + 6.0 * tau, fs, n)
            decay = np.exp(-(np.arange(i0, i1) / fs - t) / tau)
            out[i0:i1] += (amp * decay).astype(np.float32)


def _add_ecg(out: npt.NDArray[np.float32], plan: ArtifactPlan, leg: str, fs: float) -> None:
    """ECG crosstalk: a small biphasic QRS-like wavelet (Ricker, sigma 10 ms) at every heartbeat."""
    amp = plan.ecg_uv[leg]
    if amp <= 0.0 or len(plan.ecg_beats_s) == 0:
        return
    half = math.ceil(0.05 * fs)
    tt = np.arange(-half, half + 1) / fs
    template = (amp * (1.0 - (tt / 0.01) ** 2) * np.exp(-0.5 * (tt / 0.01) ** 2)).astype(np.float32)
    centre = np.rint(plan.ecg_beats_s * fs).astype(np.intp)
    centre = centre[(centre - half >= 0) & (centre + half < len(out))]
    for j, value in enumerate(template):
        out[centre + j - half] += value
