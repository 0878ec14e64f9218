"""Place decoded frames on the recording's sample grid, from device clocks, not arrival times.

Notifications arrive in bursts and late; a band's own clock says when each sample was taken. For each
device, :class:`DeviceTimeline`:

1. unwraps the device clock (the ``nus-emg`` band's 32-bit µs counter wraps every 71.6 minutes);
2. calibrates the device clock against the host once: over the notifications received in the first
   ``calibrate_s`` seconds, the smallest ``t_rx - t_device(last sample)`` is the clock offset plus the
   shortest transport latency; a fixed offset keeps the placement identical however the frames are
   batched, so live and offline analysis agree;
3. places frame ``j`` of a stream at sample ``round((t_device + offset) * fs)`` of the recording grid
   (sample ``i`` lies at ``i / fs`` s from the recording start), chaining consecutive frames exactly and
   starting a new contiguous segment only where the device clock says samples are missing (a lost
   notification, a dropout) — or where the chain drifted more than the tolerance from the clock;
4. follows the device clock's drift against the host's (a Polar crystal is off by ~20 ppm, 0.6 s over a
   night): the least transport delay of each minute of device time rises or falls with the drift, and a
   line fitted through those minutes (once they span 10 minutes) moves the offset of each new segment, so
   that after a dropout the samples land at the right host time. Only minutes that ended before a segment
   starts are used, so the placement still does not depend on how frames are batched. Within a segment
   the samples stay chained; the drift found is reported (``stats.drift_ppm``).

The output is a list of contiguous :class:`Chunk` s per stream; a jump in ``start`` is a signal gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from firmware_bridge.profiles.base import SampleBlock, StreamSpec

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
_WINDOW = 4096
CLOCKLESS_GAP_S = 1.0  #: without a device clock, frames arriving this much later than their chain start a gap
_DRIFT_WINDOW_NS = 60 * 10**9  # the least delay is taken per minute of device time ...
_DRIFT_MIN_SPAN_NS = 10 * 60 * 10**9  # ... and a drift is fitted once those minutes span 10 minutes
_DRIFT_MAX = 1e-3  # 1000 ppm: a larger "drift" is a change in delays, not a crystal


@dataclass(frozen=True, slots=True)
class Chunk:
    """Contiguous samples ``start .. start + n`` of one stream on the recording grid."""

    stream: str
    start: int
    data: FloatArray


@dataclass
class _StreamState:
    spec: StreamSpec
    wrap_base: int = 0
    last_raw: int | None = None
    next_index: int | None = None
    seg_offset: int | None = None  #: device -> recording offset of the current contiguous segment (ns)
    first_dev: int | None = None
    floors: dict[int, tuple[int, int]] = field(default_factory=dict)  #: window -> (least delay, its device time)


@dataclass
class TimelineStats:
    frames: int = 0
    frames_dropped: int = 0  #: frames overlapping earlier samples (clock went backwards) or before t=0
    gaps: int = 0
    offset_ns: int | None = None
    per_stream_gaps: dict[str, int] = field(default_factory=dict)
    drift_ppm: dict[str, float] = field(default_factory=dict)  #: device clock against the host's, per stream


class DeviceTimeline:
    """Streams of one device: :class:`SampleBlock` s in, contiguous :class:`Chunk` s out."""

    def __init__(
        self,
        streams: Sequence[StreamSpec],
        *,
        clock_wrap_ns: int | None,
        calibrate_s: float = 5.0,
    ) -> None:
        self._streams = {s.name: _StreamState(s) for s in streams}
        self._wrap = clock_wrap_ns
        self._calib_ns = int(calibrate_s * 1e9)
        self._pending: list[tuple[SampleBlock, IntArray]] = []
        self._first_rx: int | None = None
        self.stats = TimelineStats()

    @property
    def offset_ns(self) -> int | None:
        return self.stats.offset_ns

    def push(self, blocks: Sequence[SampleBlock]) -> list[Chunk]:
        """Blocks decoded from consecutive notifications of this device (any streams)."""
        out: list[Chunk] = []
        new = [(b, self._streams[b.stream]) for b in blocks if b.stream in self._streams and b.n_frames]
        if not new:
            return out
        if self.stats.offset_ns is None:
            for b, st in new:
                self._pending.append((b, self._device_time(st, b)))
            first = min(int(b.t_rx_ns[0]) for b, _ in new)
            self._first_rx = first if self._first_rx is None else min(self._first_rx, first)
            if max(int(b.t_rx_ns.max()) for b, _ in new) >= self._first_rx + self._calib_ns:
                out += self._calibrate()
            return out
        for b, st in new:
            out += self._place(st, b, self._device_time(st, b))
        return out

    def finish(self) -> list[Chunk]:
        return self._calibrate() if self.stats.offset_ns is None and self._pending else []

    # -- internals -------------------------------------------------------------------------------
    def _device_time(self, st: _StreamState, block: SampleBlock) -> IntArray:
        if block.t_device_ns is None:
            return block.t_rx_ns.astype(np.int64) - (block.counts * 1e9 / st.spec.fs_hz).astype(np.int64)
        raw = block.t_device_ns.astype(np.int64)
        if self._wrap is None:
            return raw
        prev = raw[0] if st.last_raw is None else st.last_raw
        steps = np.diff(np.concatenate(([prev], raw)))
        wraps = np.cumsum(steps < -self._wrap // 2)
        st.last_raw = int(raw[-1])
        out = raw + (st.wrap_base + wraps) * self._wrap
        st.wrap_base += int(wraps[-1])
        return out

    def _calibrate(self) -> list[Chunk]:
        assert self._first_rx is not None
        limit = self._first_rx + self._calib_ns
        best: int | None = None
        for block, t_dev in self._pending:
            fs = self._streams[block.stream].spec.fs_hz
            end = t_dev + ((block.counts - 1) * 1e9 / fs).astype(np.int64)
            sel = block.t_rx_ns < limit
            if sel.any():
                cand = int((block.t_rx_ns[sel] - end[sel]).min())
                best = cand if best is None else min(best, cand)
        self.stats.offset_ns = best if best is not None else 0
        pending, self._pending = self._pending, []
        out: list[Chunk] = []
        for block, t_dev in pending:
            out += self._place(self._streams[block.stream], block, t_dev)
        return out

    def _learn_drift(self, st: _StreamState, block: SampleBlock, t_dev: IntArray) -> None:
        """Remember the least transport delay in each window of device time: their trend is the drift."""
        if st.first_dev is None:
            st.first_dev = int(t_dev[0])
        end = t_dev + ((block.counts - 1) * (1e9 / st.spec.fs_hz)).astype(np.int64)
        delay = block.t_rx_ns.astype(np.int64) - end
        windows = end // _DRIFT_WINDOW_NS
        for w in np.unique(windows).tolist():
            sel = np.flatnonzero(windows == w)
            k = sel[int(np.argmin(delay[sel]))]
            best = st.floors.get(w)
            if best is None or int(delay[k]) < best[0]:
                st.floors[w] = (int(delay[k]), int(end[k]))

    def _drift_ns(self, st: _StreamState, t: int) -> int:
        """How far the device clock has drifted from the host's between the stream's start and device time
        ``t``, from the windows that closed before ``t`` (so any batching gives the same answer)."""
        if st.first_dev is None:
            return 0
        done = [(td, d) for w, (d, td) in st.floors.items() if (w + 1) * _DRIFT_WINDOW_NS <= t]
        if len(done) < 3 or max(td for td, _ in done) - min(td for td, _ in done) < _DRIFT_MIN_SPAN_NS:
            return 0
        tds = np.array([td for td, _ in done], dtype=np.float64)
        ds = np.array([d for _, d in done], dtype=np.float64)
        slope = float(np.polyfit(tds - tds.mean(), ds, 1)[0])
        if abs(slope) > _DRIFT_MAX:
            return 0  # not a clock drift: the delays themselves changed
        self.stats.drift_ppm[st.spec.name] = round(slope * 1e6, 1)
        return round(slope * (t - st.first_dev))

    def _place(self, st: _StreamState, block: SampleBlock, t_dev: IntArray) -> list[Chunk]:
        fs = st.spec.fs_hz
        base = self.stats.offset_ns or 0
        if block.t_device_ns is not None:
            self._learn_drift(st, block, t_dev)
        if st.seg_offset is None:
            st.seg_offset = base
        raw_idx = np.rint((t_dev + st.seg_offset) * (fs / 1e9)).astype(np.int64)
        counts = block.counts
        # Without a device clock the time comes from arrival, which jitters by tens of ms and bursts by up to
        # seconds: frames are chained by count and a gap is only where they arrive much later than the chain
        # says (a dropout); one that arrives early is a burst, never a reason to drop samples.
        clockless = block.t_device_ns is None
        tol = np.full(counts.shape, round(CLOCKLESS_GAP_S * fs)) if clockless else 2 + counts // 2
        starts = np.concatenate(([0], np.cumsum(counts)))  # sample offsets of frames inside block.data
        self.stats.frames += block.n_frames
        out: list[Chunk] = []
        j, n = 0, block.n_frames
        while j < n:
            nxt = st.next_index
            if nxt is not None and (abs(int(raw_idx[j]) - nxt) <= int(tol[j]) or (clockless and raw_idx[j] < nxt)):
                pos0 = nxt
            elif nxt is not None and raw_idx[j] < nxt:
                self.stats.frames_dropped += 1  # the clock went backwards: samples already placed
                j += 1
                continue
            else:
                if not clockless:  # a new segment: placed by the clock, drift included
                    offset = base + self._drift_ns(st, int(t_dev[j]))
                    if offset != st.seg_offset:
                        st.seg_offset = offset
                        raw_idx = np.rint((t_dev + offset) * (fs / 1e9)).astype(np.int64)
                pos0 = int(raw_idx[j])
                if nxt is not None:
                    self.stats.gaps += 1
                    self.stats.per_stream_gaps[st.spec.name] = self.stats.per_stream_gaps.get(st.spec.name, 0) + 1
            k_end = min(n, j + _WINDOW)
            chain = pos0 + (starts[j:k_end] - starts[j])
            ahead = raw_idx[j:k_end] - chain
            off = np.flatnonzero((ahead if clockless else np.abs(ahead)) > tol[j:k_end])
            k = j + (int(off[0]) if off.size else k_end - j)
            k = max(k, j + 1)
            a, b = int(starts[j]), int(starts[k])
            data, start = block.data[:, a:b], pos0
            if start < 0:  # samples dated before the recording started
                cut = min(-start, b - a)
                data, start = data[:, cut:], start + cut
            if data.shape[1]:
                out.append(Chunk(st.spec.name, start, data))
            st.next_index = pos0 + (b - a)
            j = k
        return _coalesce(out)


def _coalesce(chunks: list[Chunk]) -> list[Chunk]:
    """Join chunks of the same stream that follow each other without a gap (each run copied once)."""
    out: list[Chunk] = []
    run: list[Chunk] = []

    def close_run() -> None:
        if len(run) == 1:
            out.append(run[0])
        elif run:
            out.append(Chunk(run[0].stream, run[0].start, np.concatenate([c.data for c in run], axis=1)))

    for c in chunks:
        if run and run[-1].stream == c.stream and run[-1].start + run[-1].data.shape[1] == c.start:
            run.append(c)
        else:
            close_run()
            run = [c]
    close_run()
    return out
