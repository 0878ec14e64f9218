"""A BlueZ look-alike on a private D-Bus system bus, so that the real bleak library can be tested without
Bluetooth hardware.

- :func:`private_system_bus` starts ``dbus-daemon`` with a permissive system-bus configuration in a
  temporary directory and returns its address (tests point ``DBUS_SYSTEM_BUS_ADDRESS`` at it);
- :class:`FakeBlueZ` owns ``org.bluez`` on that bus, in the test's event loop: an adapter ``hci0`` and fake
  bands added with :meth:`FakeBlueZ.add_device`. bleak's unmodified BlueZ backend scans, connects, discovers
  services, subscribes, reads and writes through it.

What a test can do with a :class:`FakeDevice`: send notifications (:meth:`FakeDevice.notify`), see every
write (:attr:`FakeDevice.writes`), answer writes (:attr:`FakeDevice.on_write`), drop the link from the band's
side (:meth:`FakeDevice.drop`), make the next connection attempts fail (:attr:`FakeDevice.fail_connects`; not with
``le-connection-abort-by-local``, which bleak retries itself after BlueZ's link-layer connect and disconnect),
or simply stop notifying (a silent link).

BlueZ's habits reproduced, because bleak relies on them: the device keeps advertising (RSSI changes every
100 ms while discovering); ``Connect`` sets ``Connected``, exports the GATT objects, then sets
``ServicesResolved``; a disconnect clears both and removes the GATT objects; object paths are
``/org/bluez/hci0/dev_XX_XX_XX_XX_XX_XX/serviceXXXX/charYYYY``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dbus_fast import BusType, DBusError, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_property, method

ADAPTER_PATH = "/org/bluez/hci0"
_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow send_destination="*"/>
  </policy>
</busconfig>
"""


@contextlib.contextmanager
def private_system_bus() -> Iterator[str]:
    """Run a private ``dbus-daemon`` for the duration; yields its address."""
    daemon = shutil.which("dbus-daemon")
    if daemon is None:
        raise RuntimeError("dbus-daemon is not installed (Debian package dbus-daemon); the BLE tests need it")
    with tempfile.TemporaryDirectory(prefix="nc-dbus-") as d:
        config = Path(d) / "system.conf"
        config.write_text(_CONFIG.format(socket=Path(d) / "bus"))
        proc = subprocess.Popen(
            [daemon, f"--config-file={config}", "--nofork", "--nopidfile", "--print-address=1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert proc.stdout is not None
            address = proc.stdout.readline().strip()
            if not address:
                raise RuntimeError("dbus-daemon did not start")
            yield address
        finally:
            proc.terminate()
            proc.wait(timeout=5)
            if proc.stdout is not None:
                proc.stdout.close()


def _dev_path(address: str) -> str:
    return f"{ADAPTER_PATH}/dev_{address.upper().replace(':', '_')}"


# -- D-Bus objects ---------------------------------------------------------------------------------
class _Adapter(ServiceInterface):
    def __init__(self, bluez: FakeBlueZ) -> None:
        super().__init__("org.bluez.Adapter1")
        self.bluez = bluez
        self.discovering = False

    @method()
    def StartDiscovery(self):
        self.discovering = True
        self.emit_properties_changed({"Discovering": True})
        self.bluez._start_advertising()

    @method()
    def StopDiscovery(self):
        self.discovering = False
        self.emit_properties_changed({"Discovering": False})

    @method()
    def SetDiscoveryFilter(self, properties: "a{sv}"):
        return None

    @method()
    def RemoveDevice(self, device: "o"):
        return None

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> "s":
        return "00:00:5E:00:53:00"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> "s":
        return "nightcramp-test"

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> "s":
        return "nightcramp-test"

    @dbus_property(access=PropertyAccess.READ)
    def Powered(self) -> "b":
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Discovering(self) -> "b":
        return self.discovering

    @dbus_property(access=PropertyAccess.READ)
    def Roles(self) -> "as":
        return ["central", "peripheral"]


class _Device(ServiceInterface):
    def __init__(self, fake: FakeDevice) -> None:
        super().__init__("org.bluez.Device1")
        self.fake = fake
        self.connected = False
        self.resolved = False
        self.rssi = -60

    @method()
    async def Connect(self):
        await self.fake._connect()

    @method()
    async def Disconnect(self):
        await self.fake._disconnect("host")

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> "s":
        return self.fake.address

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> "s":
        return "random"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> "s":
        return self.fake.name

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> "s":
        return self.fake.name

    @dbus_property(access=PropertyAccess.READ)
    def Adapter(self) -> "o":
        return ADAPTER_PATH

    @dbus_property(access=PropertyAccess.READ)
    def Paired(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Bonded(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Trusted(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Blocked(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def LegacyPairing(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Connected(self) -> "b":
        return self.connected

    @dbus_property(access=PropertyAccess.READ)
    def ServicesResolved(self) -> "b":
        return self.resolved

    @dbus_property(access=PropertyAccess.READ)
    def RSSI(self) -> "n":
        return self.rssi

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> "as":
        return list(self.fake.service_uuids)

    @dbus_property(access=PropertyAccess.READ)
    def ManufacturerData(self) -> "a{qv}":
        return {k: Variant("ay", v) for k, v in self.fake.manufacturer_data.items()}

    @dbus_property(access=PropertyAccess.READ)
    def ServiceData(self) -> "a{sv}":
        return {}


class _Service(ServiceInterface):
    def __init__(self, uuid: str, device_path: str, handle: int) -> None:
        super().__init__("org.bluez.GattService1")
        self.uuid, self.device_path, self.handle = uuid, device_path, handle

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Device(self) -> "o":
        return self.device_path

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> "b":
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Includes(self) -> "ao":
        return []

    @dbus_property(access=PropertyAccess.READ)
    def Handle(self) -> "q":
        return self.handle


class _Characteristic(ServiceInterface):
    def __init__(self, fake: FakeDevice, uuid: str, service_path: str, flags: list[str], handle: int) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self.fake, self.uuid, self.service_path, self.flags, self.handle = fake, uuid, service_path, flags, handle
        self.value = b""
        self.notifying = False

    @method()
    def ReadValue(self, options: "a{sv}") -> "ay":
        # a read asks the device: what it holds now (a test may change it while connected)
        return self.fake.values.get(self.uuid, self.value)

    @method()
    async def WriteValue(self, value: "ay", options: "a{sv}"):
        kind = options.get("type")
        with_response = not (kind is not None and kind.value == "command")
        await self.fake._written(self.uuid, bytes(value), with_response)

    @method()
    def StartNotify(self):
        self.notifying = True
        self.emit_properties_changed({"Notifying": True})

    @method()
    def StopNotify(self):
        self.notifying = False
        self.emit_properties_changed({"Notifying": False})

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return self.uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> "o":
        return self.service_path

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> "ay":
        return self.value

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> "b":
        return self.notifying

    @dbus_property(access=PropertyAccess.READ)
    def NotifyAcquired(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> "as":
        return self.flags

    @dbus_property(access=PropertyAccess.READ)
    def MTU(self) -> "q":
        return 247

    @dbus_property(access=PropertyAccess.READ)
    def Handle(self) -> "q":
        return self.handle


# -- the test-facing API ---------------------------------------------------------------------------
WriteHandler = Callable[["FakeDevice", str, bytes], Awaitable[None] | None]


@dataclass
class FakeDevice:
    """A band: its advertisement, its GATT table ``{service: {characteristic: flags}}`` and its behaviour."""

    bluez: FakeBlueZ
    address: str
    name: str
    services: dict[str, dict[str, list[str]]]
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    writes: list[tuple[str, bytes, bool]] = field(default_factory=list)  #: (characteristic, bytes, with response)
    notified: list[tuple[str, bytes]] = field(default_factory=list)  #: (characteristic, bytes) sent, in order
    values: dict[str, bytes] = field(default_factory=dict)  #: what readable characteristics hold
    on_write: WriteHandler | None = None
    fail_connects: int = 0  #: the next connection attempts fail ...
    fail_message: str = "Software caused connection abort"  #: ... with this org.bluez.Error.Failed message
    connects: int = 0
    _obj: _Device | None = None
    _chars: dict[str, _Characteristic] = field(default_factory=dict)
    _gatt_paths: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return _dev_path(self.address)

    @property
    def service_uuids(self) -> list[str]:
        return list(self.services)

    @property
    def connected(self) -> bool:
        return self._obj is not None and self._obj.connected

    def notifying(self, char_uuid: str) -> bool:
        ch = self._chars.get(char_uuid.lower())
        return ch is not None and ch.notifying

    async def notify(self, char_uuid: str, payload: bytes) -> bool:
        """Send one notification; False (nothing sent) when not connected or not subscribed.

        It yields to the event loop after sending, as a band's radio paces its notifications: the bus's
        socket buffer never fills.
        """
        ch = self._chars.get(char_uuid.lower())
        if ch is None or not ch.notifying or not self.connected:
            return False
        ch.value = bytes(payload)
        ch.emit_properties_changed({"Value": ch.value})
        self.notified.append((ch.uuid, ch.value))
        await asyncio.sleep(0.0005)
        return True

    async def drop(self) -> None:
        """The band goes out of range: the link is lost without the host asking."""
        await self._disconnect("device")

    # -- called from D-Bus ---------------------------------------------------------------------------
    async def _connect(self) -> None:
        assert self._obj is not None
        if self.fail_connects > 0:
            self.fail_connects -= 1
            await asyncio.sleep(0.05)
            raise DBusError("org.bluez.Error.Failed", self.fail_message)
        if self._obj.connected:
            return
        self.connects += 1
        self._obj.connected = True
        self._obj.emit_properties_changed({"Connected": True})
        bus = self.bluez.bus
        handle = 0x10
        for s_uuid, chars in self.services.items():
            s_path = f"{self.path}/service{handle:04x}"
            bus.export(s_path, _Service(s_uuid, self.path, handle))
            self._gatt_paths.append(s_path)
            handle += 1
            for c_uuid, flags in chars.items():
                c_path = f"{s_path}/char{handle:04x}"
                ch = _Characteristic(self, c_uuid.lower(), s_path, flags, handle)
                ch.value = self.values.get(c_uuid.lower(), b"")
                self._chars[c_uuid.lower()] = ch
                bus.export(c_path, ch)
                self._gatt_paths.append(c_path)
                handle += 2
        await asyncio.sleep(0.01)
        self._obj.resolved = True
        self._obj.emit_properties_changed({"ServicesResolved": True})

    async def _disconnect(self, by: str) -> None:
        obj = self._obj
        if obj is None or not obj.connected:
            return
        obj.resolved = False
        obj.emit_properties_changed({"ServicesResolved": False})
        for ch in self._chars.values():
            ch.notifying = False
        for p in reversed(self._gatt_paths):
            self.bluez.bus.unexport(p)
        self._gatt_paths.clear()
        self._chars.clear()
        obj.connected = False
        obj.emit_properties_changed({"Connected": False})

    async def _written(self, char_uuid: str, value: bytes, with_response: bool) -> None:
        self.writes.append((char_uuid, value, with_response))
        if self.on_write is not None:
            result = self.on_write(self, char_uuid, value)
            if result is not None:
                await result


class FakeBlueZ:
    """``org.bluez`` on the bus at ``address``; use ``async with FakeBlueZ(address) as bluez``."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.devices: dict[str, FakeDevice] = {}
        self._bus: MessageBus | None = None
        self._adapter: _Adapter | None = None
        self._adverts: asyncio.Task[None] | None = None

    @property
    def bus(self) -> MessageBus:
        assert self._bus is not None, "FakeBlueZ is not running"
        return self._bus

    async def __aenter__(self) -> FakeBlueZ:
        self._bus = await MessageBus(bus_address=self.address, bus_type=BusType.SYSTEM).connect()
        self._adapter = _Adapter(self)
        self._bus.export(ADAPTER_PATH, self._adapter)
        await self._bus.request_name("org.bluez")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await _close_bleak_manager()
        if self._adverts is not None:
            self._adverts.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._adverts
        if self._bus is not None:
            self._bus.disconnect()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._bus.wait_for_disconnect(), 2)

    def add_device(
        self,
        address: str,
        name: str,
        services: dict[str, dict[str, list[str]]],
        *,
        manufacturer_data: dict[int, bytes] | None = None,
    ) -> FakeDevice:
        dev = FakeDevice(self, address.upper(), name, {k.lower(): v for k, v in services.items()})
        dev.manufacturer_data = dict(manufacturer_data or {})
        dev._obj = _Device(dev)
        self.devices[dev.address] = dev
        self.bus.export(dev.path, dev._obj)
        return dev

    def _start_advertising(self) -> None:
        if self._adverts is None or self._adverts.done():
            self._adverts = asyncio.get_running_loop().create_task(self._advertise())

    async def _advertise(self) -> None:
        # bleak subscribes after StartDiscovery returns: keep announcing, as a real band keeps advertising
        while self._adapter is not None and self._adapter.discovering:
            for dev in self.devices.values():
                if dev._obj is not None and not dev._obj.connected:
                    dev._obj.rssi = -60 - (dev._obj.rssi + 61) % 5  # a slowly changing RSSI
                    dev._obj.emit_properties_changed({"RSSI": dev._obj.rssi})
            await asyncio.sleep(0.1)


async def _close_bleak_manager() -> None:
    """Disconnect bleak's per-event-loop BlueZ manager while the loop still runs (as bleak would itself on the
    next loop), so that no socket of this test is left to a closed loop."""
    from bleak.backends.bluezdbus import manager

    inst = manager._global_instances.pop(asyncio.get_running_loop(), None)
    bus = getattr(inst, "_bus", None)
    if bus is not None:
        bus.disconnect()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(bus.wait_for_disconnect(), 2)
    watcher = getattr(inst, "_bus_watcher_task", None)
    if watcher is not None:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(watcher, 2)


@contextlib.asynccontextmanager
async def running_bluez(address: str) -> AsyncIterator[FakeBlueZ]:
    async with FakeBlueZ(address) as bluez:
        yield bluez


def environment_with_bus(address: str) -> dict[str, str]:
    return {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": address}


class StreamingBand:
    """A fake band that streams ``payloads`` on ``char_uuid`` while started (``start`` / ``stop`` written to
    ``command_uuid``), ``interval_s`` apart; ``sent`` holds what actually went out, in order."""

    def __init__(
        self,
        device: FakeDevice,
        *,
        char_uuid: str,
        command_uuid: str,
        payloads: list[bytes],
        start: bytes,
        stop: bytes,
        interval_s: float = 0.002,
    ) -> None:
        self.device, self.char_uuid, self.command_uuid = device, char_uuid.lower(), command_uuid.lower()
        self.payloads, self.start, self.stop, self.interval_s = payloads, start, stop, interval_s
        self.next = 0
        self.paused = False  #: stay connected but send nothing (a silent link)
        self._task: asyncio.Task[None] | None = None
        device.on_write = self._on_write

    @property
    def sent(self) -> list[bytes]:
        """What went out over the link (a notification is sent or not at all), in order."""
        return [p for c, p in self.device.notified if c == self.char_uuid]

    @property
    def done(self) -> bool:
        return self.next >= len(self.payloads)

    async def _on_write(self, device: FakeDevice, char_uuid: str, value: bytes) -> None:
        if char_uuid != self.command_uuid:
            return
        if value == self.start and (self._task is None or self._task.done()):
            self._task = asyncio.get_running_loop().create_task(self._stream())
        elif value == self.stop and self._task is not None:
            self._task.cancel()

    async def _stream(self) -> None:
        # the band samples from its start command on, whether or not the link is up to carry the frames
        while self.next < len(self.payloads):
            if self.paused:
                await asyncio.sleep(0.01)
                continue
            payload = self.payloads[self.next]
            self.next += 1  # the band samples on whether or not the link carries it
            await self.device.notify(self.char_uuid, payload)
            await asyncio.sleep(self.interval_s)
