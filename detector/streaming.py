"""Chunk-invariant building blocks: the same output whatever the chunking.

Each class here consumes a stream in consecutive chunks and carries exactly the state needed so that
pushing a signal in any chunking yields bit-identical results to pushing it at once. Offline analysis is
the special case of one chunk, which is how the detector guarantees that online and offline agree.

- :class:`Framer` reduces samples to fixed frames aligned to the recording clock.
- :class:`CausalWindow` averages each frame with the frames before it.
- :class:`RunTracker` turns a frame mask into merged runs, finalising a run only when no later frame can
  change it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from detector.events import mask_to_runs

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


def rational_rate(fs: float) -> Fraction:
    """``fs`` as an exact fraction (rates such as 12.5 or 52 Hz are exact; others to 1/1000 Hz)."""
    if not np.isfinite(fs) or fs <= 0:
        raise ValueError(f"sampling rate must be a positive number of Hz, got {fs}")
    return Fraction(fs).limit_denominator(1000)


def frame_of_samples(index: IntArray, *, fs: Fraction, frame_hz: int) -> IntArray:
    """Frame number of each sample index: ``floor(index * frame_hz / fs)`` in exact integer arithmetic."""
    return (index * (frame_hz * fs.denominator)) // fs.numerator


def first_sample_of_frame(frame: int, *, fs: Fraction, frame_hz: int) -> int:
    """Smallest sample index whose frame is ``frame`` or later."""
    num = frame * fs.numerator
    den = frame_hz * fs.denominator
    return -((-num) // den)


@dataclass(frozen=True, slots=True)
class FrameBatch:
    """Completed frames of one stream.

    Attributes
    ----------
    first : int
        Frame number of row 0.
    sums : ndarray, shape (n_features, n_frames)
        Per-frame sums of each per-sample feature.
    maxima : ndarray, shape (n_max, n_frames)
        Per-frame maxima of each per-sample feature given to ``push`` as ``maxima``.
    counts : ndarray of int64, shape (n_frames,)
        Samples that fell in each frame (0 for frames lost in a gap).
    expected : ndarray of float64, shape (n_frames,)
        Samples a fully covered frame holds (``fs / frame_hz``, exact per frame).
    """

    first: int
    sums: FloatArray
    maxima: FloatArray
    counts: IntArray
    expected: FloatArray

    @property
    def n(self) -> int:
        return int(self.counts.shape[0])

    @property
    def coverage(self) -> FloatArray:
        return np.minimum(self.counts / self.expected, 1.0)


class Framer:
    """Reduce a sampled stream to frames of ``1 / frame_hz`` s aligned to the recording clock.

    Sample ``i`` of the stream lies at ``i / fs`` s and belongs to frame ``floor(i * frame_hz / fs)``.
    Samples of a frame are reduced in one call on one contiguous array whatever the chunking, so results
    are bit-identical. A frame is complete once a sample of a later frame arrives or :meth:`finish` is
    called; frames with no samples (gaps) are emitted with count 0.
    """

    def __init__(self, *, fs: float, frame_hz: int, n_sum: int, n_max: int) -> None:
        self.fs = rational_rate(fs)
        self.frame_hz = frame_hz
        self._n_sum, self._n_max = n_sum, n_max
        self._carry_idx: IntArray = np.zeros(0, dtype=np.int64)
        self._carry_sum: FloatArray = np.zeros((n_sum, 0))
        self._carry_max: FloatArray = np.zeros((n_max, 0))
        self._next_frame = 0  # first frame not yet emitted
        self._next_sample = 0

    @property
    def next_frame(self) -> int:
        return self._next_frame

    def push(self, start: int, sums: FloatArray, maxima: FloatArray) -> FrameBatch | None:
        """Add samples ``start .. start + n`` (features by row); return the frames completed by them."""
        n = sums.shape[-1]
        if start < self._next_sample:
            raise ValueError(f"samples must arrive in order: got start {start}, expected >= {self._next_sample}")
        if n == 0:
            return None
        idx = np.concatenate((self._carry_idx, np.arange(start, start + n, dtype=np.int64)))
        s = np.concatenate((self._carry_sum, sums), axis=1)
        m = np.concatenate((self._carry_max, maxima), axis=1)
        self._next_sample = start + n
        frames = frame_of_samples(idx, fs=self.fs, frame_hz=self.frame_hz)
        last = int(frames[-1])
        keep = frames < last  # the last frame may still receive samples
        cut = int(np.count_nonzero(keep))
        self._carry_idx, self._carry_sum, self._carry_max = idx[cut:], s[:, cut:], m[:, cut:]
        if cut == 0:
            return None
        return self._emit(frames[:cut], s[:, :cut], m[:, :cut], upto=last)

    def finish(self, end_sample: int | None = None) -> FrameBatch | None:
        """Emit the last partial frame and empty frames up to the frame holding ``end_sample - 1``."""
        end = self._next_sample if end_sample is None else max(end_sample, self._next_sample)
        upto = int(frame_of_samples(np.array([max(end - 1, 0)]), fs=self.fs, frame_hz=self.frame_hz)[0]) + 1
        if end == 0:
            upto = 0
        frames = frame_of_samples(self._carry_idx, fs=self.fs, frame_hz=self.frame_hz)
        out = self._emit(frames, self._carry_sum, self._carry_max, upto=max(upto, self._next_frame))
        self._carry_idx = self._carry_idx[:0]
        self._carry_sum, self._carry_max = self._carry_sum[:, :0], self._carry_max[:, :0]
        return out

    def _emit(self, frames: IntArray, s: FloatArray, m: FloatArray, *, upto: int) -> FrameBatch | None:
        first = self._next_frame
        n_out = upto - first
        if n_out <= 0:
            return None
        sums = np.zeros((self._n_sum, n_out))
        maxima = np.zeros((self._n_max, n_out))
        counts = np.zeros(n_out, dtype=np.int64)
        if frames.size:
            bounds = np.flatnonzero(np.diff(frames)) + 1
            starts = np.concatenate(([0], bounds))
            rows = frames[starts] - first
            counts[rows] = np.diff(np.concatenate((starts, [frames.size])))
            if self._n_sum:
                sums[:, rows] = np.add.reduceat(s, starts, axis=1)
            if self._n_max:
                maxima[:, rows] = np.maximum.reduceat(m, starts, axis=1)
        edges = np.array(
            [first_sample_of_frame(f, fs=self.fs, frame_hz=self.frame_hz) for f in (first, upto)],
            dtype=np.int64,
        )
        expected = self._expected(first, upto, edges)
        self._next_frame = upto
        return FrameBatch(first, sums, maxima, counts, expected)

    def _expected(self, first: int, upto: int, edges: IntArray) -> FloatArray:
        per = float(self.fs) / self.frame_hz
        if per == int(per):
            return np.full(upto - first, per)
        f = np.arange(first, upto + 1, dtype=np.int64)
        num = f * self.fs.numerator
        den = self.frame_hz * self.fs.denominator
        starts = -((-num) // den)
        return np.diff(starts).astype(np.float64)


class CausalWindow:
    """For each frame, the values of the last ``width`` frames (itself included), chunk by chunk.

    The window of the first frames is padded on the left with NaN.
    """

    def __init__(self, width: int, n_rows: int = 1) -> None:
        if width < 1:
            raise ValueError(f"window width must be >= 1 frame, got {width}")
        self.width = width
        self._tail: FloatArray = np.full((n_rows, width - 1), np.nan)

    def mean(self, x: FloatArray) -> FloatArray:
        """Causal mean over the window, ignoring NaN (NaN when the whole window is NaN).

        The window sums add shifted copies in a fixed order, so every output is the same float whatever
        the chunking.
        """
        full = np.concatenate((self._tail, x), axis=1)
        if self.width > 1:
            self._tail = full[:, -(self.width - 1) :].copy()
        ok = np.isfinite(full)
        vals = np.where(ok, full, 0.0)
        cnt = ok.astype(np.float64)
        n = x.shape[1]
        total = vals[:, 0:n].copy()
        count = cnt[:, 0:n].copy()
        for j in range(1, self.width):
            total += vals[:, j : j + n]
            count += cnt[:, j : j + n]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1.0), np.nan)


@dataclass(frozen=True, slots=True)
class Run:
    """A finalised run of frames ``[start, stop)``; ``first_hi`` is its first frame that met the high
    condition (or -1 if none)."""

    start: int
    stop: int
    first_hi: int


class RunTracker:
    """Runs of True frames, joined across gaps of at most ``merge_gap`` frames unless a break lies between.

    Frames must be pushed consecutively from frame ``first``. A run is returned once it can no longer grow
    or merge: ``merge_gap`` frames have passed after it, a break frame occurred, or :meth:`finish` was called.
    """

    def __init__(self, merge_gap: int, first: int = 0) -> None:
        if merge_gap < 0:
            raise ValueError(f"merge_gap must be >= 0 frames, got {merge_gap}")
        self.merge_gap = merge_gap
        self._next = first
        self._pending: Run | None = None
        self._break_after_pending = False

    def push(
        self, mask: BoolArray, start: int, *, hi: BoolArray | None = None, breaks: BoolArray | None = None
    ) -> list[Run]:
        if start != self._next:
            raise ValueError(f"frames must be consecutive: got start {start}, expected {self._next}")
        n = mask.shape[0]
        self._next = start + n
        if n == 0:
            return []
        hi_mask = mask if hi is None else (hi & mask)
        brk = np.zeros(n, dtype=bool) if breaks is None else (breaks & ~mask)
        runs = mask_to_runs(mask)
        out: list[Run] = []
        if runs.shape[0]:
            pos = np.where(hi_mask, np.arange(n), n + 1)
            first_hi = np.minimum.reduceat(pos, runs[:, 0])
            cbreak = np.concatenate(([0], np.cumsum(brk)))
            for (a, b), h in zip(runs.tolist(), first_hi.tolist(), strict=True):
                run = Run(start + a, start + b, start + h if h <= n else -1)
                if self._pending is not None:
                    gap = run.start - self._pending.stop
                    blocked = self._break_after_pending or bool(cbreak[a] - cbreak[max(self._pending.stop - start, 0)])
                    if gap <= self.merge_gap and not blocked:
                        fh = self._pending.first_hi if self._pending.first_hi >= 0 else run.first_hi
                        self._pending = Run(self._pending.start, run.stop, fh)
                        continue
                    out.append(self._pending)
                self._pending, self._break_after_pending = run, False
        if self._pending is not None:
            tail_from = max(self._pending.stop - start, 0)
            if brk[tail_from:].any():
                self._break_after_pending = True
            if self._break_after_pending or self._next - self._pending.stop > self.merge_gap:
                out.append(self._pending)
                self._pending, self._break_after_pending = None, False
        return out

    def finish(self) -> list[Run]:
        out = [] if self._pending is None else [self._pending]
        self._pending = None
        return out

    @property
    def open_run(self) -> Run | None:
        """The run that may still grow (not yet final), if any."""
        return self._pending
