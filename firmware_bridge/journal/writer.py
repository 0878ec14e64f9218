"""Append-only journal writer: cheap in-memory appends, a flusher thread, fsync about once a second."""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from firmware_bridge.errors import JournalClosedError, JournalIOError
from firmware_bridge.journal._files import create_private, os_reason, write_all
from firmware_bridge.journal._format import (
    CRC_INIT,
    DATA_HEAD,
    FORMAT_NAME,
    JOURNAL_VERSION,
    MAGIC,
    MAX_DATA_PAYLOAD_BYTES,
    PREAMBLE,
    RECORD_HEAD,
    DeviceInfo,
    RecordType,
    encode_data_records,
    encode_json,
    encode_record,
)

__all__ = ["SYNC_INTERVAL_S", "JournalWriter"]

log = logging.getLogger(__name__)

#: Target interval between two fsync calls while data keeps arriving.
SYNC_INTERVAL_S = 1.0
#: The buffer is written to the OS as soon as it holds this many bytes, whatever its age.
_FLUSH_BYTES = 1 << 20
#: Packets encoded per batch by :meth:`JournalWriter.write_packets` (bounds its extra memory).
_BULK_CHUNK = 1 << 16
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1
_END_RESERVED = frozenset({"t_ns", "packets"})


def _check_device(device: object) -> int:
    if isinstance(device, bool) or not isinstance(device, int | np.integer) or not 0 <= device <= 255:
        raise ValueError(f"device id must be an int in 0..255; got {device!r}")
    return int(device)


class JournalWriter:
    """Write a recording journal (``.ncr``); see :mod:`firmware_bridge.journal` for the format.

    The file is created exclusively (an existing file is never overwritten: :class:`JournalExistsError`)
    with mode 0600. The preamble and HEADER record are written and fsync'd before the constructor
    returns. Later records are appended to an in-memory buffer, which goes to the OS when it is older
    than ``flush_interval_s`` or larger than 1 MiB, and in any case every ``flush_interval_s`` from a small
    daemon thread, which also fsyncs about once per second (:data:`SYNC_INTERVAL_S`) while data arrives.
    So a crash or ``SIGKILL`` loses at most the last ``flush_interval_s``, and a power loss at most about
    ``flush_interval_s + 1`` seconds. All methods are thread-safe.

    Use it as a context manager. Leaving the ``with`` block normally calls :meth:`close` (END record).
    If an :class:`Exception` escapes the block the journal is not pretended clean: :meth:`abort` writes an
    ``"aborted"`` EVENT naming the exception type, syncs and closes without END, so the file reads as
    incomplete. A :class:`BaseException` that is not an ``Exception`` (``KeyboardInterrupt``,
    ``SystemExit``, task cancellation) is how a recording is stopped, so it closes cleanly with END and
    ``stopped_by`` set to the exception type.

    Parameters
    ----------
    path : path-like
        File to create; by convention it ends in ``.ncr``.
    software : str
        Name and version of the recording software, stored in the HEADER.
    meta : mapping, optional
        Free JSON stored in the HEADER (person-chosen night label, host, ...).
    flush_interval_s : float
        Longest time in s a record may wait in memory, in (0, 1].
    start_unix_ns, start_monotonic_ns : int, optional
        Wall clock (``time.time_ns()``) and monotonic clock (``time.monotonic_ns()``) at t=0. Both default
        to now. Record times are ns since t=0 on the monotonic clock.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        software: str,
        meta: Mapping[str, Any] | None = None,
        flush_interval_s: float = 0.5,
        start_unix_ns: int | None = None,
        start_monotonic_ns: int | None = None,
    ) -> None:
        if not 0.0 < flush_interval_s <= 1.0:
            raise ValueError(f"flush_interval_s must be in (0, 1] s; got {flush_interval_s!r}")
        if not isinstance(software, str):
            raise TypeError(f"software must be a str; got {type(software).__name__}")
        mono = time.monotonic_ns() if start_monotonic_ns is None else int(start_monotonic_ns)
        unix = time.time_ns() if start_unix_ns is None else int(start_unix_ns)
        created = datetime.fromtimestamp(unix / 1e9, tz=UTC).astimezone().isoformat(timespec="milliseconds")
        header = {
            "format": FORMAT_NAME,
            "version": JOURNAL_VERSION,
            "created": created,
            "start_unix_ns": unix,
            "start_monotonic_ns": mono,
            "software": software,
            "meta": dict(meta or {}),
        }
        first = PREAMBLE.pack(MAGIC, JOURNAL_VERSION, 0) + encode_record(
            RecordType.HEADER, encode_json(header, what="meta")
        )

        self._path = Path(path)
        self._start_unix_ns = unix
        self._start_monotonic_ns = mono
        self._flush_interval_s = float(flush_interval_s)
        self._fd = create_private(self._path, first)
        self._lock = threading.Lock()
        self._buf = bytearray()
        self._buf_since = 0.0  # monotonic time of the oldest record in the buffer
        self._dirty = False  # data written since the last fsync
        self._last_sync = time.monotonic()
        self._failure: OSError | None = None
        self._failed_action = ""
        self._closed = False
        self._packets = 0
        self._devices: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flush_loop, name=f"journal {self._path.name}", daemon=True)
        self._thread.start()
        log.debug("journal %s created", self._path)

    # -- clock -------------------------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        return self._path

    @property
    def start_unix_ns(self) -> int:
        """Wall-clock time at t=0, ns since the Unix epoch."""
        return self._start_unix_ns

    @property
    def start_monotonic_ns(self) -> int:
        """``time.monotonic_ns()`` at t=0."""
        return self._start_monotonic_ns

    @property
    def packets_written(self) -> int:
        return self._packets

    @property
    def closed(self) -> bool:
        return self._closed

    def now_ns(self) -> int:
        """Monotonic time now, in ns since t=0: the time base of every record."""
        return time.monotonic_ns() - self._start_monotonic_ns

    # -- records -----------------------------------------------------------------------------------------

    def add_device(self, info: DeviceInfo) -> None:
        """Write a DEVICE record; a later one with the same id replaces the earlier information."""
        if not isinstance(info, DeviceInfo):
            raise TypeError(f"info must be a DeviceInfo; got {type(info).__name__}")
        payload = encode_json(info.to_json(), what=f"settings of device {info.device}")
        with self._lock:
            self._append_locked(encode_record(RecordType.DEVICE, payload))
            self._devices.add(info.device)

    def write_packet(self, device: int, t_rx_ns: int, payload: bytes) -> None:
        """Append one raw notification payload received from ``device`` at ``t_rx_ns`` (ns since t=0).

        This is the hot path: it encodes into memory and makes no system call, except for writing the
        whole buffer once it is ``flush_interval_s`` old.
        """
        n = len(payload)
        if n > MAX_DATA_PAYLOAD_BYTES:
            raise ValueError(f"payload of {n} bytes exceeds the {MAX_DATA_PAYLOAD_BYTES}-byte limit")
        try:
            head = DATA_HEAD.pack(device, t_rx_ns)
        except struct.error:
            raise ValueError(
                f"device must be an int in 0..255 and t_rx_ns an int64; got {device!r}, {t_rx_ns!r}"
            ) from None
        crc = zlib.crc32(payload, zlib.crc32(head, CRC_INIT[RecordType.DATA]))
        with self._lock:
            if self._closed or self._failure is not None:
                self._raise_unusable()
            if device not in self._devices:
                raise ValueError(f"device {device} has no DEVICE record; call add_device() first")
            buf = self._buf
            if not buf:
                self._buf_since = time.monotonic()
            buf += RECORD_HEAD.pack(RecordType.DATA, n + DATA_HEAD.size, crc)
            buf += head
            buf += payload
            self._packets += 1
            if len(buf) >= _FLUSH_BYTES or time.monotonic() - self._buf_since >= self._flush_interval_s:
                self._write_buffer_locked()

    def write_packets(
        self,
        device: int,
        t_rx_ns: Sequence[int] | npt.NDArray[np.integer[Any]],
        payloads: Sequence[bytes],
    ) -> None:
        """Append many payloads of one device at once (simulated nights, imports).

        The result is the same as calling :meth:`write_packet` for each pair in order, only much faster.

        Parameters
        ----------
        device : int
            Device id, 0-255, already announced with :meth:`add_device`.
        t_rx_ns : array_like of int, shape (n_packets,)
            Receive times in ns since t=0.
        payloads : sequence of bytes, length n_packets
            Raw notification payloads.
        """
        dev = _check_device(device)
        t = np.asarray(t_rx_ns)
        if t.ndim != 1 or t.shape[0] != len(payloads):
            raise ValueError(
                f"t_rx_ns must be 1-D with one time per payload; got shape {t.shape} for {len(payloads)} payloads"
            )
        if t.size and t.dtype.kind not in "iu":
            raise ValueError(f"t_rx_ns must hold integer ns; got dtype {t.dtype}")
        if t.size and (int(t.min()) < _I64_MIN or int(t.max()) > _I64_MAX):
            raise ValueError("t_rx_ns values must fit in int64")
        t = t.astype(np.int64, copy=False)
        with self._lock:
            if dev not in self._devices:
                raise ValueError(f"device {dev} has no DEVICE record; call add_device() first")
        for start in range(0, len(payloads), _BULK_CHUNK):
            stop = min(start + _BULK_CHUNK, len(payloads))
            blob = encode_data_records(dev, t[start:stop], payloads[start:stop])
            with self._lock:
                if self._closed or self._failure is not None:
                    self._raise_unusable()
                self._write_buffer_locked()
                self._write_locked(blob)
                self._packets += stop - start

    def write_event(self, t_ns: int, kind: str, *, device: int | None = None, **fields: Any) -> None:
        """Append a connection event (``connected``, ``disconnected``, ``reconnecting``, ...).

        ``t_ns`` is in ns since t=0 (see :meth:`now_ns`); ``fields`` is extra JSON stored with it.
        """
        if isinstance(t_ns, bool) or not isinstance(t_ns, int | np.integer):
            raise ValueError(f"t_ns must be an int (ns since t=0); got {t_ns!r}")
        if not isinstance(kind, str) or not kind:
            raise ValueError(f"kind must be a non-empty str; got {kind!r}")
        obj = {"t_ns": int(t_ns), "kind": kind, "device": None if device is None else _check_device(device)}
        obj.update(fields)
        payload = encode_json(obj, what=f"fields of the {kind!r} event")
        with self._lock:
            self._append_locked(encode_record(RecordType.EVENT, payload))

    def write_marker(self, t_ns: int, label: str, **fields: Any) -> None:
        """Append a marker (an EVENT of kind ``"marker"``), e.g. a button press or a person's note."""
        self.write_event(t_ns, "marker", label=label, **fields)

    def _append_locked(self, record: bytes) -> None:
        if self._closed or self._failure is not None:
            self._raise_unusable()
        if not self._buf:
            self._buf_since = time.monotonic()
        self._buf += record
        if len(self._buf) >= _FLUSH_BYTES or time.monotonic() - self._buf_since >= self._flush_interval_s:
            self._write_buffer_locked()

    # -- writing to the OS -------------------------------------------------------------------------------

    def _raise_unusable(self) -> None:
        if self._failure is not None:
            raise JournalIOError(self._path, self._failed_action, os_reason(self._failure)) from self._failure
        raise JournalClosedError(self._path)

    def _write_buffer_locked(self) -> None:
        if self._buf:
            data, self._buf = self._buf, bytearray()
            self._write_locked(data)

    def _write_locked(self, data: bytes | bytearray) -> None:
        try:
            write_all(self._fd, data)
        except OSError as exc:
            # Part of a record may be on disk: nothing appended after it could be read, so stop here.
            self._failure, self._failed_action = exc, "write"
            self._raise_unusable()
        self._dirty = True

    def _flush_loop(self) -> None:
        """Flusher thread: write the buffer every ``flush_interval_s``; fsync about once per second."""
        interval = self._flush_interval_s
        while not self._stop.wait(interval):
            with self._lock:
                if self._closed or self._failure is not None:
                    return
                try:
                    self._write_buffer_locked()
                except JournalIOError as exc:
                    log.error("%s", exc)
                    return
                now = time.monotonic()
                sync = self._dirty and now - self._last_sync >= SYNC_INTERVAL_S - interval / 2
                if sync:
                    self._dirty, self._last_sync = False, now
            if sync:
                try:
                    os.fsync(self._fd)  # outside the lock: packets never wait for the disk
                except OSError as exc:
                    with self._lock:
                        self._failure, self._failed_action = exc, "sync"
                    log.error("%s", JournalIOError(self._path, "sync", os_reason(exc)))
                    return

    def flush(self, *, sync: bool = False) -> None:
        """Write buffered records to the OS now; with ``sync=True`` also fsync them to the disk."""
        with self._lock:
            if self._closed or self._failure is not None:
                self._raise_unusable()
            self._write_buffer_locked()
            if sync:
                try:
                    os.fsync(self._fd)
                except OSError as exc:
                    self._failure, self._failed_action = exc, "sync"
                    self._raise_unusable()
                self._dirty, self._last_sync = False, time.monotonic()

    # -- closing -----------------------------------------------------------------------------------------

    def close(self, **stats: Any) -> None:
        """Write the END record (``t_ns``, ``packets`` and ``stats``), flush, fsync and close.

        Closing again does nothing. Raises ``ValueError`` (and stays open) if ``stats`` are not JSON or
        redefine ``t_ns`` or ``packets``, and :class:`JournalIOError` if the recording could not be
        completed on disk (the file is closed anyway).
        """
        if self._closed:
            return
        clash = _END_RESERVED & stats.keys()
        if clash:
            raise ValueError(f"close() stats may not redefine {sorted(clash)}")
        encode_json(stats, what="close() stats")  # fail before anything is closed
        self._finish(lambda: (RecordType.END, {"t_ns": self.now_ns(), "packets": self._packets, **stats}))

    def abort(self, reason: str | None = None) -> None:
        """Close without END, so readers see an incomplete recording; never raises for I/O errors.

        An EVENT of kind ``"aborted"`` with ``error=reason`` is written first (when the file still
        accepts writes). Everything buffered is flushed and fsync'd. Closing again does nothing.
        """
        if self._closed:
            return
        event = {"kind": "aborted", "device": None, "error": None if reason is None else str(reason)}
        try:
            self._finish(lambda: (RecordType.EVENT, {"t_ns": self.now_ns(), **event}))
        except JournalIOError as exc:
            log.warning("%s", exc)

    def _finish(self, last: Callable[[], tuple[RecordType, dict[str, Any]]]) -> None:
        """Stop the flusher, append the record made by ``last`` (under the lock), flush, fsync, close."""
        self._stop.set()
        self._thread.join()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._failure is None:
                    rtype, obj = last()
                    self._buf += encode_record(rtype, encode_json(obj, what="the final record"))
                    self._write_buffer_locked()
                    try:
                        os.fsync(self._fd)
                    except OSError as exc:
                        self._failure, self._failed_action = exc, "sync"
            finally:
                self._buf = bytearray()
                try:
                    os.close(self._fd)
                except OSError as exc:
                    if self._failure is None:
                        self._failure, self._failed_action = exc, "close"
            log.debug("journal %s closed after %d packets", self._path, self._packets)
            if self._failure is not None:
                self._raise_unusable()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is None:
            self.close()
        elif isinstance(exc, Exception):
            self.abort(type(exc).__name__)
        else:
            try:
                self.close(stopped_by=type(exc).__name__)
            except JournalIOError as error:  # do not mask the interrupt
                log.warning("%s", error)
