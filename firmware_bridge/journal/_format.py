"""Byte layout, record types and value types of the journal format (see the package docstring)."""

from __future__ import annotations

import enum
import itertools
import json
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "CRC_INIT",
    "DATA_DTYPE",
    "DATA_FIXED",
    "DATA_HEAD",
    "FORMAT_NAME",
    "JOURNAL_SUFFIX",
    "JOURNAL_VERSION",
    "LEGS",
    "MAGIC",
    "MAX_DATA_PAYLOAD_BYTES",
    "PREAMBLE",
    "RECORD_HEAD",
    "DeviceInfo",
    "JournalEvent",
    "Record",
    "RecordType",
    "encode_data_records",
    "encode_json",
    "encode_record",
]

#: Newest journal format version this code writes and reads.
JOURNAL_VERSION = 1
#: First 8 bytes of every journal (PNG-style: high bit, name, CR LF, Ctrl-Z, LF).
MAGIC = b"\x89NCJ\r\n\x1a\n"
#: Value of ``"format"`` in the HEADER record.
FORMAT_NAME = "nightcramp-journal"
#: File name suffix of a journal (``.ncr.gz`` when compressed).
JOURNAL_SUFFIX = ".ncr"
#: Largest raw notification payload a DATA record accepts (BLE payloads are at most 512 bytes).
MAX_DATA_PAYLOAD_BYTES = 65_536
#: Accepted values of :attr:`DeviceInfo.leg`.
LEGS = ("left", "right", None)

#: magic, u16 format version, u16 reserved (0).
PREAMBLE = struct.Struct("<8sHH")
#: u8 record type, u32 payload length, u32 CRC-32 of the type byte followed by the payload.
RECORD_HEAD = struct.Struct("<BII")
#: Start of a DATA payload: u8 device, i64 receive time in ns since t=0.
DATA_HEAD = struct.Struct("<Bq")
#: A DATA record's fixed part as a packed numpy record: RECORD_HEAD then DATA_HEAD (18 bytes).
DATA_DTYPE = np.dtype([("type", "u1"), ("length", "<u4"), ("crc", "<u4"), ("device", "u1"), ("t", "<i8")], align=False)
#: Offset of the notification payload in a DATA record.
DATA_FIXED = DATA_DTYPE.itemsize
#: ``CRC_INIT[t] == zlib.crc32(bytes([t]))``: the CRC of a record's type byte, to continue over its payload.
CRC_INIT: tuple[int, ...] = tuple(zlib.crc32(bytes((t,))) for t in range(256))


class RecordType(enum.IntEnum):
    """Type byte of a journal record."""

    HEADER = 1
    DEVICE = 2
    DATA = 3
    EVENT = 4
    END = 5


def encode_json(obj: Mapping[str, Any], *, what: str) -> bytes:
    """Compact, standard (no NaN) JSON of ``obj`` as UTF-8; ``ValueError`` names ``what`` on failure."""
    try:
        text = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what} must be JSON-serialisable without NaN or infinity: {exc}") from None
    return text.encode("utf-8")


def encode_record(record_type: int, payload: bytes) -> bytes:
    """One complete record: head (type, length, CRC) followed by ``payload``."""
    crc = zlib.crc32(payload, CRC_INIT[record_type])
    return RECORD_HEAD.pack(record_type, len(payload), crc) + payload


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _optional_str(value: object) -> bool:
    return value is None or isinstance(value, str)


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A band as recorded in a DEVICE record: which profile decodes its payloads, and with what settings.

    Parameters
    ----------
    device : int
        Journal-local device id, 0-255, used by DATA and EVENT records.
    profile : str
        Name of the device profile whose decoder reads this band's payloads.
    profile_version : int
        Version of that profile's wire format.
    leg : {"left", "right"} or None
        Leg wearing the band, if known.
    name, address : str or None
        Advertised name and Bluetooth address, if known.
    settings : mapping
        Negotiated stream settings (sampling rates, ranges, MTU, ...); free JSON.
    """

    device: int
    profile: str
    profile_version: int
    leg: str | None = None
    name: str | None = None
    address: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _is_int(self.device) or not 0 <= self.device <= 255:
            raise ValueError(f"device id must be an int in 0..255; got {self.device!r}")
        if not isinstance(self.profile, str) or not self.profile:
            raise ValueError(f"profile must be a non-empty str; got {self.profile!r}")
        if not _is_int(self.profile_version):
            raise ValueError(f"profile_version must be an int; got {self.profile_version!r}")
        if self.leg not in LEGS:
            raise ValueError(f"leg must be 'left', 'right' or None; got {self.leg!r}")
        if not _optional_str(self.name) or not _optional_str(self.address):
            raise ValueError(f"name and address must be str or None; got {self.name!r}, {self.address!r}")
        if not isinstance(self.settings, Mapping):
            raise ValueError(f"settings must be a mapping; got {type(self.settings).__name__}")

    def to_json(self) -> dict[str, Any]:
        """The DEVICE record's JSON object."""
        return {
            "device": self.device,
            "profile": self.profile,
            "profile_version": self.profile_version,
            "leg": self.leg,
            "name": self.name,
            "address": self.address,
            "settings": dict(self.settings),
        }

    @classmethod
    def from_json(cls, obj: object) -> DeviceInfo:
        """Parse a DEVICE record's JSON object; ``ValueError`` if it is not one."""
        if not isinstance(obj, dict):
            raise ValueError("DEVICE record is not a JSON object")
        try:
            return cls(
                device=obj["device"],
                profile=obj["profile"],
                profile_version=obj["profile_version"],
                leg=obj.get("leg"),
                name=obj.get("name"),
                address=obj.get("address"),
                settings=obj.get("settings", {}),
            )
        except KeyError as exc:
            raise ValueError(f"DEVICE record lacks {exc.args[0]!r}") from None


@dataclass(frozen=True, slots=True)
class JournalEvent:
    """A connection event or marker (EVENT record).

    ``kind`` is ``"connected"``, ``"disconnected"``, ``"reconnecting"``, ``"stream_started"``, ``"marker"``
    (with a ``label`` field), ``"aborted"`` or any later addition; ``fields`` holds every other key.
    """

    t_ns: int
    kind: str
    device: int | None
    fields: Mapping[str, Any]

    @property
    def label(self) -> str | None:
        """The marker's label (``None`` for other kinds)."""
        label = self.fields.get("label")
        return label if self.kind == "marker" and isinstance(label, str) else None


@dataclass(frozen=True, slots=True)
class Record:
    """One record of a journal, in file order.

    Attributes
    ----------
    type : RecordType
        DEVICE, DATA, EVENT or END (the HEADER is :attr:`Journal.header`).
    offset : int
        Byte offset of the record's head in the (decompressed) file.
    t_ns : int or None
        DATA: host receive time; EVENT, END: event time. In ns since t=0 (``Journal.start_monotonic_ns``).
    device : int or None
        Device id of DATA and DEVICE records, and of EVENT records that concern one band.
    payload : bytes or None
        DATA: the raw notification payload.
    obj : mapping or None
        DEVICE, EVENT, END: the decoded JSON object.
    """

    type: RecordType
    offset: int
    t_ns: int | None = None
    device: int | None = None
    payload: bytes | None = None
    obj: Mapping[str, Any] | None = None


def encode_data_records(device: int, t: npt.NDArray[np.int64], payloads: Sequence[bytes]) -> bytearray:
    """DATA records for ``payloads`` in order, byte-identical to :meth:`JournalWriter.write_packet`'s."""
    n = len(payloads)
    lengths = np.fromiter(map(len, payloads), dtype=np.int64, count=n)
    if n and int(lengths.max()) > MAX_DATA_PAYLOAD_BYTES:
        raise ValueError(f"a payload exceeds the {MAX_DATA_PAYLOAD_BYTES}-byte limit")
    fixed = np.zeros(n, dtype=DATA_DTYPE)
    fixed["type"] = RecordType.DATA
    fixed["length"] = lengths + DATA_HEAD.size
    fixed["device"] = device
    fixed["t"] = t
    raw = fixed.tobytes()
    parts: list[bytes] = [b""] * (2 * n)
    parts[0::2] = [raw[i : i + DATA_FIXED] for i in range(0, len(raw), DATA_FIXED)]
    parts[1::2] = payloads
    blob = bytearray().join(parts)
    ends = np.cumsum(lengths + DATA_FIXED)
    starts = ends - (lengths + DATA_FIXED)
    crc32, init, skip = zlib.crc32, CRC_INIT[RecordType.DATA], RECORD_HEAD.size
    with memoryview(blob) as view:
        bodies = map(view.__getitem__, map(slice, (starts + skip).tolist(), ends.tolist()))
        crcs = np.fromiter(map(crc32, bodies, itertools.repeat(init, n)), dtype=np.uint32, count=n)
    out = np.frombuffer(blob, dtype=np.uint8)
    for k in range(4):  # little-endian CRC at bytes 5..8 of each record
        out[starts + 5 + k] = (crcs >> np.uint32(8 * k)) & np.uint32(0xFF)
    del out
    return blob
