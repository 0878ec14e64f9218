"""Journal reader: tolerant of torn tails, strict about what is not a journal, fast on long nights."""

from __future__ import annotations

import json
import logging
import os
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware_bridge.errors import (
    JournalFormatError,
    JournalIOError,
    JournalNotFoundError,
    JournalVersionError,
)
from firmware_bridge.journal._format import (
    CRC_INIT,
    DATA_HEAD,
    FORMAT_NAME,
    JOURNAL_VERSION,
    MAGIC,
    PREAMBLE,
    RECORD_HEAD,
    DeviceInfo,
    JournalEvent,
    Record,
    RecordType,
)
from firmware_bridge.journal._records import RecordIndex, RecordSequence

__all__ = ["Journal", "read_journal"]

log = logging.getLogger(__name__)

_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_CHUNK = 1 << 16
_HEAD = RECORD_HEAD.size
_DATA_FIXED = RECORD_HEAD.size + DATA_HEAD.size  # payload offset of a notification in a DATA record
_FIRST = PREAMBLE.size + RECORD_HEAD.size  # payload offset of the HEADER record
_MIN_TYPE, _MAX_TYPE = min(RecordType), max(RecordType)  # known types are 1..5


@dataclass(frozen=True, eq=False)
class Journal:
    """A journal read back from disk (see :func:`read_journal`).

    Attributes
    ----------
    path : pathlib.Path
        The file read.
    version : int
        Format version declared by the preamble.
    header : mapping or None
        The HEADER record's JSON; ``None`` if the file was cut before it was complete.
    devices : mapping of int to DeviceInfo
        Latest DEVICE information per device id.
    records : sequence of Record
        Every DEVICE, DATA, EVENT and END record in file order (the HEADER is :attr:`header`; records of
        unknown type or with invalid content are left out and counted).
    complete : bool
        Whether an END record is present (the writer was closed cleanly).
    end : mapping or None
        The END record's JSON (``t_ns``, ``packets`` and the writer's statistics).
    ignored_tail_bytes : int
        Bytes after the last complete, intact record (a torn tail after a crash; 0 after a clean close).
    skipped_unknown : int
        Intact records of a type this version does not know (written by a newer minor writer).
    skipped_invalid : int
        Intact records whose content is not valid (logged as warnings).
    compressed : bool
        Whether the file was gzip-compressed (``.ncr.gz``).
    """

    path: Path
    version: int
    header: Mapping[str, Any] | None
    devices: Mapping[int, DeviceInfo]
    records: Sequence[Record]
    complete: bool
    end: Mapping[str, Any] | None
    ignored_tail_bytes: int
    skipped_unknown: int
    skipped_invalid: int
    compressed: bool
    _index: RecordIndex = field(repr=False)

    @property
    def start_unix_ns(self) -> int | None:
        """Wall-clock time at t=0 (ns since the Unix epoch), from the header."""
        return None if self.header is None else int(self.header["start_unix_ns"])

    @property
    def start_monotonic_ns(self) -> int | None:
        """The writer's ``time.monotonic_ns()`` at t=0, from the header."""
        return None if self.header is None else int(self.header["start_monotonic_ns"])

    @property
    def n_packets(self) -> int:
        """Number of DATA records, all devices together."""
        return int(np.count_nonzero(self._index.types == RecordType.DATA))

    @property
    def last_t_ns(self) -> int | None:
        """Latest time of any DATA, EVENT or END record (ns since t=0), or ``None`` if there is none.

        The same as ``max(r.t_ns for r in records if r.t_ns is not None)``, without building the records.
        """
        idx = self._index
        timed = idx.t_ns[idx.types != RecordType.DEVICE]
        return int(timed.max()) if timed.size else None

    def packets(self, device: int) -> tuple[npt.NDArray[np.int64], list[bytes]]:
        """Receive times (ns since t=0, shape (n_packets,)) and raw payloads of one device, in file order."""
        idx = self._index
        sel = np.flatnonzero((idx.types == RecordType.DATA) & (idx.devices == device))
        starts = idx.offsets[sel] + _DATA_FIXED
        ends = idx.offsets[sel] + _HEAD + idx.lengths[sel]
        data = idx.data
        payloads = [data[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
        return idx.t_ns[sel], payloads

    def events(self) -> list[JournalEvent]:
        """Connection events and markers (EVENT records), in file order."""
        idx = self._index
        out = []
        for i in np.flatnonzero(idx.types == RecordType.EVENT).tolist():
            obj = idx.objs[i]
            fields = {k: v for k, v in obj.items() if k not in ("t_ns", "kind", "device")}
            out.append(JournalEvent(obj["t_ns"], obj["kind"], obj.get("device"), fields))
        return out

    def markers(self) -> list[JournalEvent]:
        """EVENT records of kind ``"marker"``, in file order."""
        return [e for e in self.events() if e.kind == "marker"]


def read_journal(path: str | os.PathLike[str]) -> Journal:
    """Read a journal (``.ncr``, or gzip-compressed ``.ncr.gz``) into memory.

    A truncated or torn tail is not an error: every complete, intact record before it is returned and
    :attr:`Journal.ignored_tail_bytes` says how much was left out. A file cut inside the 12-byte
    preamble opens as an empty journal, provided its bytes are a prefix of the signature.

    Raises
    ------
    JournalNotFoundError
        The file does not exist.
    JournalFormatError
        The path is a directory or an empty file, the file is not a journal, or its HEADER is damaged.
    JournalVersionError
        The file was written in a newer format version.
    JournalIOError
        The operating system refused to read it.
    """
    p = Path(path)
    if p.is_dir():
        raise JournalFormatError(p, f"{p} is a directory; pass the path of a .ncr journal file inside it")
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise JournalNotFoundError(p) from None
    except IsADirectoryError:
        raise JournalFormatError(p, f"{p} is a directory; pass the path of a .ncr journal file inside it") from None
    except OSError as exc:
        raise JournalIOError(p, "read", exc.strerror or str(exc)) from exc
    compressed = data[:2] == _GZIP_MAGIC
    if compressed:
        data = _gunzip(data)
        if not data:
            raise JournalFormatError(
                p, f"{p} is gzip-compressed but nothing could be decompressed from it; copy it again"
            )
    return _parse(p, data, compressed=compressed)


def _gunzip(data: bytes) -> bytes:
    """Decompress every gzip member; a truncated or corrupt stream yields what decompresses before it."""
    out: list[bytes] = []
    view = memoryview(data)
    pos, n = 0, len(data)
    while pos < n and data[pos : pos + 2] == _GZIP_MAGIC:
        d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        broken = False
        for i in range(pos, n, _GZIP_CHUNK):
            saved = d.copy()
            try:
                out.append(d.decompress(view[i : i + _GZIP_CHUNK]))
            except zlib.error:  # redo the chunk in small steps to keep what precedes the damage
                d, broken = saved, True
                for j in range(i, min(i + _GZIP_CHUNK, n), 256):
                    try:
                        out.append(d.decompress(view[j : j + 256]))
                    except zlib.error:
                        break
                break
            if d.eof:
                pos = min(i + _GZIP_CHUNK, n) - len(d.unused_data)
                break
        if broken or not d.eof:
            break
    return b"".join(out)


def _not_a_journal(path: Path, data: bytes) -> JournalFormatError:
    head = data[:8]
    if head[:4] == MAGIC[:4]:
        problem = (
            f"{path} has a damaged journal signature ({head.hex(' ')}), typically from a text-mode copy "
            "that converted line endings; copy the file again in binary mode"
        )
    else:
        problem = (
            f"{path} is not a NightCramp journal: it starts with {head.hex(' ')} instead of the signature "
            f"{MAGIC.hex(' ')}; pass a .ncr or .ncr.gz recording"
        )
    return JournalFormatError(path, problem, offset=0)


def _parse(path: Path, data: bytes, *, compressed: bool) -> Journal:
    if not data:
        raise JournalFormatError(
            path,
            f"{path} is empty (0 bytes) and holds no recording; pass a .ncr or .ncr.gz journal",
            offset=0,
        )
    if len(data) < PREAMBLE.size:  # cut inside the preamble: an empty journal if the bytes fit
        if data[:8] != MAGIC[: len(data)]:
            raise _not_a_journal(path, data)
        version = int.from_bytes(data[8:10], "little") if len(data) >= 10 else JOURNAL_VERSION
        _check_version(path, version)
        return _journal(path, version, data, [], 0, compressed=compressed)
    magic, version, _reserved = PREAMBLE.unpack_from(data)
    if magic != MAGIC:
        raise _not_a_journal(path, data)
    _check_version(path, version)
    offsets, stop = _scan(data, PREAMBLE.size)
    return _journal(path, version, data, offsets, stop, compressed=compressed)


def _check_version(path: Path, version: int) -> None:
    if not 1 <= version <= JOURNAL_VERSION:
        raise JournalVersionError(path, version, JOURNAL_VERSION)


def _scan(data: bytes, start: int) -> tuple[list[int], int]:
    """Offsets of the complete, intact records from ``start``, and the offset where they stop."""
    unpack, crc32, init = RECORD_HEAD.unpack_from, zlib.crc32, CRC_INIT
    view = memoryview(data)
    n = len(data)
    offsets: list[int] = []
    append = offsets.append
    off = start
    while off + _HEAD <= n:
        rtype, length, crc = unpack(data, off)
        end = off + _HEAD + length
        if end > n or crc32(view[off + _HEAD : end], init[rtype]) != crc:
            break
        append(off)
        off = end
    return offsets, off


def _journal(path: Path, version: int, data: bytes, offsets: list[int], stop: int, *, compressed: bool) -> Journal:
    raw = np.frombuffer(data, dtype=np.uint8)
    offs = np.asarray(offsets, dtype=np.int64)
    types = raw[offs]
    lengths = np.diff(offs, append=np.int64(stop)) - _HEAD  # records are back to back
    devices = np.full(len(offs), -1, dtype=np.int16)
    t_ns = np.zeros(len(offs), dtype=np.int64)
    keep = np.ones(len(offs), dtype=bool)
    is_data = types == RecordType.DATA
    short = is_data & (lengths < DATA_HEAD.size)
    is_data &= ~short
    devices[is_data] = raw[offs[is_data] + _HEAD]
    t_ns[is_data] = _gather_int64(raw, offs[is_data] + _HEAD + 1)
    unknown = (types < _MIN_TYPE) | (types > _MAX_TYPE)
    keep &= ~unknown & ~short
    skipped_invalid = int(np.count_nonzero(short))
    if skipped_invalid:
        log.warning("%s: %d DATA records too short to hold a device and a time were skipped", path, skipped_invalid)

    header: dict[str, Any] | None = None
    if len(offs):
        if types[0] != RecordType.HEADER:
            raise JournalFormatError(
                path,
                f"{path} does not start with a HEADER record (found type {int(types[0])}); "
                "the file is damaged or was not written by NightCramp",
                offset=PREAMBLE.size,
            )
        header = _check_header(path, _decode_json(data[_FIRST : _FIRST + int(lengths[0])]))
        keep[0] = False
    devices_info: dict[int, DeviceInfo] = {}
    objs: dict[int, Mapping[str, Any]] = {}
    end_obj: dict[str, Any] | None = None
    for i in np.flatnonzero(keep & ~is_data).tolist():
        rtype = RecordType(int(types[i]))
        start = int(offs[i]) + _HEAD
        obj = _decode_json(data[start : start + int(lengths[i])])
        info: DeviceInfo | None = None
        if obj is None:
            problem: str | None = "not a JSON object"
        elif rtype is RecordType.DEVICE:
            try:
                info, problem = DeviceInfo.from_json(obj), None
            except ValueError as exc:
                problem = str(exc)
        else:
            problem = _check_timed(rtype, obj)
        if obj is None or problem is not None:
            keep[i] = False
            skipped_invalid += 1
            log.warning("%s: invalid %s record at byte %d skipped (%s)", path, rtype.name, offs[i], problem)
            continue
        objs[i] = obj
        if info is not None:
            devices_info[info.device] = info
            devices[i] = info.device
            continue
        t_ns[i] = obj["t_ns"]
        if rtype is RecordType.EVENT:
            devices[i] = -1 if obj.get("device") is None else obj["device"]
        else:
            end_obj = obj

    kept = np.flatnonzero(keep)
    old_positions = sorted(objs)
    new_positions = np.searchsorted(kept, old_positions).tolist()
    index = RecordIndex(
        data=data,
        types=types[kept],
        offsets=offs[kept],
        lengths=lengths[kept],
        devices=devices[kept],
        t_ns=t_ns[kept],
        objs={new: objs[old] for old, new in zip(old_positions, new_positions, strict=True)},
    )
    return Journal(
        path=path,
        version=version,
        header=header,
        devices=devices_info,
        records=RecordSequence(index),
        complete=end_obj is not None,
        end=end_obj,
        ignored_tail_bytes=len(data) - min(stop, len(data)) if offsets or len(data) >= PREAMBLE.size else len(data),
        skipped_unknown=int(np.count_nonzero(unknown)),
        skipped_invalid=skipped_invalid,
        compressed=compressed,
        _index=index,
    )


def _gather_int64(raw: npt.NDArray[np.uint8], starts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Little-endian int64 values at the (unaligned) byte offsets ``starts``, vectorised."""
    out = np.empty((len(starts), 8), dtype=np.uint8)
    for k in range(8):
        out[:, k] = raw[starts + k]
    return out.view("<i8")[:, 0].astype(np.int64)


def _decode_json(payload: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(payload.decode("utf-8"))
    except (ValueError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_header(path: Path, obj: dict[str, Any] | None) -> dict[str, Any]:
    if obj is None or obj.get("format") != FORMAT_NAME:
        raise JournalFormatError(
            path,
            f"{path} has a damaged HEADER record (not a {FORMAT_NAME} object); the file cannot be used",
            offset=PREAMBLE.size,
        )
    for key in ("start_unix_ns", "start_monotonic_ns"):
        if not _is_int(obj.get(key)):
            raise JournalFormatError(
                path,
                f"{path} has a damaged HEADER record ({key} is not an integer); the file cannot be used",
                offset=PREAMBLE.size,
            )
    return obj


def _check_timed(rtype: RecordType, obj: dict[str, Any]) -> str | None:
    """Why an EVENT or END object (or a misplaced HEADER) is invalid, or ``None`` if it is valid."""
    if rtype is RecordType.HEADER:
        return "a second HEADER record"
    if not _is_int(obj.get("t_ns")) or not -(1 << 63) <= obj["t_ns"] < 1 << 63:
        return "t_ns is not an int64"
    if rtype is RecordType.EVENT:
        if not isinstance(obj.get("kind"), str):
            return "kind is not a str"
        device = obj.get("device")
        if device is not None and not (_is_int(device) and 0 <= device <= 255):
            return "device is not an int in 0..255"
    return None
