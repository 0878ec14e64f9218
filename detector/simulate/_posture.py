"""Body position: the direction of gravity in each band's frame, and position-change ground truth.

Sensor frame (right-handed, identical for both legs because the same band is worn the same way): x
along the shank towards the knee, z anterior (out of the shin), y = z × x, which points to the wearer's
right on both legs. The accelerometer reads specific force, so at rest it reads the "up" unit vector:

=============  ==========================  =====================================================
position       up in the sensor frame      randomisation per leg and bout
=============  ==========================  =====================================================
supine         (0, 0, +1)                  pitch ±15° (knee flexion), roll ±20°
left_side      (0, +1, 0)                  pitch ±15°, roll ±20°
right_side     (0, -1, 0)                  pitch ±15°, roll ±20°
prone          (0, 0, -1)                  pitch ±15°, roll ±20°
sitting        (+1, 0, 0) (feet down)      shank tilted 5-20° in a random direction
standing       (+1, 0, 0)                  shank tilted 0-8°
=============  ==========================  =====================================================
"""

from __future__ import annotations

import math

import numpy as np

from detector.events import Event

from ._model import F64, Action
from ._shapes import unit_vector

LYING: tuple[str, ...] = ("supine", "left_side", "right_side", "prone")
LYING_P = np.array([0.4, 0.25, 0.25, 0.1])
_ROLL_DEG = {"supine": 0.0, "left_side": 90.0, "prone": 180.0, "right_side": -90.0}


def lying_vector(posture: str, rng: np.random.Generator) -> F64:
    """Up vector of a shank lying in ``posture``, with random knee pitch and leg roll."""
    pitch = math.radians(rng.uniform(-15.0, 15.0))
    roll = math.radians(_ROLL_DEG[posture] + rng.uniform(-20.0, 20.0))
    return np.array([math.sin(pitch), math.cos(pitch) * math.sin(roll), math.cos(pitch) * math.cos(roll)])


def upright_vector(max_tilt_deg: float, min_tilt_deg: float, rng: np.random.Generator) -> F64:
    """Up vector of a roughly vertical shank tilted ``min..max`` degrees in a random direction."""
    tilt = math.radians(rng.uniform(min_tilt_deg, max_tilt_deg))
    azimuth = rng.uniform(0.0, 2.0 * math.pi)
    return np.array([math.cos(tilt), math.sin(tilt) * math.sin(azimuth), math.sin(tilt) * math.cos(azimuth)])


def draw_lying(rng: np.random.Generator, exclude: str | None = None) -> str:
    """A lying position, weighted towards supine, different from ``exclude``."""
    p = LYING_P.copy()
    if exclude is not None:
        p[LYING.index(exclude)] = 0.0
    return LYING[int(rng.choice(len(LYING), p=p / p.sum()))]


def resolve_postures(
    actions: list[Action], legs: tuple[str, ...], initial: str, rng: np.random.Generator
) -> tuple[dict[str, tuple[F64, F64]], list[Event]]:
    """Turn a list of position changes into per-leg gravity keyframes and ``position_change`` events.

    Parameters
    ----------
    actions : list of Action
        Position changes; they must not overlap in time.
    legs : tuple of str
        Legs wearing a band.
    initial : str
        Lying position at the recording start.
    rng : numpy.random.Generator
        Source of randomness (new pitch and roll at every change).

    Returns
    -------
    keyframes : dict of str to (times, vectors)
        Per leg, keyframe times (k,) in s and up vectors (k, 3). Between keyframes the up vector is
        interpolated linearly and renormalised; turns through more than ~110° get a midway keyframe.
    events : list of Event
        ``position_change`` events (``from``/``to`` lying positions), one per change of lying position,
        including a new lying position after getting out of bed.
    """
    current = initial
    vec = {leg: lying_vector(initial, rng) for leg in legs}
    keys: dict[str, list[tuple[float, F64]]] = {leg: [(0.0, vec[leg])] for leg in legs}
    events: list[Event] = []
    for act in sorted(actions, key=lambda a: a.start_s):
        if act.kind in ("turn", "lie_down"):
            new = draw_lying(rng, exclude=current) if act.kind == "turn" or rng.random() < 0.5 else current
            if new != current:
                events.append(
                    Event(
                        "position_change",
                        act.start_s,
                        act.start_s + act.dur_s,
                        None,
                        {"from": current, "to": new},
                    )
                )
            current = new
        for leg in legs:
            if act.kind in ("turn", "nudge", "lie_down"):
                target = lying_vector(current, rng)
            elif act.kind in ("sit_up", "sit_down"):
                target = upright_vector(20.0, 5.0, rng)
            elif act.kind == "stand":
                target = upright_vector(8.0, 0.0, rng)
            else:
                raise ValueError(f"unknown position action {act.kind!r}")
            t0 = max(act.start_s, keys[leg][-1][0])
            t1 = max(act.start_s + act.dur_s, t0 + 1e-3)
            if t0 > keys[leg][-1][0]:
                keys[leg].append((t0, vec[leg]))
            if float(np.dot(vec[leg], target)) < -0.35:
                mid = vec[leg] + target
                if np.linalg.norm(mid) < 0.3:
                    mid = np.array([0.0, 1.0 if rng.random() < 0.5 else -1.0, 0.0])
                keys[leg].append((0.5 * (t0 + t1), unit_vector(mid)))
            keys[leg].append((t1, target))
            vec[leg] = target
    out = {leg: (np.array([k[0] for k in ks]), np.stack([k[1] for k in ks])) for leg, ks in keys.items()}
    return out, events
