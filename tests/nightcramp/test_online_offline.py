"""One pipeline: the same events offline (whole night at once) and online (any batching of packets)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

from detector.events import Event, mask_to_runs
from detector.night import NightDetector, stream_infos
from detector.simulate import SimulatedNight
from firmware_bridge.journal import read_journal
from firmware_bridge.sources import Packet, ReplaySource
from nightcramp.session import NightSession, analyze_journal, journal_duration_s


def as_json(events: list[Event]) -> list[dict[str, object]]:
    return [e.to_json() for e in events]


def replay(path: Path, rng: np.random.Generator) -> tuple[list[Event], list[Event]]:
    """Replay item by item with random flush points; returns (events as emitted, final sorted events)."""
    journal = read_journal(path)
    emitted: list[Event] = []
    session = NightSession(on_event=emitted.append, batch_packets=int(rng.integers(1, 400)))

    async def run() -> None:
        async with ReplaySource(journal) as src:
            async for item in src.items():
                session.add(item)
                if isinstance(item, Packet) and rng.random() < 0.01:
                    session.flush()

    asyncio.run(run())
    result = session.finish(journal_duration_s(journal))
    return emitted, result.events


@pytest.mark.parametrize("seed", [1, 2])
def test_replay_in_random_batches_equals_offline_analysis(short_recording: Path, seed: int) -> None:
    offline = analyze_journal(read_journal(short_recording)).events
    assert any(e.kind == "cramp" for e in offline)
    emitted, online = replay(short_recording, np.random.default_rng(seed))
    assert as_json(online) == as_json(offline)
    assert sorted(as_json(emitted), key=str) == sorted(as_json(offline), key=str)  # each event emitted once


def push_night(night: SimulatedNight, rng: np.random.Generator | None) -> list[Event]:
    cfg = night.config
    det = NightDetector(stream_infos(cfg.legs, emg_fs=cfg.emg_fs_hz, acc_fs=cfg.acc_fs_hz, emg_full_scale_uv=3276.7))
    pieces: list[tuple[float, str, int, np.ndarray]] = []
    for leg in cfg.legs:
        streams = [("emg", night.emg[leg][np.newaxis], cfg.emg_fs_hz)] if leg in night.emg else []
        streams += [("acc", night.acc[leg], cfg.acc_fs_hz)] if leg in night.acc else []
        for kind, arr, fs in streams:
            ok = np.isfinite(arr).all(axis=0)
            for a, b in mask_to_runs(ok).tolist():
                cuts = [] if rng is None else sorted(rng.integers(a + 1, b, size=int(rng.integers(0, 40))).tolist())
                for seg in np.split(np.arange(a, b), [c - a for c in cuts]):
                    if seg.size:
                        pieces.append((seg[0] / float(fs or 1), f"{kind}:{leg}", int(seg[0]), arr[:, seg]))
    if rng is not None:  # interleave the streams in time, as live data arrives
        pieces.sort(key=lambda p: p[0])
    for _, name, start, data in pieces:
        det.push(name, start, data[0] if name.startswith("emg") else data)
    det.finish(cfg.duration_s)
    return det.all_events()


def test_detector_chunked_equals_batch(short_night: SimulatedNight) -> None:
    batch = push_night(short_night, None)
    for seed in (3, 4):
        assert as_json(push_night(short_night, np.random.default_rng(seed))) == as_json(batch)


def test_accelerometer_only_detector_chunked_equals_batch(acc_night: SimulatedNight) -> None:
    batch = push_night(acc_night, None)
    assert sum(e.kind == "cramp" for e in batch) == 2
    for seed in (5, 6):
        assert as_json(push_night(acc_night, np.random.default_rng(seed))) == as_json(batch)


def test_one_second_chunks_at_1khz_equal_batch() -> None:
    """Live bands hand over about a second at a time: 10 EMG frames per push, judged like a whole night."""
    from detector.simulate import NightConfig, simulate_night

    cfg = NightConfig(duration_s=1800.0, emg_fs_hz=1000.0, acc_fs_hz=100.0, n_cramps=2, dropouts=False)
    night = simulate_night(cfg, rng=np.random.default_rng(5))
    batch = push_night(night, None)
    assert any(e.kind == "cramp" for e in batch)
    det = NightDetector(stream_infos(cfg.legs, emg_fs=1000.0, acc_fs=100.0, emg_full_scale_uv=3276.7))
    for k in range(1800):
        for leg in cfg.legs:
            det.push(f"emg:{leg}", k * 1000, night.emg[leg][k * 1000 : (k + 1) * 1000])
            det.push(f"acc:{leg}", k * 100, night.acc[leg][:, k * 100 : (k + 1) * 100])
    det.finish(cfg.duration_s)
    assert as_json(det.all_events()) == as_json(batch)
