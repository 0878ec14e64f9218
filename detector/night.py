"""The night detector: one pipeline for live streams and for whole recordings.

Push contiguous sample chunks of each stream (any sizes, any interleaving of streams) with
:meth:`NightDetector.push`; call :meth:`NightDetector.finish` at the end. Offline analysis is the same
code given each stream's data in one chunk, so online and offline report the same events.

Stages: per-stream frames (:mod:`detector.emg`, :mod:`detector.accel`) go into bounded frame stores; once
every stream has reached a frame (the *watermark*), the frame-synchronous stage runs up to it:

- per leg with EMG: activations (AASM-style hysteresis on envelope / resting level), grouped into
  candidate contractions across short dips (waxing and waning); a group sustained for ``cramp_min_s`` with
  enough active share is a **cramp** unless the other leg mirrors it (bilateral), the leg moves
  (voluntary movement, tossing), the shank is upright (standing) or the signal is unusable; shorter
  activations of 0.5-10 s are **leg movements**, from which **PLM series** are built (:mod:`detector.plm`);
- per stream: unusable stretches (**artifact**) and missing data (**signal_gap**);
- body level from the accelerometers: sleep and wake, **awakenings** and **out of bed**
  (:mod:`detector.sleep`), and **large movements** (3-45 s of motion within sleep); without an
  accelerometer, sleep, wake and awakenings come from the EMG alone: limb motion from its low-frequency
  motion artifact, plus sustained contraction and muscle tone.

A cramp is final once it is known whether an awakening followed; a provisional notice is given as soon as
a contraction has been sustained for ``cramp_min_s``.
"""

from __future__ import annotations

import math
import os
import queue
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from threadpoolctl import threadpool_limits

from detector.accel import AccFrames, AccProcessor
from detector.emg import CLIPPING, GAP, LEAD_OFF, MAINS, REASONS, EmgFrames, EmgProcessor
from detector.events import Event, mask_to_runs, sort_events
from detector.framestore import FrameStore
from detector.overview import MinuteTracks, overview_json
from detector.params import DetectorParams
from detector.plm import PlmChain
from detector.sleep import SleepStage, out_of_bed_tracker
from detector.streaming import CausalWindow, Run, RunTracker, first_sample_of_frame, median_last, rational_rate
from detector.summary import SleepInfo

FloatArray = npt.NDArray[np.float64]
EMG_TRACKS = (
    "active",
    "high",
    "valid",
    "gap",
    "artifact",
    "envelope",
    "ratio",
    "frame_ratio",
    "slow_ratio",
    "lf",
    "reason",
    "baseline",
)
ACC_TRACKS = ("gx", "gy", "gz", "motion", "moving", "gross", "upright", "valid", "tremor_ratio")


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """One input stream: ``kind`` "emg" (µV, 1 channel) or "acc" (g, 3 channels x, y, z)."""

    name: str
    kind: str
    leg: str | None
    fs_hz: float
    unit: str
    full_scale: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("emg", "acc"):
            raise ValueError(f"stream {self.name!r}: kind must be 'emg' or 'acc', got {self.kind!r}")
        if not (np.isfinite(self.fs_hz) and 1.0 <= self.fs_hz <= 20000.0):
            raise ValueError(f"stream {self.name!r}: sampling rate {self.fs_hz} Hz is outside 1-20000 Hz")

    @property
    def n_channels(self) -> int:
        return 1 if self.kind == "emg" else 3


@dataclass(frozen=True, slots=True)
class Notice:
    """A provisional, live-only message (not part of the night's events): at ``t_s`` a contraction on
    ``leg`` has been sustained since ``since_s`` long enough to be a cramp, and nothing rules it out yet."""

    t_s: float
    kind: str
    since_s: float
    leg: str | None = None


@dataclass
class _Leg:
    leg: str
    emg: str | None
    acc: str | None
    l1: RunTracker  #: activations (leg movements)
    c1: RunTracker  #: strong contraction (cramp candidates)
    sustained: CausalWindow | None = None  #: share of strong contraction over the last seconds
    noticed: int = -1
    t1: RunTracker | None = None  #: accelerometer-only legs: sustained tremor with the limb still


class NightDetector:
    """Stateful detector over all streams of one night."""

    def __init__(self, streams: Sequence[StreamInfo], params: DetectorParams | None = None) -> None:
        if not streams:
            raise ValueError("a night needs at least one EMG or accelerometer stream")
        names = [s.name for s in streams]
        if len(set(names)) != len(names):
            raise ValueError(f"stream names must be unique, got {names}")
        self.params = p = params or DetectorParams()
        self.fh = p.frame_hz
        self.streams = {s.name: s for s in streams}
        self._keep = int(30 * 60 * self.fh)  # frames looked back at by delayed decisions
        self._sync_every = max(1, round(p.sync_every_s * self.fh))
        self._proc: dict[str, EmgProcessor | AccProcessor] = {}
        self._store: dict[str, FrameStore] = {}
        emg_legs = {s.leg or "left" for s in streams if s.kind == "emg"}
        for s in streams:
            if s.kind == "emg":
                self._proc[s.name] = EmgProcessor(
                    fs=s.fs_hz, params=p.emg, frame_hz=self.fh, full_scale_uv=s.full_scale
                )
                self._store[s.name] = FrameStore(EMG_TRACKS)
            else:
                # the tremor band only serves legs without EMG (mechanomyography instead of EMG)
                tremor = (s.leg or "left") not in emg_legs
                self._proc[s.name] = AccProcessor(fs=s.fs_hz, params=p.acc, frame_hz=self.fh, tremor=tremor)
                self._store[s.name] = FrameStore(ACC_TRACKS)
        self._legs: dict[str, _Leg] = {}
        for s in streams:
            leg = s.leg or "left"
            if leg not in self._legs:
                l1 = RunTracker(self._f(p.emg.active_off_s) - 1)
                self._legs[leg] = _Leg(leg, None, None, l1, RunTracker(self._f(p.events.cramp_merge_gap_s)))
            if s.kind == "emg":
                self._legs[leg].emg = s.name
            else:
                self._legs[leg].acc = s.name
        self._acc_legs = [lg for lg in self._legs.values() if lg.acc]
        for lg in self._legs.values():
            lg.sustained = CausalWindow(self._f(p.events.sustained_contraction_s))
            if lg.emg is None:
                lg.t1 = RunTracker(self._f(p.events.acc_cramp_merge_gap_s))
        self._tremor_runs: list[tuple[_Leg, Run]] = []  # waiting to see whether a stretch or getting up follows
        self._contractions: list[tuple[_Leg, Run]] = []  # sustained EMG contractions waiting for their end
        self._gap_trk = {n: RunTracker(0) for n in self.streams}
        self._art_trk = {n: RunTracker(self._f(1.0)) for n in self.streams if self.streams[n].kind == "emg"}
        # without EMG: the last frame of sustained tremor, and the frame until which a stretch after it holds
        # the sleeper awake (see _body_sync)
        self._last_contracting, self._stretch_wake_until = -(1 << 62), -(1 << 62)
        self._sleep = SleepStage(params=p.events, frame_hz=self.fh, n_legs=len(self._acc_legs)) if self._legs else None
        self._oob = out_of_bed_tracker(p.events, self.fh)
        self._move = RunTracker(self._f(p.events.large_movement_merge_s))
        self._moves: list[Run] = []
        self._large: list[Run] = []  # large movements reported: activations within them are not leg movements
        self._cramps: list[Event] = []  # classified, waiting for the awakening decision
        self._lms: list[tuple[_Leg, Run]] = []  # candidate leg movements, waiting for cramps and sleep
        self._plm = PlmChain(p.events)
        self._done = 0  # frames processed by the synchronous stage
        self._ends: dict[str, int] = {}
        self._valid_frames = dict.fromkeys(self.streams, 0)
        self.events: list[Event] = []
        self._reported_cramps: list[Event] = []  # the cramps among ``events``
        self.notices: list[Notice] = []
        self._minutes = {s.name: MinuteTracks(s.kind, round(60 * self.fh)) for s in streams}  # the overview

    # -- public ----------------------------------------------------------------------------------
    def push(self, name: str, start: int, data: npt.ArrayLike) -> list[Event]:
        """Samples ``start .. start + n`` of stream ``name`` (sample i at ``i / fs`` s); new events out."""
        info = self.streams.get(name)
        if info is None:
            raise ValueError(f"unknown stream {name!r}; known: {sorted(self.streams)}")
        x = self._checked(name, data)
        return self._ingest(name, self._proc[name].push(start, x))

    def _checked(self, name: str, data: npt.ArrayLike) -> npt.NDArray[np.floating[Any]]:
        info = self.streams[name]
        x = np.asarray(data)
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float64)
        if info.kind == "emg":
            x = x.reshape(-1)
        elif x.ndim != 2 or x.shape[0] != 3:
            raise ValueError(f"stream {name!r}: accelerometer chunks must have shape (3, n), got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError(f"stream {name!r}: samples contain NaN or infinity; send gaps as missing samples")
        return x

    def add_marker(self, t_s: float, label: str) -> list[Event]:
        ev = Event("marker", t_s, t_s, None, {"label": label})
        self.events.append(ev)
        return [ev]

    def finish(self, duration_s: float) -> list[Event]:
        """End of the recording at ``duration_s``: flush every stage; returns the last events."""
        out: list[Event] = []
        end_frame = int(np.floor(duration_s * self.fh + 1e-9))  # frames the recording covers fully
        for name, proc in self._proc.items():
            end = first_sample_of_frame(end_frame, fs=rational_rate(self.streams[name].fs_hz), frame_hz=self.fh)
            out += self._ingest(name, proc.finish(end), advance=False)
        out += self._advance(final=True, end=end_frame)
        for tracks in self._minutes.values():
            tracks.finish()
        return out

    def overview(self) -> dict[str, Any]:
        """Per-minute activity and posture of every stream (:mod:`detector.overview`), for the JSON."""
        return overview_json(self._minutes, 60.0)

    def live_status(self) -> dict[str, Any]:
        """What a live display shows now, from the latest frames: per EMG stream its resting level and the
        activity threshold (µV); whether a leg is upright (out of bed), and per accelerometer its shank's
        posture ("upright" or "lying"); seconds since a leg last moved; which
        legs are in a sustained contraction."""
        done = max(s.next_frame for s in self._store.values())
        look = self._f(self.params.events.sustained_inactivity_s)
        out: dict[str, Any] = {"t_s": done / self.fh, "levels": {}, "upright": None, "still_s": None}
        # legs in the sustained contraction a possible-cramp notice was given for (or, without EMG, in a
        # sustained tremor), going on now
        out["contracting"] = {leg.leg: self._contracting(leg) for leg in self._legs.values()}
        for name, info in self.streams.items():
            store = self._store[name]
            if info.kind == "emg":
                base = store.get("baseline", store.next_frame - 50, store.next_frame)
                base = base[np.isfinite(base)]
                if base.size:
                    level = float(base[-1])
                    out["levels"][name] = (level, level * self.params.emg.active_on_ratio)
            else:
                up = store.get("upright", store.next_frame - 10, store.next_frame)
                if np.isfinite(up).any():
                    out["upright"] = bool(out["upright"]) or bool(np.nanmax(up) > 0.5)
                    out.setdefault("posture", {})[name] = "upright" if np.nanmax(up) > 0.5 else "lying"
                span = min(look, store.next_frame)  # frames recorded so far, up to the lookback
                moving = store.get("moving", store.next_frame - span, store.next_frame)
                seen = np.flatnonzero(moving > 0.5)
                still = (span if not seen.size else span - 1 - int(seen[-1])) / self.fh
                out["still_s"] = still if out["still_s"] is None else min(out["still_s"], still)
        return out

    @staticmethod
    def _contracting(leg: _Leg) -> bool:
        if leg.emg:
            run = leg.c1.open_run
            return run is not None and run.first_hi >= 0 and leg.noticed == run.first_hi
        tremor = leg.t1.open_run if leg.t1 is not None else None
        return tremor is not None and leg.noticed == tremor.start

    @property
    def mains_hz(self) -> dict[str, float | None]:
        return {n: p.mains_hz for n, p in self._proc.items() if isinstance(p, EmgProcessor)}

    def all_events(self) -> list[Event]:
        return sort_events(self.events)

    def valid_seconds(self) -> dict[str, float]:
        """Seconds of usable signal per stream so far."""
        return {n: v / self.fh for n, v in self._valid_frames.items()}

    def sleep_info(self) -> SleepInfo | None:
        """Sleep onset, final wake and wake bouts (from the accelerometers, or without one from the EMG)."""
        if self._sleep is None:
            return None
        st = self._sleep.state
        if not st.bouts:
            return SleepInfo(None, None, ())
        fh = self.fh
        return SleepInfo(st.bouts[0][0] / fh, st.bouts[-1][1] / fh, tuple((a / fh, b / fh) for a, b in st.wake_bouts))

    # -- ingest ----------------------------------------------------------------------------------
    def _f(self, seconds: float) -> int:
        return round(seconds * self.fh)

    def _ingest(self, name: str, frames: Sequence[EmgFrames | AccFrames], advance: bool = True) -> list[Event]:
        store = self._store[name]
        for fr in frames:
            if isinstance(fr, EmgFrames):
                self._minutes[name].add(
                    fr.first, {"ms": fr.rms_uv**2, "active": fr.active, "valid": fr.valid, "missing": fr.reason == GAP}
                )
                art = (fr.reason == CLIPPING) | (fr.reason == LEAD_OFF) | (fr.reason == MAINS)
                store.append(
                    fr.first,
                    {
                        "active": fr.active,
                        "high": fr.high,
                        "valid": fr.valid,
                        "gap": fr.reason == GAP,
                        "artifact": art,
                        "envelope": fr.envelope_uv,
                        "ratio": fr.ratio,
                        "slow_ratio": fr.slow_ratio,
                        "frame_ratio": fr.frame_ratio,
                        "lf": fr.lf_uv,
                        "reason": fr.reason,
                        "baseline": fr.baseline_uv,
                    },
                )
            else:
                self._minutes[name].add(
                    fr.first,
                    {
                        "motion": fr.motion_g,
                        "moving": fr.moving,
                        "upright": fr.upright,
                        "valid": fr.valid,
                        "missing": ~fr.valid,  # an accelerometer frame is only ever unusable for want of data
                    },
                )
                store.append(
                    fr.first,
                    {
                        "gx": fr.gravity_g[0],
                        "gy": fr.gravity_g[1],
                        "gz": fr.gravity_g[2],
                        "motion": fr.motion_g,
                        "moving": fr.moving,
                        "gross": fr.gross,
                        "upright": fr.upright,
                        "valid": fr.valid,
                        "tremor_ratio": fr.tremor_ratio,
                    },
                )
        return self._advance() if advance else []

    def _frames_in(self) -> int:
        """Frames that every stream has delivered."""
        return min(s.next_frame for s in self._store.values())

    def _advance(self, final: bool = False, end: int | None = None) -> list[Event]:
        wm = self._frames_in()
        if end is not None:  # samples past the recording's last whole frame are not analysed
            wm = min(wm, max(end, self._done))
        if not final and wm - self._done < self._sync_every:
            return []  # fusion runs on batches of frames; the batching does not change any result
        new: list[Event] = []
        if wm > self._done:
            new += self._sync(self._done, wm)
            self._done = wm
            for store in self._store.values():
                store.trim_before(wm - self._keep)
        new += self._release(final)
        self.events.extend(new)
        self._reported_cramps += [e for e in new if e.kind == "cramp"]
        return new

    # -- frame-synchronous stage -----------------------------------------------------------------
    def _sync(self, a: int, b: int) -> list[Event]:
        out: list[Event] = []
        for name in self.streams:
            self._valid_frames[name] += self._store[name].count("valid", a, b)
        for name, trk in self._gap_trk.items():
            emg = self.streams[name].kind == "emg"
            mask = self._mask(name, "gap", a, b) if emg else ~self._mask(name, "valid", a, b)
            for r in trk.push(mask, a):
                out.append(self._stream_event("signal_gap", name, r, {}))
        for name, trk in self._art_trk.items():
            for r in trk.push(self._mask(name, "artifact", a, b), a):
                if r.stop - r.start >= self._f(self.params.events.artifact_min_s):
                    out.append(self._stream_event("artifact", name, r, {"reason": self._reason(name, r)}))
        for leg in self._legs.values():
            if leg.emg:
                out += self._leg_sync(leg, a, b)
            elif leg.t1 is not None:
                self._tremor_sync(leg, a, b)
        self._release_contractions(b)
        self._release_tremor(b)
        if self._acc_legs:
            out += self._body_sync(a, b)
        elif self._sleep is not None:
            self._emg_body_sync(a, b)
        return out

    def _get(self, name: str, track: str, a: int, b: int) -> FloatArray:
        return self._store[name].get(track, a, b)

    def _mask(self, name: str, track: str, a: int, b: int) -> npt.NDArray[np.bool_]:
        return self._store[name].mask(track, a, b)

    def _stream_event(self, kind: str, name: str, r: Run, fields: dict[str, object]) -> Event:
        s = self.streams[name]
        return Event(kind, r.start / self.fh, r.stop / self.fh, s.leg, {"stream": name, **fields})

    def _reason(self, name: str, r: Run) -> str:
        """The most common cause of an unusable stretch; low-frequency noise while the leg moves is motion."""
        codes = self._get(name, "reason", r.start, r.stop)
        codes = codes[np.isfinite(codes) & (codes > 0)]
        if codes.size == 0:
            return "unknown"
        vals, counts = np.unique(codes, return_counts=True)
        reason = REASONS.get(int(vals[np.argmax(counts)]), "unknown")
        if reason == "lead_off":
            acc = next((lg.acc for lg in self._legs.values() if lg.emg == name), None)
            if acc and self._store[acc].fraction("moving", r.start, r.stop) > 0.5:
                return "motion"
            if r.stop - r.start < self._f(self.params.emg.pops_max_s):
                return "pops"
        return reason

    def _leg_sync(self, leg: _Leg, a: int, b: int) -> list[Event]:
        if leg.emg is None:
            return []
        active = self._mask(leg.emg, "active", a, b)
        high = self._mask(leg.emg, "high", a, b)
        valid = self._mask(leg.emg, "valid", a, b)
        for r in leg.l1.push(active, a, hi=high, breaks=~valid):
            self._lm_candidate(leg, r)
        strong, _ = self._strong(leg, a, b)
        onset = self._get(leg.emg, "slow_ratio", a, b) >= self.params.events.cramp_on_ratio
        for r in leg.c1.push(strong, a, hi=onset, breaks=~valid):
            self._contractions.append((leg, r))  # judged once the frames after it are known
        self._notice(leg, b)
        return []

    def _strong(self, leg: _Leg, a: int, b: int) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Frames of sustained strong contraction, and frames where the limb moves."""
        assert leg.emg is not None
        ratio = self._get(leg.emg, "slow_ratio", a, b)
        valid = self._mask(leg.emg, "valid", a, b)
        return valid & (ratio >= self.params.events.cramp_off_ratio), self._moving(leg, a, b)

    def _moving(self, leg: _Leg, a: int, b: int) -> npt.NDArray[np.bool_]:
        """Limb motion: from the accelerometer, or without one from low-frequency motion artifact in the EMG."""
        if leg.acc:
            return self._mask(leg.acc, "moving", a, b)
        assert leg.emg is not None
        return self._get(leg.emg, "lf", a, b) >= self.params.emg.motion_uv

    def _lm_candidate(self, leg: _Leg, r: Run) -> None:
        ev = self.params.events
        if r.first_hi >= 0 and self._f(ev.lm_min_s) <= r.stop - r.first_hi <= self._f(ev.lm_max_s):
            self._lms.append((leg, Run(r.first_hi, r.stop, r.first_hi)))

    def _notice(self, leg: _Leg, b: int) -> None:
        run = leg.c1.open_run
        if run is None or run.first_hi < 0 or leg.noticed == run.first_hi:
            return
        ev = self.params.events
        if b - run.first_hi + self._f(ev.cramp_onset_lookback_s) < self._f(ev.cramp_min_s):
            return  # too short even if the onset moves back as far as it can
        onset = self._refine(leg, run.first_hi, run.first_hi)[0]  # where the rise began
        if b - onset >= self._f(self.params.events.cramp_min_s) and self._plausible(leg, onset, b):
            leg.noticed = run.first_hi
            self.notices.append(Notice(b / self.fh, "cramp", onset / self.fh, leg.leg))

    def _plausible(self, leg: _Leg, start: int, stop: int) -> bool:
        """The cheap checks of :meth:`_classify_cramp` on a contraction still going on."""
        if self._other_leg_busy(leg, start, stop):
            return False
        if leg.acc is None:
            return True
        acc = self._store[leg.acc]
        return acc.fraction("upright", start, stop) <= 0.5 and acc.fraction("moving", start, stop) <= 0.3

    def _release_contractions(self, upto: int | None) -> None:
        """Consider the sustained contractions whose final stretch (``cramp_stretch_s`` after them) is
        known by frame ``upto`` (all of them if None), so that any chunking judges the same frames."""
        ahead = self._f(self.params.events.cramp_stretch_s)
        keep = []
        for leg, r in self._contractions:
            if upto is not None and upto < r.stop + ahead:
                keep.append((leg, r))
            else:
                self._consider_cramp(leg, r)
        self._contractions = keep

    def _consider_cramp(self, leg: _Leg, r: Run) -> None:
        ev = self.params.events
        if r.first_hi < 0:
            return
        reach = self._f(ev.cramp_onset_lookback_s) + self._f(ev.cramp_stretch_s)  # how far _refine can widen
        if r.stop - r.first_hi + reach < self._f(ev.cramp_min_s):
            return
        start, stop = self._refine(leg, r.first_hi, r.stop)
        if stop - start < self._f(ev.cramp_min_s):
            return
        cramp = self._classify_cramp(leg, start, stop)
        if cramp is not None:
            self._cramps.append(cramp)

    def _refine(self, leg: _Leg, start: int, stop: int) -> tuple[int, int]:
        """Bounds of a contraction found on the slow envelope, sharpened on the frames themselves.

        The slow envelope crosses its threshold part-way up the cramp's abrupt rise. The onset is moved
        back to where the rise began: the last frame, within ``cramp_onset_lookback_s``, whose level (3-frame
        mean of frame RMS over rest) was no higher than the level before the rise plus a quarter of the
        rise. At the end, the stretch moves the leg and blurs the EMG: frames that are unusable or still
        contracting right after the end (up to ``cramp_stretch_s``) belong to the cramp.
        """
        assert leg.emg is not None
        ev = self.params.events
        back = self._f(ev.cramp_onset_lookback_s)
        fr = self._get(leg.emg, "frame_ratio", start - back - 1, start + 2)
        smooth = np.convolve(np.nan_to_num(fr, nan=0.0), np.ones(3) / 3.0, mode="same")[1:-2]  # frames back..0
        pre = self._get(leg.emg, "frame_ratio", start - 3 * back, start - back)
        pre = pre[np.isfinite(pre)]
        level = float(median_last(pre)) if pre.size else 1.0
        top = float(np.nanmax(smooth[-3:])) if smooth.size else level
        low = np.flatnonzero(smooth <= level + 0.25 * max(top - level, 0.0))
        onset = start
        start -= back - (int(low[-1]) + 1 if low.size else 0)
        stop, end_ratio = self._end(leg, onset, stop)
        ahead = self._f(ev.cramp_stretch_s)
        tail_valid = self._mask(leg.emg, "valid", stop, stop + ahead)
        tail_strong = self._get(leg.emg, "ratio", stop, stop + ahead) >= end_ratio
        done = np.flatnonzero(tail_valid & ~tail_strong)
        stop += int(done[0]) if done.size else ahead
        return start, stop

    def _end(self, leg: _Leg, onset: int, stop: int) -> tuple[int, float]:
        """Where the contraction from ``onset`` (its slow envelope's crossing of ``cramp_on_ratio``) to ``stop``
        ends, and the ratio it fell below.

        A cramp ends abruptly when the muscle is stretched, but the wake that follows can keep the calf's
        tone raised for minutes, above ``cramp_off_ratio``. So the contraction is over where its slow
        envelope falls below ``cramp_end_fraction`` of the way from rest to the level it held in its first
        ``cramp_min_s`` (its median there), or below ``cramp_off_ratio`` if that is higher, for longer than
        ``cramp_merge_gap_s``."""
        assert leg.emg is not None
        ev = self.params.events
        if stop - onset <= self._f(ev.cramp_min_s):
            return stop, ev.cramp_off_ratio
        relief = self._relief(leg, onset, stop)
        if relief is not None:  # the EMG of standing and walking after it is voluntary
            stop = min(stop, relief + self._f(ev.cramp_stretch_s))
        ratio = self._get(leg.emg, "slow_ratio", onset, stop)
        first = ratio[: self._f(ev.cramp_min_s)]
        first = first[np.isfinite(first)]
        level = float(median_last(first)) if first.size else ev.cramp_on_ratio
        end_ratio = max(ev.cramp_off_ratio, 1.0 + ev.cramp_end_fraction * (level - 1.0))
        above = np.flatnonzero(self._mask(leg.emg, "valid", onset, stop) & (ratio >= end_ratio))
        if above.size == 0:
            return stop, end_ratio
        gaps = np.flatnonzero(np.diff(above) > self._f(ev.cramp_merge_gap_s) + 1)
        last = above[gaps[0]] if gaps.size else above[-1]
        return onset + int(last) + 1, end_ratio

    def _relief(self, leg: _Leg, a: int, b: int) -> int | None:
        """The first frame in ``a .. b`` of ``cramp_relief_s`` of gross movement or standing of the leg (without
        an accelerometer, of limb motion in the EMG), if any."""
        if leg.acc:
            acc = self._store[leg.acc]
            moving = acc.mask("gross", a, b) | acc.mask("upright", a, b)
        else:
            moving = self._moving(leg, a, b)
        runs = mask_to_runs(moving)
        long = runs[runs[:, 1] - runs[:, 0] >= self._f(self.params.events.cramp_relief_s)]
        return a + int(long[0, 0]) if long.shape[0] else None

    def _other_leg_busy(self, leg: _Leg, start: int, stop: int) -> bool:
        """Whether another leg takes part (a bilateral movement, standing or walking): it bursts, contracts at a
        cramp's level or moves during more than ``cramp_max_other_leg_fraction`` of the frames where this leg
        bursts (all frames if it never does), over the whole contraction or its first
        ``cramp_bilateral_window_s``, when a cramp has only the one leg (later the sleeper is awake and may
        move the other leg too). The raised tone of wake on the other leg is not a contraction."""
        assert leg.emg is not None
        ev = self.params.events
        if stop <= start:
            return False
        early = min(stop, start + self._f(ev.cramp_bilateral_window_s)) - start
        own = self._mask(leg.emg, "high", start, stop)  # judged where this leg bursts, if it does
        for other in self._legs.values():
            if other is leg or other.emg is None:
                continue
            busy = (
                self._mask(other.emg, "high", start, stop)
                | (self._get(other.emg, "slow_ratio", start, stop) >= ev.cramp_on_ratio)
                | self._moving(other, start, stop)
            )
            for part, mine in ((busy[:early], own[:early]), (busy, own)):
                share = part[mine].mean() if mine.any() else part.mean()
                if share > ev.cramp_max_other_leg_fraction:
                    return True
        return False

    def _classify_cramp(self, leg: _Leg, start: int, stop: int) -> Event | None:
        assert leg.emg is not None
        ev = self.params.events
        store = self._store[leg.emg]
        n = stop - start
        body = n - min(self._f(ev.cramp_end_grace_s), n // 2)  # the stretch that ends a cramp moves the leg
        if 1.0 - store.fraction("valid", start, start + body) > ev.cramp_max_invalid_fraction:
            return None  # (and blurs the EMG: the final stretch's unusable frames do not count)
        strong, moving = self._strong(leg, start, stop)
        if strong.sum() < ev.cramp_min_active_fraction * n or moving[:body].mean() > ev.cramp_max_motion_fraction:
            return None
        ratio = store.get("slow_ratio", start, stop)
        med = float(np.nanmedian(ratio)) if np.isfinite(ratio).any() else 0.0
        if med < ev.cramp_min_median_ratio:
            return None
        excess = store.get("envelope", start, stop) - store.get("baseline", start, stop)
        if not np.isfinite(excess).any() or float(np.nanmedian(excess)) < ev.cramp_min_excess_uv:
            return None  # a few µV over an amplifier's noise floor is not a strong contraction
        if self._other_leg_busy(leg, start, stop):
            return None
        evidence = ["emg"]
        if leg.acc:
            if self._store[leg.acc].fraction("upright", start, stop) > 0.5:
                return None
            evidence.append("acc")
        env = store.get("envelope", start, stop)
        conf = 0.55 + 0.25 * min(1.0, max(0.0, (med - 2.0) / 2.0)) + (0.2 if leg.acc else 0.0)
        fields = {
            "peak_uv": float(np.nanmax(env)) if np.isfinite(env).any() else 0.0,
            "evidence": evidence,
            "confidence": round(min(conf, 1.0), 2),
            "awakening": None,
        }
        return Event("cramp", start / self.fh, stop / self.fh, leg.leg, fields)

    # -- accelerometer-only cramps (mechanomyography) ------------------------------------------
    def _tremor_sync(self, leg: _Leg, a: int, b: int) -> None:
        """Sustained tremor in the mechanomyography band with the limb held still (legs without EMG)."""
        assert leg.acc is not None and leg.t1 is not None
        ev = self.params.events
        ratio = self._get(leg.acc, "tremor_ratio", a, b)
        valid = self._mask(leg.acc, "valid", a, b)
        strong = ratio >= ev.acc_cramp_off_ratio
        for r in leg.t1.push(strong, a, hi=ratio >= ev.acc_cramp_on_ratio, breaks=~valid):
            self._tremor_candidate(leg, r)
        run = leg.t1.open_run
        if run is None or run.first_hi < 0 or leg.noticed == run.start:
            return
        if b - run.start >= self._f(ev.cramp_min_s) and self._store[leg.acc].fraction("upright", run.start, b) <= 0.5:
            leg.noticed = run.start
            self.notices.append(Notice(b / self.fh, "cramp", run.start / self.fh, leg.leg))

    def _tremor_candidate(self, leg: _Leg, r: Run) -> None:
        if r.first_hi >= 0 and r.stop - r.start >= self._f(self.params.events.cramp_min_s):
            self._tremor_runs.append((leg, r))

    def _release_tremor(self, upto: int | None) -> None:
        """Classify the tremor runs whose follow-up is known by frame ``upto`` (all of them if None)."""
        follow = self._f(self.params.events.acc_cramp_followup_s)
        keep = []
        for leg, r in self._tremor_runs:
            if upto is not None and upto < r.stop + follow:
                keep.append((leg, r))
                continue
            cramp = self._classify_tremor(leg, r)
            if cramp is not None:
                self._cramps.append(cramp)
        self._tremor_runs = keep

    def _classify_tremor(self, leg: _Leg, r: Run) -> Event | None:
        """A sustained tremor is a cramp when it is one-sided, lying, and ends in a stretch or getting up."""
        assert leg.acc is not None
        ev = self.params.events
        acc = self._store[leg.acc]
        start, stop = r.start, r.stop
        n = stop - start
        ratio = acc.get("tremor_ratio", start, stop)
        if 1.0 - acc.fraction("valid", start, stop) > ev.cramp_max_invalid_fraction:
            return None
        if np.count_nonzero(ratio >= ev.acc_cramp_off_ratio) < ev.cramp_min_active_fraction * n:
            return None
        med = float(np.median(ratio))
        if med < ev.acc_cramp_min_median_ratio or acc.fraction("upright", start, stop) > 0.5:
            return None
        for other in self._legs.values():
            if other is leg or other.acc is None:
                continue
            o_ratio = self._get(other.acc, "tremor_ratio", start, stop)
            o_busy = (o_ratio >= ev.acc_cramp_off_ratio) | self._mask(other.acc, "moving", start, stop)
            if o_busy.mean() > ev.cramp_max_other_leg_fraction:
                return None  # both legs: a shaking bed, a sensor change, tossing
        before = start - self._f(ev.acc_cramp_quiet_before_s)
        if acc.fraction("valid", before, start) < 0.5 or max(
            acc.fraction("gross", before, start), acc.fraction("upright", before, start)
        ):
            return None  # a cramp arises in a resting leg (from sleep), not amid restless movement
        after = stop + self._f(ev.acc_cramp_followup_s)
        if not (acc.fraction("gross", stop, after) > 0.0 or acc.fraction("upright", stop, after) > 0.0):
            return None  # no stretch and no getting up followed
        conf = 0.35 + 0.25 * min(1.0, max(0.0, (med - ev.acc_cramp_min_median_ratio) / 1.0))
        fields = {"peak_uv": None, "evidence": ["acc"], "confidence": round(conf, 2), "awakening": None}
        # the abrupt rise (not the modest tension before it), less the lag of the slow tremor level
        onset = max(r.first_hi - self._f(self.params.acc.tremor_window_s / 2.0), start)
        return Event("cramp", onset / self.fh, stop / self.fh, leg.leg, fields)

    # -- body level (accelerometers) ------------------------------------------------------------
    def _body_sync(self, a: int, b: int) -> list[Event]:
        grav = np.stack(
            [np.stack([self._get(lg.acc, ax, a, b) for ax in ("gx", "gy", "gz")]) for lg in self._acc_legs if lg.acc]
        )
        moving = np.nanmax(np.stack([self._get(lg.acc, "gross", a, b) for lg in self._acc_legs if lg.acc]), axis=0)
        contracting, tone = self._muscle(a, b)
        if tone is None:
            contracting = self._stretch_wake(a, contracting, moving)
        upright = np.nanmax(np.stack([self._get(lg.acc, "upright", a, b) for lg in self._acc_legs if lg.acc]), axis=0)
        assert self._sleep is not None
        small = (  # any movement at all, for the fidgeting rule (used only without EMG)
            None
            if tone is not None
            else np.nanmax(np.stack([self._get(lg.acc, "moving", a, b) for lg in self._acc_legs if lg.acc]), axis=0)
        )
        self._sleep.push(a, grav, moving, upright, contracting, tone, small)
        out: list[Event] = []
        for r in self._oob.push(np.nan_to_num(upright) > 0.5, a):
            if r.stop - r.start >= self._f(self.params.events.out_of_bed_min_s):
                out.append(Event("out_of_bed", r.start / self.fh, r.stop / self.fh, None))
        for r in self._move.push(np.nan_to_num(moving) > 0.5, a):
            lo, hi = self.params.events.large_movement_s
            if self._f(lo) <= r.stop - r.start <= self._f(hi):
                self._moves.append(r)
        return out

    def _muscle(self, a: int, b: int) -> tuple[FloatArray, FloatArray | None]:
        """Frames ``a .. b`` of sustained contraction on any leg (0/1), and per EMG leg its frame level over
        rest and its resting level, ``(n_emg_legs, 2, n)`` (None without EMG), for the sleep stage."""
        contracting = np.zeros(b - a)
        for leg in self._legs.values():
            if leg.sustained is None:
                continue
            if leg.emg:
                strong = self._strong(leg, a, b)[0]
            elif leg.acc:  # without EMG: tremor held with the limb still, as for an accelerometer-only cramp
                strong = self._get(leg.acc, "tremor_ratio", a, b) >= self.params.events.acc_cramp_off_ratio
            else:
                continue
            share = leg.sustained.mean(strong[np.newaxis])[0]
            contracting = np.maximum(contracting, share >= self.params.events.sustained_contraction_fraction)
        tone = [
            np.stack((self._get(leg.emg, "frame_ratio", a, b), self._get(leg.emg, "baseline", a, b)))
            for leg in self._legs.values()
            if leg.emg
        ]
        return contracting, (np.stack(tone) if tone else None)

    def _emg_body_sync(self, a: int, b: int) -> None:
        """Sleep and wake from EMG alone (no accelerometer): limb motion from the EMG's low-frequency motion
        artifact, sustained contraction and muscle tone."""
        assert self._sleep is not None
        n = b - a
        moving = np.zeros(n)
        for leg in self._legs.values():
            if leg.emg:
                moving = np.maximum(moving, self._moving(leg, a, b))
        contracting, tone = self._muscle(a, b)
        self._sleep.push(a, np.zeros((0, 3, n)), moving, np.zeros(n), contracting, tone, moving)

    def _stretch_wake(self, a: int, contracting: FloatArray, gross: FloatArray) -> FloatArray:
        """Without EMG (no muscle tone to show wake): gross movement within ``acc_cramp_followup_s`` of the end
        of a sustained contraction is the forceful, voluntary stretch that relieves a cramp, and the sleeper
        counts as awake from the contraction until ``awakening_min_s`` after that stretch began (the
        accelerometer cannot see the quiet wake that follows)."""
        ev = self.params.events
        idx = np.arange(a, a + contracting.size)
        last = np.maximum.accumulate(np.where(contracting > 0.5, idx, self._last_contracting))
        last = np.maximum(last, self._last_contracting)
        stretch = (np.nan_to_num(gross) > 0.5) & (idx - last <= self._f(ev.acc_cramp_followup_s))
        until = np.maximum.accumulate(np.where(stretch, idx + self._f(ev.awakening_min_s), self._stretch_wake_until))
        until = np.maximum(until, self._stretch_wake_until)
        if idx.size:
            self._last_contracting, self._stretch_wake_until = int(last[-1]), int(until[-1])
        return np.maximum(contracting, idx < until)

    def _upright_fraction(self, r: Run) -> float:
        return max(self._store[lg.acc].fraction("upright", r.start, r.stop) for lg in self._acc_legs if lg.acc)

    # -- decisions that wait for later data --------------------------------------------------------
    def _release(self, final: bool) -> list[Event]:
        out: list[Event] = []
        if final:
            for leg in self._legs.values():
                for r in leg.l1.finish():
                    self._lm_candidate(leg, r)
                for r in leg.c1.finish():
                    self._contractions.append((leg, r))
                for r in leg.t1.finish() if leg.t1 is not None else []:
                    self._tremor_candidate(leg, r)
            for name, trk in self._gap_trk.items():
                out += [self._stream_event("signal_gap", name, r, {}) for r in trk.finish()]
            for name, art in self._art_trk.items():
                out += [
                    self._stream_event("artifact", name, r, {"reason": self._reason(name, r)})
                    for r in art.finish()
                    if r.stop - r.start >= self._f(self.params.events.artifact_min_s)
                ]
            for r in self._oob.finish():
                if r.stop - r.start >= self._f(self.params.events.out_of_bed_min_s):
                    out.append(Event("out_of_bed", r.start / self.fh, r.stop / self.fh, None))
            for r in self._move.finish():
                lo, hi = self.params.events.large_movement_s
                if self._f(lo) <= r.stop - r.start <= self._f(hi):
                    self._moves.append(r)
            if self._sleep is not None:
                self._sleep.finish()
        if final:
            self._release_contractions(None)
            self._release_tremor(None)
        out += self._release_sleep(final)
        out += self._release_cramps(final)
        out += self._release_plm(final)
        return out

    def _wake_intervals(self, final: bool) -> list[tuple[int, int]]:
        if self._sleep is None:
            return []
        st = self._sleep.state
        spans = list(st.wake_bouts)
        if final and self._sleep.open_from is not None:
            spans.append((self._sleep.open_from, self._done))  # the final wake
        return spans

    def _release_sleep(self, final: bool) -> list[Event]:
        if self._sleep is None:
            return []
        out = [Event("awakening", s / self.fh, e / self.fh, None) for s, e in self._sleep.awakenings]
        self._sleep.awakenings = []
        st = self._sleep.state
        keep: list[Run] = []
        onset = st.onset
        for r in self._moves:
            bout = next((w for w in st.wake_bouts if w[0] <= r.start < w[1]), None)
            restless = any(w[0] <= r.start < w[1] for w in st.restless)
            if bout is None and not restless and not final:
                keep.append(r)
                continue
            asleep_before = onset is not None and onset <= r.start
            short = restless or (bout is not None and (bout[1] - bout[0]) < self._f(self.params.events.awakening_min_s))
            if asleep_before and short and self._upright_fraction(r) < 0.2 and not self._in_cramp(r):
                out.append(Event("large_movement", r.start / self.fh, r.stop / self.fh, None))
                self._large.append(r)
        self._moves = keep
        return out

    def _in_cramp(self, r: Run, margin_s: float = 5.0) -> bool:
        t0, t1 = r.start / self.fh, r.stop / self.fh
        return any(c.start_s < t1 and t0 < c.end_s + margin_s for c in (*self._reported_cramps, *self._cramps))

    def _lm_ok(self, leg: _Leg, r: Run) -> bool:
        return not (leg.acc and self._store[leg.acc].fraction("upright", r.start, r.stop) > 0.5)

    def _release_cramps(self, final: bool) -> list[Event]:
        ev = self.params.events
        delay = self._f(ev.cramp_awakening_s + ev.awakening_min_s + ev.sustained_inactivity_s)
        done = self._done if final else (self._sleep.processed_frames if self._sleep else self._done)
        out, keep = [], []
        for c in self._cramps:
            lo, hi = c.start_s * self.fh, (c.end_s + ev.cramp_awakening_s) * self.fh
            if not final and self._sleep is not None:
                open_from = self._sleep.open_from
                if done < c.end_s * self.fh + delay or (open_from is not None and open_from < hi):
                    keep.append(c)
                    continue
            fields = dict(c.fields)
            if self._sleep is not None:  # awake for >= 60 s at some point during or soon after the cramp
                now = self._done if final else self._sleep.processed_frames
                fields["awakening"] = any(
                    s < hi and lo < e and e - s >= self._f(ev.awakening_min_s)
                    for s, e in self._sleep.nonsleep(now, final=final)
                )
            out.append(Event("cramp", c.start_s, c.end_s, c.leg, fields))
        self._cramps = keep
        return out

    def _release_plm(self, final: bool) -> list[Event]:
        """Leg movements in onset order, once no cramp can overlap them and sleep or wake is known."""
        ev = self.params.events
        horizon = math.inf
        if not final:
            horizon = float(self._done)
            for leg in self._legs.values():
                for run in (leg.l1.open_run, leg.c1.open_run):
                    if run is not None:
                        horizon = min(horizon, run.start)
            if self._sleep is not None:
                delay = self._f(ev.awakening_min_s + ev.sustained_inactivity_s + ev.lm_max_s)
                horizon = min(horizon, self._sleep.processed_frames - delay)
                if self._sleep.open_from is not None:  # wait until that wake bout is known
                    horizon = min(horizon, self._sleep.open_from)
        ready = sorted((c for c in self._lms if c[1].start < horizon), key=lambda c: (c[1].start, c[0].leg))
        self._lms = [c for c in self._lms if c[1].start >= horizon]
        out: list[Event] = []
        wake = self._wake_intervals(final)
        onset = self._sleep.state.onset if self._sleep is not None else None
        margin = self._f(ev.large_movement_merge_s)
        self._large = [m for m in self._large if m.stop + margin >= (ready[0][1].start if ready else horizon)]
        for leg, r in ready:
            if self._in_cramp(r, margin_s=0.0) or not self._lm_ok(leg, r):
                continue
            if any(m.start - margin < r.stop and r.start < m.stop + margin for m in self._large):
                continue  # the EMG bursts of tossing and turning
            if self._sleep is not None:
                asleep = onset is not None and onset <= r.start
                awake = any(s <= r.start < e and e - s >= self._f(ev.awakening_min_s) for s, e in wake)
                if not asleep or awake:
                    continue
            lm = Event("limb_movement", r.start / self.fh, r.stop / self.fh, leg.leg)
            out.append(lm)
            out += self._plm.push(lm)
        out += self._plm.finish() if final else self._plm.flush_before(horizon / self.fh)
        return out


def stream_infos(
    legs: Sequence[str], *, emg_fs: float | None, acc_fs: float | None, emg_full_scale_uv: float | None = None
) -> list[StreamInfo]:
    """The usual streams of bands on ``legs``: ``emg:<leg>`` (µV) and/or ``acc:<leg>`` (g)."""
    out = []
    for leg in legs:
        if emg_fs:
            out.append(StreamInfo(f"emg:{leg}", "emg", leg, emg_fs, "uV", emg_full_scale_uv))
        if acc_fs:
            out.append(StreamInfo(f"acc:{leg}", "acc", leg, acc_fs, "g"))
    return out


_OFFLINE_CHUNK_S = 3600.0  # seconds of each stream per push in offline analysis (bounds memory)
_DONE = object()  # a stream stage has delivered all its pieces


_SCAN_BLOCK = 1 << 20  # samples per block of the missing-data scan


def finite_runs(arr: npt.NDArray[np.floating[Any]]) -> list[tuple[int, int]]:
    """``[start, stop)`` of the stretches without NaN (columns of a 2-D array).

    Missing data is rare and comes in stretches, so the array is scanned in blocks, each first with one
    cheap maximum (NaN if any sample is); only blocks whose maximum is NaN are searched sample by sample."""
    n = arr.shape[-1]
    found = []
    for lo in range(0, n, _SCAN_BLOCK):
        part = arr[:, lo : lo + _SCAN_BLOCK]
        if part.size == 0 or not np.isnan(part.max()):  # the maximum is NaN where any sample is
            continue
        bad = np.isnan(part[0]) if part.shape[0] == 1 else np.isnan(part).any(axis=0)
        found.append(np.flatnonzero(bad) + lo)
    where = np.concatenate(found) if found else np.zeros(0, dtype=np.int64)
    # good runs lie between consecutive missing samples that are not adjacent
    starts = np.concatenate(([0], where + 1))
    stops = np.concatenate((where, [n]))
    keep = stops > starts
    return list(zip(starts[keep].tolist(), stops[keep].tolist(), strict=True))


def analyze_arrays(
    emg: Mapping[str, npt.ArrayLike],
    acc: Mapping[str, npt.ArrayLike],
    *,
    emg_fs: float | None,
    acc_fs: float | None,
    duration_s: float,
    params: DetectorParams | None = None,
    emg_full_scale_uv: float | None = None,
) -> NightDetector:
    """Offline analysis of whole-night arrays: EMG ``leg -> (n,)`` in µV, acceleration ``leg -> (3, n)`` in g.

    NaN samples are missing data (signal gaps). Returns the finished detector (events, sleep, quality).
    """
    items: list[tuple[StreamInfo, npt.ArrayLike]] = []
    for leg, x in emg.items():
        if emg_fs is None:
            raise ValueError("EMG arrays need emg_fs")
        items.append((StreamInfo(f"emg:{leg}", "emg", leg, emg_fs, "uV", emg_full_scale_uv), x))
    for leg, x in acc.items():
        if acc_fs is None:
            raise ValueError("accelerometer arrays need acc_fs")
        items.append((StreamInfo(f"acc:{leg}", "acc", leg, acc_fs, "g"), x))
    return analyze_streams(items, duration_s=duration_s, params=params)


def analyze_streams(
    items: Sequence[tuple[StreamInfo, npt.ArrayLike]],
    *,
    duration_s: float,
    params: DetectorParams | None = None,
) -> NightDetector:
    """Offline analysis of whole-night streams, each with its own rate: EMG ``(n,)`` in µV, acceleration
    ``(3, n)`` in g, all starting at t=0.

    NaN samples are missing data (signal gaps). Returns the finished detector (events, sleep, quality).
    """
    streams = [info for info, _ in items]
    data: list[tuple[str, npt.NDArray[np.floating[Any]]]] = []
    for info, x in items:
        arr = np.asarray(x)
        if info.kind == "emg":
            arr = arr.reshape(1, -1)
        elif arr.ndim != 2 or arr.shape[0] != 3:
            raise ValueError(f"stream {info.name!r}: acceleration must have shape (3, n), got {arr.shape}")
        data.append((info.name, arr))
    det = NightDetector(streams, params)

    def pieces(name: str, arr: npt.NDArray[np.floating[Any]]) -> Iterator[list[EmgFrames | AccFrames]]:
        proc = det._proc[name]
        step = max(1, int(_OFFLINE_CHUNK_S * det.streams[name].fs_hz))
        # Bounded memory; any chunking gives the same frames. Pieces end on whole multiples of the step
        # (whole frames), so no partial frame is carried into the next piece and copied with it, and at
        # missing samples (a jump in the sample number is a gap). Each step is searched for missing samples
        # just before its stage reads it.
        for h in range(0, arr.shape[1], step):
            part = arr[:, h : h + step]
            for a, b in finite_runs(part):
                yield [*proc.push(h + a, part[0, a:b] if name.startswith("emg") else part[:, a:b])]

    def produce(group: list[int]) -> None:
        """The stages of a group of streams, an hour of each in turn, into their queues."""
        gens = {i: pieces(*data[i]) for i in group}
        try:
            while gens and not stop.is_set():
                for i in list(gens):
                    piece = next(gens[i], None)
                    if piece is None:
                        del gens[i]
                        queues[i].put(_DONE)
                    else:
                        queues[i].put(piece)
        except BaseException as exc:  # handed to the fusing thread, which raises it
            for i in group:
                queues[i].put(exc)

    # The streams' own stages run in as many threads as there are cores, each with about equal work, an hour of each
    # stream at a time, while this thread fuses the hours in time order as soon as every stream has
    # delivered them: the stages spend most of their time in large numpy and BLAS calls that release the
    # interpreter lock, so fusing one hour overlaps the stages' work on the next. The order of fusion
    # is fixed (hour by hour, streams in order), and fusion gives the same events in any batching.
    workers = max(1, min(len(data), os.cpu_count() or 1))
    groups: list[list[int]] = [[] for _ in range(workers)]
    load = [0] * workers
    for i in sorted(range(len(data)), key=lambda i: -data[i][1].size):  # the largest streams first
        g = load.index(min(load))
        groups[g].append(i)
        load[g] += data[i][1].size
    stop = threading.Event()
    queues: list[queue.SimpleQueue[Any]] = [queue.SimpleQueue() for _ in data]
    threads = [threading.Thread(target=produce, args=(g,), daemon=True) for g in groups if g]
    with threadpool_limits(limits=1, user_api="blas"):
        for t in threads:
            t.start()
        try:
            live = list(range(len(data)))
            # fused a whole hour at a time (much of the fusion's cost is per batch, not per frame), and at the
            # end by finish(); a piece ending at missing data does not start a batch of its own
            hour = max(1, round(_OFFLINE_CHUNK_S * det.fh))
            next_sync = hour
            while live:
                for i in list(live):
                    piece = queues[i].get()
                    if piece is _DONE:
                        live.remove(i)
                    elif isinstance(piece, BaseException):
                        raise piece
                    else:
                        det._ingest(data[i][0], piece, advance=False)
                        done = det._frames_in()
                        if done >= next_sync:
                            det._advance()
                            next_sync = (done // hour + 1) * hour
        finally:
            stop.set()
            for t in threads:
                t.join()
    det.finish(duration_s)
    return det
