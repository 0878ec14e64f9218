"""Shared fixtures: short simulated nights, written as real recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from detector.simulate import NightConfig, SimulatedNight, simulate_night
from firmware_bridge.journal import JournalEvent, JournalWriter
from firmware_bridge.sources import Packet, synthesize


def write_night(path: Path, night: SimulatedNight, seed: int) -> Path:
    devices, items = synthesize(night, rng=np.random.default_rng(seed))
    with JournalWriter(path, software="nightcramp tests") as w:
        for d in devices:
            w.add_device(d)
        for it in items:
            if isinstance(it, Packet):
                w.write_packet(it.device, it.t_rx_ns, it.payload)
            elif isinstance(it, JournalEvent):
                w.write_event(it.t_ns, it.kind, device=it.device, **dict(it.fields))
    return path


@pytest.fixture(scope="session")
def short_night() -> SimulatedNight:
    """40 minutes, two legs, EMG 500 Hz + accelerometer 50 Hz, two cramps, artifacts and dropouts."""
    cfg = NightConfig(duration_s=2400.0, emg_fs_hz=500.0, acc_fs_hz=50.0, n_cramps=2)
    return simulate_night(cfg, rng=np.random.default_rng(20261122))


@pytest.fixture(scope="session")
def short_recording(tmp_path_factory: pytest.TempPathFactory, short_night: SimulatedNight) -> Path:
    return write_night(tmp_path_factory.mktemp("rec") / "night.ncr", short_night, seed=7)


@pytest.fixture(scope="session")
def acc_night() -> SimulatedNight:
    """40 minutes, two legs, accelerometer only at 50 Hz, two cramps (mechanomyography only)."""
    cfg = NightConfig(duration_s=2400.0, emg_fs_hz=None, acc_fs_hz=50.0, n_cramps=2)
    return simulate_night(cfg, rng=np.random.default_rng(20261123))
