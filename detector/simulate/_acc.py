"""Calf accelerometer of one leg: gravity, limb motion, walking, mechanomyography and sensor noise.

The reading is specific force in g in the band's frame (x along the shank towards the knee, y to the
wearer's right, z anterior). Gravity follows the posture keyframes (interpolated and renormalised),
generated in chunks with white sensor noise; movements, walking, the cramp's mechanomyogram and knocks
are then added where they happen; finally the sensor range is applied and dropouts are blanked.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from ._config import ACC_RANGE_G
from ._model import F64, ArtifactPlan, Scenario, Walk
from ._shapes import (
    GRID_FS_HZ,
    band_noise,
    index_range,
    interp_rows,
    n_samples,
    pink_band_fraction,
    plateau,
    walk_phase,
)

_CHUNK = 1 << 18
_MOTION_AXES = np.array([0.5, 0.5, 0.7]) / math.sqrt(0.5**2 + 0.5**2 + 0.7**2)
_MMG_AXES = np.array([0.3, 0.3, 0.9]) / math.sqrt(0.3**2 + 0.3**2 + 0.9**2)
_MMG_BAND_HZ = (5.0, 100.0)
_SHANK_M = 0.25  # knee to sensor
_G_MS2 = 9.81


def render_acc(
    scn: Scenario, plan: ArtifactPlan, leg: str, *, fs: float, rng: np.random.Generator
) -> npt.NDArray[np.float32]:
    """Acceleration of one leg in g at ``fs`` Hz, shape (3, n_samples), float32."""
    n = n_samples(scn.duration_s, fs)
    kt, kv = scn.keyframes[leg]
    noise_g = np.float32(rng.uniform(0.002, 0.004))
    out = np.empty((3, n), dtype=np.float32)
    sensor_rng = np.random.default_rng(int(rng.integers(0, 2**63 - 1)))  # independent of the chunk size
    for i0 in range(0, n, _CHUNK):
        m = min(_CHUNK, n - i0)
        t = np.arange(i0, i0 + m, dtype=np.float64) / fs
        g = interp_rows(t, kt, kv)
        g /= np.linalg.norm(g, axis=0, keepdims=True)
        noise = sensor_rng.standard_normal((m, 3), dtype=np.float32).T
        out[:, i0 : i0 + m] = g.astype(np.float32) + noise_g * noise
    for b in scn.bursts:
        if b.leg != leg or b.acc_g <= 0.0:
            continue
        i0, i1 = index_range(b.start_s - b.ramp_s, b.end_s + b.ramp_s, fs, n)
        if i1 - i0 < 2:
            continue
        w = plateau(np.arange(i0, i1) / fs, b.start_s, b.end_s, b.ramp_s)
        motion = band_noise(rng, (3, i1 - i0), fs=fs, band_hz=b.acc_band_hz) * _MOTION_AXES[:, None]
        out[:, i0:i1] += (b.acc_g * w * motion).astype(np.float32)
    for walk in scn.walks:
        _add_walk(out, scn, walk, leg, fs)
    mmg_scale = math.sqrt(pink_band_fraction(_MMG_BAND_HZ, fs))
    for c in scn.cramps:
        if c.leg != leg or mmg_scale == 0.0:
            continue
        i0, i1 = index_range(c.pre_onset_s, c.end_s, fs, n)
        if i1 - i0 < 4:
            continue
        t = np.arange(i0, i1) / fs
        grid_t = (c.k0 + np.arange(len(c.multiplier))) / GRID_FS_HZ
        amp = c.mmg_g_per_unit * np.maximum(np.interp(t, grid_t, c.multiplier) - 1.0, 0.0) * mmg_scale
        mmg = band_noise(rng, (3, i1 - i0), fs=fs, band_hz=_MMG_BAND_HZ, slope=-1.0) * _MMG_AXES[:, None]
        out[:, i0:i1] += (amp * mmg).astype(np.float32)
    for s in plan.stretches:
        if s.leg != leg or s.stream != "acc":
            continue
        i0, i1 = index_range(s.start_s - s.ramp_s, s.end_s + s.ramp_s, fs, n)
        w = plateau(np.arange(i0, i1) / fs, s.start_s, s.end_s, s.ramp_s)
        out[:, i0:i1] += (s.level * w * rng.standard_normal((3, i1 - i0))).astype(np.float32)
    np.clip(out, -ACC_RANGE_G, ACC_RANGE_G, out=out)
    for gap_leg, start, end in plan.gaps:
        if gap_leg == leg:
            i0, i1 = index_range(start, end, fs, n)
            out[:, i0:i1] = np.nan
    return out


def _add_walk(out: npt.NDArray[np.float32], scn: Scenario, walk: Walk, leg: str, fs: float) -> None:
    """Walking: shank pitch swing, its tangential and centripetal acceleration, and heel-strike impacts.

    Each leg swings at half the cadence (the other leg in antiphase); at heel strike the shank is
    pitched furthest forward and a damped ~18 Hz impact runs up the shank (a quarter of it arrives
    from the other leg's heel strike half a stride later).
    """
    i0, i1 = index_range(walk.start_s - 1.0, walk.end_s + 1.0, fs, out.shape[1])
    if i1 - i0 < 2:
        return
    t = np.arange(i0, i1) / fs
    env = plateau(t, walk.start_s, walk.end_s, 1.0)
    phase = walk_phase(t, walk.start_s, walk.cadence_hz, walk.phase_rad + (math.pi if leg == "right" else 0.0))
    omega = math.pi * walk.cadence_hz  # stride angular frequency
    theta = math.radians(walk.swing_deg)
    arg = 2.0 * math.pi * (phase + 0.25)
    pitch = theta * env * np.sin(arg)
    pitch_rate = theta * env * omega * np.cos(arg)
    pitch_acc = -theta * env * omega**2 * np.sin(arg)
    kt, kv = scn.keyframes[leg]
    up = interp_rows(np.array([0.5 * (walk.start_s + walk.end_s)]), kt, kv)[:, 0]
    up /= np.linalg.norm(up)
    cp, sp = np.cos(pitch), np.sin(pitch)
    dx = up[0] * cp + up[2] * sp - up[0]
    dz = -up[0] * sp + up[2] * cp - up[2]
    stride_s = 2.0 / walk.cadence_hz
    f_imp = 18.0 if 0.45 * fs > 18.0 else 0.0
    own, other = phase * stride_s, ((phase - 0.5) % 1.0) * stride_s
    impact = walk.impact_g * env * (_impact(own, f_imp) + 0.25 * _impact(other, f_imp))
    lever = _SHANK_M / _G_MS2
    out[0, i0:i1] += (dx + lever * pitch_rate**2 + 0.8 * impact).astype(np.float32)
    out[2, i0:i1] += (dz + lever * pitch_acc + 0.4 * impact).astype(np.float32)


def _impact(since_s: F64, f_hz: float) -> F64:
    out: F64 = np.exp(-since_s / 0.03) * np.cos(2.0 * np.pi * f_hz * since_s)
    return out
