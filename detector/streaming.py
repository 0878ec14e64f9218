"""Chunk-invariant building blocks: the same output whatever the chunking.

Each class here consumes a stream in consecutive chunks and carries exactly the state needed so that
pushing a signal in any chunking yields bit-identical results to pushing it at once. Offline analysis is
the special case of one chunk, which is how the detector guarantees that online and offline agree.

- :class:`FrameCutter` hands over whole frames of ``1 / frame_hz`` s aligned to the recording clock;
  :func:`frame_sums` adds up each frame's samples, the same way for every frame of a length.
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
class FrameBlock:
    """Complete frames ``first .. upto`` of a stream, with their samples.

    ``data`` (rows, n_samples) holds the frames' samples back to back; ``groups`` lists, per frame length
    in samples, that length, the frames' row numbers (0 = frame ``first``) and their first sample in
    ``data``. Frames before ``first`` back to the previous block that had no samples are ``gap_from ..
    first``.
    """

    gap_from: int
    first: int
    upto: int
    data: npt.NDArray[np.floating]
    groups: list[tuple[int, IntArray, IntArray]]


class FrameCutter:
    """Cut a sampled stream into complete frames of ``1 / frame_hz`` s aligned to the recording clock.

    Samples are buffered until their frame is complete; a frame missing any sample (a jump in ``start``)
    is a gap. Each complete frame is handed over whole, so a computation done per frame gives the same
    result whatever the chunking.
    """

    def __init__(self, *, fs: float, frame_hz: int, n_rows: int, dtype: type = np.float64) -> None:
        self.rate = rational_rate(fs)
        self.frame_hz = frame_hz
        self._buf: npt.NDArray[np.floating] = np.zeros((n_rows, 0), dtype=dtype)
        self._buf_start = 0
        self.next_frame = 0

    def push(self, start: int, x: npt.NDArray[np.floating]) -> FrameBlock | None:
        """Samples ``start .. start + n`` (rows, n); the complete frames they finish, if any."""
        if x.shape[1] == 0:
            return None
        if self._buf.shape[1] and start == self._buf_start + self._buf.shape[1]:
            buf = np.concatenate((self._buf, x), axis=1)
        else:
            buf, self._buf_start = x, start
        end = self._buf_start + buf.shape[1]
        fs, fh = self.rate, self.frame_hz
        f_first = int(frame_of_samples(np.array([self._buf_start]), fs=fs, frame_hz=fh)[0])
        if first_sample_of_frame(f_first, fs=fs, frame_hz=fh) < self._buf_start:
            f_first += 1  # the chunk starts inside a frame: that frame is incomplete
        f_last = int(frame_of_samples(np.array([end]), fs=fs, frame_hz=fh)[0])  # first incomplete frame
        if f_last <= f_first:
            self._buf = buf
            return None
        a = first_sample_of_frame(f_first, fs=fs, frame_hz=fh) - self._buf_start
        b = first_sample_of_frame(f_last, fs=fs, frame_hz=fh) - self._buf_start
        self._buf = buf[:, b:]
        self._buf_start += b
        block = FrameBlock(self.next_frame, f_first, f_last, buf[:, a:b], self._groups(f_first, f_last))
        self.next_frame = f_last
        return block

    def finish(self, end_sample: int) -> int:
        """End of the stream: the frame number up to which frames exist (the rest are gaps)."""
        end_frame = int(frame_of_samples(np.array([max(end_sample - 1, 0)]), fs=self.rate, frame_hz=self.frame_hz)[0])
        self._buf = self._buf[:, :0]
        return end_frame + 1 if end_sample > 0 else 0

    def _groups(self, f0: int, f1: int) -> list[tuple[int, IntArray, IntArray]]:
        n_frames = f1 - f0
        per = self.rate / self.frame_hz
        if per.denominator == 1:
            rows = np.arange(n_frames)
            return [(int(per), rows, rows * int(per))]
        f = np.arange(f0, f1 + 1, dtype=np.int64)
        num, den = self.rate.numerator, self.frame_hz * self.rate.denominator
        edges = -((-f * num) // den)
        edges -= edges[0]
        lengths = np.diff(edges)
        return [(int(n), np.flatnonzero(lengths == n), edges[:-1][lengths == n]) for n in np.unique(lengths)]


def frame_matrix(data: npt.NDArray[np.floating], length: int, starts: IntArray) -> npt.NDArray[np.floating]:
    """The samples of equal-length frames, (rows, n_frames, length): a view when the frames lie back to
    back, else gathered."""
    n = starts.size
    if n and starts[-1] - starts[0] == (n - 1) * length:
        return data[:, starts[0] : starts[0] + n * length].reshape(data.shape[0], n, length)
    # C order (fancy indexing alone may lay the rows innermost), so that a gathered frame is reduced like a
    # frame in a view
    return np.take(data, starts[:, np.newaxis] + np.arange(length), axis=1)


def frame_sums(data: npt.NDArray[np.floating], length: int, starts: IntArray, *, squares: int = 0) -> FloatArray:
    """Per frame and row, the sum of the frame's ``length`` samples, then for the first ``squares`` rows the
    sum of their squares: (rows + squares, n_frames).

    Each frame's samples lie contiguous (a view of back-to-back frames, or gathered) and are added up along
    that axis by one ``einsum``, so every frame of a length is added up in the same order however many
    frames a call holds; it releases the interpreter lock, so other streams' stages run meanwhile, and on
    frames of a few samples it is several times faster than a ufunc reduction."""
    n = starts.size
    out = np.empty((data.shape[0] + squares, n))
    if n == 0:
        return out
    frames = frame_matrix(data, length, starts)
    np.einsum("ijk->ij", frames, out=out[: data.shape[0]])
    if squares:
        np.einsum("ijk,ijk->ij", frames[:squares], frames[:squares], out=out[data.shape[0] :])
    return out


def median_last(x: FloatArray) -> FloatArray:
    """``np.median(x, axis=-1)`` (the same floats) of an array without NaN that may be reordered in place."""
    m = x.shape[-1]
    lo, hi = (m - 1) // 2, m // 2
    x.partition((lo, hi), axis=-1)
    out: FloatArray = (x[..., lo] + x[..., hi]) / 2
    return out


def window_sums(full: FloatArray, width: int) -> FloatArray:
    """Sums of ``width`` consecutive values along the last axis: ``out[..., i] = full[..., i : i + width].sum()``,
    for the ``full.shape[-1] - width + 1`` complete windows.

    Each sum is built by the same tree whatever the array holds around it: sums of 1, 2, 4, ... values
    (doubling), then the powers of two that make up ``width`` added from the largest down. So a window's sum
    depends only on its own values, and the cost is about ``log2(width)`` passes instead of ``width``.
    """
    n = full.shape[-1] - width + 1
    parts: list[tuple[int, FloatArray]] = []  # (span, sums of that many values) for the bits of width
    level, span = full, 1
    while True:
        if width & span:
            parts.append((span, level))
        if 2 * span > width:
            break
        level = level[..., :-span] + level[..., span:]
        span *= 2
    parts.reverse()  # largest span first
    total = parts[0][1][..., :n].copy()
    offset = parts[0][0]
    for span, sums in parts[1:]:
        total += sums[..., offset : offset + n]
        offset += span
    return total


class CausalWindow:
    """For each frame, the mean of the last ``width`` frames (itself included), chunk by chunk.

    Frames before the first are missing (the first windows average fewer frames). Narrow windows add
    shifted copies; wide ones (more than ``_WIDE`` frames) take differences of running totals, O(n)
    whatever the width. Either way every output is the same float whatever the chunking.
    """

    _WIDE = 24

    def __init__(self, width: int, n_rows: int = 1) -> None:
        if width < 1:
            raise ValueError(f"window width must be >= 1 frame, got {width}")
        self.width = width
        wide = width > self._WIDE
        self._tail: FloatArray = np.full((n_rows, 0 if wide else width - 1), np.nan)  # narrow: the last values
        # wide: running totals and counts of the finite values at the last ``width`` frames
        self._totals: FloatArray = np.zeros((n_rows, width if wide else 0))
        self._counts: FloatArray = np.zeros((n_rows, width if wide else 0))

    def mean(self, x: FloatArray | BoolArray) -> FloatArray:
        """Causal mean over the window, ignoring NaN (NaN when the whole window is NaN); boolean frames count
        as 0 and 1."""
        count: FloatArray | None
        total, count = self._running(x) if self.width > self._WIDE else self._shifted(np.asarray(x, dtype=np.float64))
        if count is None:  # every window full: divided in place, the same floats as below
            return np.divide(total, float(self.width), out=total)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1.0), np.nan)

    def _shifted(self, x: FloatArray) -> tuple[FloatArray, FloatArray | None]:
        """Window sums of the finite values, added in a fixed order (:func:`window_sums`), and the count of
        finite values per window (None when every window is full)."""
        full = np.concatenate((self._tail, x), axis=1)
        if self.width > 1:
            self._tail = full[:, -(self.width - 1) :].copy()
        ok = np.isfinite(full)
        n = x.shape[1]
        if ok.all():  # the usual case: nothing to skip, every window is full
            return window_sums(full, self.width), None
        total = window_sums(np.where(ok, full, 0.0), self.width)
        # counts of finite values per window: differences of a running count (exact small integers)
        run = np.zeros((ok.shape[0], ok.shape[1] + 1))
        np.cumsum(ok, axis=1, out=run[:, 1:])
        return total, run[:, self.width : self.width + n] - run[:, 0:n]

    def _running(self, x: FloatArray | BoolArray) -> tuple[FloatArray, FloatArray]:
        """Window sums as differences of running totals, each a sequential sum continued from the carried
        one (counts are exact integers). Boolean frames are counted in integers: their running totals are
        exact integers either way, so the floats are the same."""
        w, n = self.width, x.shape[1]
        if x.dtype == np.bool_:
            tot = np.cumsum(x, axis=1, dtype=np.int64) + self._totals[:, -1:]
            cnt = np.arange(1.0, n + 1.0) + self._counts[:, -1:]
        else:
            ok = np.isfinite(x)
            tot = np.cumsum(np.concatenate((self._totals[:, -1:], np.where(ok, x, 0.0)), axis=1), axis=1)[:, 1:]
            cnt = np.cumsum(np.concatenate((self._counts[:, -1:], ok.astype(np.float64)), axis=1), axis=1)[:, 1:]
        full_t = np.concatenate((self._totals, tot), axis=1)
        full_c = np.concatenate((self._counts, cnt), axis=1)
        self._totals, self._counts = full_t[:, -w:].copy(), full_c[:, -w:].copy()
        return tot - full_t[:, :n], cnt - full_c[:, :n]


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
        brk = np.zeros(n, dtype=bool) if breaks is None else (breaks & ~mask)
        runs = mask_to_runs(mask)
        out: list[Run] = []
        if runs.shape[0]:
            if hi is None:  # every frame of a run is high: its first frame
                first_hi = runs[:, 0]
            else:
                first_hi = np.minimum.reduceat(np.where(hi & mask, np.arange(n), n + 1), runs[:, 0])
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
