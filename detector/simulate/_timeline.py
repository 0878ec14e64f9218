"""When things happen: the night's schedule of sleep, cramps, awakenings and movements.

The night is awake-in-bed until sleep onset, then a sleep period until the final awakening, then awake
(possibly up) until the end. Inside the sleep period, *blocks* (each cramp with its aftermath, each
spontaneous awakening, an optional PLM series) are laid out in random order separated by sleep; the
sleep between blocks receives tossing/turning and sporadic limb movements. Durations are drawn at their
preferred values and shrunk together (never below their minima) when a short night needs room.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from detector.events import Event, sort_events

from ._config import (
    CRAMP_QUIET_AFTER_S,
    CRAMP_WAKE_MIN_S,
    PLM_MIN_S,
    PRE_RISE_MAX_S,
    PRE_RISE_MIN_S,
    NightConfig,
    max_cramps_that_fit,
    night_minima,
    plm_fits,
)
from ._model import F64, Cramp, Scenario
from ._movements import Recorder, score_plm
from ._posture import draw_lying, resolve_postures
from ._shapes import GRID_FS_HZ, band_noise, loguniform, smoothstep

_N_CRAMPS_P = (0.35, 0.30, 0.20, 0.10, 0.05)
_PLM_NIGHT_P = 0.25
_OOB_AFTER_CRAMP_P = 0.5
_OOB_SPONTANEOUS_P = 0.3
_WAKE_DURING_CRAMP_P = 0.85
_REST_KNOT_S = 1200.0
#: Median cramp plateau over the resting RMS: with amplifier noise the recorded ratio is 2-6 (+100-500 %).
_PLATEAU_RATIO = (2.5, 5.2)
#: Artifacts and dropouts keep this far (s) from every cramp (including its pre-cramp rise).
CRAMP_GUARD_S = 30.0


@dataclass(frozen=True, slots=True)
class _CrampSpec:
    leg: str
    dur_s: float
    wakes: bool
    oob: bool
    pre_s: float
    post_s: float


@dataclass(frozen=True, slots=True)
class _WakeSpec:
    length_s: float
    oob: tuple[float, float, float] | None  # (in bed before, up, in bed after)


def _fit(mins: list[float], prefs: list[float], budget: float) -> list[float]:
    """Preferred lengths, shrunk together towards their minima until they fit in ``budget``."""
    lo, hi = sum(mins), sum(prefs)
    if hi <= budget:
        return prefs
    f = max(0.0, (budget - lo) / (hi - lo)) if hi > lo else 0.0
    return [m + f * (p - m) for m, p in zip(mins, prefs, strict=True)]


def build_scenario(cfg: NightConfig, rng: np.random.Generator) -> Scenario:
    """Draw the night's timeline, movements and behavioural ground truth."""
    return _Timeline(cfg, rng).build()


class _Timeline:
    def __init__(self, cfg: NightConfig, rng: np.random.Generator) -> None:
        self.cfg, self.rng = cfg, rng
        self.dur = cfg.duration_s
        self.rec = Recorder(cfg.legs, rng)
        self.cramps: list[Cramp] = []
        self.wake_bouts: list[tuple[float, float]] = []
        self.rest_knots = {leg: self._rest_knots() for leg in cfg.legs}

    def _rest_knots(self) -> tuple[F64, F64]:
        """Resting EMG RMS (µV, full band): 2.5-5 µV drifting ±10 % per 20 min, kept within 1.8-7 µV."""
        rng = self.rng
        t = np.arange(0.0, self.dur + _REST_KNOT_S, _REST_KNOT_S)
        log_r = math.log(rng.uniform(2.5, 5.0)) + np.cumsum(rng.normal(0.0, 0.1, len(t)))
        return t, np.clip(np.exp(log_r), 1.8, 7.0)

    def rest_at(self, leg: str, t: F64) -> F64:
        kt, kv = self.rest_knots[leg]
        return np.interp(t, kt, kv)

    # -- budget ------------------------------------------------------------------------------------
    def _draw_cramps(self, plm_on: bool) -> list[_CrampSpec]:
        cfg, rng = self.cfg, self.rng
        lo, hi = cfg.cramp_duration_s
        fit = max_cramps_that_fit(self.dur, lo, plm=plm_on)
        n = cfg.n_cramps if cfg.n_cramps is not None else min(fit, int(rng.choice(5, p=_N_CRAMPS_P)))
        if n == 0:
            return []
        sol_s, tail_s, gap_s = night_minima(self.dur)
        avail = self.dur - sol_s - tail_s - gap_s - ((PLM_MIN_S + gap_s) if plm_on else 0.0)
        cap = avail / n - (PRE_RISE_MIN_S + CRAMP_QUIET_AFTER_S + gap_s)
        legs = cfg.cramp_legs or cfg.legs
        specs = []
        for _ in range(n):
            dur = loguniform(rng, lo, min(hi, max(lo, cap)))
            wakes = bool(rng.random() < cfg.cramp_awakening_prob)
            oob = wakes and bool(rng.random() < _OOB_AFTER_CRAMP_P)
            post = rng.uniform(150.0, 420.0) if oob else rng.uniform(90.0, 300.0)
            specs.append(
                _CrampSpec(
                    leg=legs[int(rng.integers(len(legs)))],
                    dur_s=dur,
                    wakes=wakes,
                    oob=oob,
                    pre_s=rng.uniform(PRE_RISE_MIN_S, PRE_RISE_MAX_S),
                    post_s=post if wakes else CRAMP_QUIET_AFTER_S,
                )
            )
        return specs

    def _draw_wake(self) -> _WakeSpec:
        rng = self.rng
        if rng.random() < _OOB_SPONTANEOUS_P:
            parts = (rng.uniform(10.0, 60.0), rng.uniform(120.0, 480.0), rng.uniform(30.0, 180.0))
            return _WakeSpec(sum(parts), parts)
        return _WakeSpec(loguniform(rng, 60.0, 600.0), None)

    def build(self) -> Scenario:
        cfg, rng, dur = self.cfg, self.rng, self.dur
        plm_on = cfg.plm if cfg.plm is not None else bool(rng.random() < _PLM_NIGHT_P)
        lo = cfg.cramp_duration_s[0]
        plm_on = plm_on and plm_fits(dur)
        plm_on = plm_on and (cfg.n_cramps is None or cfg.n_cramps <= max_cramps_that_fit(dur, lo, plm=True))
        specs = self._draw_cramps(plm_on)
        sol_min, tail_min, gap_s = night_minima(dur)
        n_blocks = len(specs) + int(plm_on)
        mins = [sol_min, tail_min, PLM_MIN_S if plm_on else 0.0, (n_blocks + 1) * gap_s]
        prefs = [
            rng.uniform(300.0, 1800.0),
            rng.uniform(60.0, 600.0),
            rng.uniform(600.0, 2400.0) if plm_on else 0.0,
            (n_blocks + 1) * gap_s + 0.55 * dur,
        ]
        for s in specs:
            mins += [PRE_RISE_MIN_S, CRAMP_WAKE_MIN_S if s.wakes else CRAMP_QUIET_AFTER_S]
            prefs += [s.pre_s, s.post_s]
        budget = dur - sum(s.dur_s for s in specs)
        fitted = _fit(mins, prefs, budget)
        sol_s, tail_s, plm_s = fitted[0], fitted[1], fitted[2]
        sleep_s = budget - sol_s - tail_s - plm_s - sum(fitted[4:])
        if sleep_s < mins[3] - 1e-6:
            raise RuntimeError(f"night schedule does not fit in {dur} s; please report this configuration")
        specs = [
            _CrampSpec(s.leg, s.dur_s, s.wakes, s.oob, fitted[4 + 2 * i], fitted[5 + 2 * i])
            for i, s in enumerate(specs)
        ]
        blocks: list[tuple[_CrampSpec | _WakeSpec | None, float]] = [(s, s.pre_s + s.dur_s + s.post_s) for s in specs]
        if plm_on:
            blocks.append((None, plm_s))
        for _ in range(rng.poisson(cfg.awakening_rate_per_h * sleep_s / 3600.0)):
            w = self._draw_wake()
            if sleep_s - w.length_s >= (len(blocks) + 2) * gap_s + 0.25 * sleep_s:
                blocks.append((w, w.length_s))
                sleep_s -= w.length_s
        order = rng.permutation(len(blocks))
        extra = sleep_s - (len(blocks) + 1) * gap_s
        shares = rng.dirichlet(np.ones(len(blocks) + 1)) * max(0.0, extra)
        sleep_onset, final_wake = sol_s, dur - tail_s

        free: list[tuple[float, float]] = []
        plm_zones: list[tuple[float, float]] = []
        t = sleep_onset + gap_s + shares[0]
        free.append((sleep_onset, t))
        for i, j in enumerate(order):
            spec, length = blocks[int(j)]
            if isinstance(spec, _CrampSpec):
                self._cramp_block(t, spec)
            elif isinstance(spec, _WakeSpec):
                self._wake_block(t, spec)
            else:
                self.rec.plm_series(t, length)
                plm_zones.append((t - 95.0, t + length + 95.0))
            t_next = t + length + gap_s + shares[i + 1]
            free.append((t + length, t_next))
            t = t_next
        free = [(a + 10.0, b - 10.0) for a, b in free if b - a > 20.0]
        lm_free = _subtract(free, plm_zones)
        self.rec.fill_sleep(
            free,
            lm_free,
            self.wake_bouts,
            lmm_per_h=cfg.position_change_rate_per_h
            if cfg.position_change_rate_per_h is not None
            else rng.uniform(2.0, 4.0),
            lm_per_h=cfg.lm_rate_per_h if cfg.lm_rate_per_h is not None else rng.uniform(3.0, 20.0),
        )
        self._edges(sleep_onset, final_wake)
        return self._scenario(sleep_onset, final_wake)

    # -- blocks ------------------------------------------------------------------------------------
    def _cramp_block(self, start_s: float, spec: _CrampSpec) -> None:
        rng, rec = self.rng, self.rec
        onset = start_s + spec.pre_s
        end = onset + spec.dur_s
        cramp, peak_uv = self._cramp_signal(spec.leg, start_s, onset, end)
        self.cramps.append(cramp)
        oob = False
        back = end + spec.post_s
        if spec.wakes:
            if rng.random() < _WAKE_DURING_CRAMP_P:
                w0 = onset + rng.uniform(0.15, 0.8) * spec.dur_s
            else:
                w0 = end + min(rng.uniform(2.0, 20.0), spec.post_s - 62.0)
            lead = min(rng.uniform(3.5, 8.0), end - w0 - 0.3)
            if spec.oob and lead >= 3.5:
                oob = True
                up_end = end + min(rng.uniform(60.0, 240.0), spec.post_s - 30.0)
                rec.out_of_bed(end - lead, up_end, stand_at_s=end)
                rec.motion(end - 0.8, end + rng.uniform(2.0, 6.0), strength=2.0, legs=(spec.leg,), emg=False)
                rec.awake_in_bed(up_end, back)
            else:
                stretch_end = end + rng.uniform(1.5, 5.0)
                rec.motion(end - rng.uniform(0.5, 1.5), stretch_end, strength=2.5, legs=(spec.leg,), emg=False)
                rec.awake_in_bed(max(w0, end), back, turns=int(rng.random() < 0.3), settle_s=stretch_end + 5.0)
            rec.truth.append(Event("awakening", w0, back, None, {"cause": "cramp"}))
            self.wake_bouts.append((w0, back))
        else:
            stretch = (end - rng.uniform(0.3, 1.0), end + rng.uniform(1.0, 4.0))
            rec.motion(*stretch, strength=1.5, legs=(spec.leg,), emg=False)
        rec.truth.append(
            Event(
                "cramp",
                onset,
                end,
                spec.leg,
                {
                    "pre_onset_s": float(start_s),
                    "peak_uv": peak_uv,
                    "awakening": spec.wakes,
                    "out_of_bed": oob,
                },
            )
        )

    def _cramp_signal(self, leg: str, pre_onset: float, onset: float, end: float) -> tuple[Cramp, float]:
        """The cramp's EMG RMS multiplier on the envelope grid, and its peak RMS (µV)."""
        rng = self.rng
        k0 = math.floor(pre_onset * GRID_FS_HZ)
        tg = np.arange(k0, math.ceil(end * GRID_FS_HZ) + 2) / GRID_FS_HZ
        n = len(tg)
        pre_gain = rng.uniform(0.2, 0.8)
        rise_s, fall_s = rng.uniform(1.0, 3.0), rng.uniform(0.2, 0.8)
        ratio = rng.uniform(*_PLATEAU_RATIO)
        # The active region moves: a slow wander (time scale 5-30 s) of at most ±30-50 % around the
        # plateau's median, fading over the last seconds (the cramp is at full strength when stretched).
        wander = band_noise(rng, (n,), fs=GRID_FS_HZ, band_hz=(0.0, 1.0 / rng.uniform(5.0, 30.0)))
        held = (tg >= onset) & (tg <= end)
        wander -= np.median(wander[held])
        wander *= rng.uniform(0.3, 0.5) / max(float(np.max(np.abs(wander[held]))), 1e-9)
        wander *= 1.0 - smoothstep((tg - (end - 4.0)) / 3.0)
        # Common drive: motor units wax and wane together at 1-2 Hz.
        drive_hz = rng.uniform(1.0, 2.0) + 0.15 * band_noise(rng, (n,), fs=GRID_FS_HZ, band_hz=(0.0, 0.1))
        phase = 2.0 * math.pi * np.cumsum(drive_hz) / GRID_FS_HZ + rng.uniform(0.0, 2.0 * math.pi)
        plateau = ratio * (1.0 + wander) * (1.0 + rng.uniform(0.1, 0.3) * np.sin(phase))
        plateau = np.maximum(plateau, 1.0 + pre_gain + 0.3)
        m = 1.0 + pre_gain * smoothstep((tg - pre_onset) / (onset - pre_onset))
        m = np.where(tg >= onset, m + (plateau - m) * smoothstep((tg - onset) / rise_s), m)
        m = np.where(tg >= end - fall_s, 1.0 + (m - 1.0) * (1.0 - smoothstep((tg - end + fall_s) / fall_s)), m)
        m[tg >= end] = 1.0
        peak_uv = float(np.max(self.rest_at(leg, tg[held]) * m[held]))
        mmg_g = rng.uniform(0.004, 0.010)
        return Cramp(leg, pre_onset, onset, end, k0, m, mmg_g / (ratio - 1.0)), peak_uv

    def _wake_block(self, start_s: float, spec: _WakeSpec) -> None:
        rec = self.rec
        end = start_s + spec.length_s
        if spec.oob is not None:
            before, up, _after = spec.oob
            rec.awake_in_bed(start_s, start_s + before)
            rec.out_of_bed(start_s + before, start_s + before + up)
            rec.awake_in_bed(start_s + before + up, end)
        else:
            rec.awake_in_bed(start_s, end, turns=int(self.rng.random() < 0.4))
        rec.truth.append(Event("awakening", start_s, end, None, {"cause": "spontaneous"}))
        self.wake_bouts.append((start_s, end))

    def _edges(self, sleep_onset: float, final_wake: float) -> None:
        """Awake in bed before sleep onset; after the final awakening, awake and perhaps up."""
        rng, rec, dur = self.rng, self.rec, self.dur
        rec.awake_in_bed(0.0, sleep_onset, turns=int(rng.integers(0, 3)))
        tail = dur - final_wake
        if tail >= 90.0 and rng.random() < 0.5:
            up_at = final_wake + rng.uniform(0.2, 0.6) * tail
            rec.awake_in_bed(final_wake, up_at)
            rec.out_of_bed(up_at, dur, lie_down=False)
        else:
            rec.awake_in_bed(final_wake, dur)

    def _scenario(self, sleep_onset: float, final_wake: float) -> Scenario:
        rng, rec, cfg = self.rng, self.rec, self.cfg
        keyframes, changes = resolve_postures(rec.actions, cfg.legs, draw_lying(rng), rng)
        truth = rec.truth + changes + score_plm(rec.lms, self.wake_bouts)
        zones = tuple((c.pre_onset_s - CRAMP_GUARD_S, c.end_s + CRAMP_GUARD_S) for c in self.cramps)
        return Scenario(
            duration_s=self.dur,
            legs=cfg.legs,
            sleep_onset_s=sleep_onset,
            final_wake_s=final_wake,
            rest_knots=self.rest_knots,
            tone_levels={
                "awake": rng.uniform(1.2, 1.6),
                "sitting": rng.uniform(1.1, 1.4),
                "standing": rng.uniform(1.5, 2.5),
            },
            tones=tuple(rec.tones),
            bursts=tuple(rec.bursts),
            walks=tuple(rec.walks),
            cramps=tuple(self.cramps),
            keyframes=keyframes,
            truth=tuple(sort_events(truth)),
            quiet_zones=zones,
        )


def _subtract(free: list[tuple[float, float]], zones: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = []
    for a, b in free:
        pieces = [(a, b)]
        for za, zb in zones:
            pieces = [p for x, y in pieces for p in ((x, min(y, za)), (max(x, zb), y)) if p[1] > p[0]]
        out += pieces
    return out
