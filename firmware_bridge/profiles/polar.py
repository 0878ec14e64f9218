"""``polar``: Polar Verity Sense and Polar H10 accelerometers over the Polar Measurement Data (PMD) service.

GATT: service ``FB005C80-…``, control point ``FB005C81-…`` (write with response, indications) and data
``FB005C82-…`` (notifications). Order on every connection: indications on the control point, notifications
on data, then (Verity, for rates above 52 Hz) SDK mode on, ask the ACC settings the band offers, start ACC
with the chosen ones; the start response may carry a FACTOR. Before disconnecting: stop ACC.

Data frame: ``[type & 0x3F][u64 LE timestamp, ns since 2000-01-01, of the frame's LAST sample][frame type]``
then the payload. ACC frame types handled:

====== ========================================================= =========================================
type   payload                                                   unit
====== ========================================================= =========================================
0x00   x, y, z int8 per sample                                    mG
0x01   x, y, z int16 LE per sample (H10)                          mG
0x02   x, y, z int24 LE per sample                                mG
0x80   delta-compressed (below), 16-bit                           G: ``trunc(v * factor * 1000)`` in float32
0x81   delta-compressed (below), 16-bit                           mG (``trunc(v * factor)`` if factor != 1)
====== ========================================================= =========================================

Delta compression: a reference sample (3 x int16 LE) that is itself the first sample, then blocks of
``[bit width W][count N][ceil(W * N * 3 / 8) bytes]`` to the end of the payload. The block is a
little-endian bit stream of W-bit two's-complement deltas, sample-major (x, y, z, x, ...); each sample is
the previous plus its deltas, carried across blocks. Decoding is vectorised over all frames of a batch:
block headers are read in a loop (two bytes each), then every delta of every block is unpacked, sign-
extended and summed in a few numpy passes.

Per-sample times follow the SDK rule (:func:`sample_timestamps_ns`); :class:`SampleBlock` carries each
frame's first-sample time by the nominal rate, ``ts - (N - 1) / fs``, which does not depend on how frames
are batched (the recording's timeline chains frames and uses the clock only to place them).
"""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware_bridge.profiles.base import Decoded, SampleBlock, StreamSpec

PMD_SERVICE = "fb005c80-02e7-f387-1cad-8acd2d8df0c8"
PMD_CP = "fb005c81-02e7-f387-1cad-8acd2d8df0c8"
PMD_DATA = "fb005c82-02e7-f387-1cad-8acd2d8df0c8"
EPOCH_2000_UNIX_NS = 946_684_800_000_000_000  #: add to a Polar timestamp to get Unix time

# measurement types (low 6 bits of a frame's first byte and of control-point requests)
ECG, PPG, ACC, PPI, GYRO, MAG, SDK_MODE = 0, 1, 2, 3, 5, 6, 9
# control-point op codes
GET_SETTINGS, START, STOP, GET_SDK_SETTINGS = 0x01, 0x02, 0x03, 0x04
# setting types: (name, bytes per value)
SAMPLE_RATE, RESOLUTION, RANGE, RANGE_MILLIUNIT, CHANNELS, FACTOR, SECURITY = 0, 1, 2, 3, 4, 5, 6
SETTING_BYTES = {SAMPLE_RATE: 2, RESOLUTION: 2, RANGE: 2, RANGE_MILLIUNIT: 4, CHANNELS: 1, FACTOR: 4, SECURITY: 16}
SETTING_NAMES = {
    SAMPLE_RATE: "sample_rate",
    RESOLUTION: "resolution",
    RANGE: "range",
    RANGE_MILLIUNIT: "range_milliunit",
    CHANNELS: "channels",
    FACTOR: "factor",
    SECURITY: "security",
}
STATUS_TEXT = {
    0: "success",
    1: "invalid op code",
    2: "invalid measurement type",
    3: "not supported",
    4: "invalid length",
    5: "invalid parameter",
    6: "already in that state",
    7: "invalid resolution",
    8: "invalid sample rate",
    9: "invalid range",
    10: "invalid MTU (the connection's MTU is below what the band needs)",
    11: "invalid number of channels",
    12: "invalid state",
    13: "the band is in its charger",
    14: "disk full",
}
HEADER_BYTES = 10
_RAW_WIDTH = {0x00: 1, 0x01: 2, 0x02: 3}  # bytes per axis value of raw ACC frame types
_DELTA_TYPES = (0x80, 0x81)
_REF_BYTES = 6  # reference sample of a delta frame: 3 x int16


class PolarError(Exception):
    """The band refused a control-point request, or answered something unreadable."""


# -- control point ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ControlResponse:
    """A control-point indication: ``F0 <op> <type> <status> <more> [parameters]``."""

    op: int
    measurement: int
    status: int
    more: bool
    parameters: bytes

    @property
    def ok(self) -> bool:
        return self.status == 0

    @property
    def error(self) -> str:
        return STATUS_TEXT.get(self.status, f"status {self.status}")


@dataclass(frozen=True, slots=True)
class DeviceStopped:
    """An unsolicited control-point message: the band stopped these measurements itself."""

    measurements: tuple[int, ...]


def parse_control(payload: bytes) -> ControlResponse | DeviceStopped:
    """Read one control-point indication; ``PolarError`` when it is too short to be one."""
    if payload[:1] == b"\xf0":
        if len(payload) < 5:
            raise PolarError(f"control-point response of {len(payload)} bytes is too short")
        return ControlResponse(payload[1], payload[2], payload[3], payload[4] != 0, bytes(payload[5:]))
    if payload[:1] == b"\x01":
        return DeviceStopped(tuple(payload[1:]))
    raise PolarError(f"unknown control-point message {payload[:8].hex(' ')}")


def parse_settings(parameters: bytes) -> dict[int, list[int | float]]:
    """Setting TLVs ``[type][count][count values]`` -> type -> values (FACTOR as float32)."""
    out: dict[int, list[int | float]] = {}
    i = 0
    while i + 2 <= len(parameters):
        kind, count = parameters[i], parameters[i + 1]
        width = SETTING_BYTES.get(kind)
        if width is None:
            raise PolarError(f"unknown setting type {kind} in {parameters.hex(' ')}")
        end = i + 2 + count * width
        if end > len(parameters):
            raise PolarError(f"setting {SETTING_NAMES[kind]} is cut short in {parameters.hex(' ')}")
        raw = parameters[i + 2 : end]
        if kind == FACTOR:
            values: list[int | float] = list(struct.unpack(f"<{count}f", raw))
        else:
            values = [int.from_bytes(raw[k * width : (k + 1) * width], "little") for k in range(count)]
        out[kind] = values
        i = end
    if i != len(parameters) and len(parameters) > 1:  # a lone reserved byte (H10's start response) is fine
        raise PolarError(f"trailing bytes in settings {parameters.hex(' ')}")
    return out


def get_settings_command(measurement: int = ACC) -> bytes:
    return bytes((GET_SETTINGS, measurement))


def start_command(measurement: int, settings: Sequence[tuple[int, int]]) -> bytes:
    """``02 <type>`` then one TLV (count 1) per ``(setting type, value)``, in the order given."""
    out = bytearray((START, measurement))
    for kind, value in settings:
        if kind == FACTOR:
            continue  # device -> host only
        width = SETTING_BYTES[kind]
        out += bytes((kind, 1)) + int(value).to_bytes(width, "little")
    return bytes(out)


def stop_command(measurement: int = ACC) -> bytes:
    return bytes((STOP, measurement))


SDK_MODE_ON = bytes((START, SDK_MODE))
SDK_MODE_OFF = bytes((STOP, SDK_MODE))


def factor_of(response: ControlResponse) -> float | None:
    """The FACTOR a start response carries, if any (a 1-byte parameter block is reserved, not settings)."""
    if len(response.parameters) <= 1:
        return None
    values = parse_settings(response.parameters).get(FACTOR)
    return float(values[0]) if values else None


#: ``request(payload) -> response``: write to the control point, wait for its indication
Request = Callable[[bytes], Awaitable[ControlResponse]]


def choose(available: Mapping[int, Sequence[int | float]], wanted: Mapping[str, Any]) -> list[tuple[int, int]]:
    """Start settings from what the band offers: the offered value nearest the wanted one (sample rate:
    the highest offered at or below it, else the lowest), every offered setting type sent, in type order."""
    want = {
        SAMPLE_RATE: float(wanted.get("acc_fs_hz", 52)),
        RESOLUTION: float(wanted.get("resolution", 16)),
        RANGE: float(wanted.get("range_g", 8)),
        CHANNELS: 3.0,
    }
    out = []
    for kind in sorted(available):
        values = [int(v) for v in available[kind]]
        if kind == FACTOR or not values:
            continue
        target = want.get(kind)
        if target is None:
            pick = values[0]
        elif kind == SAMPLE_RATE:
            below = [v for v in values if v <= target]
            pick = max(below) if below else min(values)
        else:
            pick = min(values, key=lambda v: (abs(v - target), -v))
        out.append((kind, pick))
    return out


async def negotiate(request: Request, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The start sequence on the control point (after both subscriptions): optional SDK mode, the ACC
    settings on offer, start ACC with the nearest; returns the settings in force (rate, range, factor)."""
    out = dict(settings)
    if out.get("sdk_mode"):
        r = await request(SDK_MODE_ON)
        if not r.ok and r.status != 6:  # already in SDK mode is fine
            raise PolarError(f"the band refused SDK mode: {r.error}")
    r = await request(get_settings_command(ACC))
    if not r.ok:
        raise PolarError(f"the band refused to list its accelerometer settings: {r.error}")
    available = parse_settings(r.parameters)
    chosen = choose(available, out)
    r = await request(start_command(ACC, chosen))
    if not r.ok:
        raise PolarError(f"the band refused to start its accelerometer: {r.error}")
    values = dict(chosen)
    if SAMPLE_RATE in values:
        out["acc_fs_hz"] = float(values[SAMPLE_RATE])
    if RANGE in values:
        out["range_g"] = float(values[RANGE])
    if RESOLUTION in values:
        out["resolution"] = int(values[RESOLUTION])
    factor = factor_of(r)
    out["factor"] = 1.0 if factor is None else factor
    out["offered"] = {SETTING_NAMES[k]: list(v) for k, v in available.items() if k in SETTING_NAMES}
    return out


# -- timestamps ----------------------------------------------------------------------------------------
def sample_timestamps_ns(ts_ns: int, n: int, fs_hz: float, previous_ns: int | None = None) -> list[int]:
    """Per-sample device times of a frame of ``n`` samples whose last sample is at ``ts_ns`` (SDK rule).

    With the previous frame's time the samples share the interval evenly; without it they are spaced by
    the nominal rate. Rounding is half to even, as in the SDK.
    """
    if n <= 0:
        return []
    if previous_ns is not None:
        step = (ts_ns - previous_ns) / n
        return [round(previous_ns + step * (i + 1)) for i in range(n - 1)] + [ts_ns]
    step = 1e9 / fs_hz
    return [round(ts_ns - step * (n - 1) + step * i) for i in range(n - 1)] + [ts_ns]


# -- decoding ------------------------------------------------------------------------------------------
def _sign_extend(v: npt.NDArray[np.int64], bits: npt.NDArray[np.int64] | int) -> npt.NDArray[np.int64]:
    half = np.left_shift(np.int64(1), np.asarray(bits, dtype=np.int64) - 1)
    return np.where(v >= half, v - 2 * half, v)


def _decode_raw(frames: list[bytes], width: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Raw frames of one width -> samples (n, 3) and samples per frame."""
    counts = np.array([(len(f) - HEADER_BYTES) // (3 * width) for f in frames], dtype=np.int64)
    body = np.frombuffer(b"".join(f[HEADER_BYTES:] for f in frames), dtype=np.uint8)
    b = body.reshape(-1, width).astype(np.int64)
    v = b[:, 0].copy()
    for k in range(1, width):
        v |= b[:, k] << (8 * k)
    return _sign_extend(v, 8 * width).reshape(-1, 3), counts


def _delta_layout(frame: bytes) -> list[tuple[int, int, int]] | None:
    """``(bit width, samples, byte offset)`` of each delta block, or None if the frame is malformed."""
    blocks = []
    i, end = HEADER_BYTES + _REF_BYTES, len(frame)
    while i < end:
        if i + 2 > end:
            return None
        w, n = frame[i], frame[i + 1]
        nbytes = (w * n * 3 + 7) // 8
        if not 1 <= w <= 32 or n == 0 or i + 2 + nbytes > end:
            return None
        blocks.append((w, n, i + 2))
        i += 2 + nbytes
    return blocks


def _decode_delta(
    frames: list[bytes], layouts: list[list[tuple[int, int, int]]]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Delta frames -> samples (n, 3) and samples per frame (the reference sample included)."""
    refs = np.frombuffer(b"".join(f[HEADER_BYTES : HEADER_BYTES + _REF_BYTES] for f in frames), dtype="<i2")
    refs = refs.astype(np.int64).reshape(-1, 3)
    widths, lengths, chunks = [], [], []
    counts = np.empty(len(frames), dtype=np.int64)
    for j, (frame, layout) in enumerate(zip(frames, layouts, strict=True)):
        total = 1
        for w, n, off in layout:
            widths.append(w)
            lengths.append(n)
            chunks.append(frame[off : off + (w * n * 3 + 7) // 8])
            total += n
        counts[j] = total
    n_total = int(counts.sum())
    deltas = np.zeros((n_total, 3), dtype=np.int64)
    if chunks:
        w_arr = np.asarray(widths, dtype=np.int64)
        n_arr = np.asarray(lengths, dtype=np.int64)
        sizes = np.fromiter((len(c) for c in chunks), dtype=np.int64, count=len(chunks))
        bits = np.unpackbits(np.frombuffer(b"".join(chunks), dtype=np.uint8), bitorder="little")
        block_bit0 = np.concatenate(([0], np.cumsum(sizes)[:-1])) * 8
        fields = n_arr * 3  # W-bit fields per block
        f_block = np.repeat(np.arange(len(chunks)), fields)  # block of each field
        f_index = np.arange(int(fields.sum())) - np.repeat(np.concatenate(([0], np.cumsum(fields)[:-1])), fields)
        f_width = w_arr[f_block]
        f_bit0 = block_bit0[f_block] + f_index * f_width
        values = np.zeros(f_block.size, dtype=np.int64)
        for b in range(int(w_arr.max())):  # bit b of every field that has one
            has = f_width > b
            values[has] |= bits[f_bit0[has] + b].astype(np.int64) << b
        signed = _sign_extend(values, f_width).reshape(-1, 3)
        # place each frame's deltas after its reference row
        frame_start = np.concatenate(([0], np.cumsum(counts)[:-1]))
        per_frame = counts - 1
        rows = np.repeat(frame_start + 1, per_frame) + (
            np.arange(int(per_frame.sum())) - np.repeat(np.concatenate(([0], np.cumsum(per_frame)[:-1])), per_frame)
        )
        deltas[rows] = signed
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    deltas[starts] = refs
    # running sums restarted at each frame's reference
    cum = np.cumsum(deltas, axis=0)
    before = np.zeros((len(frames), 3), dtype=np.int64)
    before[1:] = cum[starts[1:] - 1]
    return cum - np.repeat(before, counts, axis=0), counts


def encode_delta_frame(ts_ns: int, samples: npt.ArrayLike, *, frame_type: int = 0x81) -> bytes:
    """A delta-compressed ACC frame of ``samples`` (n, 3) int16 counts, last sample at ``ts_ns``: the first
    sample as reference, then one block whose bit width fits the largest delta (as a band would send it;
    used by the simulator's bands and the benchmark)."""
    x = np.asarray(samples, dtype=np.int64).reshape(-1, 3)
    d = np.diff(x, axis=0)
    width = int(max(2, int(np.max(np.abs(d), initial=0)).bit_length() + 1))
    head = bytes((ACC,)) + struct.pack("<Q", ts_ns) + bytes((frame_type,)) + struct.pack("<3h", *x[0].tolist())
    if not d.size:
        return head
    bits = (d.reshape(-1, 1) >> np.arange(width)) & 1  # two's complement, LSB first, sample-major
    body = np.packbits(bits.astype(np.uint8).reshape(-1), bitorder="little").tobytes()
    return head + bytes((width, d.shape[0])) + body


class PolarProfile:
    """Profile of Polar bands' PMD accelerometer stream (Verity Sense, H10)."""

    name = "polar"
    version = 1
    service_uuid = PMD_SERVICE
    notify_uuid = PMD_DATA
    write_uuid: str | None = PMD_CP
    control_uuid = PMD_CP
    device_clock_wrap_ns: int | None = None
    seq_wrap: int | None = None

    def default_settings(self) -> dict[str, Any]:
        return {"acc_fs_hz": 52.0, "range_g": 8.0, "resolution": 16, "factor": 1.0, "sdk_mode": False}

    def streams(self, settings: Mapping[str, Any]) -> tuple[StreamSpec, ...]:
        fs = float(settings.get("acc_fs_hz", 52.0))
        return (StreamSpec("acc", "acc", ("x", "y", "z"), "g", fs, float(settings.get("range_g", 8.0))),)

    def matches(self, name: str | None, service_uuids: Sequence[str]) -> bool:
        n = (name or "").lower()
        return PMD_SERVICE in {u.lower() for u in service_uuids} or n.startswith(("polar h10", "polar sense"))

    def start_commands(self, settings: Mapping[str, Any]) -> list[tuple[str, bytes]]:
        """The start sequence without negotiation (the bridge negotiates with :func:`negotiate`)."""
        chosen = [
            (SAMPLE_RATE, int(settings.get("acc_fs_hz", 52))),
            (RESOLUTION, int(settings.get("resolution", 16))),
            (RANGE, int(settings.get("range_g", 8))),
            (CHANNELS, 3),
        ]
        head = [(PMD_CP, SDK_MODE_ON)] if settings.get("sdk_mode") else []
        return [*head, (PMD_CP, start_command(ACC, chosen))]

    def stop_commands(self, settings: Mapping[str, Any]) -> list[tuple[str, bytes]]:
        tail = [(PMD_CP, SDK_MODE_OFF)] if settings.get("sdk_mode") else []
        return [(PMD_CP, stop_command(ACC)), *tail]

    async def negotiate(self, request: Request, settings: Mapping[str, Any]) -> dict[str, Any]:
        return await negotiate(request, settings)

    def parse_control(self, payload: bytes) -> ControlResponse | DeviceStopped:
        return parse_control(payload)

    def decode(self, payloads: Sequence[bytes], t_rx_ns: npt.ArrayLike, settings: Mapping[str, Any]) -> Decoded:
        """ACC frames -> one block in g, frames in arrival order; anything else counted as malformed."""
        t_rx = np.asarray(t_rx_ns, dtype=np.int64).reshape(-1)
        if t_rx.size != len(payloads):
            raise ValueError(f"{len(payloads)} payloads but {t_rx.size} receive times")
        fs = float(settings.get("acc_fs_hz", 52.0))
        factor = float(settings.get("factor", 1.0) or 1.0)
        groups: dict[int, list[int]] = {}
        layouts: dict[int, list[tuple[int, int, int]]] = {}
        malformed = 0
        for i, p in enumerate(payloads):
            if len(p) <= HEADER_BYTES or p[0] & 0x3F != ACC:
                malformed += 1
                continue
            ft = p[9]
            if ft in _RAW_WIDTH:
                if (len(p) - HEADER_BYTES) % (3 * _RAW_WIDTH[ft]):
                    malformed += 1
                    continue
                groups.setdefault(ft, []).append(i)
            elif ft in _DELTA_TYPES:
                layout = _delta_layout(p) if len(p) >= HEADER_BYTES + _REF_BYTES else None
                if layout is None:
                    malformed += 1
                    continue
                layouts[i] = layout
                groups.setdefault(ft, []).append(i)
            else:
                malformed += 1
        if not groups:
            return Decoded((), malformed)
        order = sorted(i for idx in groups.values() for i in idx)
        pos = {i: k for k, i in enumerate(order)}
        counts = np.zeros(len(order), dtype=np.int64)
        parts: dict[int, npt.NDArray[np.float64]] = {}
        for ft, idx in groups.items():
            frames = [bytes(payloads[i]) for i in idx]
            if ft in _RAW_WIDTH:
                samples, n = _decode_raw(frames, _RAW_WIDTH[ft])
                mg = samples.astype(np.float64)
            else:
                samples, n = _decode_delta(frames, [layouts[i] for i in idx])
                v = samples.astype(np.float32)
                if ft == 0x80:  # G units: mG = trunc(v * factor * 1000), in float32 as the SDK does
                    mg = np.trunc(v * np.float32(factor) * np.float32(1000.0)).astype(np.float64)
                elif factor != 1.0:
                    mg = np.trunc(v * np.float32(factor)).astype(np.float64)
                else:
                    mg = samples.astype(np.float64)
            offsets = np.concatenate(([0], np.cumsum(n)))
            for k, i in enumerate(idx):
                counts[pos[i]] = n[k]
                parts[i] = mg[offsets[k] : offsets[k + 1]]
        data = np.concatenate([parts[i] for i in order]).T / 1000.0
        ts = np.frombuffer(b"".join(bytes(payloads[i][1:9]) for i in order), dtype="<u8").astype(np.int64)
        first = ts - np.rint((counts - 1) * (1e9 / fs)).astype(np.int64)
        block = SampleBlock("acc", data, counts, t_rx[np.asarray(order)], t_device_ns=first, seq=None)
        return Decoded((block,), malformed)


PROFILE = PolarProfile()
