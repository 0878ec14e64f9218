"""Placing frames on the recording grid from device clocks: gaps, clock wrap, batching invariance."""

from __future__ import annotations

import numpy as np

from firmware_bridge.profiles.nus_emg import PROFILE, encode_frames
from firmware_bridge.timeline import DeviceTimeline

FS = 500.0
SETTINGS = {"emg_fs_hz": FS, "emg_uv_per_count": 0.1}


def night(
    n: int, boot_us: float, lost: set[int], latency_s: float = 0.01
) -> tuple[list[bytes], np.ndarray, np.ndarray]:
    x = np.arange(n) % 30000
    frames = encode_frames("emg", x[np.newaxis], frame_samples=25, t0_us=boot_us, fs_hz=FS)
    t_rx = ((np.arange(len(frames)) + 1) * 25 / FS + latency_s) * 1e9
    keep = [i for i in range(len(frames)) if i not in lost]
    return [frames[i] for i in keep], t_rx[keep].astype(np.int64), x


def place(payloads: list[bytes], t_rx: np.ndarray, batch: int) -> dict[int, np.ndarray]:
    tl = DeviceTimeline(PROFILE.streams(SETTINGS), clock_wrap_ns=PROFILE.device_clock_wrap_ns)
    out: dict[int, np.ndarray] = {}
    chunks = []
    for i in range(0, len(payloads), batch):
        dec = PROFILE.decode(payloads[i : i + batch], t_rx[i : i + batch], SETTINGS)
        chunks += tl.push(dec.blocks)
    chunks += tl.finish()
    for c in chunks:  # join chunks that continue each other (one segment per gap-free stretch)
        prev = next((k for k, v in out.items() if k + v.size == c.start), None)
        if prev is None:
            out[c.start] = c.data[0]
        else:
            out[prev] = np.concatenate((out[prev], c.data[0]))
    return out


def test_lost_frames_become_gaps_and_samples_keep_their_time() -> None:
    payloads, t_rx, x = night(5000, boot_us=123_456_789.0, lost={10, 11, 150})
    placed = place(payloads, t_rx, batch=7)
    lag = 6  # the shortest latency (10 ms) plus one sample (2 ms) cannot be told from the clock offset
    assert sorted(placed) == [lag, lag + 300, lag + 3775]  # contiguous segments, gaps where frames were lost
    assert sum(v.size for v in placed.values()) == 5000 - 3 * 25
    for start, v in placed.items():
        np.testing.assert_allclose(v * 10, x[start - lag : start - lag + v.size])


def test_device_clock_wrap_is_unwrapped() -> None:
    wrap_us = 2**32
    payloads, t_rx, _x = night(20000, boot_us=wrap_us - 3e6, lost=set())  # wraps after 3 s
    placed = place(payloads, t_rx, batch=50)
    assert list(placed) == [6] and placed[6].size == 20000


def test_batching_does_not_change_placement() -> None:
    payloads, t_rx, _ = night(8000, boot_us=5e9, lost={3, 200, 201})
    ref = place(payloads, t_rx, batch=len(payloads))
    for batch in (1, 3, 64):
        got = place(payloads, t_rx, batch)
        assert got.keys() == ref.keys()
        assert all(np.array_equal(got[k], ref[k]) for k in ref)


def test_a_band_without_clock_is_chained_through_jitter_and_bursts_with_a_gap_only_at_a_dropout() -> None:
    """MetaWear-style: three samples per notification, arrival times only (jitter, bursts up to 0.5 s)."""
    import itertools
    import struct

    from firmware_bridge.profiles import metawear

    rng = np.random.default_rng(0)
    n_pk = 100 * 120 // 3  # two minutes at 100 Hz
    t_last = (np.arange(n_pk) * 3 + 2) / 100.0
    latency = rng.lognormal(np.log(0.015), 0.5, n_pk)
    burst = rng.random(n_pk) < 0.01
    latency[burst] += rng.uniform(0.1, 0.5, int(burst.sum()))
    lost = (t_last > 60.0) & (t_last < 70.0)  # a 10-s dropout
    t_rx = np.maximum.accumulate(np.rint((t_last + latency) * 1e9).astype(np.int64))
    payloads = [b"\x03\x1c" + struct.pack("<9h", *([k % 100, 0, 4096] * 3)) for k in range(n_pk)]
    keep = np.flatnonzero(~lost)
    settings = metawear.PROFILE.default_settings()
    timeline = DeviceTimeline(metawear.PROFILE.streams(settings), clock_wrap_ns=None)
    chunks = []
    for a in range(0, keep.size, 50):
        sel = keep[a : a + 50]
        decoded = metawear.PROFILE.decode([payloads[i] for i in sel], t_rx[sel], settings)
        chunks += timeline.push(decoded.blocks)
    chunks += timeline.finish()
    assert timeline.stats.frames_dropped == 0 and timeline.stats.gaps == 1
    assert sum(c.data.shape[1] for c in chunks) == 3 * keep.size  # every sample placed
    ends = sorted((c.start, c.start + c.data.shape[1]) for c in chunks)
    holes = [(a1, b0) for (_, a1), (b0, _) in itertools.pairwise(ends) if b0 > a1]
    assert len(holes) == 1
    (gap_from, gap_to) = holes[0]
    assert abs(gap_from / 100 - 60.0) < 0.6 and abs(gap_to / 100 - 70.0) < 0.6  # where the dropout was


def test_a_drifting_device_clock_is_followed_so_that_after_a_dropout_samples_land_at_host_time() -> None:
    """The band's crystal runs 200 ppm slow (exaggerated, to show in 25 minutes): after a 30-s dropout at
    20 minutes, its samples are placed by the drift-corrected clock, within 4 ms of the true host time,
    whatever the batching; without the correction they would be 0.25 s off."""
    fs, ppm = 500.0, 200.0
    n = int(fs * 25 * 60)
    x = np.arange(n) % 30000
    host = np.arange(n) / fs  # true host time of each sample
    dev_us = host * (1 - ppm * 1e-6) * 1e6 + 3e6  # the band's slow clock
    frames_at = np.arange(0, n, 25)
    frames = encode_frames("emg", x[np.newaxis], frame_samples=25, t0_us=dev_us[frames_at], fs_hz=fs)
    rng = np.random.default_rng(5)
    t_rx = ((host[frames_at] + 24 / fs + 0.008 + rng.exponential(0.01, frames_at.size)) * 1e9).astype(np.int64)
    lost = (host[frames_at] > 1200) & (host[frames_at] < 1230)
    keep = np.flatnonzero(~lost)
    payloads, t_keep = [frames[i] for i in keep], t_rx[keep]
    placed = []
    for batch in (64, 977, len(payloads)):
        tl = DeviceTimeline(PROFILE.streams(SETTINGS), clock_wrap_ns=PROFILE.device_clock_wrap_ns)
        chunks = []
        for i in range(0, len(payloads), batch):
            chunks += tl.push(PROFILE.decode(payloads[i : i + batch], t_keep[i : i + batch], SETTINGS).blocks)
        chunks += tl.finish()
        assert tl.stats.gaps == 1 and abs(tl.stats.drift_ppm["emg"] - ppm) < 10
        segments: list[list[int]] = []
        for c in sorted(chunks, key=lambda c: c.start):  # contiguous chunks joined into segments
            if segments and segments[-1][0] + segments[-1][1] == c.start:
                segments[-1][1] += c.data.shape[1]
            else:
                segments.append([c.start, c.data.shape[1]])
        placed.append(segments)
    assert placed[0] == placed[1] == placed[2]  # any batching, the same placement
    after = placed[0][1][0]  # the first sample after the dropout
    first_back = int(frames_at[keep[np.searchsorted(host[frames_at[keep]], 1230)]])
    calib = 0.008  # the offset carries the shortest delay: compare against host time plus it
    assert abs(after / fs - (host[first_back] + calib)) < 0.004
