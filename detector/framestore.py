"""A bounded store of frame tracks, addressed by absolute frame number.

Each stream's stage appends its frames here; detectors that need another stream's frames over an
interval (the other leg's activity during a candidate cramp, the accelerometer's motion) read them back.
The detector trims frames it no longer needs, so memory stays bounded over a night.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


class FrameStore:
    """Named tracks of one stream, float64 (NaN = missing); booleans are stored as 0/1."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self._col = {n: i for i, n in enumerate(names)}
        self._buf = np.full((len(names), 1024), np.nan)
        self._first = 0  # frame number of the first stored frame
        self._off = 0  # its buffer column
        self._n = 0  # stored frames
        self.next_frame = 0

    def append(self, first: int, tracks: dict[str, npt.NDArray[np.generic]]) -> None:
        n = next(iter(tracks.values())).shape[-1]
        if first != self.next_frame:
            raise ValueError(f"frames must be appended in order: got {first}, expected {self.next_frame}")
        if self._off + self._n + n > self._buf.shape[1]:  # move the kept frames to the front, grow if needed
            size = max(self._buf.shape[1], 2 * (self._n + n))
            moved = np.empty((len(self.names), size)) if size > self._buf.shape[1] else self._buf
            moved[:, : self._n] = self._buf[:, self._off : self._off + self._n]
            self._buf, self._off = moved, 0
        at = self._off + self._n
        for name, values in tracks.items():
            self._buf[self._col[name], at : at + n] = values
        self._n += n
        self.next_frame = first + n

    def trim_before(self, frame: int) -> None:
        """Forget frames before ``frame`` (the caller no longer needs them)."""
        drop = min(max(frame - self._first, 0), self._n)
        self._first += drop
        self._off += drop
        self._n -= drop
        if self._buf.shape[1] > 4096 and self._n < self._buf.shape[1] // 8:  # shrink after a long batch
            self._buf = self._buf[:, self._off : self._off + max(1024, 2 * self._n)].copy()
            self._off = 0

    def get(self, name: str, a: int, b: int) -> npt.NDArray[np.float64]:
        """Track ``name`` over frames ``[a, b)``; NaN where frames are not (or no longer) stored."""
        lo, hi = max(a, self._first), min(b, self._first + self._n)
        row: npt.NDArray[np.float64] = self._buf[self._col[name]]
        if lo == a and hi == b:
            return row[self._off + a - self._first : self._off + b - self._first].copy()
        out = np.full(max(b - a, 0), np.nan)
        if hi > lo:
            out[lo - a : hi - a] = row[self._off + lo - self._first : self._off + hi - self._first]
        return out

    def fraction(self, name: str, a: int, b: int) -> float:
        """Share of frames in ``[a, b)`` where the 0/1 track is 1 (missing frames count as 0)."""
        if b <= a:
            return 0.0
        return float(np.nansum(self.get(name, a, b)) / (b - a))
