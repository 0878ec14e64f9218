"""``ganglion``: OpenBCI Ganglion, 4-channel biopotential board (EMG at 200 Hz over BLE), firmware 2 and 3.

GATT: service ``0xFE84``, notifications on ``2d30c082-…`` ("Receive"), single-character commands written
to ``2d30c083-…`` ("Send"): ``b`` starts streaming, ``s`` stops. Every notification is 20 bytes; byte 0 is
the packet id:

==========  =====================================================  ========================================
id          firmware 2                                             firmware 3
==========  =====================================================  ========================================
0           raw: 4 x int24 big-endian (seeds the delta chain)      first 18-bit packet
1-100       18-bit packet (accelerometer byte 19)                  18-bit packet
101-200     19-bit packet (no accelerometer)                       19-bit packet
201-205     impedance of channel 1-4 / reference, ASCII ohms       same
206, 207    ASCII message part / last part                         same
==========  =====================================================  ========================================

An 18- or 19-bit packet holds 2 samples x 4 channels as 8 consecutive N-bit fields, most significant bit
first. Firmware 2 sends deltas ``previous - new`` with the sign in bit 0 (odd means negative: ``field -
2^N``); each sample is the previous minus its delta, so the chain starts at a raw packet and a lost packet
breaks it until the next raw one (samples in between are skipped and counted). Firmware 3 sends each
sample's top N bits with bit 0 replaced by the sign: sign-extended from the top bit and shifted back to 24
bits, a lost packet loses only its own samples. Counts are ``1.2e6 / (8388607 * 1.5 * 51)`` µV.

The board has no clock: samples are timed by the packet id (a packet holds 2 samples, 10 ms; firmware 2's
raw packet one), unwrapped over the id cycle, with the arrival time deciding how many whole cycles a long
loss skipped. That state
(and the firmware-2 delta chain) is carried between batches by a :class:`GanglionDecoder`, which the
recording session keeps per band (:meth:`GanglionProfile.new_decoder`); :meth:`GanglionProfile.decode`
decodes one batch with a fresh one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware_bridge.profiles.base import Decoded, SampleBlock, StreamSpec

GANGLION_SERVICE = "0000fe84-0000-1000-8000-00805f9b34fb"
GANGLION_RECEIVE = "2d30c082-f39f-4ce6-923f-3484ea480596"
GANGLION_SEND = "2d30c083-f39f-4ce6-923f-3484ea480596"
SOFTWARE_REVISION = "00002a28-0000-1000-8000-00805f9b34fb"  #: Device Information: software revision string
UV_PER_COUNT = 1.2e6 / (8388607 * 1.5 * 51)
FS_HZ = 200.0
PACKET_BYTES = 20

IntArray = npt.NDArray[np.int64]


def firmware_from_revision(revision: str) -> int:
    """Firmware generation from the software revision string: 3 when it starts with "3", else 2."""
    return 3 if revision.strip().startswith("3") else 2


def unpack_fields(bodies: npt.NDArray[np.uint8], bits: int) -> IntArray:
    """``(n, >= bits)`` packet bodies (after the id byte) -> the 8 unsigned N-bit fields of each, MSB first."""
    nbytes = (8 * bits + 7) // 8
    flat = np.unpackbits(np.ascontiguousarray(bodies[:, :nbytes]), axis=1, bitorder="big")[:, : 8 * bits]
    weights = (1 << np.arange(bits - 1, -1, -1, dtype=np.int64)).astype(np.int64)
    return flat.reshape(-1, 8, bits).astype(np.int64) @ weights


def fw2_signed(fields: IntArray, bits: int) -> IntArray:
    """Firmware-2 deltas: the sign is in bit 0 (odd means negative)."""
    return np.where(fields & 1, fields - (1 << bits), fields)


def fw3_counts(fields: IntArray, bits: int) -> IntArray:
    """Firmware-3 samples: sign-extended from the field's top bit, shifted back to 24-bit counts."""
    signed = np.where(fields >= 1 << (bits - 1), fields - (1 << bits), fields)
    return signed << (24 - bits)


def raw_counts(bodies: npt.NDArray[np.uint8]) -> IntArray:
    """Firmware-2 raw packets: 4 x int24 big-endian in bytes 1-12 -> (n, 4) counts."""
    b = bodies[:, :12].astype(np.int64).reshape(-1, 4, 3)
    v = (b[..., 0] << 16) | (b[..., 1] << 8) | b[..., 2]
    return np.where(v >= 1 << 23, v - (1 << 24), v)


class GanglionDecoder:
    """Decodes one band's consecutive notifications, carrying the delta chain and the packet clock."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self.firmware = int(settings.get("firmware", 3))
        self.channel = int(settings.get("emg_channel", 1))
        if self.firmware not in (2, 3):
            raise ValueError(f"Ganglion firmware must be 2 or 3, got {self.firmware}")
        if not 1 <= self.channel <= 4:
            raise ValueError(f"emg_channel must be 1-4, got {self.channel}")
        self.last: IntArray | None = None  # firmware 2: the last sample of the chain (4 channels)
        self.last_id: int | None = None
        self.last_rx: int | None = None
        self.cycle = 0  # id cycles so far
        self.sample = 0  # sample clock of the last packet's first sample
        self.unseeded = 0  # firmware-2 packets skipped while the chain was broken

    def _cycle(self, pid: int) -> tuple[int, int]:
        """(position in the id cycle, cycle length in packets) of a data packet id."""
        if pid <= 100:
            return pid, 101
        return pid - 100, 101 if self.firmware == 2 else 100

    def _layout(self, pid: int) -> tuple[int, int, int]:
        """(first sample's offset in the id cycle, samples per cycle, samples in this packet)."""
        pos, _ = self._cycle(pid)
        if self.firmware == 2:  # raw packet (one sample), then 100 packets of two
            return (0, 201, 1) if pos == 0 else (1 + 2 * (pos - 1), 201, 2)
        if pid <= 100:  # 18-bit: ids 0-100
            return 2 * pos, 202, 2
        return 2 * (pos - 1), 200, 2  # 19-bit: ids 101-200

    def decode(self, payloads: Sequence[bytes], t_rx_ns: npt.ArrayLike) -> Decoded:
        t_rx = np.asarray(t_rx_ns, dtype=np.int64).reshape(-1)
        if t_rx.size != len(payloads):
            raise ValueError(f"{len(payloads)} payloads but {t_rx.size} receive times")
        malformed = 0
        info: list[dict[str, Any]] = []
        keep: list[int] = []
        for i, p in enumerate(payloads):
            if len(p) != PACKET_BYTES or p[0] > 207:
                malformed += 1
            elif p[0] <= 200:
                keep.append(i)
            elif p[0] <= 205:
                text = bytes(p[1:]).split(b"Z")[0].decode("ascii", "replace").strip()
                info.append({"impedance_channel": "reference" if p[0] == 205 else p[0] - 200, "ohms": text})
            else:
                info.append({"message": bytes(p[1:]).decode("ascii", "replace").rstrip("\x00"), "last": p[0] == 207})
        if not keep:
            return Decoded((), malformed, tuple(info))
        idx = np.asarray(keep)
        body = np.frombuffer(b"".join(bytes(payloads[i]) for i in keep), dtype=np.uint8).reshape(-1, PACKET_BYTES)
        ids = body[:, 0].astype(np.int64)
        data = body[:, 1:]
        samples = np.zeros((idx.size, 2, 4), dtype=np.int64)
        n18, n19 = (ids >= 1) & (ids <= 100), ids >= 101
        if self.firmware == 3:
            n18 |= ids == 0
        for mask, bits in ((n18, 18), (n19, 19)):
            if mask.any():
                fields = unpack_fields(data[mask], bits).reshape(-1, 2, 4)
                samples[mask] = fw3_counts(fields, bits) if self.firmware == 3 else fw2_signed(fields, bits)
        ok = np.ones(idx.size, dtype=bool)
        if self.firmware == 2:
            ok = self._chain(ids, data, samples)
        # sample clock from the ids: unwrapped over the id cycle, arrival times deciding whole lost cycles
        first = np.empty(idx.size, dtype=np.int64)
        n_samples = np.empty(idx.size, dtype=np.int64)
        for k, pid in enumerate(ids.tolist()):
            offset, per_cycle, n = self._layout(pid)
            rx = int(t_rx[idx[k]])
            if self.last_id is not None and self.last_rx is not None:
                last_offset = self._layout(self.last_id)[0]
                if offset <= last_offset:
                    self.cycle += 1
                ahead = (self.cycle * per_cycle + offset) - self.sample
                late = (rx - self.last_rx) * FS_HZ / 1e9 - ahead
                if late > per_cycle / 2:  # more than half a cycle later than the ids say: whole cycles lost
                    self.cycle += round(late / per_cycle)
            self.sample = self.cycle * per_cycle + offset
            self.last_id, self.last_rx = pid, rx
            first[k], n_samples[k] = self.sample, n
        ch = self.channel - 1
        parts = [samples[k, :n, ch] for k, n in enumerate(n_samples.tolist()) if ok[k]]
        if not parts:
            return Decoded((), malformed, tuple(info))
        counts = np.concatenate(parts)
        block = SampleBlock(
            stream="emg",
            data=(counts * UV_PER_COUNT)[np.newaxis, :].astype(np.float64),
            counts=n_samples[ok],
            t_rx_ns=t_rx[idx[ok]],
            t_device_ns=np.rint(first[ok] * (1e9 / FS_HZ)).astype(np.int64),
            seq=ids[ok],
        )
        return Decoded((block,), malformed, tuple(info))

    def _chain(self, ids: IntArray, data: npt.NDArray[np.uint8], samples: IntArray) -> npt.NDArray[np.bool_]:
        """Firmware 2: samples from the deltas, seeded by raw packets; False where the chain is broken."""
        ok = np.zeros(ids.size, dtype=bool)
        prev = self.last_id
        for k, pid in enumerate(ids.tolist()):
            pos, cycle = self._cycle(pid)
            follows = prev is None or pos == (self._cycle(prev)[0] + 1) % cycle
            prev = pid
            if pid == 0:
                seed = raw_counts(data[k : k + 1])[0]
                samples[k, 0] = seed  # a raw packet carries one sample, which seeds the chain
                self.last, ok[k] = seed, True
                continue
            if self.last is None or not follows:
                self.last = None  # a lost packet breaks the chain until the next raw packet
                self.unseeded += 1
                continue
            s1 = self.last - samples[k, 0]
            s2 = s1 - samples[k, 1]
            samples[k, 0], samples[k, 1] = s1, s2
            self.last, ok[k] = s2, True
        return ok


class GanglionProfile:
    """Profile of the OpenBCI Ganglion's EMG stream (one of its four channels)."""

    name = "ganglion"
    version = 1
    service_uuid = GANGLION_SERVICE
    notify_uuid = GANGLION_RECEIVE
    write_uuid: str | None = GANGLION_SEND
    device_clock_wrap_ns: int | None = None
    seq_wrap: int | None = None

    def default_settings(self) -> dict[str, Any]:
        return {"firmware": 3, "emg_channel": 1}

    def streams(self, settings: Mapping[str, Any]) -> tuple[StreamSpec, ...]:
        ch = int(settings.get("emg_channel", 1))
        return (StreamSpec("emg", "emg", (f"ch{ch}",), "uV", FS_HZ, 8388607 * UV_PER_COUNT),)

    def matches(self, name: str | None, service_uuids: Sequence[str]) -> bool:
        n = (name or "").lower()
        return n.startswith(("ganglion", "simblee")) or GANGLION_SERVICE in {u.lower() for u in service_uuids}

    def start_commands(self, settings: Mapping[str, Any]) -> list[tuple[str, bytes]]:
        return [(GANGLION_SEND, b"b")]

    def stop_commands(self, settings: Mapping[str, Any]) -> list[tuple[str, bytes]]:
        return [(GANGLION_SEND, b"s")]

    async def identify(self, read: Callable[[str], Awaitable[bytes]], settings: Mapping[str, Any]) -> dict[str, Any]:
        """The firmware from the Device Information software revision (``"3.0.2"`` -> 3, else 2), unless the
        settings already say; the board does not report it anywhere else."""
        out = dict(settings)
        if "firmware_revision" in out:
            return out
        try:
            revision = (await read(SOFTWARE_REVISION)).decode("ascii", "replace").strip("\x00 ")
        except Exception:  # the characteristic is optional: keep the configured firmware
            return out
        out["firmware_revision"] = revision
        out["firmware"] = firmware_from_revision(revision)
        return out

    def new_decoder(self, settings: Mapping[str, Any]) -> GanglionDecoder:
        return GanglionDecoder(settings)

    def decode(self, payloads: Sequence[bytes], t_rx_ns: npt.ArrayLike, settings: Mapping[str, Any]) -> Decoded:
        """One batch on its own (a fresh chain and packet clock); a recording keeps a :meth:`new_decoder`."""
        return GanglionDecoder(settings).decode(payloads, t_rx_ns)


PROFILE = GanglionProfile()
