"""Accelerometer stage: gravity, posture and movement per frame, chunk by chunk.

The band sits on the calf with its x axis along the shank (towards the knee), y lateral and z anterior.
A still accelerometer reads the "up" direction in g, so:

- **posture**: the shank's elevation ``asin(gx / |g|)`` from gravity averaged over ``posture_window_s``;
  above ``vertical_deg`` either way the shank is upright (standing, walking, sitting with feet down; a band
  worn with its x axis towards the foot reads a negative elevation). :func:`shank_axis` finds the long axis
  of a recording whose band was worn otherwise;
- **movement**: the SD of the frame means over ``motion_window_s`` (slow limb motion) plus the in-frame SD
  (vibration, steps, impacts), both vector norms in g; above ``motion_g`` the leg moves, above
  ``gross_motion_g`` it moves grossly (tossing, stretching, walking rather than a twitch of the foot).

- **tremor** (mechanomyography): a contracting calf vibrates at ~5-100 Hz, a few mg. Each axis goes through a
  causal band-pass (``tremor_band_hz``, upper edge at most 0.45 fs) whose state is carried between chunks;
  the tremor level is the RMS of the three band-passed axes over ``tremor_window_s`` (per axis, so white
  sensor noise of SD s reads about s times the band's share), and the tremor ratio is that level over
  its resting level (:class:`detector.baseline.RestingLevel`, learnt from still frames only). A cramp held
  with the limb still raises it; with a 50 Hz sensor only the bottom of the band is seen. ``still`` marks
  frames where the limb is held still (the SD of the frame means over ``motion_window_s`` below
  ``still_g``), since slow limb motion leaks into the band.

Every step is causal and carried between chunks (identical frames whatever the chunking).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import signal

from detector.baseline import RestingLevel
from detector.params import AccParams
from detector.streaming import CausalWindow, FrameCutter, frame_sums

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
    still: BoolArray
    tremor_g: FloatArray  #: band-passed RMS per axis in the frame (NaN where unusable)
    tremor_ratio: FloatArray  #: tremor RMS over ``tremor_window_s`` / resting level (0 where unknown)


class AccProcessor:
    """One accelerometer stream (3 axes in g), sample chunks in, :class:`AccFrames` out."""

    def __init__(self, *, fs: float, params: AccParams, frame_hz: int, tremor: bool = True) -> None:
        self.p, self.frame_hz = params, frame_hz
        self.tremor = tremor  #: measure the tremor band (only legs without EMG use it)
        lo, hi = params.tremor_band_hz[0], min(params.tremor_band_hz[1], 0.45 * fs)
        self._sos = signal.butter(2, (lo, hi), btype="bandpass", output="sos", fs=fs) if hi > 1.2 * lo else None
        # rows per sample: x, y, z, and with the tremor band its power and whether it is usable
        self._rows = 5 if tremor and self._sos is not None else 3
        self._cutter = FrameCutter(fs=fs, frame_hz=frame_hz, n_rows=self._rows)
        self._next_frame = 0
        self._motion_win = CausalWindow(max(2, round(params.motion_window_s * frame_hz)), n_rows=6)  # means, squares
        post = max(1, round(params.posture_window_s * frame_hz))
        # the posture window is usually the motion window: then its means are already at hand
        self._post_win = None if post == self._motion_win.width else CausalWindow(post, n_rows=3)
        self._settle = max(1, round(params.tremor_settle_s * fs))
        self._zi: FloatArray | None = None  # band-pass state, (sections, 3, 2); None after a gap
        self._since_reset = 0  # samples filtered since the band-pass restarted
        self._next_sample = 0
        self._tremor_win = CausalWindow(max(1, round(params.tremor_window_s * frame_hz)))
        self._rest = RestingLevel(
            block_frames=round(params.baseline_block_s * frame_hz),
            history_blocks=round(params.baseline_history_s / params.baseline_block_s),
            quantile=50.0,
            quiet_ratio=params.baseline_quiet_ratio,
            relearn_blocks=round(params.baseline_relearn_s / params.baseline_block_s),
        )

    def push(self, start: int, xyz: npt.ArrayLike) -> list[AccFrames]:
        """Samples ``start .. start + n`` (3, n) in g; a jump in ``start`` is a gap."""
        raw = np.asarray(xyz)
        if raw.ndim != 2 or raw.shape[0] != 3:
            raise ValueError(f"accelerometer chunk must have shape (3, n), got {raw.shape}")
        n = raw.shape[1]
        if n == 0:
            return []
        # x, y, z (, tremor power, tremor used), a copy in float64; squares are summed per frame
        if self._rows == 5:
            rows = np.empty((self._rows, n))
            rows[:3] = raw
            self._tremor(start, rows[:3], rows[3], rows[4])
        else:
            rows = raw.astype(np.float64)
        block = self._cutter.push(start, rows)
        if block is None:
            return []
        out = []
        if block.first > self._next_frame:
            out.append(self._frames(self._next_frame, block.first, None))
        sums = np.empty((self._rows + 3, block.upto - block.first))  # x, y, z (, power, used), x², y², z²
        counts = np.empty(block.upto - block.first)
        for length, frame_rows, starts in block.groups:
            sums[:, frame_rows] = frame_sums(block.data, length, starts, squares=3)
            counts[frame_rows] = length
        out.append(self._frames(block.first, block.upto, (sums, counts)))
        return out

    def finish(self, end_sample: int) -> list[AccFrames]:
        upto = self._cutter.finish(end_sample)
        return [self._frames(self._next_frame, upto, None)] if upto > self._next_frame else []

    def _tremor(self, start: int, xyz: FloatArray, power: FloatArray, used: FloatArray) -> None:
        """Band-passed power (sum over axes) of each sample, and 1 where it is usable (0 while settling).
        Only called when the band is used (five rows per sample)."""
        assert self._sos is not None
        n = xyz.shape[1]
        if self._zi is None or start != self._next_sample:  # first chunk or after a gap: restart the filter
            self._zi = signal.sosfilt_zi(self._sos)[:, np.newaxis, :] * xyz[:, 0][np.newaxis, :, np.newaxis]
            self._since_reset = 0
        y, self._zi = signal.sosfilt(self._sos, xyz, axis=1, zi=self._zi)
        np.einsum("ij,ij->j", y, y, out=power)
        used[:] = 1.0
        settling = min(n, max(0, self._settle - self._since_reset))
        power[:settling] = 0.0
        used[:settling] = 0.0
        self._since_reset += n
        self._next_sample = start + n

    def _frames(self, first: int, upto: int, feats: tuple[FloatArray, FloatArray] | None) -> AccFrames:
        """Frames ``first .. upto`` from their sums (x, y, z, with the tremor band its power and the samples
        where it is usable, then x², y², z²) and sample counts; ``None`` for frames lost in a gap."""
        p = self.p
        self._next_frame = upto
        n = upto - first
        if feats is None:
            sums, cnt = np.full((self._rows + 3, n), np.nan), np.ones(n)
        else:
            sums, cnt = feats
        valid = np.isfinite(sums[0])
        mean = sums[:3] / cnt
        var = np.maximum(sums[-3:] / cnt - mean * mean, 0.0)
        in_sd = np.sqrt(var.sum(axis=0))
        mu, mu2 = np.split(self._motion_win.mean(np.concatenate((mean, mean * mean))), 2)
        slow_sd = np.sqrt(np.maximum(np.nan_to_num(mu2 - mu * mu), 0.0).sum(axis=0))
        motion = np.where(valid, slow_sd + in_sd, np.nan)
        grav = mu if self._post_win is None else self._post_win.mean(mean)
        norm = np.sqrt((grav * grav).sum(axis=0))
        with np.errstate(invalid="ignore", divide="ignore"):
            elev = np.degrees(np.arcsin(np.clip(grav[0] / norm, -1.0, 1.0)))
            tremor_ms = (
                np.where(valid & (sums[4] > 0), sums[3] / (3.0 * sums[4]), np.nan)
                if self._rows == 5
                else np.full(n, np.nan)
            )
        ok = valid & np.isfinite(elev)
        moving = ok & (motion > p.motion_g)
        still = ok & (slow_sd < p.still_g)
        tremor = np.sqrt(tremor_ms)
        if self.tremor:
            rest = self._rest.levels_for(first, tremor, still & ~moving)
            level = np.sqrt(self._tremor_win.mean(np.where(still, tremor_ms, np.nan)[np.newaxis])[0])
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.nan_to_num(np.where(still, level / rest, np.nan), nan=0.0)
        else:
            ratio = np.zeros(n)
        return AccFrames(
            first=first,
            gravity_g=grav,
            motion_g=motion,
            elevation_deg=elev,
            moving=moving,
            gross=ok & (motion > p.gross_motion_g),
            upright=ok & (np.abs(elev) > p.vertical_deg),
            valid=valid,
            still=still,
            tremor_g=tremor,
            tremor_ratio=ratio,
        )


def shank_axis(
    xyz: npt.ArrayLike,
    fs: float,
    *,
    quantile: float = 80.0,
    across: float = 0.6,
    along: float = 0.4,
    min_minutes: int = 10,
) -> int | None:
    """Which axis of a whole night's acceleration ``(3, n)`` in g lies along the shank, when it is not x.

    A night is spent mostly lying, with the shank about horizontal: gravity then has little component
    along the shank's long axis, whichever way the sleeper lies, while the axes across the shank take
    gravity in turn as the sleeper rolls. So per axis, over the night's still minutes (mean acceleration
    0.7-1.3 g), the ``quantile``-th percentile of ``|g_axis| / |g|`` is small for the long axis. When it is
    above ``across`` for x (x took gravity in more than a fifth of the night: across the shank) and below
    ``along`` for another axis, that axis is the long one. Returns ``None`` when x may lie along the shank,
    when no axis clearly does, or with fewer than ``min_minutes`` still minutes.
    """
    a = np.asarray(xyz)
    per = max(1, round(60.0 * fs))
    if a.ndim != 2 or a.shape[0] != 3 or a.shape[1] // per < min_minutes:
        return None
    n = a.shape[1] // per
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # minutes with no data at all
        g = np.asarray(np.nanmean(a[:, : n * per].reshape(3, n, per), axis=2, dtype=np.float64))
    norm = np.sqrt((g * g).sum(axis=0))
    still = np.isfinite(norm) & (norm > 0.7) & (norm < 1.3)
    if still.sum() < min_minutes:
        return None
    q = np.percentile(np.abs(g[:, still]) / norm[still], quantile, axis=1)
    if q[0] <= across:
        return None
    best = 1 + int(np.argmin(q[1:]))
    return best if q[best] < along else None
