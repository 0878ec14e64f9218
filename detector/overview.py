"""The night at a glance: per-minute activity and posture of each stream, for the morning report's timeline.

A few numbers per minute and stream, taken from the same frames the detector uses:

- EMG: ``rms_uv``, the RMS of the EMG band over the minute's usable frames (µV); ``active_share``, the share
  of usable frames above the activity threshold; ``usable_share``, the share of frames that were usable
  (not missing, clipped, lead-off or swamped by mains hum).
- accelerometer: ``movement_mg``, the mean movement (the frames' dynamic acceleration, mg) over usable
  frames; ``moving_share``, the share of usable frames with movement; ``upright_share``, the share of
  usable frames with the shank upright (out of bed); ``usable_share``.

A minute is summarised once all its frames are in, from all of them at once, so any chunking of the input
gives the same numbers; memory is a few floats per minute plus at most one minute of frames.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

EMG_FIELDS = ("rms_uv", "active_share", "usable_share", "missing_share")
ACC_FIELDS = ("movement_mg", "moving_share", "upright_share", "usable_share", "missing_share")


class MinuteTracks:
    """Per-minute summary of one stream's frames (``kind`` "emg" or "acc"), ``frames_per_minute`` a minute."""

    def __init__(self, kind: str, frames_per_minute: int) -> None:
        self.kind, self.fpm = kind, frames_per_minute
        self._next = 0  # first frame not yet summarised
        self._pending: dict[str, FloatArray] = {}  # frames from self._next on, not yet a whole minute
        self._done: list[FloatArray] = []  # one (n_fields,) row per summarised minute

    @property
    def fields(self) -> tuple[str, ...]:
        return EMG_FIELDS if self.kind == "emg" else ACC_FIELDS

    def add(self, first: int, tracks: dict[str, npt.ArrayLike]) -> None:
        """Frames ``first ..`` with tracks "ms" (EMG mean square) or "motion" (g), "active"/"moving",
        "upright" (acc), "valid" and "missing". Frames arrive in order, without overlap."""
        # 0/1 tracks stay boolean (as the stages give them), levels are float64
        arrays = {k: np.asarray(v) for k, v in tracks.items()}
        arrays = {k: v if v.dtype == bool else v.astype(np.float64, copy=False) for k, v in arrays.items()}
        if first > self._next + self._pending_n():  # frames never given: missing
            self._extend(first - self._next - self._pending_n())
        for k, v in arrays.items():
            self._pending[k] = np.concatenate((self._pending[k], v)) if k in self._pending else v
        whole = self._pending_n() // self.fpm
        if whole:
            self._summarise(whole * self.fpm)

    def finish(self) -> None:
        """Summarise the last, partial minute."""
        if self._pending_n():
            self._summarise(self._pending_n(), partial=True)

    def to_json(self) -> dict[str, list[float | None]]:
        rows = np.array(self._done).reshape(-1, len(self.fields))
        return {
            f: [None if not np.isfinite(v) else round(float(v), 4) for v in rows[:, i]]
            for i, f in enumerate(self.fields)
        }

    # -- internals --------------------------------------------------------------------------------------
    def _pending_n(self) -> int:
        return next(iter(self._pending.values())).size if self._pending else 0

    def _extend(self, n_missing: int) -> None:
        names: tuple[str, ...] = ("ms", "active", "valid", "missing")
        if self.kind == "acc":
            names = ("motion", "moving", "upright", "valid", "missing")
        for k in names:
            fill = (
                np.ones(n_missing)
                if k == "missing"
                else np.zeros(n_missing)
                if k == "valid"
                else np.full(n_missing, np.nan)
            )
            self._pending[k] = np.concatenate((self._pending[k], fill)) if k in self._pending else fill

    def _summarise(self, n: int, partial: bool = False) -> None:
        m = self.fpm if not partial else n
        take = {k: v[:n].reshape(-1, m) for k, v in self._pending.items()}
        valid = take["valid"] > 0.5
        count = valid.sum(axis=1)

        def share(x: FloatArray) -> FloatArray:
            return np.asarray((valid & (x > 0.5)).sum(axis=1) / count, dtype=np.float64)

        def mean(x: FloatArray) -> FloatArray:
            return np.asarray(np.where(valid, x, 0.0).sum(axis=1) / count, dtype=np.float64)

        with np.errstate(invalid="ignore", divide="ignore"):
            if self.kind == "emg":
                cols = [np.sqrt(mean(take["ms"])), share(take["active"])]
            else:
                cols = [1000.0 * mean(take["motion"]), share(take["moving"]), share(take["upright"])]
            cols.append(count / m)
            cols.append((take["missing"] > 0.5).sum(axis=1) / m)
        rows = np.stack(cols, axis=1)
        rows[count == 0, :-2] = np.nan  # no usable frame: nothing to say but that
        self._done.extend(rows)
        self._pending = {k: v[n:] for k, v in self._pending.items()}
        self._next += n


def overview_json(tracks: dict[str, MinuteTracks], minute_s: float) -> dict[str, Any]:
    return {"minute_s": minute_s, "streams": {name: t.to_json() for name, t in tracks.items()}}
