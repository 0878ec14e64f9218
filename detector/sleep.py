"""Body-level accelerometer logic: sleep and wake (van Hees sustained inactivity), out of bed.

**Epochs** of ``epoch_s`` (5 s). An epoch is *active* when any leg's shank orientation (mean gravity
vector) changed by more than ``angle_change_deg`` since the previous epoch, when a leg moved during more
than ``epoch_motion_fraction`` of its frames, or when a shank was upright. This generalises GGIR's z-angle
rule (van Hees et al. 2015) from the wrist to the calf: the angle between consecutive gravity vectors
replaces the change of one axis' angle, so rolling about the shank counts as well as lifting it.

**Sleep** is sustained inactivity: runs of non-active epochs of at least ``sustained_inactivity_s``
(5 min). Sleep onset is the start of the first such run, final wake the end of the last; a **wake bout**
is the stretch between two sleep runs, and an **awakening** a wake bout of at least ``awakening_min_s``
that is active for at least ``awakening_min_active`` of its epochs (two turns a few minutes apart are
restless sleep, not an awakening).
A strong EMG contraction counts as activity like movement: a cramp of minutes wakes the sleeper even
while the leg is held still; so does raised muscle tone (the median EMG level over ``tone_window_s``
above ``wake_tone_ratio`` times rest), since tone is higher awake than asleep. Without EMG, tremor held
with the limb still (mechanomyography) stands for the contraction, and gross movement soon after it (the
forceful stretch that relieves a cramp) holds the sleeper awake for ``awakening_min_s`` from its start
(:meth:`detector.night.NightDetector._stretch_wake`).
An awakening is reported once the next sleep run is confirmed (5 min after it begins).
At the start of a recording the sleeper is awake, so the resting EMG level is first learnt from waking tone
and raised tone cannot show that wake. The first ``tone_settle_s`` are therefore held back: once they have
passed, their tone is judged against the lowest resting level reached in them (the sleep level, if sleep
came), and from then on against the running resting level.

Without EMG there is no tone, and lying awake differs from sleep mainly in how often the legs move: small
movements (any leg moving, movements less than ``bilateral_lm_s`` apart counted once) are scored by a
Poisson CUSUM of the waking rate ``wake_moves_per_min`` against the sleeping rate ``sleep_moves_per_min``;
where the score reaches ``wake_moves_llr`` the epochs from where it last rose from zero count as awake,
unless the movements come at regular intervals (a PLM series, which is a sleep phenomenon; the spread of the
intervals is measured robustly, so that one movement too small to be seen does not hide the rhythm). When the
fidgeting began less than ``sustained_inactivity_s`` after the start of the night's first sleep run, that
run was lying still awake, not sleep: sleep onset waits for the next run.

**Out of bed**: a shank upright (elevation above ``vertical_deg``, either way) on any leg for at least
``out_of_bed_min_s``, joining stretches closer than ``out_of_bed_merge_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from detector.events import mask_to_runs
from detector.params import EventParams
from detector.streaming import Run, RunTracker, median_last

FloatArray = npt.NDArray[np.float64]


@dataclass
class SleepState:
    """What the epoch stage knows so far (frame numbers)."""

    bouts: list[tuple[int, int]] = field(default_factory=list)  #: finished sleep runs
    open_bout_start: int | None = None  #: a confirmed sleep run still going on
    wake_bouts: list[tuple[int, int]] = field(default_factory=list)  #: closed wake bouts between sleep
    restless: list[tuple[int, int]] = field(default_factory=list)  #: long, barely active bouts: still sleep

    @property
    def onset(self) -> int | None:
        if self.bouts:
            return self.bouts[0][0]
        return self.open_bout_start

    @property
    def last_sleep_end(self) -> int | None:
        return self.bouts[-1][1] if self.bouts else None


class SleepStage:
    """Consumes per-frame body tracks, emits wake bouts and awakenings as frame intervals."""

    def __init__(self, *, params: EventParams, frame_hz: int, n_legs: int) -> None:
        self.p = params
        self.epoch_frames = max(1, round(params.epoch_s * frame_hz))
        self.min_sleep_epochs = max(1, round(params.sustained_inactivity_s / params.epoch_s))
        self.n_legs = n_legs
        self._still = RunTracker(merge_gap=0)
        self._carry_grav = np.zeros((n_legs, 3, 0))
        self._carry_move = np.zeros(0)
        self._carry_up = np.zeros(0)
        self._carry_tone = np.zeros((0, 2, 0))
        self._tone_epochs = max(1, round(params.tone_window_s / params.epoch_s))
        self._tone_hist = np.zeros(self._tone_epochs - 1)
        self._carry_first = 0
        self._prev_grav = np.full((n_legs, 3), np.nan)
        self._epoch = 0
        self.state = SleepState()
        self.awakenings: list[tuple[int, int]] = []  #: new awakenings since last read (frames)
        self._active: list[bool] = []  #: every epoch so far: active or not
        self._toned: list[bool] = []  #: every epoch so far: raised EMG tone or not
        self._settle_epochs = max(0, round(params.tone_settle_s / params.epoch_s))
        self._held: list[tuple[npt.NDArray[np.bool_], FloatArray, FloatArray]] = []  # epochs held at the start
        self._held_n = 0
        self._has_tone = False  # EMG worn: resting tone marks sleep between movements
        self._carry_small = np.zeros(0)
        self._small_prev = False  # the last frame pushed was part of a small movement
        self._onsets: list[int] = []  # recent small-movement onsets (frames), for the fidgeting rule
        self._periodic_ivs = 6  # intervals judged for periodicity, at most
        self._last_moving = -(1 << 62)  # the last frame with a small movement
        self._cusum, self._cusum_from = 0.0, 0  # fidgeting score and where it last rose from zero
        self._fidget_spans: list[tuple[int, int]] = []  # epochs from the first to the last move of fidgeting

    def push(
        self,
        first: int,
        gravity: FloatArray,
        moving: FloatArray,
        upright: FloatArray,
        contracting: FloatArray,
        tone: FloatArray | None = None,
        small: FloatArray | None = None,
    ) -> None:
        """``gravity`` (n_legs, 3, n) in g; ``moving``, ``upright`` and ``contracting`` (a strong, sustained
        EMG contraction: a cramp wakes the sleeper even while the leg is still) (n,) 0/1 on any leg;
        ``tone`` (n_emg_legs, 2, n) per EMG leg the frame RMS over the resting level and the resting level
        (µV), if EMG is worn; ``small`` (n,) 0/1 any leg moving at all (for the fidgeting rule without EMG)."""
        if first != self._carry_first + self._carry_move.size:
            raise ValueError("frames must be pushed consecutively")
        g = np.concatenate((self._carry_grav, gravity), axis=2)
        if tone is None:
            tone = np.zeros((0, 2, moving.size))
        if self._carry_tone.shape[:2] != tone.shape[:2]:
            self._carry_tone = np.zeros((tone.shape[0], 2, 0))
        tn = np.concatenate((self._carry_tone, tone), axis=2)
        self._has_tone = self._has_tone or tone.shape[0] > 0
        mv = np.concatenate((self._carry_move, np.fmax(moving, contracting)))
        up = np.concatenate((self._carry_up, upright))
        sm = np.concatenate((self._carry_small, np.zeros(moving.size) if small is None else small))
        n_ep = mv.size // self.epoch_frames
        cut = n_ep * self.epoch_frames
        self._carry_grav, self._carry_move, self._carry_up = g[:, :, cut:], mv[cut:], up[cut:]
        self._carry_tone = tn[:, :, cut:]
        self._carry_small = sm[cut:]
        self._carry_first += cut
        if n_ep == 0:
            return
        shape = (self.n_legs, 3, n_ep, self.epoch_frames)
        gw = g[:, :, :cut].reshape(shape)
        cnt = np.isfinite(gw).sum(axis=-1)
        with np.errstate(invalid="ignore"):
            gmean = np.where(cnt > 0, np.nansum(gw, axis=-1) / np.maximum(cnt, 1), np.nan)  # (legs, 3, ep)
        prev = np.concatenate((self._prev_grav[:, :, np.newaxis], gmean), axis=2)
        # carry the last known orientation across missing epochs (every leg and axis at once)
        idx = np.where(np.isfinite(prev), np.arange(prev.shape[2]), 0)
        np.maximum.accumulate(idx, axis=2, out=idx)
        prev = np.take_along_axis(prev, idx, axis=2)
        self._prev_grav = prev[:, :, -1]
        a, b = prev[:, :, :-1], gmean
        with np.errstate(invalid="ignore", divide="ignore"):
            cos = (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
            angle = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))  # (legs, ep)
        turned = np.nan_to_num(angle, nan=0.0).max(axis=0, initial=0.0) > self.p.angle_change_deg
        mvw = mv[:cut].reshape(n_ep, self.epoch_frames)
        upw = up[:cut].reshape(n_ep, self.epoch_frames)
        moved = np.nan_to_num(mvw).mean(axis=1) > self.p.epoch_motion_fraction
        upright = np.nan_to_num(upw).mean(axis=1) > 0.5
        # per EMG leg and epoch: the median level over rest, and the resting level at the epoch's end
        ep = tn[:, :, :cut].reshape(tn.shape[0], 2, n_ep, self.epoch_frames)
        ratio = median_last(np.nan_to_num(ep[:, 0]))
        base = ep[:, 1, :, -1]
        motion = turned | moved | upright
        if not self._has_tone:  # with EMG worn, muscle tone tells lying awake from sleep instead
            motion |= self._fidgeting(np.nan_to_num(sm[:cut]) > 0.5, self._carry_first - cut, n_ep)
        if self._held_n < self._settle_epochs and tn.shape[0]:
            k = min(n_ep, self._settle_epochs - self._held_n)  # exactly the first epochs of the night
            self._held.append((motion[:k], ratio[:, :k], base[:, :k]))
            self._held_n += k
            if self._held_n < self._settle_epochs:
                return
            self._release_held()
            motion, ratio = motion[k:], ratio[:, k:]
        if motion.size:
            self._epochs(motion, np.max(ratio, axis=0) if ratio.shape[0] else np.zeros(motion.size))

    def _fidgeting(self, small: npt.NDArray[np.bool_], first: int, n_ep: int) -> npt.NDArray[np.bool_]:
        """Epochs with a small movement at which a Poisson CUSUM says the movements have come at the rate of
        lying awake (``wake_moves_per_min``) rather than of sleep (``sleep_moves_per_min``) with a
        log-likelihood ratio of at least ``wake_moves_llr``, unless they are periodic (a PLM series).

        Frequent, irregular small movements are what lying awake looks like to an accelerometer (the
        principle of Cole-Kripke and Sadeh actigraphy); a PLM series is as frequent but periodic. Each
        movement adds ln(wake rate / sleep rate) to the score, each minute takes the rate difference off,
        and the score never falls below zero; the fidgeting began where the score last rose from zero.
        """
        out = np.zeros(n_ep, dtype=bool)
        prev = np.concatenate(([self._small_prev], small[:-1])) if small.size else small
        if small.size:
            self._small_prev = bool(small[-1])
        p, fh = self.p, self.epoch_frames / self.p.epoch_s
        jump = float(np.log(p.wake_moves_per_min / p.sleep_moves_per_min))
        drift = (p.wake_moves_per_min - p.sleep_moves_per_min) / 60.0 / fh  # per frame
        # the last moving frame before each frame (across pushes)
        idx = np.where(small, np.arange(first, first + small.size), -(1 << 62))
        last_moving = np.maximum.accumulate(np.concatenate(([self._last_moving], idx)))
        self._last_moving = int(last_moving[-1])
        for k in np.flatnonzero(small & ~prev).tolist():
            t = first + k
            if t - last_moving[k] < p.bilateral_lm_s * fh:
                continue  # the same movement (a pause within it, the other leg joining, tossing about)
            last = self._onsets[-1] if self._onsets else t
            self._onsets = [o for o in self._onsets if t - o <= p.plm_interval_s[1] * fh * self._periodic_ivs]
            self._onsets.append(t)
            self._cusum = max(0.0, self._cusum - drift * (t - last))
            if self._periodic(t):
                continue  # a movement of a PLM series is a sleep phenomenon: no evidence of wake
            if self._cusum == 0.0:
                self._cusum_from = t
            self._cusum = min(self._cusum + jump, p.wake_moves_llr)  # capped: evidence of wake does not bank
            if self._cusum < p.wake_moves_llr - 1e-9:
                continue
            out[k // self.epoch_frames] = True
            self._fidget_spans.append((self._cusum_from // self.epoch_frames, t // self.epoch_frames + 1))
        return out

    def _periodic(self, t: int) -> bool:
        """Do the small movements up to frame ``t`` form a chain of regular intervals (a PLM series)?"""
        fh = self.epoch_frames / self.p.epoch_s
        chain = [t]
        for o in reversed(self._onsets[:-1]):
            if chain[-1] - o > self.p.plm_interval_s[1] * fh or len(chain) > self._periodic_ivs:
                break
            chain.append(o)
        iv = -np.diff(np.asarray(chain, dtype=np.float64))
        if iv.size < self.p.plm_min_count - 1 or iv.min() < self.p.plm_interval_s[0] * fh:
            return False
        # a robust spread (1.4826 x the median absolute deviation, over the median): one movement too small
        # to be seen doubles one interval, which must not hide the series' rhythm
        med = float(np.median(iv))
        return bool(1.4826 * float(np.median(np.abs(iv - med))) / med < self.p.wake_moves_periodic_cv)

    def _release_held(self) -> None:
        """Judge the held epochs' tone against the lowest resting level reached in them, then go on."""
        if not self._held:
            return
        motion = np.concatenate([h[0] for h in self._held])
        ratio = np.concatenate([h[1] for h in self._held], axis=1)
        base = np.concatenate([h[2] for h in self._held], axis=1)
        self._held = []
        with np.errstate(invalid="ignore", divide="ignore"):
            lowest = np.nanmin(np.where(np.isfinite(base), base, np.inf), axis=1, keepdims=True)
            scale = np.where(np.isfinite(base) & np.isfinite(lowest), base / np.fmin(base, lowest), 1.0)
        self._epochs(motion, np.max(ratio * scale, axis=0))

    def _epochs(self, motion: npt.NDArray[np.bool_], ep_tone: FloatArray) -> None:
        """Classify consecutive epochs from their motion and tone (the highest EMG level over rest)."""
        n_ep = motion.size
        # raised tone sustained over ``tone_window_s`` (leg-movement bursts are too short to lift it)
        hist = np.concatenate((self._tone_hist, ep_tone))
        win = np.lib.stride_tricks.sliding_window_view(hist, self._tone_epochs)
        toned = np.median(win, axis=1) >= self.p.wake_tone_ratio
        self._tone_hist = hist[-(self._tone_epochs - 1) :] if self._tone_epochs > 1 else hist[:0]
        still = ~(motion | toned)
        self._active.extend((~still).tolist())
        self._toned.extend(toned.tolist())
        runs = self._still.push(still, self._epoch)
        self._epoch += n_ep
        for run in runs:
            self._run_done(run)
        self._check_open()

    def finish(self) -> None:
        self._release_held()
        for run in self._still.finish():
            self._run_done(run)
        if self.state.open_bout_start is not None:
            self.state.open_bout_start = None

    # -- helpers (epochs -> frames) ------------------------------------------------------------
    def _run_done(self, run: Run) -> None:
        if run.stop - run.start < self.min_sleep_epochs:
            return
        start, stop = run.start * self.epoch_frames, run.stop * self.epoch_frames
        if self.state.open_bout_start != start:
            self._sleep_begins(start)
        self.state.open_bout_start = None
        self.state.bouts.append((start, stop))

    def _check_open(self) -> None:
        run = self._still.open_run
        if run is None or run.stop - run.start < self.min_sleep_epochs:
            return
        start = run.start * self.epoch_frames
        if self.state.open_bout_start != start:
            self._sleep_begins(start)
            self.state.open_bout_start = start

    def _sleep_begins(self, start: int) -> None:
        last = self.state.last_sleep_end
        if last is None:
            return
        ef = self.epoch_frames
        if not self._has_tone:  # fidgeting began where its score first rose, before the first move counted
            s0 = self.state.bouts[-1][0]
            begun = [sp[0] * ef for sp in self._fidget_spans if sp[0] * ef < last < sp[1] * ef]
            if begun and len(self.state.bouts) == 1 and min(begun) - s0 < self.min_sleep_epochs * ef:
                # the night's first "sleep" was lying still awake: the fidgeting began too soon after it
                self.state.bouts.pop()
                self.state.wake_bouts.clear()
                self.state.restless.clear()
                return
            if begun:
                last = max(s0 + self.min_sleep_epochs * ef, min(begun), 0)
                if last < self.state.bouts[-1][1]:
                    self.state.bouts[-1] = (s0, last)
        pieces = [(last, start)]
        if self._has_tone:
            pieces = self._split_quiet(last // ef, start // ef)
            for a, b in zip([last] + [p[1] for p in pieces], [p[0] for p in pieces] + [start], strict=True):
                if b > a:
                    self.state.restless.append((a, b))  # quiet, resting tone: sleep between movements
        for a, b in pieces:
            if (b - a) < self.p.awakening_min_s / self.p.epoch_s * ef:
                self.state.wake_bouts.append((a, b))
                continue
            epochs = self._awake_epochs(a // ef, b // ef)
            awake_tone = (
                not self._has_tone or sum(self._toned[a // ef : b // ef]) * self.p.epoch_s >= self.p.wake_tone_min_s
            )
            if epochs and sum(epochs) >= self.p.awakening_min_active * len(epochs) and awake_tone:
                self.state.wake_bouts.append((a, b))
                self.awakenings.append((a, b))
            else:
                self.state.restless.append((a, b))

    def _awake_epochs(self, e0: int, e1: int) -> list[bool]:
        """Epochs ``e0 .. e1`` that look awake: active, or between the movements of fidgeting."""
        out = np.asarray(self._active[e0:e1], dtype=bool)
        for a, b in self._fidget_spans:
            if a < e1 and b > e0:
                out[max(a, e0) - e0 : min(b, e1) - e0] = True
        self._fidget_spans = [sp for sp in self._fidget_spans if sp[1] > e1]
        return [bool(v) for v in out]

    def _split_quiet(self, e0: int, e1: int) -> list[tuple[int, int]]:
        """The parts of the gap between two sleep runs (epochs ``e0 .. e1``) left once stretches of at least
        ``wake_quiet_split_s`` without movement and with resting muscle tone are taken out (frames).

        With EMG worn, a turn or a leg movement some minutes before waking, with sleep-level tone in
        between, is not part of the awakening."""
        active = np.asarray(self._active[e0:e1], dtype=bool)
        q = max(1, round(self.p.wake_quiet_split_s / self.p.epoch_s))
        keep = np.ones(active.size, dtype=bool)
        for a, b in mask_to_runs(~active).tolist():
            if b - a >= q:
                keep[a:b] = False
        ef = self.epoch_frames
        return [((e0 + a) * ef, (e0 + b) * ef) for a, b in mask_to_runs(keep).tolist()]

    @property
    def open_from(self) -> int | None:
        """Start of a wake bout still going on after sleep (its kind is known only when it ends)."""
        st = self.state
        return st.bouts[-1][1] if st.bouts and st.open_bout_start is None else None

    def nonsleep(self, now: int, *, final: bool) -> list[tuple[int, int]]:
        """Stretches of ``[0, now)`` outside sleep (before onset, wake bouts, after final wake), in frames.

        Before the end of the recording, a wake bout still going on is left out (see :attr:`open_from`).
        """
        sleep = list(self.state.bouts) + list(self.state.restless)
        if self.state.open_bout_start is not None:
            sleep.append((self.state.open_bout_start, now))
        if not final and self.open_from is not None:
            now = self.open_from
        out, t = [], 0
        for a, b in sorted(sleep):
            if a > t:
                out.append((t, a))
            t = max(t, b)
        if now > t:
            out.append((t, now))
        return out

    @property
    def processed_frames(self) -> int:
        """Frames whose epoch has been evaluated."""
        return self._epoch * self.epoch_frames


def out_of_bed_tracker(params: EventParams, frame_hz: int) -> RunTracker:
    return RunTracker(merge_gap=round(params.out_of_bed_merge_s * frame_hz))
