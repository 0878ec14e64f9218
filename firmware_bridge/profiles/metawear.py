"""``metawear``: MbientLab MetaWear / MetaMotion accelerometer (Bosch BMI160 or BMI270).

GATT: service ``326a9000-…``; commands written to ``326a9001-…``, data notified on ``326a9006-…``. Every
message is ``[module][register][data]``; the accelerometer is module 0x03.

Start, in the SDK's order: configure rate and range ``03 03 <conf> <range>``, subscribe to the data
(single samples ``03 04 01``, or three samples per notification ``03 1C 01`` on a BMI160 / ``03 05 01`` on a
BMI270, which rates above ~100 Hz need), enable sampling ``03 02 01 00``, start ``03 01 01`` (BMI270:
``03 01 02``). Stop: ``03 01 00``, ``03 02 00 01``, unsubscribe.

- BMI160 ``conf`` = ``0x20 | odr`` with odr 5 = 12.5 Hz, 6 = 25, 7 = 50, 8 = 100, 9 = 200, 10 = 400,
  11 = 800, 12 = 1600 Hz; ``range`` 0x03 / 0x05 / 0x08 / 0x0C for ±2 / 4 / 8 / 16 g.
- BMI270 ``conf`` = ``0xA0 | odr`` (same odr codes); ``range`` 0-3 for ±2 / 4 / 8 / 16 g.
- Data: ``03 04`` + x, y, z int16 LE, or ``03 1C`` / ``03 05`` + three such samples (20 bytes); 16384 /
  8192 / 4096 / 2048 counts per g at ±2 / 4 / 8 / 16 g.

Streamed data carries no device time: samples are placed by count from the first notification, and the
recording's timeline watches the arrival times for gaps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware_bridge.profiles.base import Decoded, SampleBlock, StreamSpec

METAWEAR_SERVICE = "326a9000-85cb-9195-d9dd-464cfbbae75a"
METAWEAR_COMMAND = "326a9001-85cb-9195-d9dd-464cfbbae75a"
METAWEAR_NOTIFY = "326a9006-85cb-9195-d9dd-464cfbbae75a"
ACC_MODULE = 0x03
DATA, PACKED_BMI160, PACKED_BMI270 = 0x04, 0x1C, 0x05
ODR_CODES = {12.5: 5, 25.0: 6, 50.0: 7, 100.0: 8, 200.0: 9, 400.0: 10, 800.0: 11, 1600.0: 12}
BMI160_RANGE = {2.0: 0x03, 4.0: 0x05, 8.0: 0x08, 16.0: 0x0C}
BMI270_RANGE = {2.0: 0, 4.0: 1, 8.0: 2, 16.0: 3}
COUNTS_PER_G = {2.0: 16384.0, 4.0: 8192.0, 8.0: 4096.0, 16.0: 2048.0}


def _chip(settings: Mapping[str, Any]) -> str:
    chip = str(settings.get("chip", "bmi160")).lower()
    if chip not in ("bmi160", "bmi270"):
        raise ValueError(f"MetaWear accelerometer chip must be bmi160 or bmi270, got {chip!r}")
    return chip


def _rate_range(settings: Mapping[str, Any]) -> tuple[float, float]:
    fs, rng = float(settings.get("acc_fs_hz", 100.0)), float(settings.get("range_g", 8.0))
    if fs not in ODR_CODES:
        raise ValueError(f"MetaWear rates are {sorted(ODR_CODES)} Hz, got {fs:g}")
    if rng not in COUNTS_PER_G:
        raise ValueError(f"MetaWear ranges are ±2, 4, 8 or 16 g, got {rng:g}")
    return fs, rng


def config_command(settings: Mapping[str, Any]) -> bytes:
    fs, rng = _rate_range(settings)
    if _chip(settings) == "bmi160":
        return bytes((ACC_MODULE, 0x03, 0x20 | ODR_CODES[fs], BMI160_RANGE[rng]))
    return bytes((ACC_MODULE, 0x03, 0xA0 | ODR_CODES[fs], BMI270_RANGE[rng]))


def _data_register(settings: Mapping[str, Any]) -> int:
    if not settings.get("packed", True):
        return DATA
    return PACKED_BMI160 if _chip(settings) == "bmi160" else PACKED_BMI270


class MetaWearProfile:
    """Profile of MetaWear / MetaMotion boards' accelerometer stream."""

    name = "metawear"
    version = 1
    service_uuid = METAWEAR_SERVICE
    notify_uuid = METAWEAR_NOTIFY
    write_uuid: str | None = METAWEAR_COMMAND
    device_clock_wrap_ns: int | None = None
    seq_wrap: int | None = None

    def default_settings(self) -> dict[str, Any]:
        return {"chip": "bmi160", "acc_fs_hz": 100.0, "range_g": 8.0, "packed": True}

    def streams(self, settings: Mapping[str, Any]) -> tuple[StreamSpec, ...]:
        fs, rng = _rate_range(settings)
        return (StreamSpec("acc", "acc", ("x", "y", "z"), "g", fs, rng),)

    def matches(self, name: str | None, service_uuids: Sequence[str]) -> bool:
        n = (name or "").lower()
        return METAWEAR_SERVICE in {u.lower() for u in service_uuids} or n.startswith(("metawear", "metamotion"))

    def start_commands(self, settings: Mapping[str, Any]) -> list[tuple[str, bytes]]:
        start = b"\x03\x01\x01" if _chip(settings) == "bmi160" else b"\x03\x01\x02"
        return [
            (METAWEAR_COMMAND, config_command(settings)),
            (METAWEAR_COMMAND, bytes((ACC_MODULE, _data_register(settings), 0x01))),
            (METAWEAR_COMMAND, b"\x03\x02\x01\x00"),
            (METAWEAR_COMMAND, start),
        ]

    def stop_commands(self, settings: Mapping[str, Any]) -> list[tuple[str, bytes]]:
        return [
            (METAWEAR_COMMAND, b"\x03\x01\x00"),
            (METAWEAR_COMMAND, b"\x03\x02\x00\x01"),
            (METAWEAR_COMMAND, bytes((ACC_MODULE, _data_register(settings), 0x00))),
        ]

    def decode(self, payloads: Sequence[bytes], t_rx_ns: npt.ArrayLike, settings: Mapping[str, Any]) -> Decoded:
        """Single and packed accelerometer notifications -> one block in g; other modules' messages are
        not samples and are counted as malformed only when they claim to be accelerometer data."""
        t_rx = np.asarray(t_rx_ns, dtype=np.int64).reshape(-1)
        if t_rx.size != len(payloads):
            raise ValueError(f"{len(payloads)} payloads but {t_rx.size} receive times")
        _, rng = _rate_range(settings)
        packed = (PACKED_BMI160, PACKED_BMI270)
        keep, counts, malformed = [], [], 0
        for i, p in enumerate(payloads):
            if len(p) == 8 and p[0] == ACC_MODULE and p[1] == DATA:
                keep.append(i)
                counts.append(1)
            elif len(p) == 20 and p[0] == ACC_MODULE and p[1] in packed:
                keep.append(i)
                counts.append(3)
            else:
                malformed += 1
        if not keep:
            return Decoded((), malformed)
        body = b"".join(bytes(payloads[i][2:]) for i in keep)
        xyz = np.frombuffer(body, dtype="<i2").reshape(-1, 3).T / COUNTS_PER_G[rng]
        block = SampleBlock("acc", xyz.astype(np.float64), np.asarray(counts, dtype=np.int64), t_rx[np.asarray(keep)])
        return Decoded((block,), malformed)


PROFILE = MetaWearProfile()
