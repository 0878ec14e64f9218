"""Live bands over Bluetooth LE (bleak), all night: one supervisor task per band, one queue of items out.

Each band gets a supervisor that loops until the source is stopped:

1. find the band by address or by (part of) its advertised name, scanning for ``scan_timeout_s``;
2. connect, subscribe to the profile's data characteristic (and its control characteristic, if any), and
   write the profile's start commands: subscriptions and start commands never survive a reconnect, so
   they are sent again every time;
3. watch: a ``disconnected_callback`` or a link that stays silent for ``watchdog_s`` (no notification at
   all) ends the connection;
4. wait with exponential backoff (``backoff_s`` doubling to ``backoff_max_s``, back to the start after a
   connection that delivered data) and go to 1. BlueZ may forget a device after a drop, so every attempt
   scans again.

The notification callback only stamps the host receive time and enqueues the payload: decoding, the
journal and the detector all run elsewhere, so a slow consumer never stalls the link and nothing that
arrived is lost (the queue is unbounded; :attr:`BandStatus.backlog` shows how far behind the consumer is).
Every connection change is an item too (``connected``, ``disconnected`` with the reason, ``reconnecting``
with the delay, ``stream_started``, ``silent``, ``connect_failed``), so the journal records each gap with
its cause. :meth:`BleSource.stop` sends each band its stop commands, unsubscribes and disconnects.

Where a band has the standard Battery Service (Battery Level, 0x2A19), its charge is read at each connect
and followed by notifications where the band offers them, or read again every ``battery_every_s``; every
change is a ``battery`` item (``percent``) and shows in :attr:`BandStatus.battery_pct`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from bleak import BleakClient, BleakScanner
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from firmware_bridge.journal import DeviceInfo, JournalEvent
from firmware_bridge.profiles import PROFILES, DeviceProfile, get_profile
from firmware_bridge.sources.base import Item, Packet

BATTERY_LEVEL_UUID = "00002a19-0000-1000-8000-00805f9b34fb"  #: Battery Service's Battery Level (uint8, %)
_ADDRESS = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$|^[0-9A-Fa-f-]{36}$")  # MAC, or a macOS UUID


@dataclass(frozen=True, slots=True)
class BandRequest:
    """One band to record: where to find it and what it is.

    ``target`` is a Bluetooth address or (part of) the advertised name, case-insensitive. ``profile`` names
    the device profile; None takes the first profile whose ``matches`` accepts the advertisement.
    ``settings`` override the profile's defaults.
    """

    device: int
    target: str
    leg: str | None = None
    profile: str | None = None
    settings: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    """Timing of the supervisors, in seconds."""

    scan_timeout_s: float = 10.0
    connect_timeout_s: float = 20.0
    watchdog_s: float = 5.0  #: a connected band that sends nothing this long is reconnected
    backoff_s: float = 1.0
    backoff_max_s: float = 30.0
    stop_timeout_s: float = 3.0  #: time allowed for stop commands and disconnecting at the end
    battery_every_s: float = 600.0  #: how often a battery level without notifications is read again


@dataclass
class BandStatus:
    """What the live view and the end-of-night statistics show per band."""

    device: int
    target: str
    state: str = "searching"  #: searching / connecting / streaming / reconnecting / stopped
    name: str | None = None
    address: str | None = None
    profile: str | None = None
    packets: int = 0
    bytes: int = 0
    connects: int = 0
    drops: int = 0
    silent: int = 0
    failed_attempts: int = 0
    last_rx_ns: int | None = None
    backlog: int = 0  #: packets received but not yet taken by the consumer
    battery_pct: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "target": self.target,
            "state": self.state,
            "name": self.name,
            "address": self.address,
            "profile": self.profile,
            "packets": self.packets,
            "bytes": self.bytes,
            "connects": self.connects,
            "drops": self.drops,
            "silent": self.silent,
            "failed_attempts": self.failed_attempts,
            "battery_pct": self.battery_pct,
        }


class BandUnusable(Exception):
    """A band that can never be recorded as asked (no profile decodes it): its supervisor stops."""


def is_address(target: str) -> bool:
    """Whether ``target`` is a Bluetooth address (else it is a name)."""
    return bool(_ADDRESS.match(target))


def match_profile(name: str | None, service_uuids: Sequence[str]) -> DeviceProfile | None:
    """The first registered profile that recognises this advertisement."""
    for profile in PROFILES.values():
        if profile.matches(name, [u.lower() for u in service_uuids]):
            return profile
    return None


@dataclass(frozen=True, slots=True)
class Found:
    """A band seen while scanning."""

    address: str
    name: str | None
    rssi: int | None
    profile: str | None
    service_uuids: tuple[str, ...]


async def scan(timeout_s: float = 5.0, *, all_devices: bool = False) -> list[Found]:
    """Advertising devices, strongest first; only those a profile recognises unless ``all_devices``."""
    seen = await BleakScanner.discover(timeout=timeout_s, return_adv=True)
    out = []
    for device, adv in seen.values():
        name = adv.local_name or device.name
        profile = match_profile(name, adv.service_uuids)
        if profile is None and not all_devices:
            continue
        out.append(Found(device.address, name, adv.rssi, profile.name if profile else None, tuple(adv.service_uuids)))
    out.sort(key=lambda f: -(f.rssi if f.rssi is not None else -999))
    return out


class Inbox:
    """The notification callback of one band: stamp the host time, count, enqueue. Nothing else runs in it.

    While :meth:`hold` is in force (the band's settings are still being negotiated) packets wait in a list;
    :meth:`release` enqueues them, in order, and lets later ones straight through.
    """

    __slots__ = ("_clock", "_held", "_queue", "_status", "_t0", "device")

    def __init__(
        self, queue: asyncio.Queue[Any], device: int, status: BandStatus, clock: Callable[[], int], t0: int
    ) -> None:
        self._queue, self.device, self._status, self._clock, self._t0 = queue, device, status, clock, t0
        self._held: list[Packet] | None = None

    def hold(self) -> None:
        self._held = []

    def release(self) -> None:
        held, self._held = self._held or [], None
        for packet in held:
            self._queue.put_nowait(packet)

    def __call__(self, _char: Any, data: bytearray) -> None:
        t = self._clock() - self._t0
        st = self._status
        st.packets += 1
        st.bytes += len(data)
        st.last_rx_ns = t
        st.backlog += 1
        packet = Packet(self.device, t, bytes(data))
        if self._held is None:
            self._queue.put_nowait(packet)
        else:
            self._held.append(packet)


class BleSource:
    """Record bands live; an async context manager whose :meth:`items` yields in arrival order.

    ``clock_ns`` (monotonic, ns) can be replaced in tests. Item times are ns since the source was entered.
    """

    def __init__(
        self,
        bands: Sequence[BandRequest],
        config: BridgeConfig | None = None,
        *,
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        if not bands:
            raise ValueError("no band to record")
        ids = [b.device for b in bands]
        if len(set(ids)) != len(ids):
            raise ValueError(f"band ids must be unique, got {ids}")
        for b in bands:
            if b.profile is not None:
                get_profile(b.profile)  # KeyError naming the known profiles
        self.bands = list(bands)
        self.config = config or BridgeConfig()
        self._clock = clock_ns
        self._t0 = clock_ns()
        self._start_unix_ns = time.time_ns()
        self._queue: asyncio.Queue[Item | None] = asyncio.Queue()
        self._stopping = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.status = {b.device: BandStatus(b.device, b.target) for b in bands}
        self.errors: dict[int, str] = {}  #: bands given up on, with the reason
        self._infos: dict[int, DeviceInfo] = {}

    # -- Source ----------------------------------------------------------------------------------
    @property
    def start_unix_ns(self) -> int | None:
        return self._start_unix_ns

    @property
    def start_monotonic_ns(self) -> int:
        return self._t0

    @property
    def meta(self) -> Mapping[str, Any]:
        return {"live": True, "bands": [{"target": b.target, "leg": b.leg, "profile": b.profile} for b in self.bands]}

    async def __aenter__(self) -> Self:
        self._t0 = self._clock()
        self._start_unix_ns = time.time_ns()
        self._tasks = [asyncio.create_task(self._supervise(b), name=f"band {b.device}") for b in self.bands]
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
        await self._join()

    def stop(self) -> None:
        """Ask every band to stop; :meth:`items` ends once they have disconnected and the queue is empty."""
        self._stopping.set()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def items(self) -> AsyncIterator[Item]:
        joiner = asyncio.create_task(self._join())
        try:
            while True:
                item = await self._queue.get()
                if item is None:
                    return
                if isinstance(item, Packet):
                    self.status[item.device].backlog -= 1
                yield item
        finally:
            if not joiner.done():
                self.stop()
                await joiner

    async def _join(self) -> None:
        tasks = [t for t in self._tasks if not t.done()]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._tasks:
            self._tasks = []
            self._queue.put_nowait(None)

    # -- one band --------------------------------------------------------------------------------
    def now_ns(self) -> int:
        return self._clock() - self._t0

    def _event(self, kind: str, device: int | None, **fields: Any) -> None:
        self._queue.put_nowait(JournalEvent(self.now_ns(), kind, device, fields))

    async def _sleep_unless_stopped(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    async def _supervise(self, band: BandRequest) -> None:
        cfg = self.config
        st = self.status[band.device]
        delay = cfg.backoff_s
        while not self.stopping:
            delivered = False
            try:
                delivered = await self._session(band)
            except BandUnusable as exc:
                st.state = "unusable"
                self.errors[band.device] = str(exc)
                self._event("gave_up", band.device, error=str(exc))
                return
            except Exception as exc:  # a backend error of any type must not end the night
                st.failed_attempts += 1
                self._event("connect_failed", band.device, error=_describe(exc))
            if self.stopping:
                break
            if delivered:
                delay = cfg.backoff_s
            st.state = "reconnecting"
            self._event("reconnecting", band.device, delay_s=round(delay, 3))
            await self._sleep_unless_stopped(delay)
            delay = min(delay * 2.0, cfg.backoff_max_s)
        st.state = "stopped"

    async def _find(self, band: BandRequest) -> tuple[BLEDevice, AdvertisementData | None] | None:
        target = band.target.lower()
        by_address = is_address(band.target)
        found: list[AdvertisementData] = []

        def wanted(device: BLEDevice, adv: AdvertisementData) -> bool:
            if by_address:
                ok = device.address.lower() == target
            else:
                name = (adv.local_name or device.name or "").lower()
                ok = bool(name) and target in name
            if ok:
                found.append(adv)
            return ok

        device = await BleakScanner.find_device_by_filter(wanted, timeout=self.config.scan_timeout_s)
        if device is None:
            return None
        return device, (found[-1] if found else None)

    def _profile_for(self, band: BandRequest, name: str | None, adv: AdvertisementData | None) -> DeviceProfile:
        if band.profile is not None:
            return get_profile(band.profile)
        profile = match_profile(name, adv.service_uuids if adv else [])
        if profile is None:
            known = ", ".join(sorted(PROFILES))
            raise BandUnusable(
                f"no band profile recognises {name or band.target!r} ({device_address(band, adv)}); "
                f"if it is one of {known}, give it with --profile"
            )
        return profile

    async def _session(self, band: BandRequest) -> bool:
        """One connection, from scanning to its end; True when it delivered data."""
        cfg = self.config
        st = self.status[band.device]
        st.state = "searching"
        hit = await self._find(band)
        if hit is None:
            raise BleakError(f"{band.target} was not found within {cfg.scan_timeout_s:g} s")
        device, adv = hit
        name = (adv.local_name if adv else None) or device.name
        profile = self._profile_for(band, name, adv)
        settings = {**profile.default_settings(), **dict(band.settings or {})}
        st.name, st.address, st.profile, st.state = name, device.address, profile.name, "connecting"
        gone = asyncio.Event()
        reason: list[str] = []
        packets_before = st.packets

        def on_disconnect(_client: BleakClient) -> None:
            gone.set()

        inbox = Inbox(self._queue, band.device, st, self._clock, self._t0)
        inbox.hold()  # packets that beat the band's settings wait until those are known

        client = BleakClient(device, disconnected_callback=on_disconnect, timeout=cfg.connect_timeout_s)
        await client.connect()
        try:
            st.connects += 1
            self._event("connected", band.device, address=device.address, name=name, attempt=st.connects)
            settings = await self._start(client, profile, settings, inbox)
            info = DeviceInfo(band.device, profile.name, profile.version, band.leg, name, device.address, settings)
            if self._infos.get(band.device) != info:  # what was negotiated, before the first packet
                self._infos[band.device] = info
                self._queue.put_nowait(info)
            inbox.release()
            st.state = "streaming"
            st.last_rx_ns = self.now_ns()
            self._event("stream_started", band.device)
            battery = await self._battery_start(client, band.device)
            battery_read_ns = self.now_ns()
            waiters = [asyncio.ensure_future(self._stopping.wait()), asyncio.ensure_future(gone.wait())]
            try:
                while not self.stopping and not gone.is_set():
                    await asyncio.wait(waiters, timeout=min(1.0, cfg.watchdog_s / 2), return_when="FIRST_COMPLETED")
                    last = st.last_rx_ns if st.last_rx_ns is not None else 0
                    if battery == "read" and self.now_ns() - battery_read_ns > cfg.battery_every_s * 1e9:
                        battery_read_ns = self.now_ns()
                        await self._battery_read(client, band.device)
                    if not gone.is_set() and not self.stopping and self.now_ns() - last > cfg.watchdog_s * 1e9:
                        st.silent += 1
                        reason.append(f"no data for {cfg.watchdog_s:g} s")
                        self._event("silent", band.device, watchdog_s=cfg.watchdog_s)
                        break
            finally:
                for w in waiters:
                    w.cancel()
            if gone.is_set():
                reason.append("link lost")
            elif self.stopping:
                reason.append("stopped")
                await self._stop_band(client, profile, settings)
        finally:
            with contextlib.suppress(Exception):  # also after a drop: releases the client's own bus connection
                await asyncio.wait_for(client.disconnect(), timeout=cfg.stop_timeout_s)
            if not self.stopping:
                st.drops += 1
            self._event("disconnected", band.device, reason=reason[0] if reason else "error")
        return st.packets > packets_before

    def _battery_level(self, device: int, data: bytes | bytearray) -> None:
        """A Battery Level value: journalled when it changes."""
        if not data or data[0] > 100:
            return  # 0-100 %; anything else is not a charge
        st = self.status[device]
        if data[0] != st.battery_pct:
            st.battery_pct = int(data[0])
            self._event("battery", device, percent=st.battery_pct)

    async def _battery_read(self, client: BleakClient, device: int) -> None:
        with contextlib.suppress(BleakError, TimeoutError, OSError, EOFError):
            async with asyncio.timeout(self.config.connect_timeout_s):
                self._battery_level(device, await client.read_gatt_char(BATTERY_LEVEL_UUID))

    async def _battery_start(self, client: BleakClient, device: int) -> str | None:
        """Read the band's charge and follow it: "notify", "read" (poll it), or None (no battery level)."""
        char = client.services.get_characteristic(BATTERY_LEVEL_UUID)
        if char is None:
            return None
        if "read" in char.properties:
            await self._battery_read(client, device)
        if "notify" in char.properties:
            with contextlib.suppress(BleakError, TimeoutError, OSError, EOFError):
                await client.start_notify(char, lambda _c, data: self._battery_level(device, data))
                return "notify"
        return "read" if "read" in char.properties else None

    async def _start(
        self,
        client: BleakClient,
        profile: DeviceProfile,
        settings: dict[str, Any],
        on_data: Callable[[BleakGATTCharacteristic, bytearray], None],
    ) -> dict[str, Any]:
        """Subscribe and start streaming; returns the settings in force.

        A profile with a control characteristic (Polar PMD) gets its indications subscribed first, then
        negotiates through it: each request is written with response and answered by the next indication.
        """
        identify = getattr(profile, "identify", None)
        if identify is not None:  # settings the band reports about itself (e.g. its firmware)
            settings = await identify(lambda uuid: client.read_gatt_char(uuid), settings)
        control = getattr(profile, "control_uuid", None)
        negotiate = getattr(profile, "negotiate", None)
        if control is None or negotiate is None:
            await client.start_notify(profile.notify_uuid, on_data)
            for uuid, payload in profile.start_commands(settings):
                await client.write_gatt_char(uuid, payload, response=True)
            return settings
        answers: asyncio.Queue[bytes] = asyncio.Queue()
        await client.start_notify(control, lambda _c, data: answers.put_nowait(bytes(data)))
        await client.start_notify(profile.notify_uuid, on_data)
        parse = getattr(profile, "parse_control", None)

        async def request(payload: bytes) -> Any:
            await client.write_gatt_char(control, payload, response=True)
            while True:
                reply = await asyncio.wait_for(answers.get(), timeout=self.config.connect_timeout_s)
                parsed = parse(reply) if parse else reply
                if getattr(parsed, "op", None) == payload[0] or parse is None:
                    return parsed

        out: dict[str, Any] = await negotiate(request, settings)
        return out

    async def _stop_band(self, client: BleakClient, profile: DeviceProfile, settings: Mapping[str, Any]) -> None:
        commands = profile.stop_commands(settings)
        try:
            async with asyncio.timeout(self.config.stop_timeout_s):
                for uuid, payload in commands:
                    await client.write_gatt_char(uuid, payload, response=True)
                await client.stop_notify(profile.notify_uuid)
        except (BleakError, TimeoutError, OSError, EOFError):
            pass  # the band is going away anyway; the journal already has everything that arrived


def device_address(band: BandRequest, adv: AdvertisementData | None) -> str:
    return "advertising " + (", ".join(adv.service_uuids) or "no service") if adv else band.target


def explain(exc: BaseException) -> str:
    """A readable reason for a failed scan or connection."""
    text = " ".join(str(exc).split())
    if isinstance(exc, FileNotFoundError | ConnectionRefusedError):
        return "the system D-Bus is not running, so Bluetooth (BlueZ) cannot be reached"
    if "ServiceUnknown" in text or "org.bluez was not provided" in text:
        return "BlueZ (bluetoothd) is not running"
    if "No powered Bluetooth adapters" in text or ("adapter" in text.lower() and "not found" in text.lower()):
        return "no Bluetooth adapter is available or it is switched off"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


_describe = explain
