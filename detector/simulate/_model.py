"""The simulator's internal description of a night, shared by the timeline and the signal renderers.

The timeline (:mod:`._timeline`, :mod:`._movements`) turns a configuration into a :class:`Scenario`: what
the sleeper does when, in physical units. The artifact planner (:mod:`._artifacts`) adds an
:class:`ArtifactPlan`. The renderers (:mod:`._emg`, :mod:`._acc`) turn both into sampled signals.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detector.events import Event

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Burst:
    """A movement on one leg: muscle activity, motion artifact in the EMG and limb motion.

    The burst is 1 on ``[start_s, end_s]`` with raised-cosine ramps of ``ramp_s`` centred on the edges.
    ``emg_uv`` adds to the EMG RMS envelope, ``lf_uv`` is the RMS of the < 15 Hz motion artifact in the
    EMG, ``acc_g`` the RMS of the limb's acceleration in ``acc_band_hz``. ``irregular`` bursts (tossing
    and turning) break their muscle activity into sub-bursts.
    """

    leg: str
    start_s: float
    end_s: float
    ramp_s: float
    emg_uv: float
    lf_uv: float
    acc_g: float
    acc_band_hz: tuple[float, float] = (0.3, 5.0)
    irregular: bool = False


@dataclass(frozen=True, slots=True)
class Walk:
    """A bout of walking: both legs swing in antiphase at half the cadence (one stride per two steps)."""

    start_s: float
    end_s: float
    cadence_hz: float
    swing_deg: float
    impact_g: float
    push_uv: float
    impact_uv: float
    phase_rad: float


@dataclass(frozen=True, slots=True)
class Action:
    """A change of body position (``turn``, ``nudge``, ``sit_up``, ``stand``, ``sit_down``, ``lie_down``)."""

    start_s: float
    dur_s: float
    kind: str


@dataclass(frozen=True, slots=True)
class Tone:
    """A stretch of raised resting muscle tone (``awake`` in bed, ``sitting`` or ``standing``)."""

    start_s: float
    end_s: float
    kind: str


@dataclass(frozen=True, slots=True)
class Cramp:
    """A cramp on one leg with its EMG amplitude multiplier on the envelope grid.

    ``multiplier[j]`` applies at grid index ``k0 + j``: the leg's resting EMG RMS is multiplied by it
    (1 before the pre-cramp rise and after the end). ``mmg_g_per_unit`` scales the mechanomyogram:
    its full-band RMS is ``mmg_g_per_unit * (multiplier - 1)`` g.
    """

    leg: str
    pre_onset_s: float
    onset_s: float
    end_s: float
    k0: int
    multiplier: F64
    mmg_g_per_unit: float


@dataclass(frozen=True, slots=True)
class Scenario:
    """Everything the sleeper does in a night, in physical units, plus the behavioural ground truth."""

    duration_s: float
    legs: tuple[str, ...]
    sleep_onset_s: float
    final_wake_s: float
    rest_knots: dict[str, tuple[F64, F64]]
    tone_levels: dict[str, float]
    tones: tuple[Tone, ...]
    bursts: tuple[Burst, ...]
    walks: tuple[Walk, ...]
    cramps: tuple[Cramp, ...]
    keyframes: dict[str, tuple[F64, F64]]
    truth: tuple[Event, ...]
    quiet_zones: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Stretch:
    """One artifact stretch on one leg's stream. ``level`` is in µV (EMG) or g (accelerometer)."""

    leg: str
    stream: str
    reason: str
    start_s: float
    end_s: float
    level: float
    ramp_s: float
    pops: tuple[tuple[float, float, float], ...] = ()  # (time s, amplitude µV, decay s)


@dataclass(frozen=True, slots=True)
class ArtifactPlan:
    """Artifact stretches, dropouts and the night-long low-level contamination of each leg's EMG."""

    stretches: tuple[Stretch, ...]
    gaps: tuple[tuple[str, float, float], ...]  # (leg, start s, end s)
    mains_hz: float
    mains_phase: float
    hum_uv: dict[str, float]
    ecg_uv: dict[str, float]
    ecg_beats_s: F64
    truth: tuple[Event, ...]
