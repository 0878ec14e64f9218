"""What movements look like: limb movements, tossing and turning, fidgeting, getting out of bed.

:class:`Recorder` collects the bursts, walks, position changes, tone stretches and ground-truth events of
a night; the timeline (:mod:`._timeline`) decides when they happen. :func:`score_plm` applies the AASM
PLM-series rule to the ground-truth limb movements.
"""

from __future__ import annotations

import bisect
import math

import numpy as np

from detector.events import Event

from ._model import Action, Burst, Tone, Walk
from ._shapes import loguniform

# AASM (Berry et al. 2012 / 2020 manual; Ferri et al. 2016 WASM standards) limb-movement rules.
LM_MIN_S, LM_MAX_S = 0.5, 10.0
PLM_MIN_COUNT = 4
PLM_MIN_INTERVAL_S, PLM_MAX_INTERVAL_S = 5.0, 90.0
BILATERAL_MAX_OFFSET_S = 5.0


class Recorder:
    """Accumulates a night's movements and their ground truth.

    Parameters
    ----------
    legs : tuple of str
        Legs wearing a band.
    rng : numpy.random.Generator
        Source of randomness.
    """

    def __init__(self, legs: tuple[str, ...], rng: np.random.Generator) -> None:
        self.legs = legs
        self.rng = rng
        self.bursts: list[Burst] = []
        self.walks: list[Walk] = []
        self.actions: list[Action] = []
        self.tones: list[Tone] = []
        self.truth: list[Event] = []
        self.lms: list[Event] = []
        # The person: gait, fidgeting.
        self.cadence_hz = rng.uniform(1.6, 2.0)
        self.swing_deg = rng.uniform(20.0, 30.0)
        self.impact_g = rng.uniform(1.0, 2.5)
        self.push_uv = rng.uniform(30.0, 120.0)
        self.impact_uv = rng.uniform(20.0, 150.0)
        self.fidgets_per_s = rng.uniform(0.5, 2.0) / 60.0

    # -- limb movements --------------------------------------------------------------------------
    def limb_movement(self, onset_s: float, dur_s: float, legs: tuple[str, ...], amp_uv: float) -> None:
        """One AASM limb movement on one leg, or on both (onsets < 5 s apart: one LM with leg None)."""
        rng = self.rng
        end_s = onset_s + dur_s
        for i, leg in enumerate(legs):
            start = onset_s if i == 0 else onset_s + rng.uniform(0.0, 1.5)
            d = dur_s if i == 0 else float(np.clip(dur_s * rng.uniform(0.7, 1.3), LM_MIN_S, dur_s + 1.0))
            end_s = max(end_s, start + d)
            self.bursts.append(
                Burst(
                    leg,
                    start,
                    start + d,
                    ramp_s=min(0.3, 0.25 * d),
                    emg_uv=float(np.clip(amp_uv * rng.uniform(0.8, 1.25), 10.0, 60.0)),
                    lf_uv=rng.uniform(0.0, 8.0),
                    acc_g=rng.uniform(0.01, 0.04),
                    acc_band_hz=(0.5, 4.0),
                )
            )
        event = Event("limb_movement", onset_s, end_s, legs[0] if len(legs) == 1 else None)
        self.truth.append(event)
        self.lms.append(event)

    def large_movement(self, start_s: float, dur_s: float) -> None:
        """Tossing and turning (3-45 s, both legs); usually with a change of lying position."""
        rng = self.rng
        end_s = start_s + dur_s
        self.truth.append(Event("large_movement", start_s, end_s, None))
        for leg in self.legs:
            self.bursts.append(
                Burst(
                    leg,
                    start_s,
                    end_s,
                    ramp_s=min(1.0, 0.25 * dur_s),
                    emg_uv=rng.uniform(20.0, 80.0),
                    lf_uv=rng.uniform(20.0, 250.0),
                    acc_g=rng.uniform(0.05, 0.2),
                    irregular=True,
                )
            )
        if rng.random() < 0.75:
            turn_s = min(rng.uniform(1.0, 4.0), 0.7 * dur_s)
            self.actions.append(Action(start_s + rng.uniform(0.1, 0.9) * (dur_s - turn_s), turn_s, "turn"))
        else:
            self.actions.append(Action(start_s + 0.5 * dur_s - 0.5, 1.0, "nudge"))

    def motion(
        self, start_s: float, end_s: float, *, strength: float, legs: tuple[str, ...] = (), emg: bool = True
    ) -> None:
        """Gross motion of the given legs (all by default) for a transition or a stretch.

        A stretch (``emg=False``) moves the limb without calf activity: the stretched muscle is silent.
        """
        rng = self.rng
        for leg in legs or self.legs:
            self.bursts.append(
                Burst(
                    leg,
                    start_s,
                    end_s,
                    ramp_s=min(0.5, 0.3 * (end_s - start_s)),
                    emg_uv=strength * rng.uniform(10.0, 40.0) if emg else 0.0,
                    lf_uv=strength * rng.uniform(20.0, 150.0),
                    acc_g=strength * rng.uniform(0.05, 0.2),
                )
            )

    # -- wake --------------------------------------------------------------------------------------
    def awake_in_bed(self, start_s: float, end_s: float, *, turns: int = 0, settle_s: float = 0.0) -> None:
        """Lying awake: raised tone, fidgeting (voluntary bursts) and optional turns.

        No fidgeting or turning starts before ``settle_s`` (s, absolute).
        """
        rng = self.rng
        if end_s <= start_s:
            return
        self.tones.append(Tone(start_s, end_s, "awake"))
        n = rng.poisson(self.fidgets_per_s * (end_s - start_s))
        for t in np.sort(rng.uniform(start_s, end_s, n)):
            d = loguniform(rng, 0.3, 3.0)
            if t + d > end_s - 0.5 or t < settle_s:
                continue
            legs = self.legs if rng.random() < 0.4 else (self.legs[int(rng.integers(len(self.legs)))],)
            for leg in legs:
                self.bursts.append(
                    Burst(
                        leg,
                        float(t),
                        float(t) + d,
                        ramp_s=0.2,
                        emg_uv=rng.uniform(5.0, 40.0),
                        lf_uv=rng.uniform(2.0, 30.0),
                        acc_g=rng.uniform(0.005, 0.04),
                        acc_band_hz=(0.5, 5.0),
                    )
                )
        for _ in range(turns):
            dur = rng.uniform(1.5, 4.0)
            lo, hi = max(start_s, settle_s) + 2.0, end_s - dur - 2.0
            if hi <= lo:
                break
            t0 = rng.uniform(lo, hi)
            if any(a.start_s < t0 + dur + 2.0 and t0 < a.start_s + a.dur_s + 2.0 for a in self.actions):
                continue
            self.actions.append(Action(t0, dur, "turn"))
            self.motion(t0 - 0.5, t0 + dur + 0.5, strength=1.0)

    def out_of_bed(
        self, start_s: float, end_s: float, *, stand_at_s: float | None = None, lie_down: bool = True
    ) -> None:
        """Sit up at ``start_s``, stand, walk and stand, sit and lie down again by ``end_s``.

        ``stand_at_s`` fixes when the sleeper is up on their feet (a cramp is stretched by standing);
        without ``lie_down`` the sleeper is still up at ``end_s`` (the end of the recording).
        """
        rng = self.rng
        up_s, stand_s, sit_s, down_s = 2.0, 1.2, 1.2, 2.0
        stretch = stand_at_s is not None
        self.actions.append(Action(start_s, up_s, "sit_up"))
        self.motion(start_s, start_s + up_s, strength=1.0)
        if stand_at_s is None:
            stand_at_s = start_s + up_s + stand_s + rng.uniform(2.0, 10.0)
        stand_at_s = max(stand_at_s, start_s + up_s + stand_s)
        self.actions.append(Action(stand_at_s - stand_s, stand_s, "stand"))
        self.motion(stand_at_s - stand_s, stand_at_s, strength=1.0, emg=not stretch)
        upright_end = end_s
        if lie_down:
            lie_at = end_s - down_s
            sit_at = max(stand_at_s + 1.0, lie_at - sit_s - rng.uniform(2.0, 8.0))
            self.actions.append(Action(sit_at, sit_s, "sit_down"))
            self.actions.append(Action(lie_at, down_s, "lie_down"))
            self.motion(sit_at, sit_at + sit_s, strength=0.7)
            self.motion(lie_at, end_s, strength=1.0)
            stand_end = sit_at + sit_s / 2
            self.tones.append(Tone(sit_at + sit_s / 2, end_s, "sitting"))
            upright_end = sit_at
        else:
            stand_end = end_s
        # Standing to stretch a cramp: the stretched calf stays silent for the first seconds.
        self.tones.append(Tone(start_s, stand_at_s - stand_s / 2, "sitting"))
        stand_from = stand_at_s + 3.0 if stretch else stand_at_s - stand_s / 2
        if stand_end > stand_from:
            self.tones.append(Tone(stand_from, stand_end, "standing"))
        t = stand_at_s + rng.uniform(3.0, 20.0)
        while t + 10.0 < upright_end:
            w_end = min(t + rng.uniform(20.0, 150.0), upright_end - 2.0)
            if w_end - t >= 8.0:
                self.walks.append(
                    Walk(
                        t,
                        w_end,
                        cadence_hz=self.cadence_hz + rng.normal(0.0, 0.03),
                        swing_deg=self.swing_deg,
                        impact_g=self.impact_g,
                        push_uv=self.push_uv,
                        impact_uv=self.impact_uv,
                        phase_rad=rng.uniform(0.0, 2.0 * math.pi),
                    )
                )
            t = w_end + rng.uniform(5.0, 40.0)
        self.truth.append(Event("out_of_bed", start_s + up_s / 2, (end_s - down_s / 2) if lie_down else end_s, None))

    # -- sleep ---------------------------------------------------------------------------------------
    def plm_series(self, start_s: float, length_s: float) -> None:
        """A PLM series: LMs every 10-85 s (typically 15-40 s) filling ``length_s`` seconds."""
        rng = self.rng
        median_iv = rng.uniform(18.0, 35.0)
        amp = loguniform(rng, 12.0, 50.0)
        if len(self.legs) == 2 and rng.random() < 0.4:
            mode: tuple[str, ...] = self.legs
        else:
            mode = (self.legs[int(rng.integers(len(self.legs)))],)
        onsets: list[float] = []
        t = start_s
        while t + 1.0 <= start_s + length_s:
            onsets.append(t)
            t += float(np.clip(rng.lognormal(math.log(median_iv), 0.3), 10.0, 85.0))
        if len(onsets) < PLM_MIN_COUNT:
            iv = min(median_iv, (length_s - 1.0) / (PLM_MIN_COUNT - 1))
            onsets = [start_s + i * iv for i in range(PLM_MIN_COUNT)]
        for t in onsets:
            d = float(np.clip(rng.lognormal(math.log(1.8), 0.4), LM_MIN_S, 5.0))
            d = min(d, start_s + length_s - t)
            legs = mode
            if len(mode) == 2 and rng.random() < 0.25:
                legs = (mode[int(rng.integers(2))],)
            self.limb_movement(t, max(d, LM_MIN_S), legs, amp * rng.uniform(0.7, 1.3))

    def fill_sleep(
        self,
        free: list[tuple[float, float]],
        lm_free: list[tuple[float, float]],
        wake_bouts: list[tuple[float, float]],
        *,
        lmm_per_h: float,
        lm_per_h: float,
    ) -> None:
        """Scatter tossing/turning and sporadic LMs over stretches of undisturbed sleep.

        Sporadic LMs are thinned so that they never form a PLM series on their own.
        """
        rng = self.rng
        occupied = Occupancy()
        hours = sum(e - s for s, e in free) / 3600.0
        for _ in range(rng.poisson(lmm_per_h * hours)):
            d = float(np.clip(rng.lognormal(math.log(8.0), 0.6), 3.0, 45.0))
            t = occupied.place(rng, free, d, spacing_s=20.0)
            if t is not None:
                self.large_movement(t, d)
        hours_lm = sum(e - s for s, e in lm_free) / 3600.0
        candidates: list[tuple[float, float, tuple[str, ...]]] = []
        for _ in range(rng.poisson(lm_per_h * hours_lm)):
            both = len(self.legs) == 2 and rng.random() < 0.2
            d = float(np.clip(rng.lognormal(math.log(2.0), 0.5), LM_MIN_S, 6.0 if both else LM_MAX_S))
            t = occupied.place(rng, lm_free, d + 2.5, spacing_s=10.0)
            if t is not None:
                legs = self.legs if both else (self.legs[int(rng.integers(len(self.legs)))],)
                candidates.append((t, d, legs))
        run, last = 0, -math.inf
        for t, d, legs in sorted(candidates):
            if t - last <= PLM_MAX_INTERVAL_S and _same_bout(last, t, wake_bouts):
                if run >= PLM_MIN_COUNT - 1:
                    continue
                run += 1
            else:
                run = 1
            last = t
            self.limb_movement(t, d, legs, loguniform(rng, 10.0, 60.0))


def _same_bout(t0: float, t1: float, wake_bouts: list[tuple[float, float]]) -> bool:
    return not any(t0 < e and s < t1 for s, e in wake_bouts)


def score_plm(lms: list[Event], wake_bouts: list[tuple[float, float]]) -> list[Event]:
    """PLM series by the AASM rule: >= 4 consecutive LMs, onset-to-onset 5-90 s, within one sleep bout.

    Parameters
    ----------
    lms : list of Event
        ``limb_movement`` events (bilateral ones already merged, leg None).
    wake_bouts : list of (float, float)
        Wake intervals (s); a series does not continue across one.

    Returns
    -------
    list of Event
        ``plm_series`` events from the first LM's start to the last LM's end, with ``count``; the leg
        is the common leg of its LMs, or None.
    """
    ordered = sorted(lms, key=lambda e: e.start_s)
    series: list[Event] = []
    run: list[Event] = []

    def flush() -> None:
        if len(run) >= PLM_MIN_COUNT:
            legs = {e.leg for e in run}
            leg = legs.pop() if len(legs) == 1 else None
            series.append(Event("plm_series", run[0].start_s, run[-1].end_s, leg, {"count": len(run)}))

    for lm in ordered:
        if run:
            iv = lm.start_s - run[-1].start_s
            if PLM_MIN_INTERVAL_S <= iv <= PLM_MAX_INTERVAL_S and _same_bout(run[-1].start_s, lm.start_s, wake_bouts):
                run.append(lm)
                continue
            flush()
        run = [lm]
    flush()
    return series


class Occupancy:
    """Sorted, disjoint intervals already used; places new ones uniformly in free time."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.ends: list[float] = []

    def place(
        self, rng: np.random.Generator, free: list[tuple[float, float]], dur_s: float, *, spacing_s: float
    ) -> float | None:
        usable = np.array([max(0.0, e - s - dur_s) for s, e in free])
        total = float(usable.sum())
        if total <= 0.0:
            return None
        cum = np.cumsum(usable)
        for _ in range(20):
            u = rng.uniform(0.0, total)
            i = int(np.searchsorted(cum, u, side="right"))
            i = min(i, len(free) - 1)
            t = free[i][0] + (u - (cum[i] - usable[i]))
            j = bisect.bisect_left(self.starts, t)
            if j > 0 and self.ends[j - 1] + spacing_s > t:
                continue
            if j < len(self.starts) and t + dur_s + spacing_s > self.starts[j]:
                continue
            self.starts.insert(j, t)
            self.ends.insert(j, t + dur_s)
            return float(t)
        return None
