"""Tests of the recording journal: format, round trip, torn files, crash safety, privacy and bad input."""

from __future__ import annotations

import gzip
import json
import os
import signal
import stat
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import firmware_bridge
from firmware_bridge.errors import (
    BridgeError,
    JournalClosedError,
    JournalError,
    JournalExistsError,
    JournalFormatError,
    JournalNotFoundError,
    JournalVersionError,
)
from firmware_bridge.journal import (
    JOURNAL_VERSION,
    MAGIC,
    DeviceInfo,
    Journal,
    JournalWriter,
    Record,
    RecordType,
    read_journal,
)

START_UNIX_NS = 1_760_000_000_123_456_789
START_MONOTONIC_NS = 5_000_000_000
POSIX_ONLY = pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals, umask and file modes")


def _record(rtype: int, payload: bytes) -> bytes:
    """A record built from the documented layout, independently of the writer."""
    crc = zlib.crc32(bytes([rtype]) + payload)
    return struct.pack("<BII", rtype, len(payload), crc) + payload


def _put(path: Path, data: bytes) -> None:
    """Write ``data`` to a fresh file (rewriting through truncation is slow on ext4, which flushes it)."""
    path.unlink(missing_ok=True)
    path.write_bytes(data)


def _json_record(rtype: int, obj: dict[str, Any]) -> bytes:
    return _record(rtype, json.dumps(obj).encode())


def _header_bytes(version: int = JOURNAL_VERSION) -> bytes:
    header = {
        "format": "nightcramp-journal",
        "version": version,
        "created": "2025-10-09T10:53:20.123+00:00",
        "start_unix_ns": START_UNIX_NS,
        "start_monotonic_ns": START_MONOTONIC_NS,
        "software": "hand-made",
        "meta": {},
    }
    return MAGIC + struct.pack("<HH", version, 0) + _json_record(RecordType.HEADER, header)


LEFT = DeviceInfo(0, "acme-band", 2, "left", "Band L", "AA:BB:CC:00:00:01", {"emg_fs_hz": 1000})
RIGHT = DeviceInfo(1, "acme-band", 2, "right", "Band R", "AA:BB:CC:00:00:02", {"emg_fs_hz": 1000})
SPARE = DeviceInfo(7, "other-band", 1, None, None, None, {})
RIGHT_AFTER_RECONNECT = DeviceInfo(1, "acme-band", 2, "right", "Band R", "AA:BB:CC:00:00:02", {"emg_fs_hz": 500})


def _write_small(path: Path) -> dict[int, list[tuple[int, bytes]]]:
    """A short night: three bands, varied payload sizes, events, markers and a settings update.

    Returns the packets written per device, as ``(t_rx_ns, payload)`` in order.
    """
    rng = np.random.default_rng(7)
    sent: dict[int, list[tuple[int, bytes]]] = {0: [], 1: [], 7: []}
    with JournalWriter(
        path,
        software="nightcramp 0.1.0",
        meta={"night": "test", "person": "ä"},
        start_unix_ns=START_UNIX_NS,
        start_monotonic_ns=START_MONOTONIC_NS,
    ) as writer:
        writer.add_device(LEFT)
        writer.add_device(RIGHT)
        writer.write_event(0, "connected", device=0, rssi=-61)
        writer.write_event(1_000, "connected", device=1)
        for k in range(36):
            device = (0, 1, 7)[k % 3]
            if k == 6:
                writer.add_device(SPARE)
            if k == 20:
                writer.write_event(400_000_000, "disconnected", device=1, reason="link loss")
                writer.add_device(RIGHT_AFTER_RECONNECT)
                writer.write_marker(410_000_000, "woke up, calf tight")
            if device == 7 and k < 6:
                continue
            t = 20_000_000 * k + int(rng.integers(0, 1000))
            payload = rng.integers(0, 256, int(rng.integers(0, 60)), dtype=np.uint8).tobytes()
            writer.write_packet(device, t, payload)
            sent[device].append((t, payload))
        writer.close(dropped=2, reconnects=1)
    return sent


@pytest.fixture
def small(tmp_path: Path) -> tuple[Path, dict[int, list[tuple[int, bytes]]]]:
    path = tmp_path / "night.ncr"
    return path, _write_small(path)


# -- round trip ---------------------------------------------------------------------------------------------


def test_round_trip_every_record_type(small: tuple[Path, dict[int, list[tuple[int, bytes]]]]) -> None:
    path, sent = small
    journal = read_journal(path)
    assert journal.version == JOURNAL_VERSION
    assert journal.complete
    assert (journal.ignored_tail_bytes, journal.skipped_unknown, journal.skipped_invalid) == (0, 0, 0)
    assert not journal.compressed
    header = journal.header
    assert header is not None
    assert header["format"] == "nightcramp-journal"
    assert header["version"] == JOURNAL_VERSION
    assert header["software"] == "nightcramp 0.1.0"
    assert header["meta"] == {"night": "test", "person": "ä"}
    assert journal.start_unix_ns == START_UNIX_NS
    assert journal.start_monotonic_ns == START_MONOTONIC_NS
    created = header["created"]
    assert created[:4] == "2025" and created[-6] in "+-"  # ISO-8601 with UTC offset

    assert dict(journal.devices) == {0: LEFT, 1: RIGHT_AFTER_RECONNECT, 7: SPARE}
    for device, packets in sent.items():
        t, payloads = journal.packets(device)
        assert t.dtype == np.int64
        assert t.tolist() == [p[0] for p in packets]
        assert payloads == [p[1] for p in packets]
    assert journal.n_packets == sum(map(len, sent.values()))
    assert journal.packets(99)[0].shape == (0,)

    events = journal.events()
    assert [(e.t_ns, e.kind, e.device) for e in events] == [
        (0, "connected", 0),
        (1_000, "connected", 1),
        (400_000_000, "disconnected", 1),
        (410_000_000, "marker", None),
    ]
    assert events[0].fields == {"rssi": -61}
    assert events[2].fields == {"reason": "link loss"}
    markers = journal.markers()
    assert [m.label for m in markers] == ["woke up, calf tight"]
    assert events[0].label is None

    assert journal.end is not None
    assert journal.end["packets"] == journal.n_packets
    assert (journal.end["dropped"], journal.end["reconnects"]) == (2, 1)

    records = list(journal.records)
    assert len(records) == len(journal.records)
    assert journal.last_t_ns == max(r.t_ns for r in records if r.t_ns is not None)
    assert records[0] == journal.records[0] and records[-1] == journal.records[-1]
    assert records[2:5] == journal.records[2:5]
    types = [r.type for r in records]
    assert types[:2] == [RecordType.DEVICE, RecordType.DEVICE]
    assert types[-1] is RecordType.END
    assert types.count(RecordType.DATA) == journal.n_packets
    assert types.count(RecordType.DEVICE) == 4
    first_data = next(r for r in records if r.type is RecordType.DATA)
    assert (first_data.device, first_data.t_ns, first_data.payload) == (0, sent[0][0][0], sent[0][0][1])
    update = [r for r in records if r.type is RecordType.DEVICE][-1]
    assert update.obj is not None and update.obj["settings"] == {"emg_fs_hz": 500}
    offsets = [r.offset for r in records]
    assert offsets == sorted(offsets)
    with pytest.raises(IndexError):
        journal.records[len(records)]


def test_file_layout_matches_the_documented_format(small: tuple[Path, Any]) -> None:
    path, sent = small
    data = path.read_bytes()
    assert data[:8] == b"\x89NCJ\r\n\x1a\n"
    assert struct.unpack_from("<HH", data, 8) == (1, 0)
    rtype, length, crc = struct.unpack_from("<BII", data, 12)
    payload = data[21 : 21 + length]
    assert rtype == 1 and crc == zlib.crc32(data[12:13] + payload)
    assert json.loads(payload)["start_monotonic_ns"] == START_MONOTONIC_NS
    # Walk every record by hand and check the DATA layout: u8 device, i64 t_rx_ns, raw payload.
    off, data_records = 21 + length, []
    while off < len(data):
        rtype, length, crc = struct.unpack_from("<BII", data, off)
        body = data[off + 9 : off + 9 + length]
        assert crc == zlib.crc32(bytes([rtype]) + body)
        if rtype == 3:
            device, t = struct.unpack_from("<Bq", body)
            data_records.append((device, t, body[9:]))
        off += 9 + length
    assert off == len(data)
    assert [r for r in data_records if r[0] == 0] == [(0, t, p) for t, p in sent[0]]


def test_bulk_write_is_byte_identical_to_single_writes(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    t = np.cumsum(rng.integers(1, 30_000_000, 5000)).astype(np.int64)
    payloads = [rng.integers(0, 256, int(n), dtype=np.uint8).tobytes() for n in rng.integers(0, 300, 5000)]
    files = []
    for name, bulk in (("single.ncr", False), ("bulk.ncr", True)):
        path = tmp_path / name
        with JournalWriter(
            path, software="x", start_unix_ns=START_UNIX_NS, start_monotonic_ns=START_MONOTONIC_NS
        ) as writer:
            writer.add_device(LEFT)
            writer.add_device(RIGHT)
            if bulk:
                writer.write_packets(0, t[:3000], payloads[:3000])
                writer.write_packets(1, list(t[3000:].tolist()), payloads[3000:])
                writer.write_packets(1, np.array([], dtype=np.int64), [])
            else:
                for k in range(5000):
                    writer.write_packet(0 if k < 3000 else 1, int(t[k]), payloads[k])
            assert writer.packets_written == 5000
        files.append(path)
    single, bulk_journal = (read_journal(p) for p in files)
    end_offset = single.records[-1].offset
    assert files[0].read_bytes()[:end_offset] == files[1].read_bytes()[:end_offset]
    t1, p1 = bulk_journal.packets(1)
    assert t1.tolist() == t[3000:].tolist() and p1 == payloads[3000:]
    assert bulk_journal.end is not None and bulk_journal.end["packets"] == 5000


def test_gzip_journal_reads_like_the_original(small: tuple[Path, Any], tmp_path: Path) -> None:
    path, _ = small
    full = read_journal(path)
    packed = gzip.compress(path.read_bytes())
    gz = tmp_path / "night.ncr.gz"
    gz.write_bytes(packed)
    journal = read_journal(gz)
    assert journal.compressed
    assert list(journal.records) == list(full.records)
    assert journal.complete and journal.devices == full.devices
    # A truncated gzip stream yields a prefix of the records, never an error.
    previous = -1
    for cut in range(20, len(packed), 37):
        _put(gz, packed[:cut])
        try:
            part = read_journal(gz)
        except JournalFormatError:  # nothing decompressed yet
            assert previous <= 0
            previous = 0
            continue
        n = len(part.records)
        assert list(part.records) == list(full.records)[:n]
        assert n >= previous
        previous = n
    assert previous > len(full.records) // 2


def test_unknown_record_types_are_skipped_and_counted(small: tuple[Path, Any], tmp_path: Path) -> None:
    path, _ = small
    full = read_journal(path)
    data = path.read_bytes()
    cut = full.records[5].offset
    future = tmp_path / "future.ncr"
    future.write_bytes(data[:cut] + _record(42, b"from a newer writer") + _record(0, b"") + data[cut:])
    journal = read_journal(future)
    assert journal.skipped_unknown == 2
    assert [(r.type, r.payload, r.obj) for r in journal.records] == [(r.type, r.payload, r.obj) for r in full.records]
    assert journal.complete


def test_invalid_content_with_a_valid_crc_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "odd.ncr"
    good = _json_record(RecordType.DEVICE, LEFT.to_json())
    path.write_bytes(
        _header_bytes()
        + good
        + _json_record(RecordType.DEVICE, {"device": 300, "profile": "x", "profile_version": 1})
        + _record(RecordType.EVENT, b"not json")
        + _json_record(RecordType.EVENT, {"t_ns": "late", "kind": "x"})
        + _record(RecordType.DATA, b"\x00\x01")  # too short for device and time
        + _header_bytes()[12:]  # a second HEADER
        + _record(RecordType.DATA, struct.pack("<Bq", 0, 5) + b"ok")
    )
    journal = read_journal(path)
    assert journal.skipped_invalid == 5
    assert [r.type for r in journal.records] == [RecordType.DEVICE, RecordType.DATA]
    assert journal.packets(0)[1] == [b"ok"]
    assert dict(journal.devices) == {0: LEFT}


# -- truncation and torn tails ------------------------------------------------------------------------------


def _expected_after_cut(full: Journal, size: int, cut: int) -> tuple[bool, list[Record], int]:
    """Whether the header survives a cut at ``cut``, the surviving records, and the ignored byte count."""
    records = list(full.records)
    ends = [r.offset for r in records[1:]] + [size]
    header_end = records[0].offset
    kept = [r for r, end in zip(records, ends, strict=True) if end <= cut]
    if kept:
        used = ends[len(kept) - 1]
    elif cut >= header_end:
        used = header_end
    else:
        used = 12 if cut >= 12 else 0  # a cut preamble counts as ignored
    return cut >= header_end, kept, cut - used


def test_every_truncation_point_opens_with_the_records_before_the_cut(small: tuple[Path, Any], tmp_path: Path) -> None:
    path, _ = small
    data = path.read_bytes()
    full = read_journal(path)
    cut_path = tmp_path / "cut.ncr"
    for cut in range(1, len(data) + 1):
        _put(cut_path, data[:cut])
        journal = read_journal(cut_path)
        has_header, kept, ignored = _expected_after_cut(full, len(data), cut)
        assert (journal.header is not None) == has_header, cut
        assert list(journal.records) == kept, cut
        assert journal.ignored_tail_bytes == ignored, cut
        assert journal.complete == (cut == len(data)), cut
        latest = {r.device: r.obj for r in kept if r.type is RecordType.DEVICE}
        assert {d: info.to_json() for d, info in journal.devices.items()} == latest, cut
        assert journal.n_packets == sum(r.type is RecordType.DATA for r in kept), cut
    cut_path.write_bytes(b"")
    with pytest.raises(JournalFormatError, match="empty"):
        read_journal(cut_path)


@pytest.mark.parametrize("garbage", [bytes(4096), b"\xff" * 3, "random"])
def test_garbage_after_the_last_record_is_ignored(
    small: tuple[Path, Any], tmp_path: Path, garbage: bytes | str
) -> None:
    path, _ = small
    full = read_journal(path)
    tail = np.random.default_rng(1).bytes(777) if garbage == "random" else garbage
    assert isinstance(tail, bytes)
    torn = tmp_path / "torn.ncr"
    torn.write_bytes(path.read_bytes() + tail)
    journal = read_journal(torn)
    assert list(journal.records) == list(full.records)
    assert journal.ignored_tail_bytes == len(tail)
    assert journal.complete


def test_a_damaged_last_record_is_dropped(small: tuple[Path, Any], tmp_path: Path) -> None:
    path, _ = small
    data = path.read_bytes()
    full = read_journal(path)
    last = full.records[-1].offset
    torn = tmp_path / "torn.ncr"
    for position in range(last, len(data)):
        damaged = bytearray(data)
        damaged[position] ^= 0x10
        _put(torn, bytes(damaged))
        journal = read_journal(torn)
        assert list(journal.records) == list(full.records)[:-1], position
        assert journal.ignored_tail_bytes == len(data) - last, position
        assert not journal.complete


def test_a_damaged_middle_record_ends_the_readable_part(small: tuple[Path, Any], tmp_path: Path) -> None:
    path, _ = small
    data = bytearray(path.read_bytes())
    full = read_journal(path)
    victim = full.records[10]
    data[victim.offset + 12] ^= 0xFF
    torn = tmp_path / "torn.ncr"
    torn.write_bytes(data)
    journal = read_journal(torn)
    assert list(journal.records) == list(full.records)[:10]
    assert journal.ignored_tail_bytes == len(data) - victim.offset


# -- crash safety -------------------------------------------------------------------------------------------

_CHILD = """
import sys, time
from firmware_bridge.journal import DeviceInfo, JournalWriter

path, rate, count = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
writer = JournalWriter(path, software="nightcramp crash test")
writer.add_device(DeviceInfo(0, "test-band", 1, "left"))
print("ready", flush=True)
period, due, i = 1.0 / rate, time.monotonic(), 0
while count < 0 or i < count:
    writer.write_packet(0, writer.now_ns(), i.to_bytes(4, "little") + bytes(i % 180))
    i += 1
    due += period
    time.sleep(max(0.0, due - time.monotonic()))
print("wrote", flush=True)
time.sleep(3600)
"""


def _spawn_writer(path: Path, rate_hz: float, count: int = -1) -> subprocess.Popen[str]:
    root = Path(firmware_bridge.__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    return subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(path), str(rate_hz), str(count)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def _wait_for(proc: subprocess.Popen[str], word: str) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if line != word:
        proc.kill()
        _, err = proc.communicate(timeout=10)
        pytest.fail(f"journal writer process did not say {word!r}: {line!r}\n{err}")


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


@POSIX_ONLY
def test_sigkill_loses_at_most_the_last_second(tmp_path: Path, children: list[subprocess.Popen[str]]) -> None:
    """Writers at 200 packets/s killed at random moments keep an unbroken sequence up to <= 1 s before."""
    rng = np.random.default_rng(2024)
    n_runs, rate_hz, tolerance_ns = 4, 200.0, 200_000_000
    paths = [tmp_path / f"killed{k}.ncr" for k in range(n_runs)]
    children.extend(_spawn_writer(p, rate_hz) for p in paths)
    for proc in children:
        _wait_for(proc, "ready")
    started = time.monotonic()
    deadlines = sorted((started + float(rng.uniform(2.0, 4.0)), k) for k in range(n_runs))
    kill_ns: dict[int, int] = {}
    for deadline, k in deadlines:
        time.sleep(max(0.0, deadline - time.monotonic()))
        kill_ns[k] = time.monotonic_ns()  # CLOCK_MONOTONIC, the writers' clock too
        os.kill(children[k].pid, signal.SIGKILL)
    for k, path in enumerate(paths):
        assert children[k].wait(timeout=10) == -signal.SIGKILL
        journal = read_journal(path)
        assert journal.header is not None and not journal.complete
        assert journal.devices[0].profile == "test-band"
        t, payloads = journal.packets(0)
        counters = [int.from_bytes(p[:4], "little") for p in payloads]
        assert counters == list(range(len(counters))), f"run {k}: gap in the packet sequence"
        assert all(len(p) == 4 + c % 180 for p, c in zip(payloads, counters, strict=True))
        assert len(counters) > rate_hz, f"run {k}: only {len(counters)} packets survived"
        assert np.all(np.diff(t) > 0)
        assert journal.start_monotonic_ns is not None
        lost_ns = kill_ns[k] - (journal.start_monotonic_ns + int(t[-1]))
        assert -tolerance_ns < lost_ns <= 1_000_000_000 + tolerance_ns, f"run {k}: lost {lost_ns / 1e9:.3f} s"


@POSIX_ONLY
def test_an_idle_writer_still_reaches_the_disk(tmp_path: Path, children: list[subprocess.Popen[str]]) -> None:
    """One packet, then 1.5 s of silence, then SIGKILL: the flusher thread has written the packet."""
    path = tmp_path / "idle.ncr"
    children.append(_spawn_writer(path, 100.0, count=1))
    _wait_for(children[0], "ready")
    _wait_for(children[0], "wrote")
    time.sleep(1.5)
    os.kill(children[0].pid, signal.SIGKILL)
    children[0].wait(timeout=10)
    _, payloads = read_journal(path).packets(0)
    assert payloads == [bytes(4)]


def test_the_flusher_thread_writes_a_quiet_buffer(tmp_path: Path) -> None:
    path = tmp_path / "quiet.ncr"
    with JournalWriter(path, software="x", flush_interval_s=0.05) as writer:
        writer.add_device(LEFT)
        writer.write_packet(0, writer.now_ns(), b"lonely")
        deadline = time.monotonic() + 2.0
        while read_journal(path).n_packets == 0:
            assert time.monotonic() < deadline, "buffer never reached the OS"
            time.sleep(0.02)


def test_the_hot_path_makes_no_system_call_per_packet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    real_write = os.write

    def counting_write(fd: int, data: Any) -> int:
        calls.append(fd)
        return real_write(fd, data)

    with JournalWriter(tmp_path / "hot.ncr", software="x", flush_interval_s=1.0) as writer:
        writer.add_device(LEFT)
        monkeypatch.setattr(os, "write", counting_write)
        for i in range(2000):
            writer.write_packet(0, i, bytes(100))
        assert len(calls) <= 1
        writer.flush()
        assert read_journal(writer.path).n_packets == 2000


def test_fsync_about_once_per_second(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    syncs: list[float] = []
    real_fsync = os.fsync

    def counting_fsync(fd: int) -> None:
        syncs.append(time.monotonic())
        real_fsync(fd)

    with JournalWriter(tmp_path / "sync.ncr", software="x", flush_interval_s=0.1) as writer:
        writer.add_device(LEFT)
        monkeypatch.setattr(os, "fsync", counting_fsync)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.6:
            writer.write_packet(0, writer.now_ns(), bytes(50))
            time.sleep(0.01)
        assert 1 <= len(syncs) <= 2, syncs
    assert len(syncs) >= 2  # close syncs too


# -- privacy, lifecycle and clear errors --------------------------------------------------------------------


@POSIX_ONLY
def test_journal_is_private_even_under_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        with JournalWriter(tmp_path / "private.ncr", software="x"):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "private.ncr").stat().st_mode) == 0o600


def test_an_existing_file_is_never_overwritten(small: tuple[Path, Any], tmp_path: Path) -> None:
    path, _ = small
    before = path.read_bytes()
    with pytest.raises(JournalExistsError) as info:
        JournalWriter(path, software="x")
    assert info.value.path == path
    assert str(path) in str(info.value) and "choose a new file name" in str(info.value)
    assert path.read_bytes() == before
    other = tmp_path / "notes.txt"
    other.write_text("keep me")
    with pytest.raises(JournalExistsError):
        JournalWriter(other, software="x")
    assert other.read_text() == "keep me"


def test_missing_directory_is_a_journal_error(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="cannot create journal"):
        JournalWriter(tmp_path / "no" / "such" / "dir.ncr", software="x")


def test_close_twice_is_harmless_and_writing_after_close_fails_clearly(tmp_path: Path) -> None:
    writer = JournalWriter(tmp_path / "c.ncr", software="x")
    writer.add_device(LEFT)
    writer.close(note="first")
    writer.close(note="second")
    writer.abort("too late")
    assert writer.closed
    with pytest.raises(JournalClosedError, match="already closed"):
        writer.write_packet(0, 1, b"x")
    with pytest.raises(JournalClosedError):
        writer.write_event(1, "marker", label="x")
    with pytest.raises(JournalClosedError):
        writer.flush()
    journal = read_journal(tmp_path / "c.ncr")
    assert journal.complete and journal.end is not None and journal.end["note"] == "first"
    assert [r.type for r in journal.records] == [RecordType.DEVICE, RecordType.END]


def test_an_exception_in_the_with_block_leaves_an_incomplete_journal(tmp_path: Path) -> None:
    path = tmp_path / "crashed.ncr"
    with pytest.raises(RuntimeError), JournalWriter(path, software="x") as writer:
        writer.add_device(LEFT)
        writer.write_packet(0, 5, b"kept")
        raise RuntimeError("band exploded")
    journal = read_journal(path)
    assert not journal.complete
    assert journal.packets(0)[1] == [b"kept"]
    assert [(e.kind, e.fields) for e in journal.events()] == [("aborted", {"error": "RuntimeError"})]


def test_an_interrupt_stops_the_recording_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "stopped.ncr"
    with pytest.raises(KeyboardInterrupt), JournalWriter(path, software="x") as writer:
        writer.add_device(LEFT)
        raise KeyboardInterrupt
    journal = read_journal(path)
    assert journal.complete and journal.end is not None
    assert journal.end["stopped_by"] == "KeyboardInterrupt"


def test_invalid_writes_raise_value_errors(tmp_path: Path) -> None:
    with JournalWriter(tmp_path / "v.ncr", software="x") as writer:
        writer.add_device(LEFT)
        with pytest.raises(ValueError, match=r"0\.\.255"):
            writer.write_packet(256, 0, b"")
        with pytest.raises(ValueError, match="add_device"):
            writer.write_packet(3, 0, b"")
        with pytest.raises(ValueError, match="limit"):
            writer.write_packet(0, 0, bytes(70_000))
        with pytest.raises(ValueError, match="int64"):
            writer.write_packet(0, 1 << 63, b"")
        with pytest.raises(ValueError, match="one time per payload"):
            writer.write_packets(0, [1, 2], [b""])
        with pytest.raises(ValueError, match="integer ns"):
            writer.write_packets(0, np.array([0.5]), [b""])
        with pytest.raises(ValueError, match="add_device"):
            writer.write_packets(9, [1], [b""])
        with pytest.raises(ValueError, match="JSON"):
            writer.write_event(0, "connected", when=object())
        with pytest.raises(ValueError, match="NaN"):
            writer.write_marker(0, "x", value=float("nan"))
        with pytest.raises(ValueError, match="redefine"):
            writer.close(packets=3)
        with pytest.raises(ValueError, match="leg"):
            DeviceInfo(2, "p", 1, "middle")
    with pytest.raises(ValueError, match="flush_interval_s"):
        JournalWriter(tmp_path / "w.ncr", software="x", flush_interval_s=2.0)
    with pytest.raises(ValueError, match="meta"):
        JournalWriter(tmp_path / "w.ncr", software="x", meta={"x": {1, 2}})
    assert not (tmp_path / "w.ncr").exists()
    assert read_journal(tmp_path / "v.ncr").complete


def test_not_a_journal_gets_a_clear_error(tmp_path: Path) -> None:
    text = tmp_path / "night.csv"
    text.write_text("time,acc_x\n0,1\n")
    with pytest.raises(JournalFormatError, match="not a NightCramp journal") as info:
        read_journal(text)
    assert info.value.path == text and str(text) in str(info.value)
    assert isinstance(info.value, BridgeError)

    with pytest.raises(JournalFormatError, match="directory"):
        read_journal(tmp_path)
    with pytest.raises(JournalNotFoundError, match="does not exist"):
        read_journal(tmp_path / "missing.ncr")
    empty = tmp_path / "empty.ncr"
    empty.touch()
    with pytest.raises(JournalFormatError, match=r"empty \(0 bytes\)"):
        read_journal(empty)
    garbled = tmp_path / "garbled.ncr"
    garbled.write_bytes(_header_bytes().replace(b"\r\n", b"\n", 1))
    with pytest.raises(JournalFormatError, match="binary mode"):
        read_journal(garbled)
    no_header = tmp_path / "no_header.ncr"
    no_header.write_bytes(_header_bytes()[:12] + _json_record(RecordType.DEVICE, LEFT.to_json()))
    with pytest.raises(JournalFormatError, match="HEADER"):
        read_journal(no_header)
    bad_header = tmp_path / "bad_header.ncr"
    bad_header.write_bytes(_header_bytes()[:12] + _json_record(RecordType.HEADER, {"format": "other"}))
    with pytest.raises(JournalFormatError, match="damaged HEADER"):
        read_journal(bad_header)
    bad_gzip = tmp_path / "bad.ncr.gz"
    bad_gzip.write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(JournalFormatError, match="gzip"):
        read_journal(bad_gzip)


def test_a_newer_version_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    newer = tmp_path / "newer.ncr"
    newer.write_bytes(_header_bytes(version=JOURNAL_VERSION + 1))
    with pytest.raises(JournalVersionError, match="upgrade NightCramp") as info:
        read_journal(newer)
    assert (info.value.version, info.value.supported_version) == (JOURNAL_VERSION + 1, JOURNAL_VERSION)
    newer.write_bytes(_header_bytes(version=JOURNAL_VERSION + 1)[:10])  # cut, but the version is known
    with pytest.raises(JournalVersionError):
        read_journal(newer)
    zero = tmp_path / "zero.ncr"
    zero.write_bytes(_header_bytes(version=0))
    with pytest.raises(JournalVersionError, match="does not exist"):
        read_journal(zero)


def test_a_hand_made_journal_reads(tmp_path: Path) -> None:
    """The documented format is enough to write a journal without the writer."""
    path = tmp_path / "hand.ncr"
    path.write_bytes(
        _header_bytes()
        + _json_record(RecordType.DEVICE, RIGHT.to_json())
        + _record(RecordType.DATA, struct.pack("<Bq", 1, -5) + b"\x01\x02")
        + _json_record(RecordType.EVENT, {"t_ns": 9, "kind": "marker", "device": None, "label": "cramp"})
        + _json_record(RecordType.END, {"t_ns": 10, "packets": 1})
    )
    journal = read_journal(path)
    assert journal.complete and journal.devices == {1: RIGHT}
    t, payloads = journal.packets(1)
    assert t.tolist() == [-5] and payloads == [b"\x01\x02"]
    data_record = journal.records[1]
    assert data_record == Record(RecordType.DATA, data_record.offset, -5, 1, b"\x01\x02")
    assert journal.records[0] == Record(RecordType.DEVICE, journal.records[0].offset, None, 1, obj=RIGHT.to_json())
    assert [m.label for m in journal.markers()] == ["cramp"]


# -- fuzzing ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def valid_journal(fuzz_dir: Path) -> bytes:
    path = fuzz_dir / "valid.ncr"
    _write_small(path)
    return path.read_bytes()


def _read_anything(path: Path, data: bytes) -> None:
    """Reading arbitrary bytes either fails with a JournalError or gives a fully usable Journal."""
    _put(path, data)
    try:
        journal = read_journal(path)
    except JournalError:
        return
    records = list(journal.records)
    for device in {r.device for r in records if r.type is RecordType.DATA and r.device is not None}:
        t, payloads = journal.packets(device)
        assert len(t) == len(payloads)
    journal.events()
    journal.markers()
    times = [r.t_ns for r in records if r.t_ns is not None]
    assert journal.last_t_ns == (max(times) if times else None)
    assert journal.ignored_tail_bytes >= 0
    assert journal.complete == (journal.end is not None)


_FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(data=st.binary(max_size=600), prefix=st.sampled_from([b"", MAGIC, MAGIC + b"\x01\x00\x00\x00"]))
def test_random_bytes_only_raise_journal_errors(fuzz_dir: Path, data: bytes, prefix: bytes) -> None:
    _read_anything(fuzz_dir / "random.ncr", prefix + data)


@_FUZZ
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(["flip", "insert", "delete", "cut"]), st.floats(0, 1), st.integers(0, 255)),
        min_size=1,
        max_size=6,
    ),
    compress=st.booleans(),
)
def test_mutated_journals_only_raise_journal_errors(
    fuzz_dir: Path, valid_journal: bytes, edits: list[tuple[str, float, int]], compress: bool
) -> None:
    data = bytearray(gzip.compress(valid_journal, mtime=0) if compress else valid_journal)
    for op, where, value in edits:
        position = min(int(where * len(data)), max(len(data) - 1, 0))
        if op == "flip" and data:
            data[position] ^= value or 1
        elif op == "insert":
            data[position:position] = bytes([value]) * (value % 7 + 1)
        elif op == "delete":
            del data[position : position + value % 9 + 1]
        elif op == "cut":
            del data[position:]
    _read_anything(fuzz_dir / "mutated.ncr", bytes(data))
