"""Night configuration, the simulated night, and the time budget that decides what fits in a night."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from detector.events import LEGS, Event

#: Schema tag of :meth:`SimulatedNight.truth_json`.
TRUTH_SCHEMA = "cramp-truth/1"

#: EMG amplifier range (µV): samples are pinned at ±this value when the amplifier clips.
#: It lies inside the wire format's int16 counts of 0.1 µV (±3276.7 µV).
EMG_RANGE_UV = 3000.0

#: Accelerometer range (g): samples are pinned at ±this value when the sensor saturates.
#: It lies inside the wire format's int16 mg (±32.767 g).
ACC_RANGE_G = 8.0

# Time budget of a night (seconds). A cramp needs its pre-cramp rise, the cramp itself and either a
# wake bout (an awakening lasts >= 60 s) or a stretch of quiet sleep long enough that no awakening
# follows within 120 s; blocks of activity are separated by sleep.
PRE_RISE_MIN_S = 20.0
PRE_RISE_MAX_S = 90.0
CRAMP_WAKE_MIN_S = 75.0
CRAMP_QUIET_AFTER_S = 130.0
PLM_MIN_S = 31.0  # four LMs 10 s apart

_EMG_FS_RANGE_HZ = (200.0, 4000.0)
_ACC_FS_RANGE_HZ = (12.5, 1000.0)
_DURATION_RANGE_S = (60.0, 12 * 3600.0)
_CRAMP_DURATION_RANGE_S = (5.0, 1200.0)
_MAX_CRAMPS = 20


def night_minima(duration_s: float) -> tuple[float, float, float]:
    """Shortest sleep-onset latency, final wake period and sleep gap between blocks for a night.

    Parameters
    ----------
    duration_s : float
        Length of the night in seconds.

    Returns
    -------
    sol_s, tail_s, gap_s : float
        Minimum awake time before sleep onset, after final wake, and of sleep between two blocks of
        activity (cramps, awakenings, a PLM series), in seconds.
    """
    return min(120.0, 0.1 * duration_s), min(60.0, 0.05 * duration_s), min(60.0, 0.2 * duration_s)


def max_cramps_that_fit(duration_s: float, min_cramp_s: float, *, plm: bool = False) -> int:
    """Largest number of cramps of at least ``min_cramp_s`` seconds that fit in a night.

    Parameters
    ----------
    duration_s : float
        Length of the night in seconds.
    min_cramp_s : float
        Shortest cramp duration in seconds.
    plm : bool
        Whether a PLM series must fit as well.
    """
    sol_s, tail_s, gap_s = night_minima(duration_s)
    avail = duration_s - sol_s - tail_s - gap_s - ((PLM_MIN_S + gap_s) if plm else 0.0)
    per_cramp = PRE_RISE_MIN_S + min_cramp_s + CRAMP_QUIET_AFTER_S + gap_s
    return max(0, min(_MAX_CRAMPS, math.floor(avail / per_cramp)))


def plm_fits(duration_s: float) -> bool:
    """Whether a night of ``duration_s`` seconds can hold a PLM series (four LMs) during sleep."""
    sol_s, tail_s, gap_s = night_minima(duration_s)
    return duration_s - sol_s - tail_s - 2 * gap_s - PLM_MIN_S >= 0.0


def _check_range(name: str, value: float, lo: float, hi: float, unit: str) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and lo <= value <= hi):
        raise ValueError(f"{name} must be within {lo:g}..{hi:g} {unit}; got {value!r}")


def _check_legs(name: str, legs: tuple[str, ...], allowed: tuple[str, ...]) -> None:
    if not isinstance(legs, tuple) or not legs:
        raise ValueError(f"{name} must be a non-empty tuple drawn from {allowed}; got {legs!r}")
    if len(set(legs)) != len(legs) or any(leg not in allowed for leg in legs):
        raise ValueError(f"{name} must hold distinct legs from {allowed}; got {legs!r}")


@dataclass(frozen=True, slots=True)
class NightConfig:
    """What kind of night to simulate.

    Attributes
    ----------
    duration_s : float
        Recording length in seconds (60 s to 12 h).
    legs : tuple of str
        Legs wearing a band, a non-empty subset of ``("left", "right")``.
    emg_fs_hz : float or None
        EMG sampling rate in Hz (200-4000), or ``None`` for a band without EMG.
    acc_fs_hz : float or None
        Accelerometer sampling rate in Hz (12.5-1000), or ``None`` for a band without accelerometer.
    mains_hz : float
        Mains frequency, 50 or 60 Hz.
    n_cramps : int or None
        Number of cramps; ``None`` draws 0-4 (P = 0.35, 0.30, 0.20, 0.10, 0.05), reduced to what fits.
    cramp_legs : tuple of str or None
        Legs that may cramp (default: any of ``legs``).
    cramp_duration_s : (float, float)
        Range (s) cramp durations are drawn from, log-uniformly (allowed 5-1200 s).
    plm : bool or None
        Force a night with (``True``) or without (``False``) a PLM series; ``None`` draws (P = 0.25).
    artifacts : bool
        Mains hum, strong-hum stretches, electrode pops, lead-off, clipping, cable motion, ECG.
    dropouts : bool
        BLE dropouts (signal gaps, NaN in both streams of the band).
    cramp_awakening_prob : float
        Probability that a cramp is followed by an awakening.
    awakening_rate_per_h : float
        Spontaneous awakenings per hour of sleep.
    lm_rate_per_h : float or None
        Sporadic limb movements per hour of sleep; ``None`` draws 3-20 /h.
    position_change_rate_per_h : float or None
        Large movements (tossing/turning) per hour of sleep; ``None`` draws 2-4 /h.
    artifact_rate_per_h : float
        Artifact stretches per hour and leg (when ``artifacts``).
    dropout_rate_per_h : float
        Dropouts per hour and band (when ``dropouts``).
    """

    duration_s: float = 8 * 3600.0
    legs: tuple[str, ...] = ("left", "right")
    emg_fs_hz: float | None = 1000.0
    acc_fs_hz: float | None = 100.0
    mains_hz: float = 50.0
    n_cramps: int | None = None
    cramp_legs: tuple[str, ...] | None = None
    cramp_duration_s: tuple[float, float] = (10.0, 600.0)
    plm: bool | None = None
    artifacts: bool = True
    dropouts: bool = True
    cramp_awakening_prob: float = 0.85
    awakening_rate_per_h: float = 1.0
    lm_rate_per_h: float | None = None
    position_change_rate_per_h: float | None = None
    artifact_rate_per_h: float = 1.5
    dropout_rate_per_h: float = 0.5

    def __post_init__(self) -> None:
        for name in ("legs", "cramp_legs", "cramp_duration_s"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        _check_range("duration_s", self.duration_s, *_DURATION_RANGE_S, "s")
        _check_legs("legs", self.legs, LEGS)
        if self.emg_fs_hz is None and self.acc_fs_hz is None:
            raise ValueError("emg_fs_hz and acc_fs_hz are both None; a band needs at least one stream")
        if self.emg_fs_hz is not None:
            _check_range("emg_fs_hz", self.emg_fs_hz, *_EMG_FS_RANGE_HZ, "Hz (or None)")
        if self.acc_fs_hz is not None:
            _check_range("acc_fs_hz", self.acc_fs_hz, *_ACC_FS_RANGE_HZ, "Hz (or None)")
        if self.mains_hz not in (50.0, 60.0):
            raise ValueError(f"mains_hz must be 50 or 60 Hz; got {self.mains_hz!r}")
        if self.cramp_legs is not None:
            _check_legs("cramp_legs", self.cramp_legs, self.legs)
        lo_hi = self.cramp_duration_s
        if not (isinstance(lo_hi, tuple) and len(lo_hi) == 2):
            raise ValueError(f"cramp_duration_s must be a (min, max) pair of seconds; got {lo_hi!r}")
        for value in lo_hi:
            _check_range("cramp_duration_s", value, *_CRAMP_DURATION_RANGE_S, "s")
        if lo_hi[0] > lo_hi[1]:
            raise ValueError(f"cramp_duration_s must be (min, max) with min <= max; got {lo_hi!r}")
        if self.plm not in (None, True, False):
            raise ValueError(f"plm must be True, False or None; got {self.plm!r}")
        _check_range("cramp_awakening_prob", self.cramp_awakening_prob, 0.0, 1.0, "(probability)")
        _check_range("awakening_rate_per_h", self.awakening_rate_per_h, 0.0, 6.0, "per hour")
        if self.lm_rate_per_h is not None:
            _check_range("lm_rate_per_h", self.lm_rate_per_h, 0.0, 120.0, "per hour")
        if self.position_change_rate_per_h is not None:
            _check_range("position_change_rate_per_h", self.position_change_rate_per_h, 0.0, 20.0, "per hour")
        _check_range("artifact_rate_per_h", self.artifact_rate_per_h, 0.0, 120.0, "per hour")
        _check_range("dropout_rate_per_h", self.dropout_rate_per_h, 0.0, 60.0, "per hour")
        if self.plm is True and not plm_fits(self.duration_s):
            raise ValueError(
                f"plm=True needs a longer night than duration_s={self.duration_s:g} s to hold a PLM series"
            )
        if self.n_cramps is not None:
            if isinstance(self.n_cramps, bool) or not isinstance(self.n_cramps, int | np.integer):
                raise ValueError(f"n_cramps must be an integer 0..{_MAX_CRAMPS} or None; got {self.n_cramps!r}")
            _check_range("n_cramps", int(self.n_cramps), 0, _MAX_CRAMPS, "cramps (or None)")
            fit = max_cramps_that_fit(self.duration_s, lo_hi[0], plm=self.plm is True)
            if self.n_cramps > fit:
                raise ValueError(
                    f"n_cramps={self.n_cramps} does not fit in a night of duration_s={self.duration_s:g} "
                    f"with cramps of at least {lo_hi[0]:g} s: at most {fit} fit; lengthen the night "
                    "or ask for fewer cramps"
                )

    def to_json(self) -> dict[str, Any]:
        """The configuration as a JSON object (tuples become lists)."""
        out = dataclasses.asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out


@dataclass(frozen=True)
class SimulatedNight:
    """A simulated night: the signals of every band and the ground truth.

    Attributes
    ----------
    config : NightConfig
        The configuration the night was drawn from.
    emg : dict of str to ndarray of float32, shape (n_emg,)
        EMG per leg in µV at ``config.emg_fs_hz``; sample ``i`` is at ``i / fs`` s. Empty without EMG.
        NaN inside signal gaps; values pinned at ±:data:`EMG_RANGE_UV` where the amplifier clips.
    acc : dict of str to ndarray of float32, shape (3, n_acc)
        Acceleration (specific force) per leg in g at ``config.acc_fs_hz``, axes x (along the shank
        towards the knee), y (to the wearer's right), z (anterior, out of the shin). Empty without
        accelerometer. NaN inside signal gaps; pinned at ±:data:`ACC_RANGE_G` where it saturates.
    truth : tuple of Event
        Ground-truth events, sorted by start.
    sleep_onset_s, final_wake_s : float
        Sleep onset and final awakening, seconds from the recording start.
    """

    config: NightConfig
    emg: dict[str, npt.NDArray[np.float32]]
    acc: dict[str, npt.NDArray[np.float32]]
    truth: tuple[Event, ...]
    sleep_onset_s: float
    final_wake_s: float

    def events_of(self, kind: str) -> tuple[Event, ...]:
        """Ground-truth events of one kind, in time order."""
        return tuple(e for e in self.truth if e.kind == kind)

    def truth_json(self) -> dict[str, Any]:
        """The ground truth as a JSON object (schema ``cramp-truth/1``)."""
        return {
            "schema": TRUTH_SCHEMA,
            "config": self.config.to_json(),
            "sleep_onset_s": round(float(self.sleep_onset_s), 3),
            "final_wake_s": round(float(self.final_wake_s), 3),
            "events": [e.to_json() for e in self.truth],
        }
