"""The bridge's part of ``cramp bench``: decoding, the notification callback, and two bands at full rate.

- **decode**: ten minutes of each profile's notifications at its fastest stream, decoded in batches of 256
  (as a live recording does), in samples per second and times real time;
- **callback**: the cost of the notification callback (stamp, count, enqueue) per notification;
- **two bands at full rate**: ten minutes of a two-leg night (EMG 1 kHz + accelerometer 100 Hz per band)
  through everything a live recording does after the callback (the journal, decoding, the timeline and the
  online detector), as CPU time per second of night: below 1 means the consumer never falls behind, so
  no backlog builds up. (The BLE transport itself, through the real bleak and a BlueZ double, is checked
  by the test suite: two bands streaming at once, every packet arriving.)
"""

from __future__ import annotations

import asyncio
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from detector.simulate import NightConfig, simulate_night
from firmware_bridge.journal import DeviceInfo, JournalEvent, JournalWriter
from firmware_bridge.profiles import ganglion, get_profile, nus_emg, polar
from firmware_bridge.sources import Packet, synthesize
from firmware_bridge.sources.ble import BandStatus, Inbox
from nightcramp.session import NightSession

MINUTES = 10.0


def _payloads(rng: np.random.Generator) -> dict[str, tuple[list[bytes], dict[str, Any], float]]:
    """Per profile: ten minutes of notifications at its fastest stream, its settings, and the sample rate."""
    s = MINUTES * 60
    out: dict[str, tuple[list[bytes], dict[str, Any], float]] = {}
    emg = rng.integers(-3000, 3000, (1, int(1000 * s)))
    out["nus-emg"] = (nus_emg.encode_frames("emg", emg, frame_samples=110, t0_us=0.0, fs_hz=1000.0), {}, 1000.0)
    acc = np.cumsum(rng.integers(-40, 40, (int(416 * s), 3)), axis=0) % 8000 - 4000
    frames = [polar.encode_delta_frame(k * 10**8, acc[k : k + 36]) for k in range(0, acc.shape[0] - 36, 36)]
    out["polar"] = (frames, {"acc_fs_hz": 416.0, "sdk_mode": True}, 416.0)
    n_pk = int(200 * s) // 2
    body = rng.integers(0, 256, (n_pk, 19), dtype=np.uint8)
    ids = (np.arange(n_pk) % 101).astype(np.uint8)
    gang = [bytes((int(i),)) + b.tobytes() for i, b in zip(ids, body, strict=True)]
    out["ganglion"] = (gang, {}, 200.0)
    counts = rng.integers(-4000, 4000, (int(200 * s) // 3, 9)).astype("<i2")
    out["metawear"] = ([b"\x03\x1c" + c.tobytes() for c in counts], {"acc_fs_hz": 200.0}, 200.0)
    floats = rng.normal(0, 9.8, (int(208 * s) // 8, 24)).astype("<f4")
    ms = [b"\x02\x63" + struct.pack("<I", k * 38) + f.tobytes() for k, f in enumerate(floats)]
    out["movesense"] = (ms, {"acc_fs_hz": 208.0}, 208.0)
    return out


def decode_throughput(rng: np.random.Generator) -> dict[str, dict[str, float]]:
    res: dict[str, dict[str, float]] = {}
    for name, (payloads, extra, fs) in _payloads(rng).items():
        profile = get_profile(name)
        settings = {**profile.default_settings(), **extra}
        t_rx = np.arange(len(payloads), dtype=np.int64) * 1_000_000
        decoder: Any = profile.new_decoder(settings) if isinstance(profile, ganglion.GanglionProfile) else None
        t0 = time.process_time()
        samples = 0
        for a in range(0, len(payloads), 256):
            batch, t = payloads[a : a + 256], t_rx[a : a + 256]
            d = decoder.decode(batch, t) if decoder is not None else profile.decode(batch, t, settings)
            samples += sum(int(b.counts.sum()) for b in d.blocks)
        cpu = time.process_time() - t0
        res[name] = {
            "notifications": len(payloads),
            "samples_per_s": round(samples / cpu),
            "x_realtime": round(samples / cpu / fs),
            "us_per_notification": round(1e6 * cpu / len(payloads), 2),
        }
    return res


def callback_cost(n: int = 200_000) -> float:
    """Microseconds per notification spent in the callback (stamp, count, enqueue)."""

    async def run() -> float:
        queue: asyncio.Queue[Any] = asyncio.Queue()
        inbox = Inbox(queue, 0, BandStatus(0, "bench"), time.monotonic_ns, time.monotonic_ns())
        data = bytearray(b"\x10" * 228)
        t0 = time.perf_counter()
        for _ in range(n):
            inbox(None, data)
        return (time.perf_counter() - t0) / n * 1e6

    return round(asyncio.run(run()), 3)


def two_bands(rng: np.random.Generator) -> dict[str, float]:
    """CPU seconds per second of night for the journal, decoding, the timeline and the online detector."""
    cfg = NightConfig(duration_s=MINUTES * 60, n_cramps=1)
    night = simulate_night(cfg, rng=rng)
    devices, items = synthesize(night, rng=rng)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.process_time()
        session = NightSession()
        with JournalWriter(Path(d) / "bench.ncr", software="bench") as writer:
            for info in devices:
                writer.add_device(info)
                session.add(info)
            for item in items:
                if isinstance(item, Packet):
                    writer.write_packet(item.device, item.t_rx_ns, item.payload)
                elif isinstance(item, JournalEvent):
                    writer.write_event(item.t_ns, item.kind, device=item.device, **dict(item.fields))
                elif isinstance(item, DeviceInfo):
                    writer.add_device(item)
                session.add(item)
        session.finish(cfg.duration_s)
        cpu = time.process_time() - t0
    packets = sum(isinstance(i, Packet) for i in items)
    return {
        "packets": packets,
        "packets_per_s": round(packets / cfg.duration_s, 1),
        "core_share": round(cpu / cfg.duration_s, 5),
    }


def run_bridge_bench(log: Callable[[str], None] = print) -> dict[str, Any]:
    rng = np.random.default_rng(2026)
    log("bridge: decoding ten minutes of each band ...")
    dec = decode_throughput(rng)
    log("bridge: the notification callback ...")
    cb = callback_cost()
    log("bridge: two bands at full rate through journal, decoding and detection ...")
    two = two_bands(rng)
    return {"decode": dec, "callback_us": cb, "two_bands": two}


def format_bridge(res: dict[str, Any]) -> list[tuple[str, str, str]]:
    rows = []
    for name, d in res["decode"].items():
        rows.append(
            (
                f"decode {name} notifications (batches of 256)",
                f"{d['samples_per_s']:,} samples/s = {d['x_realtime']:,}x its fastest stream "
                f"({d['us_per_notification']:.1f} µs per notification)",
                "-",
            )
        )
    rows.append(("notification callback (stamp, count, enqueue)", f"{res['callback_us']:.2f} µs per notification", "-"))
    two = res["two_bands"]
    rows.append(
        (
            "two bands at full rate (EMG 1 kHz + ACC 100 Hz each): journal, decoding, timeline, online detector",
            f"{100 * two['core_share']:.2f} % of one core for {two['packets_per_s']:.0f} notifications/s",
            "no backlog (< 100 %)",
        )
    )
    return rows
