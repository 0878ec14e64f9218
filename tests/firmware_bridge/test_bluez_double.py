"""The BlueZ double itself, driven by the real bleak: scan, connect, notify, write, drop and reconnect."""

from __future__ import annotations

import asyncio

import numpy as np
from bleak import BleakClient, BleakScanner

from firmware_bridge.profiles.nus_emg import NUS_RX, NUS_SERVICE, NUS_TX, encode_frames

from ..bluez_double import FakeBlueZ

NUS = {NUS_SERVICE: {NUS_TX: ["notify"], NUS_RX: ["write", "write-without-response"]}}


async def test_scan_connect_notify_write(system_bus: str) -> None:
    async with FakeBlueZ(system_bus) as bluez:
        band = bluez.add_device("C0:FF:EE:00:00:01", "NightCramp band L", NUS)
        found = await BleakScanner.find_device_by_name("NightCramp band L", timeout=5)
        assert found is not None and found.address == band.address
        by_uuid = await BleakScanner.discover(timeout=1.0, service_uuids=[NUS_SERVICE], return_adv=True)
        assert band.address in by_uuid
        got: list[bytes] = []
        async with BleakClient(found) as client:
            await client.start_notify(NUS_TX, lambda _c, data: got.append(bytes(data)))
            await client.write_gatt_char(NUS_RX, b"b", response=True)
            await client.write_gatt_char(NUS_RX, b"?", response=False)
            frames = encode_frames("emg", np.arange(5000)[None, :] % 300, frame_samples=10, t0_us=0, fs_hz=1000)
            for f in frames:
                assert await band.notify(NUS_TX, f)
            for _ in range(100):
                if len(got) == len(frames):
                    break
                await asyncio.sleep(0.02)
        assert got == frames
        assert band.writes == [(NUS_RX, b"b", True), (NUS_RX, b"?", False)]
