"""A bounded store of frame tracks, addressed by absolute frame number.

Each stream's stage appends its frames here; detectors that need another stream's frames over an
interval (the other leg's activity during a candidate cramp, the accelerometer's motion) read them back.
The detector trims frames it no longer needs, so memory stays bounded over a night.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


class FrameStore:
    """Named tracks of one stream, read back as float64 (NaN = missing); booleans read as 0/1.

    Each track is kept in the type it arrives in (booleans as booleans, so most tracks take a byte a
    frame); only what is read back is converted."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self._bufs: dict[str, npt.NDArray[np.generic]] = {}  # per track, made at the first append
        self._cap = 0
        self._first = 0  # frame number of the first stored frame
        self._off = 0  # its buffer position
        self._n = 0  # stored frames
        self.next_frame = 0

    def append(self, first: int, tracks: dict[str, npt.NDArray[np.generic]]) -> None:
        n = next(iter(tracks.values())).shape[-1]
        if first != self.next_frame:
            raise ValueError(f"frames must be appended in order: got {first}, expected {self.next_frame}")
        if set(tracks) != set(self.names):
            raise ValueError(f"tracks must be {self.names}, got {tuple(tracks)}")
        if not self._bufs:
            self._cap = max(1024, 2 * n)
            for name, values in tracks.items():
                kind = np.asarray(values).dtype
                self._bufs[name] = np.empty(self._cap, dtype=kind if kind.kind in "bi" else np.float64)
        if self._off + self._n + n > self._cap:  # move the kept frames to the front, grow if needed
            size = max(self._cap, 2 * (self._n + n))
            for name, buf in self._bufs.items():
                kept = buf[self._off : self._off + self._n]
                if size > self._cap:
                    moved = np.empty(size, dtype=buf.dtype)
                    moved[: self._n] = kept
                    self._bufs[name] = moved
                else:
                    buf[: self._n] = kept  # numpy copies overlapping memory correctly
            self._cap, self._off = size, 0
        at = self._off + self._n
        for name, values in tracks.items():
            self._bufs[name][at : at + n] = values
        self._n += n
        self.next_frame = first + n

    def trim_before(self, frame: int) -> None:
        """Forget frames before ``frame`` (the caller no longer needs them)."""
        drop = min(max(frame - self._first, 0), self._n)
        self._first += drop
        self._off += drop
        self._n -= drop
        if self._cap > 4096 and self._n < self._cap // 8:  # shrink after a long batch
            size = max(1024, 2 * self._n)
            for name, buf in self._bufs.items():
                small = np.empty(size, dtype=buf.dtype)
                small[: self._n] = buf[self._off : self._off + self._n]
                self._bufs[name] = small
            self._cap, self._off = size, 0

    def get(self, name: str, a: int, b: int) -> npt.NDArray[np.float64]:
        """Track ``name`` over frames ``[a, b)``; NaN where frames are not (or no longer) stored."""
        if name not in self.names:
            raise KeyError(name)
        return self._read(name, a, b, np.float64, np.nan)

    def mask(self, name: str, a: int, b: int) -> npt.NDArray[np.bool_]:
        """Where track ``name`` is above 0.5 over frames ``[a, b)`` (a 0/1 track's ones; False where frames
        are not stored): ``get(name, a, b) > 0.5`` without converting a boolean track."""
        row = self._bufs.get(name)
        if row is None or row.dtype != np.bool_:
            return np.asarray(self.get(name, a, b) > 0.5)
        return self._read(name, a, b, np.bool_, False)

    def _read(self, name: str, a: int, b: int, dtype: type, missing: float | bool) -> npt.NDArray[Any]:
        """Track ``name`` over frames ``[a, b)`` as a new array of ``dtype``, ``missing`` where not stored."""
        lo, hi = max(a, self._first), min(b, self._first + self._n)
        if not self._bufs:
            return np.full(max(b - a, 0), missing, dtype=dtype)
        row = self._bufs[name]
        if lo == a and hi == b:
            return np.array(row[self._off + a - self._first : self._off + b - self._first], dtype=dtype)
        out: npt.NDArray[Any] = np.full(max(b - a, 0), missing, dtype=dtype)
        if hi > lo:
            out[lo - a : hi - a] = row[self._off + lo - self._first : self._off + hi - self._first]
        return out

    def count(self, name: str, a: int, b: int) -> int:
        """Frames in ``[a, b)`` where the 0/1 track is 1 (missing frames count as 0)."""
        return int(np.count_nonzero(self.mask(name, a, b)))

    def fraction(self, name: str, a: int, b: int) -> float:
        """Share of frames in ``[a, b)`` where the 0/1 track is 1 (missing frames count as 0)."""
        if b <= a:
            return 0.0
        return self.count(name, a, b) / (b - a)
