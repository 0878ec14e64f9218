"""Orchestration: configuration -> timeline -> artifacts -> signals."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from detector.events import LEGS, Event, sort_events

from ._acc import render_acc
from ._artifacts import plan_artifacts
from ._config import NightConfig, SimulatedNight
from ._emg import render_emg
from ._timeline import build_scenario

_DEFAULT_CONFIG = NightConfig()


def simulate_night(config: NightConfig = _DEFAULT_CONFIG, *, rng: np.random.Generator) -> SimulatedNight:
    """Simulate one night of a calf-worn EMG/accelerometer band with labelled ground truth.

    Parameters
    ----------
    config : NightConfig
        What kind of night (duration, legs, rates, which events and artifacts).
    rng : numpy.random.Generator
        The only source of randomness: the same seed gives bit-identical output.

    Returns
    -------
    SimulatedNight
        Signals per leg (EMG in µV, acceleration in g, float32, NaN in dropouts) and ground truth.

    Raises
    ------
    TypeError
        If ``rng`` is not a :class:`numpy.random.Generator`.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)); got {type(rng)!r}")
    if not isinstance(config, NightConfig):
        raise TypeError(f"config must be a NightConfig; got {type(config)!r}")
    # Independent streams for the timeline, the artifacts and each leg's signals, so that e.g. adding
    # an accelerometer does not change the EMG of the same seed.
    seeds = rng.integers(0, 2**63 - 1, size=2 + 2 * len(LEGS))
    child = [np.random.default_rng(int(s)) for s in seeds]
    scenario = build_scenario(config, child[0])
    plan = plan_artifacts(config, scenario, child[1])
    emg: dict[str, npt.NDArray[np.float32]] = {}
    acc: dict[str, npt.NDArray[np.float32]] = {}
    for leg in config.legs:
        j = 2 + 2 * LEGS.index(leg)
        if config.emg_fs_hz is not None:
            emg[leg] = render_emg(scenario, plan, leg, fs=config.emg_fs_hz, rng=child[j])
        if config.acc_fs_hz is not None:
            acc[leg] = render_acc(scenario, plan, leg, fs=config.acc_fs_hz, rng=child[j + 1])
    return SimulatedNight(
        config=config,
        emg=emg,
        acc=acc,
        truth=tuple(sort_events(_plain(e) for e in scenario.truth + plan.truth)),
        sleep_onset_s=scenario.sleep_onset_s,
        final_wake_s=scenario.final_wake_s,
    )


def _plain(e: Event) -> Event:
    """The event with plain Python numbers (no numpy scalars) in its times and fields."""
    fields = {k: v.item() if isinstance(v, np.generic) else v for k, v in e.fields.items()}
    return Event(e.kind, float(e.start_s), float(e.end_s), e.leg, fields)
