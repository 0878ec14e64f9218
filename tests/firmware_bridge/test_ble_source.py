"""The BLE source through the real bleak and the BlueZ double: scan and match, the exact start bytes, two
bands at once, a drop and reconnection with nothing lost that arrived, the silent-link watchdog, a failed
connection retried, Polar negotiation on the control point, and a clean stop."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import struct

import numpy as np

from firmware_bridge.journal import DeviceInfo, JournalEvent
from firmware_bridge.profiles import polar
from firmware_bridge.profiles.nus_emg import NUS_RX, NUS_SERVICE, NUS_TX, PROFILE, encode_frames
from firmware_bridge.sources import Packet
from firmware_bridge.sources.ble import BandRequest, BleSource, BridgeConfig, scan

from ..bluez_double import FakeBlueZ, FakeDevice, StreamingBand

NUS = {NUS_SERVICE: {NUS_TX: ["notify"], NUS_RX: ["write", "write-without-response"]}}
FAST = BridgeConfig(scan_timeout_s=5.0, connect_timeout_s=5.0, watchdog_s=0.6, backoff_s=0.1, backoff_max_s=0.4)


def emg_frames(n_frames: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    counts = rng.integers(-2000, 2000, (1, 10 * n_frames))
    return encode_frames("emg", counts, frame_samples=10, t0_us=1e6, fs_hz=1000.0)


def nus_band(bluez: FakeBlueZ, address: str, name: str, n_frames: int, seed: int) -> StreamingBand:
    dev = bluez.add_device(address, name, NUS)
    return StreamingBand(
        dev, char_uuid=NUS_TX, command_uuid=NUS_RX, payloads=emg_frames(n_frames, seed), start=b"b", stop=b"s"
    )


async def collect(source: BleSource, until, timeout_s: float = 20.0) -> list:
    """Items until ``until(items)`` is true, then stop the source and take the rest."""
    items: list = []

    async def run() -> None:
        async for item in source.items():
            items.append(item)
            if until(items) and not source.stopping:
                source.stop()

    await asyncio.wait_for(run(), timeout_s)
    return items


async def wait_until(cond, timeout_s: float = 15.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not cond():  # noqa: ASYNC110 - polls the fake band's state
            await asyncio.sleep(0.01)


def packets(items: list, device: int) -> list[bytes]:
    return [i.payload for i in items if isinstance(i, Packet) and i.device == device]


def events(items: list, device: int) -> list[str]:
    return [i.kind for i in items if isinstance(i, JournalEvent) and i.device == device]


async def test_scan_lists_bands_with_their_profile(system_bus: str) -> None:
    async with FakeBlueZ(system_bus) as bluez:
        bluez.add_device("C0:FF:EE:00:00:01", "NightCramp band L", NUS)
        bluez.add_device("A0:9E:1A:00:00:02", "Polar Sense B5A22F29", {polar.PMD_SERVICE: {polar.PMD_DATA: ["notify"]}})
        bluez.add_device("11:22:33:44:55:66", "Kitchen scale", {"0000181d-0000-1000-8000-00805f9b34fb": {}})
        found = await scan(1.5)
        by_name = {f.name: f.profile for f in found}
        assert by_name == {"NightCramp band L": "nus-emg", "Polar Sense B5A22F29": "polar"}
        everything = await scan(1.0, all_devices=True)
        assert "Kitchen scale" in {f.name for f in everything}


async def test_two_bands_stream_at_once_with_the_exact_start_bytes(system_bus: str) -> None:
    async with FakeBlueZ(system_bus) as bluez:
        left = nus_band(bluez, "C0:FF:EE:00:00:01", "NightCramp band L", 300, 1)
        right = nus_band(bluez, "C0:FF:EE:00:00:02", "NightCramp band R", 300, 2)
        bands = [BandRequest(0, "band L", "left"), BandRequest(1, "C0:FF:EE:00:00:02", "right", profile="nus-emg")]
        # the first band to finish its frames waits, silent, for the other: a watchdog shorter than that wait
        # would drop and reconnect it before the stop this test checks
        async with BleSource(bands, dataclasses.replace(FAST, watchdog_s=10.0)) as source:
            items = await collect(source, lambda _: len(packets(_, 0)) == len(packets(_, 1)) == 300)
        infos = [i for i in items if isinstance(i, DeviceInfo)]
        assert {(i.device, i.leg, i.profile, i.address) for i in infos} == {
            (0, "left", "nus-emg", "C0:FF:EE:00:00:01"),
            (1, "right", "nus-emg", "C0:FF:EE:00:00:02"),
        }
        assert packets(items, 0) == left.sent == left.payloads  # every frame, in order
        assert packets(items, 1) == right.sent == right.payloads
        start = [(NUS_RX, c, True) for c, _ in [(b"?", 0), (b"b", 0)]]
        assert left.device.writes[:2] == start and right.device.writes[:2] == start
        assert left.device.writes[-1] == (NUS_RX, b"s", True)  # stopped before disconnecting
        assert events(items, 0)[:2] == ["connected", "stream_started"] and events(items, 0)[-1] == "disconnected"
        times = [i.t_rx_ns for i in items if isinstance(i, Packet)]
        assert times == sorted(times)
        assert not left.device.connected and not right.device.connected


async def test_a_drop_mid_stream_reconnects_resubscribes_and_loses_nothing_that_arrived(system_bus: str) -> None:
    async with FakeBlueZ(system_bus) as bluez:
        band = nus_band(bluez, "C0:FF:EE:00:00:01", "NightCramp band L", 400, 3)
        band.interval_s = 0.004
        async with BleSource([BandRequest(0, "C0:FF:EE:00:00:01", "left")], FAST) as source:

            async def drop_later() -> None:
                await wait_until(lambda: len(band.sent) >= 100)
                await band.device.drop()

            dropper = asyncio.create_task(drop_later())
            items = await collect(source, lambda _: band.done and band.device.connects >= 2)
            await dropper
        assert band.device.connects == 2
        got = packets(items, 0)
        assert got == band.sent  # everything the band got out, nothing else, in order
        assert len(band.sent) < len(band.payloads)  # frames sampled while the link was down never arrived
        kinds = events(items, 0)
        assert kinds[:3] == ["connected", "stream_started", "disconnected"]
        assert kinds[3:6] == ["reconnecting", "connected", "stream_started"]
        lost = next(i for i in items if isinstance(i, JournalEvent) and i.kind == "disconnected")
        assert lost.fields["reason"] == "link lost"
        assert [w[1] for w in band.device.writes].count(b"b") == 2  # the start command sent again
        # the device's frame counter shows exactly where the gap is
        seq = [struct.unpack_from("<H", p, 1)[0] for p in got]
        jumps = [b - a for a, b in itertools.pairwise(seq) if b - a != 1]
        assert jumps == [len(band.payloads) - len(band.sent) + 1]


async def test_a_silent_link_is_caught_by_the_watchdog(system_bus: str) -> None:
    async with FakeBlueZ(system_bus) as bluez:
        band = nus_band(bluez, "C0:FF:EE:00:00:01", "NightCramp band L", 300, 4)
        band.interval_s = 0.004

        async def go_quiet() -> None:
            await wait_until(lambda: len(band.sent) >= 50)
            band.paused = True  # connected, subscribed, and silent
            await wait_until(lambda: band.device.connects >= 2)
            band.paused = False

        async with BleSource([BandRequest(0, "band L", "left")], FAST) as source:
            quiet = asyncio.create_task(go_quiet())
            items = await collect(source, lambda _: band.done and len(packets(_, 0)) == len(band.sent))
            await quiet
        kinds = events(items, 0)
        assert "silent" in kinds and kinds.index("silent") < kinds.index("reconnecting")
        assert packets(items, 0) == band.sent
        assert source.status[0].silent == 1 and source.status[0].connects == 2


async def test_failed_connections_are_retried(system_bus: str) -> None:
    async with FakeBlueZ(system_bus) as bluez:
        band = nus_band(bluez, "C0:FF:EE:00:00:01", "NightCramp band L", 50, 5)
        band.device.fail_connects = 2
        async with BleSource([BandRequest(0, "band L", "left")], FAST) as source:
            items = await collect(source, lambda _: band.done and len(packets(_, 0)) == len(band.sent))
        kinds = events(items, 0)
        assert kinds[:5] == ["connect_failed", "reconnecting", "connect_failed", "reconnecting", "connected"]
        failed = next(i for i in items if isinstance(i, JournalEvent) and i.kind == "connect_failed")
        assert "Software caused connection abort" in failed.fields["error"]
        delays = [i.fields["delay_s"] for i in items if isinstance(i, JournalEvent) and i.kind == "reconnecting"]
        assert delays[:2] == [0.1, 0.2]  # exponential backoff
        assert packets(items, 0) == band.payloads


def polar_responder(frames: list[bytes], sent: list[bytes]):
    """A Verity Sense control point: answers GET and START as the specification shows, then streams."""

    async def on_write(dev: FakeDevice, char: str, value: bytes) -> None:
        if char != polar.PMD_CP:
            return
        if value == polar.get_settings_command(polar.ACC):
            reply = bytes.fromhex("F0 01 02 00 00 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03")
        elif value[:2] == bytes((polar.START, polar.ACC)):
            reply = bytes.fromhex("F0 02 02 00 00 05 01 40 DA 7F 39")
        else:
            reply = bytes((0xF0, value[0], value[1], 0, 0))
        await dev.notify(polar.PMD_CP, reply)
        if value[:2] == bytes((polar.START, polar.ACC)):
            for f in frames:
                if await dev.notify(polar.PMD_DATA, f):
                    sent.append(f)

    return on_write


async def test_polar_negotiates_on_the_control_point_and_keeps_the_factor(system_bus: str) -> None:
    pmd = {polar.PMD_SERVICE: {polar.PMD_CP: ["read", "write", "indicate"], polar.PMD_DATA: ["notify"]}}
    frame = bytes.fromhex("02 64 6C 76 C4 3C C6 7F 07 80 D0 FF 65 01 E4 0F 08 01 FC 07 FF")
    frames = [frame] * 20
    sent: list[bytes] = []
    async with FakeBlueZ(system_bus) as bluez:
        dev = bluez.add_device("A0:9E:1A:00:00:02", "Polar Sense B5A22F29", pmd)
        dev.on_write = polar_responder(frames, sent)
        async with BleSource([BandRequest(0, "Polar Sense", "right")], FAST) as source:
            items = await collect(source, lambda _: len(packets(_, 0)) == len(frames))
        cp = [w[1] for w in dev.writes]
        assert cp[:2] == [bytes.fromhex("01 02"), bytes.fromhex("02 02 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03")]
        assert cp[-1] == bytes.fromhex("03 02")  # ACC stopped before disconnecting
        (info,) = [i for i in items if isinstance(i, DeviceInfo)]
        assert info.profile == "polar" and info.settings["acc_fs_hz"] == 52
        assert abs(info.settings["factor"] - 0.000244) < 1e-7
        decoded = polar.PROFILE.decode(packets(items, 0), list(range(len(frames))), info.settings)
        assert round(decoded.blocks[0].data[2, 0] * 1000) == 992  # mG through the negotiated factor
        assert PROFILE.name == "nus-emg"


async def test_malformed_notifications_are_recorded_counted_and_skipped(system_bus: str) -> None:
    from nightcramp.session import NightSession

    good = emg_frames(120, 8)
    garbage = [b"", b"\x10\x01", b"\x7f" * 30, b"\x10\x05\x00\x00\x00\x00\x00\x09" + b"\x01" * 7]
    payloads = good[:40] + garbage[:2] + good[40:80] + garbage[2:] + good[80:]
    async with FakeBlueZ(system_bus) as bluez:
        dev = bluez.add_device("C0:FF:EE:00:00:01", "NightCramp band L", NUS)
        band = StreamingBand(dev, char_uuid=NUS_TX, command_uuid=NUS_RX, payloads=payloads, start=b"b", stop=b"s")
        async with BleSource([BandRequest(0, "band L", "left")], FAST) as source:
            items = await collect(source, lambda _: len(packets(_, 0)) == len(payloads))
    assert packets(items, 0) == payloads == band.sent  # kept as they came, for the journal
    session = NightSession()
    for item in items:
        session.add(item)
    result = session.finish()
    assert result.malformed == 4 and result.packets == len(payloads)
    assert result.link[0]["malformed_packets"] == 4
    emg = next(s for s in result.streams if s.kind == "emg")
    assert emg.name == "emg:left"


async def test_a_band_no_profile_recognises_is_given_up_with_the_reason(system_bus: str) -> None:
    async with FakeBlueZ(system_bus) as bluez:
        bluez.add_device("11:22:33:44:55:66", "Kitchen scale", {"0000181d-0000-1000-8000-00805f9b34fb": {}})
        async with BleSource([BandRequest(0, "Kitchen", "left")], FAST) as source:
            items = await collect(source, lambda _: False)
    assert events(items, 0) == ["gave_up"]
    assert "no band profile recognises 'Kitchen scale'" in source.errors[0] and "--profile" in source.errors[0]
    assert source.status[0].state == "unusable"


async def test_ganglion_firmware_is_read_from_device_information_and_decoding_follows(system_bus: str) -> None:
    from firmware_bridge.profiles import ganglion

    from .test_ganglion import fw3_decoded, fw3_packets

    samples = np.random.default_rng(4).integers(-(1 << 22), 1 << 22, (2 * 120, 4))
    payloads = fw3_packets(samples, 18)
    gatt = {
        ganglion.GANGLION_SERVICE: {ganglion.GANGLION_RECEIVE: ["notify"], ganglion.GANGLION_SEND: ["write"]},
        "0000180a-0000-1000-8000-00805f9b34fb": {ganglion.SOFTWARE_REVISION: ["read"]},
    }
    async with FakeBlueZ(system_bus) as bluez:
        dev = bluez.add_device("C0:FF:EE:00:00:0A", "Ganglion-4f2a", gatt)
        dev.values[ganglion.SOFTWARE_REVISION] = b"3.0.2"
        StreamingBand(
            dev, char_uuid=ganglion.GANGLION_RECEIVE, command_uuid=ganglion.GANGLION_SEND, payloads=payloads,
            start=b"b", stop=b"s",
        )  # fmt: skip
        async with BleSource([BandRequest(0, "Ganglion", "left")], FAST) as source:
            items = await collect(source, lambda _: len(packets(_, 0)) == len(payloads))
    (info,) = [i for i in items if isinstance(i, DeviceInfo)]
    assert info.profile == "ganglion" and info.settings["firmware"] == 3
    assert info.settings["firmware_revision"] == "3.0.2"
    received = packets(items, 0)
    (block,) = ganglion.PROFILE.new_decoder(info.settings).decode(received, np.arange(len(received))).blocks
    got = block.data[0] / ganglion.UV_PER_COUNT
    np.testing.assert_allclose(got, [fw3_decoded(int(v), 18) for v in samples[:, 0]], rtol=1e-9)


async def test_battery_level_is_read_followed_and_journalled(system_bus: str) -> None:
    from firmware_bridge.sources.ble import BATTERY_LEVEL_UUID

    battery_service = "0000180f-0000-1000-8000-00805f9b34fb"
    config = BridgeConfig(
        scan_timeout_s=5.0, connect_timeout_s=5.0, watchdog_s=0.6, backoff_s=0.1, backoff_max_s=0.4, battery_every_s=0.2
    )
    async with FakeBlueZ(system_bus) as bluez:
        # the left band notifies its level, the right band can only be read (so it is read again now and then)
        left_dev = bluez.add_device(
            "C0:FF:EE:00:00:01", "NightCramp band L", {**NUS, battery_service: {BATTERY_LEVEL_UUID: ["read", "notify"]}}
        )
        right_dev = bluez.add_device(
            "C0:FF:EE:00:00:02", "NightCramp band R", {**NUS, battery_service: {BATTERY_LEVEL_UUID: ["read"]}}
        )
        left_dev.values[BATTERY_LEVEL_UUID] = bytes([87])
        right_dev.values[BATTERY_LEVEL_UUID] = bytes([54])
        bands = []
        for dev, seed in ((left_dev, 1), (right_dev, 2)):
            band = StreamingBand(
                dev, char_uuid=NUS_TX, command_uuid=NUS_RX, payloads=emg_frames(400, seed), start=b"b", stop=b"s"
            )
            band.interval_s = 0.005
            bands.append(band)
        source = BleSource([BandRequest(0, "band L", "left"), BandRequest(1, "band R", "right")], config)

        async def change_levels() -> None:
            await wait_until(lambda: left_dev.notifying(BATTERY_LEVEL_UUID) and source.status[1].battery_pct == 54)
            assert await left_dev.notify(BATTERY_LEVEL_UUID, bytes([86]))
            right_dev.values[BATTERY_LEVEL_UUID] = bytes([53])
            await left_dev.notify(BATTERY_LEVEL_UUID, bytes([86]))  # unchanged: not journalled again
            await left_dev.notify(BATTERY_LEVEL_UUID, bytes([250]))  # not a charge: ignored

        async with source:
            changer = asyncio.create_task(change_levels())
            items = await collect(
                source,
                lambda _: changer.done() and source.status[0].battery_pct == 86 and source.status[1].battery_pct == 53,
            )
            await changer
    levels = {
        d: [i.fields["percent"] for i in items if isinstance(i, JournalEvent) and i.kind == "battery" and i.device == d]
        for d in (0, 1)
    }
    assert levels == {0: [87, 86], 1: [54, 53]}
    assert source.status[0].to_json()["battery_pct"] == 86
