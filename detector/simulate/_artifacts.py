"""Where the recording goes wrong: artifact stretches, BLE dropouts and low-level contamination.

Every artifact stretch and dropout is a ground-truth event; none comes within 30 s of a cramp (or its
pre-cramp rise), and on one leg they never overlap one another.
"""

from __future__ import annotations

import math

import numpy as np

from detector.events import Event

from ._config import EMG_RANGE_UV, NightConfig
from ._model import ArtifactPlan, Scenario, Stretch
from ._movements import Occupancy
from ._shapes import loguniform

#: Relative frequency of each artifact reason on the EMG stream, and of saturation (knocks) on the
#: accelerometer stream.
EMG_REASON_WEIGHTS: dict[str, float] = {
    "mains": 0.25,
    "pops": 0.3,
    "lead_off": 0.1,
    "clipping": 0.1,
    "motion": 0.25,
}
ACC_CLIPPING_WEIGHT = 0.15
_ECG_NIGHT_P = 0.4
_GAP_S = (1.0, 180.0)


def plan_artifacts(cfg: NightConfig, scn: Scenario, rng: np.random.Generator) -> ArtifactPlan:
    """Draw dropouts, artifact stretches and the low-level contamination of a night.

    Parameters
    ----------
    cfg : NightConfig
        The night's configuration (``artifacts``, ``dropouts`` and their rates).
    scn : Scenario
        The night's timeline; its cramps (with a 30 s guard) are kept free of artifacts and gaps.
    rng : numpy.random.Generator
        Source of randomness.
    """
    dur = cfg.duration_s
    free = _free_time(dur, scn.quiet_zones)
    has_emg, has_acc = cfg.emg_fs_hz is not None, cfg.acc_fs_hz is not None
    gap_stream = "emg+acc" if has_emg and has_acc else ("emg" if has_emg else "acc")
    gaps: list[tuple[str, float, float]] = []
    stretches: list[Stretch] = []
    truth: list[Event] = []
    for leg in cfg.legs:
        occupied = Occupancy()
        if cfg.dropouts:
            for _ in range(rng.poisson(cfg.dropout_rate_per_h * dur / 3600.0)):
                d = loguniform(rng, _GAP_S[0], min(_GAP_S[1], max(_GAP_S[0], 0.2 * dur)))
                t = occupied.place(rng, free, d, spacing_s=5.0)
                if t is None:
                    continue
                start, end = round(t, 3), min(round(t + d, 3), dur)
                gaps.append((leg, start, end))
                truth.append(Event("signal_gap", start, end, leg, {"stream": gap_stream}))
        if cfg.artifacts:
            reasons = [(r, w) for r, w in EMG_REASON_WEIGHTS.items() if has_emg]
            if has_acc:
                reasons.append(("acc_clipping", ACC_CLIPPING_WEIGHT))
            p = np.array([w for _, w in reasons])
            for _ in range(rng.poisson(cfg.artifact_rate_per_h * dur / 3600.0)):
                reason = reasons[int(rng.choice(len(reasons), p=p / p.sum()))][0]
                stretch = _draw_stretch(leg, reason, rng)
                t = occupied.place(rng, free, stretch.end_s - stretch.start_s, spacing_s=2.0)
                if t is None:
                    continue
                stretch = _shift(stretch, t)
                stretches.append(stretch)
                truth.append(
                    Event(
                        "artifact",
                        stretch.start_s,
                        stretch.end_s,
                        leg,
                        {"stream": stretch.stream, "reason": stretch.reason},
                    )
                )
    ecg_on = cfg.artifacts and rng.random() < _ECG_NIGHT_P
    heart_bpm = rng.uniform(50.0, 70.0)
    n_beats = int(dur * heart_bpm / 60.0 * 1.2) + 10
    rr = 60.0 / heart_bpm * np.clip(1.0 + 0.04 * rng.standard_normal(n_beats), 0.8, 1.2)
    beats = rng.uniform(0.0, 1.0) + np.cumsum(rr)
    return ArtifactPlan(
        stretches=tuple(stretches),
        gaps=tuple(gaps),
        mains_hz=cfg.mains_hz * (1.0 + rng.normal(0.0, 2e-4)),
        mains_phase=rng.uniform(0.0, 2.0 * math.pi),
        hum_uv={leg: rng.uniform(0.5, 3.0) if cfg.artifacts else 0.0 for leg in cfg.legs},
        ecg_uv={leg: rng.uniform(1.0, 5.0) if ecg_on else 0.0 for leg in cfg.legs},
        ecg_beats_s=beats[beats < dur],
        truth=tuple(truth),
    )


def _draw_stretch(leg: str, reason: str, rng: np.random.Generator) -> Stretch:
    """An artifact stretch of the given reason starting at 0 s (shifted into place later)."""
    if reason == "mains":
        return Stretch(leg, "emg", reason, 0.0, loguniform(rng, 10.0, 300.0), rng.uniform(15.0, 80.0), 1.0)
    if reason == "lead_off":
        return Stretch(leg, "emg", reason, 0.0, loguniform(rng, 20.0, 180.0), rng.uniform(100.0, 500.0), 2.0)
    if reason == "motion":
        return Stretch(leg, "emg", reason, 0.0, loguniform(rng, 2.0, 30.0), rng.uniform(80.0, 400.0), 1.0)
    if reason == "clipping":
        sign = 1.0 if rng.random() < 0.5 else -1.0
        level = sign * rng.uniform(1.3, 2.0) * EMG_RANGE_UV
        return Stretch(leg, "emg", reason, 0.0, loguniform(rng, 0.5, 10.0), level, 0.1)
    if reason == "acc_clipping":
        return Stretch(leg, "acc", "clipping", 0.0, loguniform(rng, 0.3, 3.0), rng.uniform(20.0, 40.0), 0.05)
    if reason == "pops":
        dur = loguniform(rng, 2.0, 30.0)
        n = 1 + rng.poisson(dur / 5.0)
        times = np.concatenate(([0.0], np.sort(rng.uniform(0.0, dur - 1.0, n - 1))))
        pops = tuple(
            (
                float(t),
                float(rng.choice([-1.0, 1.0]) * rng.uniform(100.0, 800.0)),
                float(rng.uniform(0.05, 0.2)),
            )
            for t in times
        )
        return Stretch(leg, "emg", reason, 0.0, dur, 0.0, 0.0, pops)
    raise ValueError(f"unknown artifact reason {reason!r}")


def _shift(s: Stretch, t0: float) -> Stretch:
    pops = tuple((t + t0, a, tau) for t, a, tau in s.pops)
    return Stretch(s.leg, s.stream, s.reason, s.start_s + t0, s.end_s + t0, s.level, s.ramp_s, pops)


def _free_time(dur: float, zones: tuple[tuple[float, float], ...]) -> list[tuple[float, float]]:
    """``[0, dur]`` minus the guarded cramp zones."""
    pieces = [(0.0, dur)]
    for za, zb in zones:
        pieces = [p for x, y in pieces for p in ((x, min(y, za)), (max(x, zb), y)) if p[1] > p[0]]
    return pieces
