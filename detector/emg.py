"""Surface-EMG stage: per-frame spectra, mains removal, resting level and activity, chunk by chunk.

The EMG is cut into frames of ``1 / frame_hz`` s (100 ms) aligned to the recording clock, and each frame's
trend and the power in the few spectral bins that matter (below the EMG band, in it, at mains harmonics),
all from one float32 matrix product per block of frames, give everything the detector needs:

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
import itertools
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.fft
from threadpoolctl import ThreadpoolController

from detector.baseline import RestingLevel
from detector.params import EmgParams
from detector.streaming import (
    CausalWindow,
    FrameBlock,
    FrameCutter,
    first_sample_of_frame,
    frame_matrix,
    frame_of_samples,
)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

#: reason codes of frames (0 = usable)
OK, GAP, CLIPPING, LEAD_OFF, MAINS = 0, 1, 3, 4, 5
REASONS = {GAP: "gap", CLIPPING: "clipping", LEAD_OFF: "lead_off", MAINS: "mains"}
_BLOCK_FRAMES = 5760  # frames handled at once (bounds temporary memory; 12 product blocks)


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


@dataclass(frozen=True)
class FrameBasis:
    """Everything one frame length needs: one matrix product gives a frame's trend and the bins used.

    ``basis`` (length, order + 1 + 2 n_bins): the trend coefficients (orthonormal polynomials, fitted to
    the frame without its mains bins, since a sinusoid projects onto a low-order polynomial too), then
    the real and imaginary rFFT of the detrended frame at the bins used (below the EMG band, in the band,
    at mains harmonics); all of it is linear in the frame, so one product gives it. ``weights``
    (order + 1 + 2 n_bins, 2 + 2 n_mains): weights of the squared trend coefficients (0 for the mean) and
    real and imaginary parts giving the EMG band (without the mains bins, scaled back to the whole band;
    Parseval), the low band (the trend's power and the bins below the EMG band), and for each mains
    candidate its bins' power and the broadband EMG's expected share of it.
    """

    order: int
    basis: npt.NDArray[np.float32]
    weights: npt.NDArray[np.float32]


@functools.lru_cache(maxsize=64)
def frame_basis(length: int, order: int, fs: float, band: tuple[float, float], mains: tuple[float, ...]) -> FrameBasis:
    """The :class:`FrameBasis` of ``length``-sample frames at ``fs``."""
    q = trend_basis(length, order)
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
    any_hum = np.logical_or.reduce(hums) if hums else np.zeros(f.size, dtype=bool)
    kept = in_band & ~any_hum
    low = (f > 0) & (f < band[0])
    bins = np.flatnonzero(low | in_band)
    n = np.arange(length)
    cos = np.cos(2 * np.pi * np.outer(n, bins) / length)
    sin = -np.sin(2 * np.pi * np.outer(n, bins) / length)
    basis = np.concatenate((q.astype(np.float64), cos, sin), axis=1).astype(np.float32)
    hum_cols = np.flatnonzero(any_hum[bins])
    # trend coefficients contributed by each mains bin's real and imaginary part
    ab = np.zeros((2 * hum_cols.size, q.shape[1]))
    for j, k in enumerate(bins[hum_cols]):
        unit = np.zeros(f.size, dtype=complex)
        unit[k] = 1.0
        ab[j] = scipy.fft.irfft(unit, n=length) @ q
        unit[k] = 1.0j
        ab[hum_cols.size + j] = scipy.fft.irfft(unit, n=length) @ q
    fq = scipy.fft.rfft(q.T.astype(np.float64), axis=1)[:, bins]
    w = np.zeros((bins.size, 2 + 2 * len(hums)))
    kb, ib = kept[bins], in_band[bins]
    w[kb, 0] = scale[bins][kb] * (in_band.sum() / max(kept.sum(), 1))
    w[low[bins], 1] = scale[bins][low[bins]]
    for i, hum in enumerate(hums):
        hb = hum[bins] & ib
        w[hb, 2 + 2 * i] = scale[bins][hb]
        w[kb, 3 + 2 * i] = scale[bins][kb] * (hum.sum() / max(kept.sum(), 1))
    # Fold the corrections into the basis (they are linear in the frame): the trend coefficients without
    # the hum's share, then the bins with that trend removed.
    b64 = basis.astype(np.float64)
    k, nb = q.shape[1], bins.size
    hum_part = np.concatenate((b64[:, k + hum_cols], b64[:, k + nb + hum_cols]), axis=1)
    q_adj = b64[:, :k] - hum_part @ ab
    folded = np.concatenate(
        (q_adj, b64[:, k : k + nb] - q_adj @ fq.real, b64[:, k + nb :] - q_adj @ fq.imag), axis=1
    ).astype(np.float32)
    trend = np.zeros((q.shape[1] - 1, w.shape[1]))
    trend[:, 1] = 1.0 / length  # the trend's mean square (orthonormal coefficients) is low-band power
    mean = np.zeros((1, w.shape[1]))  # the mean's own square counts for nothing
    weights = np.concatenate((mean, trend, w, w)).astype(np.float32)
    out = FrameBasis(order=q.shape[1] - 1, basis=folded, weights=weights)
    for arr in (out.basis, out.weights):
        arr.flags.writeable = False
    return out


_ROWS = 480  #: rows of every matrix product: a multiple of the row tiles BLAS kernels use (4 to 32, 48, 96, 160)


@functools.cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController().select(user_api="blas")


def one_blas_thread() -> AbstractContextManager[object]:
    """A context in which BLAS runs on one thread (for :func:`aligned_product`)."""
    ctx: AbstractContextManager[object] = _blas().limit(limits=1)
    return ctx


def aligned_product(
    a: npt.NDArray[np.float32], b: npt.NDArray[np.float32], ids: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    """``a @ b`` where row ``i`` of ``a`` is frame ``ids[i]`` (increasing), bit for bit the same however the
    frames are chunked. Call it with BLAS limited to one thread (:func:`one_blas_thread`).

    An optimised BLAS computes a row of a product differently by where it falls in the kernel's tiles and
    by how the rows are shared between threads, so the same frame pushed at another place of another
    chunk can round differently. Here every frame is computed in a product of exactly ``_ROWS`` rows
    holding frames ``k _ROWS .. (k + 1) _ROWS`` (block ``k``), at row ``ids % _ROWS``, on one BLAS
    thread: the same call with the same row in the same place, offline or live.
    """
    n = a.shape[0]
    out = np.empty((n, b.shape[1]), dtype=np.float32)
    if n == 0:
        return out
    first, last = int(ids[0]), int(ids[-1])
    if last - first == n - 1:  # consecutive frames (the usual case): blocks by arithmetic
        edges = [0, *range(_ROWS - first % _ROWS, n, _ROWS), n]
    else:
        blk = ids // _ROWS
        edges = [0, *(np.flatnonzero(blk[1:] != blk[:-1]) + 1).tolist(), n]
    buf: npt.NDArray[np.float32] | None = None
    for lo, hi in itertools.pairwise(edges):
        if hi - lo == _ROWS:  # a whole block, its rows already in place
            np.matmul(a[lo:hi], b, out=out[lo:hi])
            continue
        if buf is None:
            buf = np.zeros((_ROWS, a.shape[1]), dtype=np.float32)
        else:
            buf.fill(0.0)
        pos = ids[lo:hi] % _ROWS
        buf[pos] = a[lo:hi]
        out[lo:hi] = (buf @ b)[pos]
    return out


class EmgProcessor:
    """One EMG stream, sample chunks in, :class:`EmgFrames` out."""

    def __init__(self, *, fs: float, params: EmgParams, frame_hz: int, full_scale_uv: float | None) -> None:
        self.fs, self.p, self.frame_hz = fs, params, frame_hz
        self.full_scale_uv = full_scale_uv
        self._band = (params.band_hz[0], min(params.band_hz[1], 0.45 * fs))
        self._mains = tuple(f0 for f0 in params.mains_candidates_hz if f0 < self._band[1])
        self._hum_total = np.zeros(len(self._mains))  # µV² s of hum above the EMG, per candidate
        self._cutter = FrameCutter(fs=fs, frame_hz=frame_hz, n_rows=1, dtype=np.float32)
        self._next_frame = 0
        self._env = CausalWindow(max(1, round(params.envelope_s * frame_hz)))
        self._drift = CausalWindow(max(2, round(params.drift_window_s * frame_hz)), n_rows=2)  # means, squares
        self._slow = CausalWindow(max(1, round(params.slow_envelope_s * frame_hz)))
        self._rest = RestingLevel(
            block_frames=round(params.baseline_block_s * frame_hz),
            history_blocks=round(params.baseline_history_s / params.baseline_block_s),
            quantile=params.baseline_quantile,
            quiet_ratio=params.baseline_quiet_ratio,
            relearn_blocks=round(params.baseline_relearn_s / params.baseline_block_s),
        )

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
        upto = self._cutter.finish(end_sample)
        return [self._emit(self._next_frame, upto, None)] if upto > self._next_frame else []

    def _process(self, start: int, x: npt.NDArray[np.float32]) -> list[EmgFrames]:
        block = self._cutter.push(start, x[np.newaxis, :])
        if block is None:
            return []
        out = []
        if block.first > self._next_frame:
            out.append(self._emit(self._next_frame, block.first, None))
        out.append(self._emit(block.first, block.upto, self._features(block)))
        return out

    def _frame_features(
        self, frames: npt.NDArray[np.float32], ids: npt.NDArray[np.int64], fb: FrameBasis, length: int
    ) -> FloatArray:
        """Features of equal-length frames (n_frames, length), frame numbers ``ids``: see :meth:`_features`.

        Every matrix product goes through :func:`aligned_product`, so live and offline analysis stay
        bit-identical."""
        n_frames = frames.shape[0]
        g = aligned_product(frames, fb.basis, ids)
        out = np.empty((5, n_frames))
        out[4] = g[:, 0] / np.sqrt(length)  # the frame's mean
        np.multiply(g, g, out=g)  # squared in place, whole (the mean's square has weight 0)
        ms = np.ascontiguousarray(aligned_product(g, fb.weights, ids).T, dtype=np.float64)
        out[0] = ms[0]
        out[1] = ms[1]
        hum = np.maximum(ms[2::2] - ms[3::2], 0.0)  # hum above the EMG's own share of those bins
        self._hum_total += hum.sum(axis=1) / self.frame_hz
        out[2] = hum.max(axis=0) if hum.shape[0] else 0.0
        out[3] = 0.0  # pinned samples: set by the caller
        return out

    def _features(self, block: FrameBlock) -> FloatArray:
        """Per complete frame: EMG mean square, low-frequency mean square (trend and bins below the EMG
        band), excess hum mean square, pinned share, mean."""
        x = block.data[0]
        out = np.empty((5, block.upto - block.first))
        with one_blas_thread():
            for length, rows, starts in block.groups:
                fb = frame_basis(length, min(self.p.detrend_order, length - 1), self.fs, self._band, self._mains)
                for lo in range(0, rows.size, _BLOCK_FRAMES):  # bounded temporaries
                    sub = slice(lo, lo + _BLOCK_FRAMES)
                    frames = frame_matrix(block.data, length, starts[sub])[0]
                    out[:, rows[sub]] = self._frame_features(frames, block.first + rows[sub], fb, length)
        level = self.p.clip_level * self.full_scale_uv if self.full_scale_uv else None
        # frames with a sample pinned at the amplifier's full scale (two cheap reductions rule out most blocks)
        if level is not None and not (x.max(initial=-np.inf) < level and x.min(initial=np.inf) > -level):
            pinned = np.flatnonzero(np.abs(x) >= level)
            if pinned.size:
                rate = self._cutter.rate
                s0 = first_sample_of_frame(block.first, fs=rate, frame_hz=self.frame_hz)
                out[3, frame_of_samples(s0 + pinned, fs=rate, frame_hz=self.frame_hz) - block.first] = 1.0
        return out

    # -- frames ----------------------------------------------------------------------------------
    def _emit(self, first: int, upto: int, feats: FloatArray | None) -> EmgFrames:
        n = upto - first
        self._next_frame = upto
        if feats is None:
            feats = np.full((5, n), np.nan)
        # slow wander (lead-off, limb motion) shows as frame means that change from frame to frame
        m = feats[4][np.newaxis, :]
        mu, mu2 = self._drift.mean(np.concatenate((m, m * m)))
        drift = np.sqrt(np.maximum(np.nan_to_num(mu2 - mu * mu), 0.0))
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
        base = self._rest.levels_for(first, rms, valid)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = np.nan_to_num(env / base, nan=0.0)
            frame_ratio = np.where(valid, rms / base, np.nan)
            slow_ratio = np.nan_to_num(np.where(valid, slow / base, np.nan), nan=0.0)
        ok = valid & (ratio > 0)
        active = ok & (ratio >= self.p.active_off_ratio)
        high = ok & (ratio >= self.p.active_on_ratio)
        return EmgFrames(first, rms, lf, env, base, ratio, frame_ratio, slow_ratio, active, high, reason)
