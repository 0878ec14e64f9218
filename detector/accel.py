"""Accelerometer stage: gravity, posture and movement per frame, chunk by chunk.

The band sits on the calf with its x axis along the shank (towards the knee), y lateral and z anterior.
A still accelerometer reads the "up" direction in g, so:

- **posture**: the shank's elevation ``asin(gx / |g|)`` from gravity averaged over ``posture_window_s``;
  above ``vertical_deg`` the shank is upright (standing, walking, sitting with feet down);
- **movement**: the SD of the frame means over ``motion_window_s`` (slow limb motion) plus the in-frame SD
  (vibration, steps, impacts), both vector norms in g; above ``motion_g`` the leg moves, above
  ``gross_motion_g`` it moves grossly (tossing, stretching, walking rather than a twitch of the foot).

Every step is causal and carried between chunks (identical frames whatever the chunking).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detector.params import AccParams
from detector.streaming import CausalWindow, FrameBatch, Framer

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class AccFrames:
    """Frame tracks of one accelerometer stream for frames ``first .. first + n``."""

    first: int
    gravity_g: FloatArray  # (3, n) gravity averaged over the posture window
    motion_g: FloatArray
    elevation_deg: FloatArray
    moving: BoolArray
    gross: BoolArray
    upright: BoolArray
    valid: BoolArray


class AccProcessor:
    """One accelerometer stream (3 axes in g), sample chunks in, :class:`AccFrames` out."""

    def __init__(self, *, fs: float, params: AccParams, frame_hz: int) -> None:
        self.p, self.frame_hz = params, frame_hz
        self._framer = Framer(fs=fs, frame_hz=frame_hz, n_sum=6, n_max=0)
        self._motion_win = CausalWindow(max(2, round(params.motion_window_s * frame_hz)), n_rows=3)
        self._motion_sq = CausalWindow(max(2, round(params.motion_window_s * frame_hz)), n_rows=3)
        self._post_win = CausalWindow(max(1, round(params.posture_window_s * frame_hz)), n_rows=3)

    def push(self, start: int, xyz: npt.ArrayLike) -> list[AccFrames]:
        xyz = np.asarray(xyz, dtype=np.float64)
        if xyz.ndim != 2 or xyz.shape[0] != 3:
            raise ValueError(f"accelerometer chunk must have shape (3, n), got {xyz.shape}")
        if xyz.shape[1] == 0:
            return []
        sums = np.empty((6, xyz.shape[1]))
        sums[:3] = xyz
        np.multiply(xyz, xyz, out=sums[3:])
        batch = self._framer.push(start, sums, np.zeros((0, xyz.shape[1])))
        return [] if batch is None else [self._frames(batch)]

    def finish(self, end_sample: int) -> list[AccFrames]:
        batch = self._framer.finish(end_sample)
        return [] if batch is None else [self._frames(batch)]

    def _frames(self, b: FrameBatch) -> AccFrames:
        valid = b.coverage >= 0.5
        cnt = np.maximum(b.counts, 1)
        mean = b.sums[:3] / cnt
        var = np.maximum(b.sums[3:] / cnt - mean * mean, 0.0)
        in_sd = np.sqrt(var.sum(axis=0))
        mean = np.where(valid, mean, np.nan)
        mu = self._motion_win.mean(mean)
        mu2 = self._motion_sq.mean(mean * mean)
        slow_sd = np.sqrt(np.maximum(np.nan_to_num(mu2 - mu * mu), 0.0).sum(axis=0))
        motion = np.where(valid, slow_sd + in_sd, np.nan)
        grav = self._post_win.mean(mean)
        norm = np.sqrt((grav * grav).sum(axis=0))
        with np.errstate(invalid="ignore", divide="ignore"):
            elev = np.degrees(np.arcsin(np.clip(grav[0] / norm, -1.0, 1.0)))
        ok = valid & np.isfinite(elev)
        return AccFrames(
            first=b.first,
            gravity_g=grav,
            motion_g=motion,
            elevation_deg=elev,
            moving=ok & (motion > self.p.motion_g),
            gross=ok & (motion > self.p.gross_motion_g),
            upright=ok & (elev > self.p.vertical_deg),
            valid=valid,
        )
