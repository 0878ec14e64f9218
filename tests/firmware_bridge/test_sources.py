"""Synthetic and replay sources yield the same items, in the same order, as the recording holds."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import numpy as np
import pytest

from detector.simulate import NightConfig, simulate_night
from firmware_bridge.journal import DeviceInfo, JournalEvent, read_journal
from firmware_bridge.sources import Item, Packet, ReplaySource, SyntheticSource

from ..conftest import write_night


async def collect(source: SyntheticSource | ReplaySource) -> list[Item]:
    async with source:
        return [item async for item in source.items()]


def key(item: Item) -> tuple[object, ...]:
    if isinstance(item, Packet):
        return ("packet", item.device, item.t_rx_ns, item.payload)
    if isinstance(item, JournalEvent):
        return ("event", item.t_ns, item.kind, item.device, tuple(sorted(item.fields.items())))
    return ("device", item.device, item.profile, item.leg, tuple(sorted(item.settings.items())))


def test_replay_yields_what_the_synthetic_band_sent(tmp_path: Path) -> None:
    night = simulate_night(NightConfig(duration_s=300.0, emg_fs_hz=500.0, acc_fs_hz=50.0), rng=np.random.default_rng(3))
    live = asyncio.run(collect(SyntheticSource(night, rng=np.random.default_rng(4))))
    path = write_night(tmp_path / "n.ncr", night, seed=4)
    replayed = asyncio.run(collect(ReplaySource(path)))
    assert [key(i) for i in replayed] == [key(i) for i in live]
    assert isinstance(live[0], DeviceInfo) and sum(isinstance(i, Packet) for i in live) > 1000
    t = [i.t_rx_ns for i in live if isinstance(i, Packet)]
    assert t == sorted(t)  # arrival order


def test_replay_paces_at_the_requested_speed(short_recording: Path) -> None:
    journal = read_journal(short_recording)
    speed = journal.last_t_ns / 1e9 / 1.0 if journal.last_t_ns else 1.0  # whole night in about 1 s
    t0 = time.monotonic()
    items = asyncio.run(collect(ReplaySource(journal, speed=speed)))
    elapsed = time.monotonic() - t0
    assert len(items) == len(journal.records) - journal.complete  # everything but the END record
    assert 0.9 <= elapsed < 5.0


def test_bad_speed_is_refused(short_recording: Path) -> None:
    with pytest.raises(ValueError, match="speed"):
        ReplaySource(short_recording, speed=0.0)
    assert math.isinf(ReplaySource(short_recording).speed)
