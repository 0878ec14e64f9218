"""The recording journal: NightCramp's own file of what arrived from the bands (``.ncr``).

A journal stores the raw notification payloads with their host receive times, the device profile and its
settings, connection events and markers, so that a replay decodes through the same profile decoders as
the live recording (fixing a decoder fixes old nights too). It is append-only: :class:`JournalWriter`
flushes to the OS at least every ``flush_interval_s`` (0.5 s by default) and fsyncs about once per
second, and :func:`read_journal` opens a file cut at any byte, returning every complete record before the
cut. Files are created with mode 0600 and never overwrite an existing file.

Format, version 1
=================

All integers are little-endian. Times are nanoseconds since t=0, the moment given by the HEADER's
``start_monotonic_ns`` (the writer's ``time.monotonic_ns()``) and ``start_unix_ns`` (its wall clock).

Preamble, 12 bytes::

    offset  size  field
    0       8     magic  89 4E 43 4A 0D 0A 1A 0A  (b"\\x89NCJ\\r\\n\\x1a\\n": the high byte catches 7-bit
                  transfers, CR LF and LF catch line-ending conversion, 1A stops DOS ``type``)
    8       2     u16 format version (1)
    10      2     u16 reserved, written as 0 and ignored by readers

Then records, back to back until the end of the file::

    offset  size  field
    0       1     u8  record type
    1       4     u32 payload length n
    5       4     u32 CRC-32 (zlib.crc32, as in gzip and PNG) of the type byte followed by the payload
    9       n     payload

Record types:

1 HEADER (UTF-8 JSON), always the first record::

    {"format": "nightcramp-journal", "version": 1, "created": "2025-01-31T23:04:12.345+01:00",
     "start_unix_ns": int, "start_monotonic_ns": int, "software": str, "meta": {...free JSON...}}

2 DEVICE (UTF-8 JSON), any time, at least before the device's first DATA record; a later DEVICE record
with the same id replaces the earlier information (settings renegotiated after a reconnect)::

    {"device": 0-255, "profile": str, "profile_version": int, "leg": "left" | "right" | null,
     "name": str | null, "address": str | null, "settings": {...}}

3 DATA (binary), one BLE notification::

    offset  size  field
    0       1     u8  device id
    1       8     i64 t_rx_ns, host receive time
    9       m     the raw notification payload (0 to 65,536 bytes; BLE gives at most 512)

4 EVENT (UTF-8 JSON), a connection event or a marker::

    {"t_ns": int, "kind": str, "device": int | null, ...more fields}

   ``kind`` is ``connected``, ``disconnected``, ``reconnecting``, ``stream_started``, ... for connection
   events, ``marker`` (with a ``label``) for markers, and ``aborted`` (with ``error``) when the writer was
   closed by an exception.

5 END (UTF-8 JSON), written by a clean close only::

    {"t_ns": int, "packets": int, ...the writer's statistics}

Reading rules: a reader stops at the first record that is incomplete or fails its CRC (a torn tail after
a crash) and reports how many bytes it ignored; it never raises for that. Records of an unknown type with
a valid CRC are skipped and counted (forward compatibility within version 1). A file whose preamble
declares a newer version is refused with :class:`~firmware_bridge.errors.JournalVersionError`. A journal
may be stored gzip-compressed (``.ncr.gz``, recognised by the gzip magic 1F 8B); a truncated gzip stream
yields what decompresses. An empty file, a directory, or a file that does not start with the magic is
refused with :class:`~firmware_bridge.errors.JournalFormatError`; a file cut inside the preamble whose
bytes match it opens as an empty journal.

A journal of an 8-hour night with two bands (~1.5 million 110-byte packets) is about 190 MB.
"""

from firmware_bridge.journal._format import (
    JOURNAL_SUFFIX,
    JOURNAL_VERSION,
    MAGIC,
    MAX_DATA_PAYLOAD_BYTES,
    DeviceInfo,
    JournalEvent,
    Record,
    RecordType,
)
from firmware_bridge.journal.reader import Journal, read_journal
from firmware_bridge.journal.writer import SYNC_INTERVAL_S, JournalWriter

__all__ = [
    "JOURNAL_SUFFIX",
    "JOURNAL_VERSION",
    "MAGIC",
    "MAX_DATA_PAYLOAD_BYTES",
    "SYNC_INTERVAL_S",
    "DeviceInfo",
    "Journal",
    "JournalEvent",
    "JournalWriter",
    "Record",
    "RecordType",
    "read_journal",
]
