"""``cramp decode``, ``cramp scan`` and ``cramp record``: the commands that talk to bands (or their bytes).

``record`` writes everything that arrives into a journal as it arrives (the journal is flushed at least
every 0.5 s), runs the online detector on the same items and prints events as they are found; Ctrl-C (or
``--duration``) stops the bands, closes the journal cleanly and prints the night's summary.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import signal
import string
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detector.events import Event
from detector.night import Notice
from firmware_bridge.journal import DeviceInfo, JournalEvent, JournalWriter, read_journal
from firmware_bridge.profiles import PROFILES, DeviceProfile, SampleBlock, get_profile
from firmware_bridge.profiles import polar as polar_profile
from firmware_bridge.sources import Packet
from nightcramp import __version__
from nightcramp.nightjson import iso_time, night_json, write_night_json
from nightcramp.report import write_report
from nightcramp.session import NightSession, SessionError
from nightcramp.text import clock, format_event, format_summary


class BandsError(Exception):
    """A problem the user can fix; printed as one sentence by the command line."""


# -- decode ------------------------------------------------------------------------------------------
def parse_hex(texts: Sequence[str]) -> list[bytes]:
    """Payloads given as hex (spaces, colons and a 0x prefix allowed)."""
    out = []
    for i, text in enumerate(texts, 1):
        clean = text.strip().lower().removeprefix("0x").replace(" ", "").replace(":", "").replace("-", "")
        if not clean or len(clean) % 2 or any(c not in string.hexdigits for c in clean):
            raise BandsError(f"payload {i} ({text[:40]!r}) is not hex bytes, e.g. '02 00 94 35' or '02009435'")
        out.append(bytes.fromhex(clean))
    return out


def _timestamps(profile: DeviceProfile, payloads: list[bytes], block: SampleBlock, fs: float) -> list[int] | None:
    """Per-sample device times in ns, by the device's own rule where it has one."""
    if profile.name == "polar":
        out: list[int] = []
        previous: int | None = None
        frames = [p for p in payloads if len(p) > polar_profile.HEADER_BYTES and p[0] & 0x3F == polar_profile.ACC]
        for frame, n in zip(frames, block.counts.tolist(), strict=False):
            ts = int.from_bytes(frame[1:9], "little")
            out += polar_profile.sample_timestamps_ns(ts, n, fs, previous)
            previous = ts
        return out
    if block.t_device_ns is None:
        return None
    step = 1e9 / fs
    return [int(t0 + round(i * step)) for t0, n in zip(block.t_device_ns.tolist(), block.counts.tolist(), strict=True)
            for i in range(n)]  # fmt: skip


def decode_payloads(profile_name: str, payloads: list[bytes], settings: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON ``cramp decode`` prints: the first stream's samples (one row per sample), per-sample device
    times (or null), its unit; other streams, if any, under ``more``."""
    try:
        profile = get_profile(profile_name)
    except KeyError as exc:
        raise BandsError(str(exc.args[0])) from None
    full = {**profile.default_settings(), **dict(settings)}
    decoded = profile.decode(payloads, np.arange(len(payloads)), full)
    if not decoded.blocks:
        raise BandsError(
            f"none of the {len(payloads)} payload(s) is a {profile_name} data frame "
            f"({decoded.malformed} malformed); check the profile and the bytes"
        )
    specs = {s.name: s for s in profile.streams(full)}
    docs = []
    for block in decoded.blocks:
        spec = specs[block.stream]
        mine = [p for p in payloads if _stream_of(profile, p, block.stream)]
        docs.append(
            {
                "stream": block.stream,
                "samples": block.data.T.tolist(),
                "timestamps_ns": _timestamps(profile, mine, block, spec.fs_hz),
                "unit": spec.unit,
                "channels": list(spec.channels),
                "fs_hz": spec.fs_hz,
            }
        )
    doc = {**docs[0], "malformed": decoded.malformed}
    if len(docs) > 1:
        doc["more"] = docs[1:]
    if decoded.info:
        doc["info"] = [dict(i) for i in decoded.info]
    return doc


def _stream_of(profile: DeviceProfile, payload: bytes, stream: str) -> bool:
    if profile.name == "nus-emg":
        return bool(payload) and (payload[0] & 0x0F) == (0 if stream == "emg" else 1)
    return True


def _settings_option(pairs: Sequence[str] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BandsError(f"--setting takes KEY=VALUE, e.g. acc_fs_hz=52; got {pair!r}")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def cmd_decode(args: argparse.Namespace) -> int:
    settings = _settings_option(args.setting)
    if args.factor is not None:
        if args.profile != "polar":
            raise BandsError("--factor is the Polar PMD factor from a start response; it applies to --profile polar")
        if not np.isfinite(args.factor) or args.factor <= 0:
            raise BandsError(f"--factor must be a positive number, got {args.factor}")
        settings["factor"] = args.factor
    doc = decode_payloads(args.profile, parse_hex(args.hex), settings)
    if doc["malformed"]:
        print(f"cramp: warning: {doc['malformed']} payload(s) could not be decoded and were skipped", file=sys.stderr)
    print(json.dumps(doc))
    return 0


# -- scan ----------------------------------------------------------------------------------------------
def cmd_scan(args: argparse.Namespace) -> int:
    from firmware_bridge.sources.ble import explain, scan

    try:
        found = asyncio.run(scan(args.timeout, all_devices=args.all))
    except Exception as exc:  # no adapter, no BlueZ, no permission: one sentence
        raise BandsError(f"cannot scan for Bluetooth LE devices: {explain(exc)}") from None
    if not found:
        print(f"No {'device' if args.all else 'known band'} seen in {args.timeout:g} s.")
        return 0
    print(f"{'address':<20} {'rssi':>5}  {'profile':<9} name")
    for f in found:
        rssi = "" if f.rssi is None else str(f.rssi)
        print(f"{f.address:<20} {rssi:>5}  {f.profile or '-':<9} {f.name or ''}")
    return 0


# -- record --------------------------------------------------------------------------------------------
def band_requests(devices: Sequence[str], legs: Sequence[str] | None, profiles: Sequence[str] | None) -> list[Any]:
    """``--device`` / ``--leg`` / ``--profile`` options paired in order."""
    from firmware_bridge.sources.ble import BandRequest

    if not devices:
        raise BandsError("give the band to record with --device ADDRESS_OR_NAME (see 'cramp scan')")
    if len(devices) > 2:
        raise BandsError(f"record one or two bands (one per calf), not {len(devices)}")
    legs = list(legs or [])
    if legs and len(legs) != len(devices):
        raise BandsError(f"give one --leg per --device ({len(devices)} device(s), {len(legs)} leg(s))")
    if len(devices) == 2 and sorted(legs) != ["left", "right"]:
        raise BandsError("with two bands, give --leg left for one and --leg right for the other")
    profiles = list(profiles or [])
    if len(profiles) not in (0, 1, len(devices)):
        raise BandsError("give --profile once for all bands, or once per --device")
    for name in profiles:
        if name not in PROFILES:
            raise BandsError(f"unknown device profile {name!r}; known profiles: {', '.join(sorted(PROFILES))}")
    out = []
    for i, target in enumerate(devices):
        leg = legs[i] if legs else None
        profile = profiles[i] if len(profiles) == len(devices) else (profiles[0] if profiles else None)
        out.append(BandRequest(i, target, leg, profile))
    return out


def default_journal_path(now: dt.datetime | None = None) -> Path:
    now = now or dt.datetime.now().astimezone()
    return Path(f"night-{now:%Y-%m-%d-%H%M}.ncr")


def cmd_record(args: argparse.Namespace) -> int:
    bands = band_requests(args.device, args.leg, args.profile)
    out: Path = args.out or default_journal_path()
    if out.exists():
        raise BandsError(f"{out} already exists; a recording is never overwritten (give another --out)")
    if args.duration is not None and not args.duration > 0:
        raise BandsError(f"--duration must be a positive number of seconds, got {args.duration}")
    if args.screenshot is not None and not args.view:
        raise BandsError("--screenshot belongs to the live window; add --view")
    if not args.view:
        return asyncio.run(_record(bands, out, args))
    from nightcramp import live

    window_duration = None if args.duration is None else args.duration + 1.0  # the summary first, then close
    code, _ = live.run_window(
        [],
        lambda feed: asyncio.run(_record(bands, out, args, feed)),
        speed=1.0,
        window_s=args.window,
        duration_s=window_duration,
        screenshot=args.screenshot,
    )
    return int(code) if code is not None else 0


async def _record(bands: list[Any], out: Path, args: argparse.Namespace, feed: Any = None) -> int:
    """Record until stopped (Ctrl-C, ``--duration``, or the live window's ``feed.stop``); with ``feed``, what
    is placed and found also goes to the live window, and its "cramp now" presses become markers."""
    from firmware_bridge.formats.native import band_streams
    from firmware_bridge.sources.ble import BleSource, explain, scan

    try:  # is Bluetooth there at all? (a missing adapter or BlueZ would only ever be retried)
        await scan(0.2, all_devices=True)
    except Exception as exc:
        raise BandsError(f"cannot record: {explain(exc)}") from None
    names = {b.device: (b.leg or b.target) for b in bands}
    source = BleSource(bands)
    start: str | None = None

    def on_event(e: Event) -> None:
        print(format_event(e.to_json(), start), flush=True)

    def on_notice(n: Notice) -> None:
        print(f"{clock(n.t_s, start)}  ... possible cramp, {n.leg or ''} calf, since {clock(n.since_s, start)}")

    def post(kind: str, payload: Any) -> None:
        if feed is not None:
            feed.post(kind, payload)

    def event_out(e: Event) -> None:
        on_event(e)
        post("event", e)

    def notice_out(n: Notice) -> None:
        on_notice(n)
        post("notice", n)

    def samples_out(name: str, first: int, data: Any) -> None:
        post("samples", (name, first, data.copy()))

    session = NightSession(  # analysed every 0.5 s of arrivals, so that events are found as they happen
        on_event=event_out, on_notice=notice_out, on_samples=None if feed is None else samples_out, flush_s=0.5
    )
    loop = asyncio.get_running_loop()
    async with source:
        start = iso_time(source.start_unix_ns)
        writer = JournalWriter(
            out,
            software=f"nightcramp {__version__}",
            meta=dict(source.meta),
            start_unix_ns=source.start_unix_ns,
            start_monotonic_ns=source.start_monotonic_ns,
        )
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # only in the main thread
            loop.add_signal_handler(signal.SIGINT, source.stop)
            loop.add_signal_handler(signal.SIGTERM, source.stop)
        if args.duration is not None:
            loop.call_later(args.duration, source.stop)
        watcher = asyncio.create_task(_watch_window(feed, source, session, writer, post)) if feed else None
        post("live", True)
        post("start", source.start_unix_ns / 1e9 if source.start_unix_ns else None)
        print(f"Recording to {out}; press Ctrl-C to stop.", flush=True)
        try:
            with writer:
                async for item in source.items():
                    if isinstance(item, Packet):
                        writer.write_packet(item.device, item.t_rx_ns, item.payload)
                    elif isinstance(item, DeviceInfo):
                        writer.add_device(item)
                        with contextlib.suppress(KeyError):
                            post("streams", list(band_streams(item).infos))
                    elif isinstance(item, JournalEvent):
                        writer.write_event(item.t_ns, item.kind, device=item.device, **dict(item.fields))
                        _say(item, names, start)
                    session.add(item)
        finally:
            if watcher is not None:
                watcher.cancel()
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signal.SIGINT)
                loop.remove_signal_handler(signal.SIGTERM)
    for device, reason in source.errors.items():
        print(f"cramp: {names.get(device, device)} band: {reason}", file=sys.stderr)
    stats = {d: s.to_json() for d, s in source.status.items()}
    print(f"\nStopped. The recording is in {out} ({sum(s['packets'] for s in stats.values())} packets).")
    try:
        result = session.finish()
    except SessionError:
        if source.errors and len(source.errors) == len(bands):
            raise BandsError(next(iter(source.errors.values()))) from None
        print("No band connected, so there is no night to summarise.")
        return 1
    journal = read_journal(out)
    result.start_unix_ns = journal.start_unix_ns
    result.source = {"path": str(out), "format": "nightcramp-journal", "complete": journal.complete}
    doc = night_json(result)
    if args.json:
        write_night_json(result, args.json)
    if args.report:
        write_report(doc, args.report)
    print()
    print(format_summary(doc))
    return 0


async def _watch_window(feed: Any, source: Any, session: NightSession, writer: JournalWriter, post: Any) -> None:
    """Between packets: the window's markers into the recording, its closing into a stop, and status for it."""
    import queue

    while True:
        if feed.stop.is_set():
            source.stop()
            return
        while True:  # the window's "cramp now" presses
            try:
                label = feed.markers.get_nowait()
            except queue.Empty:
                break
            marker = JournalEvent(source.now_ns(), "marker", None, {"label": label})
            writer.write_marker(marker.t_ns, label)
            session.add(marker)
        if session.detector is not None:
            post("status", session.detector.live_status())
        bands = {}
        for device, st in source.status.items():
            doc = st.to_json()
            doc["leg"] = next((b.leg for b in source.bands if b.device == device), None)
            doc["malformed"] = session.link_malformed(device)
            doc["rate_hz"] = session.samples_per_s(device)
            bands[device] = doc
        post("bands", bands)
        await asyncio.sleep(0.25)


LOW_BATTERY_PCT = 20  #: a band at or below this charge may not last the night


def _say(e: JournalEvent, names: Mapping[int, str], start: str | None) -> None:
    who = f"{names.get(e.device, e.device)} band" if e.device is not None else "bands"
    f = e.fields
    text = {
        "connected": f"{who} connected ({f.get('name') or f.get('address')})",
        "stream_started": f"{who} streaming",
        "disconnected": f"{who} disconnected ({f.get('reason')})",
        "reconnecting": f"{who}: reconnecting in {f.get('delay_s')} s",
        "connect_failed": f"{who}: connection failed ({f.get('error')})",
        "silent": f"{who} sent nothing for {f.get('watchdog_s')} s; reconnecting",
        "gave_up": f"{who}: {f.get('error')}",
        "battery": f"{who} battery {f.get('percent')} %"
        + (" (low: charge it before the night)" if (f.get("percent") or 100) <= LOW_BATTERY_PCT else ""),
    }.get(e.kind, f"{who}: {e.kind}")
    print(f"{clock(e.t_ns / 1e9, start)}  {text}", flush=True)
