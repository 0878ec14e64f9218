"""Resting level of a per-frame measure that follows the night slowly and never learns from activity.

Used for the EMG power (:mod:`detector.emg`) and the accelerometer's tremor band (:mod:`detector.accel`).
Once per block of frames, the block's median of usable frames is remembered if the block was quiet (at most
``quiet_ratio`` times the current resting level); the resting level for the next block is the
``quantile``-th percentile of the quiet blocks remembered (``history_blocks``). A level that stays higher for
``relearn_blocks`` blocks becomes the new resting level (electrode contact or posture changed). Blocks with
fewer than half their frames usable teach nothing.

The level for a frame depends only on the frames of earlier blocks, so any chunking gives bit-identical
levels.
"""

from __future__ import annotations

import bisect
import math
from collections import deque

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class RestingLevel:
    """Block-median resting level of one stream's per-frame measure."""

    def __init__(
        self, *, block_frames: int, history_blocks: int, quantile: float, quiet_ratio: float, relearn_blocks: int
    ) -> None:
        self._block_n = max(1, block_frames)
        self._history = max(1, history_blocks)
        self._blocks: deque[float] = deque()  # remembered quiet block levels, oldest first
        self._sorted: list[float] = []  # the same, in order
        self._quantile, self._quiet = quantile, quiet_ratio
        self._relearn_blocks = max(1, relearn_blocks)
        self._block_vals: list[FloatArray] = []
        self._busy: list[float] = []
        self._block_level: tuple[float, int] | None = None
        self._block_id = 0
        self._level = np.nan

    def levels_for(self, first: int, values: FloatArray, valid: BoolArray) -> FloatArray:
        """Resting level for frames ``first .. first + n`` (from the blocks before each), learning from them."""
        out = np.empty(values.size)
        vals = np.where(valid, values, np.nan)
        bn = self._block_n
        # medians of the whole blocks inside this batch, all at once
        head = min(values.size, (-first) % bn)
        n_whole = (values.size - head) // bn
        whole = vals[head : head + n_whole * bn].reshape(n_whole, bn)
        counts = np.isfinite(whole).sum(axis=1)
        medians = np.full(n_whole, np.nan)
        if n_whole:
            srt = np.sort(whole, axis=1)  # NaN sort last
            lo = np.maximum((counts - 1) // 2, 0)
            hi = np.maximum(counts // 2, 0)
            rows = np.arange(n_whole)
            medians = np.where(counts > 0, 0.5 * (srt[rows, lo] + srt[rows, hi]), np.nan)
        med_list, cnt_list = medians.tolist(), counts.tolist()
        n = values.size
        if head:
            self._segment(first, 0, head, vals, out)
        if n_whole:
            # whole blocks: each closes the one before it and is summed up by its median at once
            block0 = (first + head) // bn
            levels = []
            for k in range(n_whole):
                if block0 + k != self._block_id:
                    self._close_block()
                    self._block_id = block0 + k
                levels.append(self._level)
                self._block_level = (med_list[k], cnt_list[k])  # (no frame of it came in an earlier batch)
            out[head : head + n_whole * bn] = np.repeat(levels, bn)
        tail = head + n_whole * bn
        if tail < n:
            self._segment(first, tail, n, vals, out)
        return out

    def _segment(self, first: int, i: int, j: int, vals: FloatArray, out: FloatArray) -> None:
        """Frames ``first + i .. first + j``, all in one block, that are not the whole block."""
        block = (first + i) // self._block_n
        if block != self._block_id:
            self._close_block()
            self._block_id = block
        out[i:j] = self._level
        self._block_vals.append(vals[i:j])

    def _close_block(self) -> None:
        if self._block_level is not None:
            level, count = self._block_level
            self._block_level = None
        else:
            v = np.concatenate(self._block_vals) if self._block_vals else np.zeros(0)
            good = v[np.isfinite(v)]
            level, count = (float(np.median(good)) if good.size else np.nan), int(good.size)
        self._block_vals = []
        if count < 0.5 * self._block_n:
            return
        if math.isfinite(self._level) and level > self._quiet * self._level:
            # an active block does not teach the resting level, unless it lasts so long that the
            # resting level itself must have changed
            self._busy.append(level)
            if len(self._busy) < self._relearn_blocks:
                return
            for busy in self._busy:
                self._remember(busy)
        self._busy = []
        self._remember(level)
        ordered = self._sorted
        self._level = ordered[min(len(ordered) - 1, int(self._quantile / 100.0 * len(ordered)))]

    def _remember(self, level: float) -> None:
        if len(self._blocks) == self._history:
            old = self._blocks.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]
        self._blocks.append(level)
        bisect.insort(self._sorted, level)
