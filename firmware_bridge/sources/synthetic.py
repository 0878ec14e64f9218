"""A simulated night that streams like real bands: encoded through the ``nus-emg`` wire format.

:func:`synthesize` turns a :class:`~detector.simulate.SimulatedNight` into what two bands would have sent:
one device per leg, EMG and accelerometer frames in the ``nus-emg`` format with the band's own clock (a
random boot offset, wrapping every 71.6 minutes), host receive times with a realistic transport latency
(a few ms to tens of ms, occasionally a burst held back for up to half a second), no frame at all where the
simulator dropped data (BLE dropouts), a disconnect / reconnect around dropouts longer than 10 s, and the
band's battery level running down.
Replaying it therefore exercises decoding, clock mapping and gap handling exactly like a live recording.
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from detector.simulate import SimulatedNight
from firmware_bridge.journal import DeviceInfo, JournalEvent
from firmware_bridge.profiles import nus_emg
from firmware_bridge.sources.base import Item, Packet, SourceContext

EMG_UV_PER_COUNT = 0.1
ACC_G_PER_COUNT = 0.001
FRAME_S = 0.1  #: target EMG frame length (at most 110 samples per notification)
ACC_FRAME_S = 0.5  #: target accelerometer frame length (at most 36 samples per notification)
LONG_DROPOUT_S = 10.0


def _frame_samples(fs: float, n_ch: int, frame_s: float) -> int:
    return int(max(1, min(round(fs * frame_s), 255, 110 // n_ch)))


def synthesize(
    night: SimulatedNight,
    *,
    rng: np.random.Generator,
    emg_uv_per_count: float = EMG_UV_PER_COUNT,
    frame_s: float = FRAME_S,
    acc_frame_s: float = ACC_FRAME_S,
) -> tuple[list[DeviceInfo], list[Item]]:
    """Devices and every item (packets, connection events) of a simulated night, in arrival order.

    ``emg_uv_per_count`` is the band's EMG resolution, ``frame_s`` and ``acc_frame_s`` the time one EMG or
    accelerometer notification covers.
    """
    cfg = night.config
    devices: list[DeviceInfo] = []
    streams: list[list[Item]] = []
    for dev, leg in enumerate(cfg.legs):
        settings: dict[str, Any] = {
            "emg_fs_hz": cfg.emg_fs_hz if night.emg else None,
            "acc_fs_hz": cfg.acc_fs_hz if night.acc else None,
            "emg_uv_per_count": emg_uv_per_count,
            "acc_g_per_count": ACC_G_PER_COUNT,
        }
        settings = {k: v for k, v in settings.items() if v is not None}
        devices.append(
            DeviceInfo(
                dev,
                nus_emg.PROFILE.name,
                nus_emg.VERSION,
                leg,
                f"NightCramp band {leg[0].upper()}",
                f"C0:FF:EE:00:00:{dev:02X}",
                settings,
            )
        )
        boot_us = float(rng.uniform(10.0, 7200.0) * 1e6)
        items: list[Item] = []
        if leg in night.emg and cfg.emg_fs_hz:
            items += _stream_packets(
                dev,
                "emg",
                night.emg[leg][np.newaxis, :] / emg_uv_per_count,
                cfg.emg_fs_hz,
                boot_us,
                rng,
                frame_s,
            )
        if leg in night.acc and cfg.acc_fs_hz:
            items += _stream_packets(
                dev, "acc", night.acc[leg] / ACC_G_PER_COUNT, cfg.acc_fs_hz, boot_us, rng, acc_frame_s
            )
        items += _connection_events(dev, night, leg)
        items += _battery_events(dev, cfg.duration_s, np.random.default_rng(int(boot_us)))
        items.sort(key=_arrival)
        streams.append(items)
    merged = list(heapq.merge(*streams, key=_arrival))
    return devices, merged


def _arrival(item: Item) -> int:
    return item.t_rx_ns if isinstance(item, Packet) else item.t_ns if isinstance(item, JournalEvent) else 0


def _stream_packets(
    dev: int,
    stream: str,
    counts: npt.NDArray[np.floating[Any]],
    fs: float,
    boot_us: float,
    rng: np.random.Generator,
    frame_s: float,
) -> list[Packet]:
    n_ch, n = counts.shape
    k = _frame_samples(fs, n_ch, frame_s)
    n_frames = -(-n // k)
    starts = np.arange(n_frames) * k
    ends = np.minimum(starts + k, n)
    finite = np.isfinite(counts).all(axis=0)
    bad = np.add.reduceat((~finite).astype(np.int64), starts) > 0
    frames = nus_emg.encode_frames(stream, np.nan_to_num(counts), frame_samples=k, t0_us=boot_us, fs_hz=fs)
    # host time of each frame's last sample, plus transport latency (lognormal around ~15 ms) and bursts
    t_last = (ends - 1) / fs
    latency = rng.lognormal(np.log(0.015), 0.5, n_frames)
    burst = rng.random(n_frames) < 0.002
    latency[burst] += rng.uniform(0.1, 0.5, int(burst.sum()))
    t_rx = np.rint((t_last + latency) * 1e9).astype(np.int64)
    t_rx = np.maximum.accumulate(t_rx)  # one link delivers in order
    keep = np.flatnonzero(~bad)
    return [Packet(dev, int(t_rx[i]), frames[i]) for i in keep.tolist()]


def _connection_events(dev: int, night: SimulatedNight, leg: str) -> list[Item]:
    out: list[Item] = []
    for ev in night.truth:
        if ev.kind == "signal_gap" and ev.leg == leg and ev.duration_s > LONG_DROPOUT_S:
            out.append(JournalEvent(int((ev.start_s + 2.0) * 1e9), "disconnected", dev, {"reason": "link lost"}))
            out.append(JournalEvent(int(ev.end_s * 1e9), "connected", dev, {}))
    return out


def _battery_events(dev: int, duration_s: float, rng: np.random.Generator) -> list[Item]:
    """The band's Battery Level as a real band reports it: at connect, then each time it drops by 1 %
    (a charge of 55-100 % running down by 2-5 % an hour)."""
    start = int(rng.integers(55, 101))
    per_s = float(rng.uniform(2.0, 5.0)) / 3600.0
    out: list[Item] = [JournalEvent(int(0.5e9), "battery", dev, {"percent": start})]
    for k in range(1, int(duration_s * per_s) + 1):
        out.append(JournalEvent(int(k / per_s * 1e9), "battery", dev, {"percent": start - k}))
    return out


class SyntheticSource(SourceContext):
    """A simulated night as a live source, paced at ``speed`` times real time (``math.inf``: no pacing)."""

    def __init__(self, night: SimulatedNight, *, rng: np.random.Generator, speed: float = math.inf) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        self.night = night
        self.speed = speed
        self.devices, self._items = synthesize(night, rng=rng)
        self._start_unix_ns = time.time_ns()

    @property
    def start_unix_ns(self) -> int | None:
        return self._start_unix_ns

    @property
    def meta(self) -> Mapping[str, Any]:
        return {"simulated": True, "config": self.night.truth_json()["config"]}

    async def items(self) -> AsyncIterator[Item]:
        for info in self.devices:
            yield info
        t0 = time.monotonic()
        for i, item in enumerate(self._items):
            t = _arrival(item) / 1e9
            if math.isfinite(self.speed):
                wait = t / self.speed - (time.monotonic() - t0)
                if wait > 0:
                    await asyncio.sleep(wait)
            elif i % 512 == 0:
                await asyncio.sleep(0)
            yield item
