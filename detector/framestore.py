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
        self._first = 0  # frame number of buffer column 0
        self._n = 0  # filled columns
        self.next_frame = 0

    def append(self, first: int, tracks: dict[str, npt.NDArray[np.generic]]) -> None:
        n = next(iter(tracks.values())).shape[-1]
        if first != self.next_frame:
            raise ValueError(f"frames must be appended in order: got {first}, expected {self.next_frame}")
        if self._n + n > self._buf.shape[1]:
            grown = np.full((len(self.names), 2 * (self._n + n)), np.nan)
            grown[:, : self._n] = self._buf[:, : self._n]
            self._buf = grown
        for name, values in tracks.items():
            self._buf[self._col[name], self._n : self._n + n] = values
        self._n += n
        self.next_frame = first + n

    def trim_before(self, frame: int) -> None:
        """Forget frames before ``frame`` (the caller no longer needs them)."""
        drop = min(max(frame - self._first, 0), self._n)
        if drop == 0:
            return
        self._buf[:, : self._n - drop] = self._buf[:, drop : self._n]
        self._first += drop
        self._n -= drop
        if self._buf.shape[1] > 4096 and self._n < self._buf.shape[1] // 4:
            self._buf = self._buf[:, : max(1024, 2 * self._n)].copy()

    def get(self, name: str, a: int, b: int) -> npt.NDArray[np.float64]:
        """Track ``name`` over frames ``[a, b)``; NaN where frames are not (or no longer) stored."""
        out = np.full(max(b - a, 0), np.nan)
        lo, hi = max(a, self._first), min(b, self._first + self._n)
        if hi > lo:
            out[lo - a : hi - a] = self._buf[self._col[name], lo - self._first : hi - self._first]
        return out

    def fraction(self, name: str, a: int, b: int) -> float:
        """Share of frames in ``[a, b)`` where the 0/1 track is 1 (missing frames count as 0)."""
        if b <= a:
            return 0.0
        return float(np.nansum(self.get(name, a, b)) / (b - a))
