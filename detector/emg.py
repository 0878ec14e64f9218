"""Surface-EMG stage: per-frame spectra, mains removal, resting level and activity, chunk by chunk.

The EMG is cut into frames of ``1 / frame_hz`` s (100 ms) aligned to the recording clock, and each frame's
power spectrum (one real FFT per frame, float32) gives everything the detector needs:

1. **Mains**: the FFT bins of 50 Hz, 60 Hz and their harmonics are left out of the EMG power: a notch
   with no transient, no start-up and no cost, right whichever country the band is used in. Their power
   above the broadband EMG's share is the hum level; the stream's mains frequency is the candidate with
   the most hum over the night.
2. **EMG power**: the mean square of the bins in ``band_hz`` (upper edge at most 0.45 fs) minus the mains
   bins, scaled back to the whole band (Parseval), so levels read as µV RMS of band-passed EMG.
3. **Quality**: power below ``band_hz[0]`` within a frame, plus the SD of frame means over
   ``drift_window_s``, is low-frequency motion / lead-off / electrode-pop energy;
   samples pinned at the amplifier's full scale are clipping; a frame with missing samples is a gap. Such
   frames are unusable and never count as activity. Strong hum (``mains_artifact_uv``) is reported as an
   artifact but the frame stays usable, since its bins are removed.
4. **Resting level**: once per ``baseline_block_s`` block, the block's median of usable frame RMS is
   remembered if the block was quiet (at most ``baseline_quiet_ratio`` times the current resting level);
   the resting level for the next block is the ``baseline_quantile``-th percentile of the quiet blocks of
   the last ``baseline_history_s``. It follows the night's drift and never learns from contractions,
   unless the level stays higher for ``baseline_relearn_s`` (then the resting level itself has changed).
5. **Activity**: envelope = RMS over the last ``envelope_s`` (and ``slow_envelope_s`` for sustained
   contraction); ratio = envelope / resting level.

A frame is computed from its own samples only, so any chunking gives bit-identical frames: online and
offline analysis agree.
"""

from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt
import scipy.fft

from detector.params import EmgParams
from detector.streaming import CausalWindow, first_sample_of_frame, frame_of_samples, rational_rate

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: reason codes of frames (0 = usable)
OK, GAP, CLIPPING, LEAD_OFF, MAINS = 0, 1, 3, 4, 5
REASONS = {GAP: "gap", CLIPPING: "clipping", LEAD_OFF: "lead_off", MAINS: "mains"}
_PARALLEL_FRAMES = 4096  # batches this large use both cores for their FFTs


@dataclass(frozen=True, slots=True)
class EmgFrames:
    """Frame tracks of one EMG stream for frames ``first .. first + n``."""

    first: int
    rms_uv: FloatArray
    lf_uv: FloatArray
    envelope_uv: FloatArray
    baseline_uv: FloatArray
    ratio: FloatArray
    frame_ratio: FloatArray
    slow_ratio: FloatArray
    active: BoolArray
    high: BoolArray
    reason: npt.NDArray[np.int8]

    @property
    def valid(self) -> BoolArray:
        return np.asarray((self.reason == OK) | (self.reason == MAINS), dtype=bool)


@functools.lru_cache(maxsize=64)
def trend_basis(length: int, order: int) -> npt.NDArray[np.float32]:
    """Orthonormal basis (length, order + 1) of polynomials up to ``order`` over one frame."""
    t = np.linspace(-1.0, 1.0, length)
    q, _ = np.linalg.qr(np.vander(t, order + 1, increasing=True))
    q = q.astype(np.float32)
    q.flags.writeable = False
    return q


@functools.lru_cache(maxsize=64)
def trend_terms(
    length: int, order: int, fs: float, band: tuple[float, float], mains: tuple[float, ...]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """What removing a frame's polynomial trend needs, without letting mains hum into the trend.

    Returns the orthonormal basis ``q`` (length, order + 1); ``dft`` (length, 2 n_bins), which gives the
    real and imaginary parts of the rFFT at the bins of the mains harmonics; and ``ab`` (2 n_bins,
    order + 1), the trend coefficients those parts contribute. A sinusoid of hum projects onto a low-order
    polynomial too; subtracting that projection would leak hum into every bin, so the trend is fitted to the
    signal with its mains bins removed.
    """
    q = trend_basis(length, order)
    f = scipy.fft.rfftfreq(length, 1.0 / fs)
    width = fs / length
    hum = np.zeros(f.size, dtype=bool)
    for f0 in mains:
        harmonics = f0 * np.arange(1, int(fs / f0) + 1)
        hum |= np.min(np.abs(f[:, np.newaxis] - harmonics[np.newaxis, :]), axis=1) <= width / 2
    idx = np.flatnonzero(hum & (f > 0))
    a = np.zeros((idx.size, q.shape[1]), dtype=np.float32)
    b = np.zeros((idx.size, q.shape[1]), dtype=np.float32)
    for j, k in enumerate(idx):
        unit = np.zeros(f.size, dtype=complex)
        unit[k] = 1.0
        a[j] = scipy.fft.irfft(unit, n=length) @ q
        unit[k] = 1.0j
        b[j] = scipy.fft.irfft(unit, n=length) @ q
    n = np.arange(length)
    dft = np.concatenate(
        (np.cos(2 * np.pi * np.outer(n, idx) / length), -np.sin(2 * np.pi * np.outer(n, idx) / length)), axis=1
    ).astype(np.float32)  # real and imaginary parts of the rFFT at the mains bins
    ab = np.concatenate((a, b), axis=0)
    for arr in (idx, dft, ab):
        arr.flags.writeable = False
    return q, dft, ab


@functools.lru_cache(maxsize=64)
def frame_weights(
    length: int, fs: float, band: tuple[float, float], mains: tuple[float, ...]
) -> npt.NDArray[np.float32]:
    """Weights over rFFT bins of a ``length``-sample frame.

    Rows: EMG band without the bins of any candidate mains frequency or its harmonics (scaled so that
    leaving them out does not lower the level), the low band below the EMG band, then for each mains
    candidate the power in its bins and the broadband EMG's expected share of those bins.
    ``power @ weights.T`` gives mean squares (µV²) by Parseval.
    """
    f = scipy.fft.rfftfreq(length, 1.0 / fs)
    width = fs / length
    scale = np.full(f.size, 2.0 / length**2)
    if length % 2 == 0:
        scale[-1] = 1.0 / length**2
    in_band = (f >= band[0]) & (f <= band[1])
    hums = []
    for f0 in mains:
        harmonics = f0 * np.arange(1, int(fs / f0) + 1)
        near = np.min(np.abs(f[:, np.newaxis] - harmonics[np.newaxis, :]), axis=1) <= width / 2
        hums.append(in_band & near)
    kept = in_band & ~np.logical_or.reduce(hums) if hums else in_band
    w = np.zeros((2 + 2 * len(hums), f.size), dtype=np.float32)
    w[0, kept] = scale[kept] * (in_band.sum() / max(kept.sum(), 1))
    low = (f > 0) & (f < band[0])
    w[1, low] = scale[low]
    for i, hum in enumerate(hums):
        w[2 + 2 * i, hum] = scale[hum]
        w[3 + 2 * i, kept] = scale[kept] * (hum.sum() / max(kept.sum(), 1))
    w.flags.writeable = False
    return w


class EmgProcessor:
    """One EMG stream, sample chunks in, :class:`EmgFrames` out."""

    def __init__(self, *, fs: float, params: EmgParams, frame_hz: int, full_scale_uv: float | None) -> None:
        self.fs, self.p, self.frame_hz = fs, params, frame_hz
        self._rate: Fraction = rational_rate(fs)
        self.full_scale_uv = full_scale_uv
        self._band = (params.band_hz[0], min(params.band_hz[1], 0.45 * fs))
        self._mains = tuple(f0 for f0 in params.mains_candidates_hz if f0 < self._band[1])
        self._hum_total = np.zeros(len(self._mains))  # µV² s of hum above the EMG, per candidate
        self._buf: npt.NDArray[np.float32] = np.zeros(0, dtype=np.float32)
        self._buf_start = 0
        self._next_frame = 0
        self._env = CausalWindow(max(1, round(params.envelope_s * frame_hz)))
        self._drift = CausalWindow(max(2, round(params.drift_window_s * frame_hz)))
        self._slow = CausalWindow(max(1, round(params.slow_envelope_s * frame_hz)))
        self._block_n = max(1, round(params.baseline_block_s * frame_hz))
        self._blocks: deque[float] = deque(maxlen=max(1, round(params.baseline_history_s / params.baseline_block_s)))
        self._block_vals: list[FloatArray] = []
        self._busy: list[float] = []
        self._block_level: tuple[float, int] | None = None
        self._relearn_blocks = max(1, round(params.baseline_relearn_s / params.baseline_block_s))
        self._block_id = 0
        self._baseline = np.nan

    # -- samples ---------------------------------------------------------------------------------
    @property
    def mains_hz(self) -> float | None:
        """The mains frequency whose hum was strongest over the stream so far (None if none was seen)."""
        if not self._mains or self._hum_total.max() <= 0:
            return None
        return self._mains[int(np.argmax(self._hum_total))]

    def push(self, start: int, x: npt.ArrayLike) -> list[EmgFrames]:
        """Samples ``start .. start + n`` (µV); a jump in ``start`` is a gap."""
        return self._process(start, np.asarray(x, dtype=np.float32).reshape(-1))

    def finish(self, end_sample: int) -> list[EmgFrames]:
        end_frame = int(frame_of_samples(np.array([max(end_sample - 1, 0)]), fs=self._rate, frame_hz=self.frame_hz)[0])
        upto = end_frame + 1 if end_sample > 0 else 0
        self._buf = self._buf[:0]
        return [self._emit(self._next_frame, upto, None)] if upto > self._next_frame else []

    def _process(self, start: int, x: npt.NDArray[np.float32]) -> list[EmgFrames]:
        if x.size == 0:
            return []
        if self._buf.size and start == self._buf_start + self._buf.size:
            buf = np.concatenate((self._buf, x))
        else:
            buf, self._buf_start = x, start
        end = self._buf_start + buf.size
        fs, fh = self._rate, self.frame_hz
        f_first = int(frame_of_samples(np.array([self._buf_start]), fs=fs, frame_hz=fh)[0])
        if first_sample_of_frame(f_first, fs=fs, frame_hz=fh) < self._buf_start:
            f_first += 1  # the chunk starts inside a frame: that frame is incomplete
        f_last = int(frame_of_samples(np.array([end]), fs=fs, frame_hz=fh)[0])  # first incomplete frame
        if f_last <= f_first:
            self._buf = buf
            return []
        a = first_sample_of_frame(f_first, fs=fs, frame_hz=fh) - self._buf_start
        b = first_sample_of_frame(f_last, fs=fs, frame_hz=fh) - self._buf_start
        feats = self._features(buf[a:b], f_first, f_last)
        self._buf = buf[b:]
        self._buf_start += b
        out = []
        if f_first > self._next_frame:
            out.append(self._emit(self._next_frame, f_first, None))
        out.append(self._emit(f_first, f_last, feats))
        return out

    def _features(self, x: npt.NDArray[np.float32], f0: int, f1: int) -> FloatArray:
        """Per complete frame: EMG mean square, low-frequency mean square (trend and bins below the EMG
        band), excess hum mean square, pinned share."""
        n_frames = f1 - f0
        per = self._rate / self.frame_hz
        out = np.empty((5, n_frames))
        if per.denominator == 1:
            groups = [(int(per), np.arange(n_frames))]
            starts = np.arange(n_frames) * int(per)
        else:
            bounds = np.array([first_sample_of_frame(f, fs=self._rate, frame_hz=self.frame_hz) for f in (f0, f1)])
            edges = (
                np.array([first_sample_of_frame(f, fs=self._rate, frame_hz=self.frame_hz) for f in range(f0, f1 + 1)])
                - bounds[0]
            )
            lengths = np.diff(edges)
            starts = edges[:-1]
            groups = [(int(L), np.flatnonzero(lengths == L)) for L in np.unique(lengths)]
        for length, rows in groups:
            idx = starts[rows][:, np.newaxis] + np.arange(length)
            frames = x[idx] if per.denominator != 1 else x.reshape(n_frames, length)
            # remove each frame's mean and slow trend (drift and limb motion would leak into the EMG bins),
            # fitted without the mains bins so that hum does not leak either
            order = min(self.p.detrend_order, length - 1)
            q, dft, ab = trend_terms(length, order, self.fs, self._band, self._mains)
            coef = frames @ q
            if ab.size:
                coef -= (frames @ dft) @ ab
            detrended = frames - coef @ q.T
            spec = scipy.fft.rfft(detrended, axis=1, workers=2 if rows.size >= _PARALLEL_FRAMES else 1)
            trend_ms = (coef[:, 1:].astype(np.float64) ** 2).sum(axis=1) / length
            out[4, rows] = coef[:, 0] / np.sqrt(length)  # the frame's mean
            parts = spec.view(np.float32)  # real and imaginary parts side by side
            power = parts * parts
            w = frame_weights(length, self.fs, self._band, self._mains)
            ms = (power @ np.repeat(w, 2, axis=1).T).T.astype(np.float64)
            out[0, rows] = ms[0]
            out[1, rows] = ms[1] + trend_ms
            hum = np.maximum(ms[2::2] - ms[3::2], 0.0)  # hum above the EMG's own share of those bins
            self._hum_total += hum.sum(axis=1) / self.frame_hz
            out[2, rows] = hum.max(axis=0) if hum.size else 0.0
            if self.full_scale_uv:
                peak = np.maximum(frames.max(axis=1), -frames.min(axis=1))
                out[3, rows] = peak >= self.p.clip_level * self.full_scale_uv
            else:
                out[3, rows] = 0.0
        return out

    # -- frames ----------------------------------------------------------------------------------
    def _emit(self, first: int, upto: int, feats: FloatArray | None) -> EmgFrames:
        n = upto - first
        self._next_frame = upto
        if feats is None:
            feats = np.full((5, n), np.nan)
        # slow wander (lead-off, limb motion) shows as frame means that change from frame to frame
        means = self._drift.push(feats[4][np.newaxis, :])[0]  # (n, window)
        ok = np.isfinite(means)
        cnt = ok.sum(axis=-1)
        mu = np.where(ok, means, 0.0).sum(axis=-1) / np.maximum(cnt, 1)
        dev = np.where(ok, means - mu[:, np.newaxis], 0.0)
        drift = np.sqrt((dev * dev).sum(axis=-1) / np.maximum(cnt, 1))
        lf = np.sqrt(feats[1] + drift**2)
        rms, hum, clip = np.sqrt(feats[0]), np.sqrt(feats[2]), feats[3]
        reason = np.zeros(n, dtype=np.int8)
        with np.errstate(invalid="ignore"):
            reason[(hum >= self.p.mains_artifact_uv) & (hum >= rms)] = MAINS
            reason[lf >= self.p.lead_off_uv] = LEAD_OFF
            reason[clip > 0] = CLIPPING
        reason[~np.isfinite(rms)] = GAP
        valid = (reason == OK) | (reason == MAINS)
        ms = np.where(valid, feats[0], np.nan)
        env = np.sqrt(self._env.mean(ms[np.newaxis, :])[0])
        slow = np.sqrt(self._slow.mean(ms[np.newaxis, :])[0])
        base = self._baseline_for(first, rms, valid)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.nan_to_num(env / base, nan=0.0)
            frame_ratio = np.where(valid, rms / base, np.nan)
            slow_ratio = np.nan_to_num(np.where(valid, slow / base, np.nan), nan=0.0)
        ok = valid & (ratio > 0)
        active = ok & (ratio >= self.p.active_off_ratio)
        high = ok & (ratio >= self.p.active_on_ratio)
        return EmgFrames(first, rms, lf, env, base, ratio, frame_ratio, slow_ratio, active, high, reason)

    def _baseline_for(self, first: int, rms: FloatArray, valid: BoolArray) -> FloatArray:
        """Resting level for each frame (from the blocks before it), learning from each finished block."""
        out = np.empty(rms.size)
        vals = np.where(valid, rms, np.nan)
        bn = self._block_n
        # medians of the whole blocks inside this batch, all at once
        head = min(rms.size, (-first) % bn)
        n_whole = (rms.size - head) // bn
        whole = vals[head : head + n_whole * bn].reshape(n_whole, bn)
        counts = np.isfinite(whole).sum(axis=1)
        medians = np.full(n_whole, np.nan)
        if n_whole:
            srt = np.sort(whole, axis=1)  # NaN sort last
            lo = np.maximum((counts - 1) // 2, 0)
            hi = np.maximum(counts // 2, 0)
            rows = np.arange(n_whole)
            medians = np.where(counts > 0, 0.5 * (srt[rows, lo] + srt[rows, hi]), np.nan)
        i = 0
        while i < rms.size:
            block = (first + i) // bn
            if block != self._block_id:
                self._close_block()
                self._block_id = block
            j = min(rms.size, (block + 1) * bn - first)
            out[i:j] = self._baseline
            k = (i - head) // bn
            if i >= head and j - i == bn and 0 <= k < n_whole and not self._block_vals:
                self._block_level = (float(medians[k]), int(counts[k]))
            else:
                self._block_vals.append(vals[i:j])
            i = j
        return out

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
        if np.isfinite(self._baseline) and level > self.p.baseline_quiet_ratio * self._baseline:
            # a contracting block does not teach the resting level, unless it lasts so long that the
            # resting level itself must have changed (electrode contact, posture)
            self._busy.append(level)
            if len(self._busy) < self._relearn_blocks:
                return
            self._blocks.extend(self._busy)
        self._busy = []
        self._blocks.append(level)
        ordered = sorted(self._blocks)
        self._baseline = ordered[min(len(ordered) - 1, int(self.p.baseline_quantile / 100.0 * len(ordered)))]
