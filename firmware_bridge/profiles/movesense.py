"""``movesense``: Movesense sensors' accelerometer over the GATT SensorData Protocol (GSP).

GATT: service ``34802252-…``; commands written to ``34800001-…``, notifications on ``34800002-…``.

- Command: ``[command][client reference, not 0][data]``: HELLO 0, SUBSCRIBE 1 with the resource path in
  ASCII (``01 63 "/Meas/Acc/52"``), UNSUBSCRIBE 2 with the same reference (``02 63``).
- Notification: ``[type][reference][...]``: 1 = command result (a 2-byte status; its byte order differs
  between firmwares, so the order that gives an HTTP-like code is taken; HELLO answers ``"Hello"``),
  2 = data, 3 = the continuation of data that did not fit one notification.
- ``/Meas/Acc/{rate}`` data: ``uint32`` LE milliseconds (the sensor's clock, at the FIRST sample), then
  x, y, z ``float32`` LE per sample in m/s², converted here to g (/ 9.80665).

The sensor drops its subscriptions when the link goes: the bridge subscribes again after every reconnect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware_bridge.profiles.base import Decoded, SampleBlock, StreamSpec

MOVESENSE_SERVICE = "34802252-7185-4d5d-b431-630e7050e8f0"
MOVESENSE_COMMAND = "34800001-7185-4d5d-b431-630e7050e8f0"
MOVESENSE_DATA = "34800002-7185-4d5d-b431-630e7050e8f0"
HELLO, SUBSCRIBE, UNSUBSCRIBE = 0, 1, 2
RESULT, DATA, DATA_PART2 = 1, 2, 3
STANDARD_GRAVITY = 9.80665
RATES_HZ = (13.0, 26.0, 52.0, 104.0, 208.0, 416.0, 833.0, 1666.0)


def subscribe_command(ref: int, path: str) -> bytes:
    if not 1 <= ref <= 255:
        raise ValueError(f"client reference must be 1-255, got {ref}")
    return bytes((SUBSCRIBE, ref)) + path.encode("ascii")


def unsubscribe_command(ref: int) -> bytes:
    return bytes((UNSUBSCRIBE, ref))


def result_status(payload: bytes) -> int | None:
    """The status of a command-result notification (either byte order), None for HELLO or a short one."""
    if len(payload) < 4 or payload[0] != RESULT or payload[2:7] == b"Hello":
        return None
    little, big = int.from_bytes(payload[2:4], "little"), int.from_bytes(payload[2:4], "big")
    return little if 100 <= little <= 599 else big


class MovesenseProfile:
    """Profile of Movesense sensors' accelerometer stream."""

    name = "movesense"
    version = 1
    service_uuid = MOVESENSE_SERVICE
    notify_uuid = MOVESENSE_DATA
    write_uuid: str | None = MOVESENSE_COMMAND
    device_clock_wrap_ns: int | None = (2**32) * 1_000_000  # the millisecond counter wraps after 49.7 days
    seq_wrap: int | None = None

    def default_settings(self) -> dict[str, Any]:
        return {"acc_fs_hz": 104.0, "client_ref": 99}

    def _fs(self, settings: Mapping[str, Any]) -> float:
        fs = float(settings.get("acc_fs_hz", 104.0))
        if fs not in RATES_HZ:
            raise ValueError(f"Movesense accelerometer rates are {', '.join(f'{r:g}' for r in RATES_HZ)} Hz")
        return fs

    def streams(self, settings: Mapping[str, Any]) -> tuple[StreamSpec, ...]:
        return (StreamSpec("acc", "acc", ("x", "y", "z"), "g", self._fs(settings), None),)

    def matches(self, name: str | None, service_uuids: Sequence[str]) -> bool:
        return MOVESENSE_SERVICE in {u.lower() for u in service_uuids} or (name or "").lower().startswith("movesense")

    def start_commands(self, settings: Mapping[str, Any]) -> list[tuple[str, bytes]]:
        ref = int(settings.get("client_ref", 99))
        path = f"/Meas/Acc/{self._fs(settings):g}"
        return [(MOVESENSE_COMMAND, subscribe_command(ref, path))]

    def stop_commands(self, settings: Mapping[str, Any]) -> list[tuple[str, bytes]]:
        return [(MOVESENSE_COMMAND, unsubscribe_command(int(settings.get("client_ref", 99))))]

    def decode(self, payloads: Sequence[bytes], t_rx_ns: npt.ArrayLike, settings: Mapping[str, Any]) -> Decoded:
        """Data notifications (continuations joined to their first part) -> one block in g."""
        t_rx = np.asarray(t_rx_ns, dtype=np.int64).reshape(-1)
        if t_rx.size != len(payloads):
            raise ValueError(f"{len(payloads)} payloads but {t_rx.size} receive times")
        ref = int(settings.get("client_ref", 99))
        frames: list[tuple[int, bytearray]] = []  # (index of the first part, joined body)
        malformed = 0
        info: list[dict[str, Any]] = []
        for i, p in enumerate(payloads):
            kind = p[0] if p else -1
            if kind == DATA and len(p) >= 6 and p[1] == ref:
                frames.append((i, bytearray(p[2:])))
            elif kind == DATA_PART2 and len(p) > 2 and p[1] == ref and frames and frames[-1][0] == i - 1:
                frames[-1][1].extend(p[2:])
            elif kind == RESULT and len(p) >= 4:
                info.append({"reference": p[1], "status": result_status(bytes(p)), "hello": p[2:7] == b"Hello"})
            else:
                malformed += 1
        good = [(i, b) for i, b in frames if (len(b) - 4) % 12 == 0 and len(b) > 4]
        malformed += len(frames) - len(good)
        if not good:
            return Decoded((), malformed, tuple(info))
        ts = np.array([int.from_bytes(b[:4], "little") for _, b in good], dtype=np.int64)
        xyz = np.frombuffer(b"".join(bytes(b[4:]) for _, b in good), dtype="<f4").astype(np.float64)
        counts = np.array([(len(b) - 4) // 12 for _, b in good], dtype=np.int64)
        data = xyz.reshape(-1, 3).T / STANDARD_GRAVITY
        bad = ~np.isfinite(data).all(axis=0)
        data[:, bad] = np.nan  # a non-finite float is a sample lost, not a value
        block = SampleBlock("acc", data, counts, t_rx[np.array([i for i, _ in good])], t_device_ns=ts * 1_000_000)
        return Decoded((block,), malformed, tuple(info))


PROFILE = MovesenseProfile()
