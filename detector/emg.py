"""Surface-EMG stage: mains notch, band-pass, frame RMS, resting baseline and activity, chunk by chunk.

Pipeline per stream (every step causal, state carried between chunks, so any chunking gives identical
frames):

1. **Mains**: the first ``mains_probe_s`` of the stream are buffered; Welch's PSD there decides whether hum
   sits at 50 or 60 Hz (a peak ``mains_peak_ratio`` times its neighbourhood); that frequency and its
   harmonics inside the band are notched (``default_mains_hz`` when no hum is seen).
2. **Clean**: notches, then a 4th-order Butterworth band-pass ``band_hz`` (upper edge capped at 0.45 fs);
   a second band-pass ``motion_band_hz`` measures low-frequency motion / lead-off artifact.
3. **Frames** of ``1 / frame_hz`` s: RMS of the clean EMG, RMS of the motion band, share of samples
   pinned at the amplifier's full scale (clipping), coverage (missing samples in gaps).
4. **Validity**: frames in gaps, while filters settle after a (re)start, clipped, or with motion-band RMS
   above ``lead_off_uv`` are unusable and never count as activity.
5. **Resting level**: once per ``baseline_block_s`` block, the block's ``baseline_block_quantile``-th
   percentile of valid frame RMS is remembered; the resting level for the next block is the
   ``baseline_quantile``-th percentile of the blocks of the last ``baseline_history_s``. It follows the
   night slowly and ignores contractions shorter than most of that history.
6. **Activity**: envelope = RMS over the last ``envelope_s``; ratio = envelope / resting level; a frame is
   active above ``active_off_ratio`` and "high" above ``active_on_ratio``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import signal

from detector.filters import OnlineSOS, bandpass_sos
from detector.params import EmgParams
from detector.streaming import CausalWindow, FrameBatch, Framer, frame_of_samples

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: reason codes of unusable frames
OK, GAP, SETTLING, CLIPPING, LEAD_OFF = 0, 1, 2, 3, 4
REASONS = {GAP: "gap", SETTLING: "settling", CLIPPING: "clipping", LEAD_OFF: "lead_off"}


@dataclass(frozen=True, slots=True)
class EmgFrames:
    """Frame tracks of one EMG stream for frames ``first .. first + n``."""

    first: int
    rms_uv: FloatArray
    envelope_uv: FloatArray
    baseline_uv: FloatArray
    ratio: FloatArray
    slow_ratio: FloatArray
    active: BoolArray
    high: BoolArray
    reason: npt.NDArray[np.int8]

    @property
    def valid(self) -> BoolArray:
        return np.asarray(self.reason == OK, dtype=bool)


def find_mains_hz(x: FloatArray, *, fs: float, params: EmgParams) -> float | None:
    """Mains frequency whose PSD peak stands ``mains_peak_ratio`` above its neighbourhood, else None."""
    n = x.shape[-1]
    if n < int(fs):
        return None
    f, pxx = signal.welch(x, fs=fs, nperseg=int(fs), detrend="constant")
    best, best_ratio = None, params.mains_peak_ratio
    for f0 in params.mains_candidates_hz:
        if f0 >= 0.45 * fs:
            continue
        peak = float(pxx[np.argmin(np.abs(f - f0))])
        near = pxx[(np.abs(f - f0) >= 3.0) & (np.abs(f - f0) <= 8.0)]
        ratio = peak / max(float(np.median(near)), 1e-30)
        if ratio > best_ratio:
            best, best_ratio = f0, ratio
    return best


def mains_notch_sos(mains_hz: float, *, fs: float, upper_hz: float, q: float) -> FloatArray:
    """Cascade of notches at ``mains_hz`` and its harmonics below ``upper_hz``, as SOS."""
    sections = []
    k = 1
    while k * mains_hz < min(upper_hz, 0.45 * fs):
        b, a = signal.iirnotch(k * mains_hz, q, fs=fs)
        sections.append(np.concatenate((b, a)))
        k += 1
    return np.array(sections).reshape(-1, 6)


class EmgProcessor:
    """One EMG stream, sample chunks in, :class:`EmgFrames` out."""

    def __init__(self, *, fs: float, params: EmgParams, frame_hz: int, full_scale_uv: float | None) -> None:
        self.fs, self.p, self.frame_hz = fs, params, frame_hz
        self.full_scale_uv = full_scale_uv
        self.mains_hz: float | None = None
        self._decided = False
        self._probe: list[tuple[int, FloatArray]] = []
        self._probe_n = round(params.mains_probe_s * fs)
        self._framer = Framer(fs=fs, frame_hz=frame_hz, n_sum=3, n_max=1)
        self._next = 0
        self._started = False
        self._settle_until = 0  # first frame after the settling frames of the latest (re)start
        self._clean: OnlineSOS | None = None
        self._motion: OnlineSOS | None = None
        self._env = CausalWindow(max(1, round(params.envelope_s * frame_hz)))
        self._slow = CausalWindow(max(1, round(params.slow_envelope_s * frame_hz)))
        self._block_n = max(1, round(params.baseline_block_s * frame_hz))
        self._blocks: deque[float] = deque(maxlen=max(1, round(params.baseline_history_s / params.baseline_block_s)))
        self._block_vals: list[FloatArray] = []
        self._block_id = 0
        self._baseline = np.nan

    # -- samples ---------------------------------------------------------------------------------
    def push(self, start: int, x: FloatArray) -> list[EmgFrames]:
        if not self._decided:
            contiguous = not self._probe or start == self._probe[-1][0] + self._probe[-1][1].size
            if contiguous and sum(c.size for _, c in self._probe) + x.size < self._probe_n:
                self._probe.append((start, x))
                return []
            self._decide([*self._probe, (start, x)], stop_at_gap=not contiguous)
            pending, self._probe = [*self._probe, (start, x)], []
            return [f for s, c in pending for f in self._process(s, c)]
        return self._process(start, x)

    def finish(self, end_sample: int) -> list[EmgFrames]:
        out: list[EmgFrames] = []
        if not self._decided:
            self._decide(self._probe, stop_at_gap=True)
            pending, self._probe = self._probe, []
            for s, c in pending:
                out += self._process(s, c)
        batch = self._framer.finish(end_sample)
        if batch is not None:
            out.append(self._frames(batch))
        return out

    def _decide(self, chunks: list[tuple[int, FloatArray]], *, stop_at_gap: bool) -> None:
        seg: list[FloatArray] = []
        for i, (s, c) in enumerate(chunks):
            if i and s != chunks[i - 1][0] + chunks[i - 1][1].size:
                break
            seg.append(c)
        probe = np.concatenate(seg)[: self._probe_n] if seg else np.zeros(0)
        found = find_mains_hz(probe, fs=self.fs, params=self.p)
        self.mains_hz = found if found is not None else self.p.default_mains_hz
        upper = min(self.p.band_hz[1], 0.45 * self.fs)
        notch = mains_notch_sos(self.mains_hz, fs=self.fs, upper_hz=upper, q=self.p.notch_q)
        band = bandpass_sos(self.p.band_hz[0], upper, self.fs)
        self._clean = OnlineSOS(np.vstack((notch, band)), 1)
        lo, hi = self.p.motion_band_hz
        self._motion = OnlineSOS(bandpass_sos(lo, min(hi, 0.45 * self.fs), self.fs), 1)
        self._decided = True

    def _process(self, start: int, x: FloatArray) -> list[EmgFrames]:
        if self._clean is None or self._motion is None:
            raise RuntimeError("EMG filters are built once the mains frequency is decided")
        if x.size == 0:
            return []
        if not self._started or start != self._next:
            self._clean.reset()
            self._motion.reset()
            frame0 = int(frame_of_samples(np.array([start]), fs=self._framer.fs, frame_hz=self.frame_hz)[0])
            self._settle_until = frame0 + 1 + round(self.p.settle_s * self.frame_hz)
            self._started = True
        self._next = start + x.size
        row = x[np.newaxis, :]
        y = self._clean.push(row)[0]
        m = self._motion.push(row)[0]
        pinned = np.abs(x) >= 0.98 * self.full_scale_uv if self.full_scale_uv else np.zeros(x.size, dtype=bool)
        sums = np.stack((y * y, m * m, pinned.astype(np.float64)))
        batch = self._framer.push(start, sums, np.abs(y)[np.newaxis, :])
        return [] if batch is None else [self._frames(batch)]

    # -- frames ----------------------------------------------------------------------------------
    def _frames(self, b: FrameBatch) -> EmgFrames:
        n = b.n
        cnt = np.maximum(b.counts, 1)
        rms = np.sqrt(b.sums[0] / cnt)
        motion = np.sqrt(b.sums[1] / cnt)
        clip = b.sums[2] / cnt
        frames = np.arange(b.first, b.first + n)
        reason = np.zeros(n, dtype=np.int8)
        reason[motion >= self.p.lead_off_uv] = LEAD_OFF
        reason[clip >= self.p.clip_fraction] = CLIPPING
        reason[frames < self._settle_until] = SETTLING
        reason[b.coverage < 0.5] = GAP
        valid = reason == OK
        ms = np.where(valid, rms * rms, np.nan)
        env = np.sqrt(self._env.mean(ms[np.newaxis, :])[0])
        slow = np.sqrt(self._slow.mean(ms[np.newaxis, :])[0])
        base = self._baseline_for(b.first, rms, valid)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = env / base
            slow_ratio = np.where(valid, slow / base, np.nan)
        ok = valid & np.isfinite(ratio)
        active = ok & (ratio >= self.p.active_off_ratio)
        high = ok & (ratio >= self.p.active_on_ratio)
        return EmgFrames(
            b.first,
            rms,
            env,
            base,
            np.nan_to_num(ratio, nan=0.0),
            np.nan_to_num(slow_ratio, nan=0.0),
            active,
            high,
            reason,
        )

    def _baseline_for(self, first: int, rms: FloatArray, valid: BoolArray) -> FloatArray:
        out = np.empty(rms.size)
        i = 0
        while i < rms.size:
            block = (first + i) // self._block_n
            if block != self._block_id:
                self._close_block()
                self._block_id = block
            j = min(rms.size, (block + 1) * self._block_n - first)
            out[i:j] = self._baseline
            self._block_vals.append(np.where(valid[i:j], rms[i:j], np.nan))
            i = j
        return out

    def _close_block(self) -> None:
        vals = np.concatenate(self._block_vals) if self._block_vals else np.zeros(0)
        self._block_vals = []
        good = vals[np.isfinite(vals)]
        if good.size >= 0.5 * self._block_n:
            self._blocks.append(float(np.percentile(good, self.p.baseline_block_quantile)))
            self._baseline = float(np.percentile(np.array(self._blocks), self.p.baseline_quantile))
