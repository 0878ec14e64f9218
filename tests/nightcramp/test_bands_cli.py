"""``cramp decode``, ``cramp scan`` and ``cramp record`` as a user runs them: the real command in a
subprocess, the real bleak inside it, and the BlueZ double on a private bus in this process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from firmware_bridge.journal import read_journal
from firmware_bridge.profiles.nus_emg import NUS_RX, NUS_SERVICE, NUS_TX, encode_frames, encode_info

from ..bluez_double import FakeBlueZ, StreamingBand, private_system_bus

NUS = {NUS_SERVICE: {NUS_TX: ["notify"], NUS_RX: ["write", "write-without-response"]}}


def cramp(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nightcramp", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


# -- decode ------------------------------------------------------------------------------------------
def test_decode_prints_samples_times_and_unit() -> None:
    out = cramp("decode", "--profile", "polar", "02 00 94 35 77 00 00 00 00 01 F7 FF FF FF E7 03 F8 FF FE FF E5 03")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["unit"] == "g" and doc["malformed"] == 0
    assert np.allclose(doc["samples"], [[-0.009, -0.001, 0.999], [-0.008, -0.002, 0.997]])
    assert doc["timestamps_ns"] == [1_980_769_231, 2_000_000_000]


def test_decode_consecutive_polar_frames_use_the_sdk_timestamp_rule_and_the_factor() -> None:
    head = "02 64 00 00 00 00 00 00 00 80 D0 FF 65 01 E4 0F 08 01 FC 07 FF"  # ts 100, then ts 102
    nxt = "02 66 00 00 00 00 00 00 00 80 D0 FF 65 01 E4 0F 08 01 FC 07 FF"
    doc = json.loads(cramp("decode", "--profile", "polar", "--factor", "0.000244", head, nxt).stdout)
    assert doc["timestamps_ns"][2:] == [101, 102]  # the second frame shares 100..102 evenly
    assert round(doc["samples"][0][2] * 1000) == 992


def test_decode_nus_emg_with_two_streams_and_info() -> None:
    emg = encode_frames("emg", np.array([[1000, -1000]]), frame_samples=2, t0_us=1e6, fs_hz=1000.0)[0]
    acc = encode_frames("acc", np.array([[0], [0], [1000]]), frame_samples=1, t0_us=1e6, fs_hz=100.0)[0]
    info = encode_info({"emg_fs_hz": 1000})
    doc = json.loads(cramp("decode", "--profile", "nus-emg", emg.hex(), acc.hex(), info.hex()).stdout)
    assert doc["samples"] == [[100.0], [-100.0]] and doc["unit"] == "uV"
    assert doc["timestamps_ns"] == [1_000_000_000, 1_001_000_000]
    assert doc["more"][0]["samples"] == [[0.0, 0.0, 1.0]] and doc["more"][0]["unit"] == "g"
    assert doc["info"] == [{"emg_fs_hz": 1000}]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "nope", "00"], "unknown device profile 'nope'"),
        (["--profile", "polar", "0g"], "is not hex bytes"),
        (["--profile", "polar", "02 00"], "none of the 1 payload(s) is a polar data frame"),
        (["--profile", "nus-emg", "--factor", "2", "10"], "applies to --profile polar"),
    ],
)
def test_decode_bad_input_is_one_sentence(args: list[str], message: str) -> None:
    out = cramp("decode", *args)
    assert out.returncode == 2 and message in out.stderr
    assert "Traceback" not in out.stderr and len(out.stderr.strip().splitlines()) == 1


# -- a band on the double, in a thread of its own ---------------------------------------------------------
class BandThread:
    """The BlueZ double with one streaming nus-emg band, on its own event loop in a thread."""

    def __init__(self, address: str, payloads: list[bytes], interval_s: float = 0.003) -> None:
        self.address, self.payloads, self.interval_s = address, payloads, interval_s
        self.band: StreamingBand | None = None
        self.ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with FakeBlueZ(self.address) as bluez:
            dev = bluez.add_device("C0:FF:EE:00:00:01", "NightCramp band L", NUS)
            self.band = StreamingBand(
                dev, char_uuid=NUS_TX, command_uuid=NUS_RX, payloads=self.payloads, start=b"b", stop=b"s",
                interval_s=self.interval_s,
            )  # fmt: skip
            self.ready.set()
            await self._stop.wait()

    def __enter__(self) -> BandThread:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self.thread.join(10)


@pytest.fixture
def bus_env() -> Iterator[tuple[str, dict]]:
    with private_system_bus() as address:
        yield address, {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": address}


def band_frames(seconds: float) -> list[bytes]:
    rng = np.random.default_rng(7)
    emg = rng.normal(0, 50, (1, int(1000 * seconds)))  # 5 µV at 0.1 µV per count
    acc = np.tile([[0], [0], [1000]], int(100 * seconds)) + rng.normal(0, 3, (3, int(100 * seconds)))
    e = encode_frames("emg", emg, frame_samples=100, t0_us=5e6, fs_hz=1000.0)
    a = encode_frames("acc", acc, frame_samples=10, t0_us=5e6, fs_hz=100.0)
    return [f for pair in zip(e, a, strict=True) for f in pair]


def test_scan_lists_the_band(bus_env: tuple[str, dict]) -> None:
    address, env = bus_env
    with BandThread(address, []):
        out = cramp("scan", "--timeout", "1.5", env=env)
    assert out.returncode == 0, out.stderr
    assert "C0:FF:EE:00:00:01" in out.stdout and "nus-emg" in out.stdout and "NightCramp band L" in out.stdout


def test_record_writes_every_packet_and_stops_cleanly_on_ctrl_c(bus_env: tuple[str, dict], tmp_path: Path) -> None:
    address, env = bus_env
    frames = band_frames(60)
    out, night = tmp_path / "night.ncr", tmp_path / "night.json"
    with BandThread(address, frames, interval_s=0.002) as bt:
        proc = subprocess.Popen(
            [sys.executable, "-m", "nightcramp", "record", "--device", "band L", "--leg", "left",
             "--out", str(out), "--json", str(night)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (bt.band and bt.band.done):
            time.sleep(0.05)
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
        sent = list(bt.band.sent) if bt.band else []
        writes = [w[1] for w in bt.band.device.writes] if bt.band else []
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "left band connected" in stdout and "Stopped. The recording is in" in stdout
    journal = read_journal(out)
    assert journal.complete  # END record: closed cleanly
    assert [r.payload for r in journal.records if r.payload is not None] == sent == frames
    assert journal.devices[0].leg == "left" and journal.devices[0].profile == "nus-emg"
    assert writes[:2] == [b"?", b"b"] and writes[-1] == b"s"
    doc = json.loads(night.read_text())
    assert doc["schema"] == "cramp-night/1" and doc["summary"]["cramp_count"] == 0
    link = doc["source"]["devices"][0]["link"]
    assert link["packets"] == len(frames) and link["malformed_packets"] == 0 and link["gaps"] == 0
    assert (os.stat(out).st_mode & 0o777) == 0o600


def test_record_options_are_checked(tmp_path: Path) -> None:
    existing = tmp_path / "x.ncr"
    existing.write_bytes(b"")
    cases = [
        ([], "give the band to record with --device"),
        (["--device", "a", "--device", "b", "--leg", "left", "--leg", "left"], "--leg left for one and --leg right"),
        (["--device", "a", "--profile", "nope"], "unknown device profile 'nope'"),
        (["--device", "a", "--out", str(existing)], "already exists"),
    ]
    for args, message in cases:
        out = cramp("record", *args)
        assert out.returncode == 2 and message in out.stderr, (args, out.stderr)


def test_without_bluetooth_scan_and_record_say_so_in_one_sentence(tmp_path: Path) -> None:
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path / 'no-bus'}"}
    scan = cramp("scan", "--timeout", "0.5", env=env)
    assert scan.returncode == 2 and "the system D-Bus is not running" in scan.stderr
    rec = cramp("record", "--device", "band", "--out", str(tmp_path / "n.ncr"), env=env)
    assert rec.returncode == 2 and "cannot record: the system D-Bus is not running" in rec.stderr
    assert not (tmp_path / "n.ncr").exists() and "Traceback" not in rec.stderr
