"""``nus-emg``: the open DIY band (ESP32 or nRF52 + MyoWare-style EMG front end + 3-axis accelerometer).

Transport: the Nordic UART Service. The band notifies frames on TX ``6E400003-…``; the host writes
commands to RX ``6E400002-…``.

Frame format, version 1 (all integers little-endian)::

    offset size field
    0      1    (version << 4) | stream      version = 1; stream 0 = EMG, 1 = accelerometer, 15 = info
    1      2    seq      u16, per stream, +1 per frame, wraps at 65536
    3      4    t0_us    u32, device monotonic clock at the frame's first sample, µs, wraps at 2**32
    7      1    n        samples per channel in this frame, 1..255
    8      ...  samples  n x channels int16, channel-interleaved (x, y, z, x, y, z, ... for acceleration)

EMG counts are ``emg_uv_per_count`` µV (default 0.1 µV, full scale ±3276.7 µV); acceleration counts are
``acc_g_per_count`` g (default 0.001 g = 1 mg, full scale ±32.767 g). An info frame (stream 15) carries
the band's settings as UTF-8 JSON after the 1-byte header, e.g.
``{"emg_fs_hz": 1000, "acc_fs_hz": 100, "emg_uv_per_count": 0.1, "acc_g_per_count": 0.001}``; the band
sends it when the host writes ``b"?"`` to RX. ``b"b"`` starts streaming and ``b"s"`` stops it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware_bridge.profiles.base import Decoded, SampleBlock, StreamSpec

VERSION = 1
STREAM_EMG, STREAM_ACC, STREAM_INFO = 0, 1, 15
HEADER_BYTES = 8
_CHANNELS = {STREAM_EMG: 1, STREAM_ACC: 3}
_NAMES = {STREAM_EMG: "emg", STREAM_ACC: "acc"}

NUS_SERVICE = "6e400001-b5a3-f393-e0a9-e50e24dcca9e"
NUS_RX = "6e400002-b5a3-f393-e0a9-e50e24dcca9e"
NUS_TX = "6e400003-b5a3-f393-e0a9-e50e24dcca9e"

_HEADER = np.dtype([("hdr", "u1"), ("seq", "<u2"), ("t0", "<u4"), ("n", "u1")])


class NusEmgProfile:
    """Profile of the open DIY EMG + accelerometer band."""

    name = "nus-emg"
    version = VERSION
    service_uuid = NUS_SERVICE
    notify_uuid = NUS_TX
    write_uuid: str | None = NUS_RX
    device_clock_wrap_ns: int | None = (2**32) * 1000
    seq_wrap: int | None = 2**16

    def default_settings(self) -> dict[str, Any]:
        return {"emg_fs_hz": 1000.0, "acc_fs_hz": 100.0, "emg_uv_per_count": 0.1, "acc_g_per_count": 0.001}

    def streams(self, settings: Mapping[str, Any]) -> tuple[StreamSpec, ...]:
        out = []
        if settings.get("emg_fs_hz"):
            scale = float(settings.get("emg_uv_per_count", 0.1))
            out.append(StreamSpec("emg", "emg", ("emg",), "uV", float(settings["emg_fs_hz"]), 32767 * scale))
        if settings.get("acc_fs_hz"):
            scale = float(settings.get("acc_g_per_count", 0.001))
            out.append(StreamSpec("acc", "acc", ("x", "y", "z"), "g", float(settings["acc_fs_hz"]), 32767 * scale))
        return tuple(out)

    def matches(self, name: str | None, service_uuids: Sequence[str]) -> bool:
        return NUS_SERVICE in {u.lower() for u in service_uuids} and bool(name) and "cramp" in (name or "").lower()

    def start_commands(self, settings: Mapping[str, Any]) -> list[tuple[str, bytes]]:
        return [(NUS_RX, b"?"), (NUS_RX, b"b")]

    def stop_commands(self, settings: Mapping[str, Any]) -> list[tuple[str, bytes]]:
        return [(NUS_RX, b"s")]

    # -- decoding --------------------------------------------------------------------------------
    def decode(self, payloads: Sequence[bytes], t_rx_ns: npt.ArrayLike, settings: Mapping[str, Any]) -> Decoded:
        """Decode notifications; frames of each stream keep their arrival order."""
        t_rx = np.asarray(t_rx_ns, dtype=np.int64).reshape(-1)
        if t_rx.size != len(payloads):
            raise ValueError(f"{len(payloads)} payloads but {t_rx.size} receive times")
        lengths = np.fromiter((len(p) for p in payloads), dtype=np.int64, count=len(payloads))
        first = np.fromiter((p[0] if p else 0 for p in payloads), dtype=np.int64, count=len(payloads))
        version, stream = first >> 4, first & 0x0F
        known = np.isin(stream, [STREAM_EMG, STREAM_ACC, STREAM_INFO])
        malformed = int(np.count_nonzero((lengths == 0) | (version != VERSION) | ~known))
        info: list[Mapping[str, Any]] = []
        for i in np.flatnonzero((version == VERSION) & (stream == STREAM_INFO) & (lengths > 0)):
            try:
                obj = json.loads(payloads[int(i)][1:].decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                obj = None
            if isinstance(obj, dict):
                info.append(obj)
            else:
                malformed += 1
        blocks = []
        specs = {s.name: s for s in self.streams(settings)}
        for code, n_ch in _CHANNELS.items():
            name = _NAMES[code]
            sel = np.flatnonzero((version == VERSION) & (stream == code) & (lengths > 0))
            if name not in specs:
                malformed += sel.size
                continue
            block, bad = _decode_stream(payloads, sel, lengths, t_rx, n_ch, name, _scale(name, settings))
            malformed += bad
            if block is not None:
                blocks.append(block)
        return Decoded(tuple(blocks), malformed, tuple(info))


def _scale(name: str, settings: Mapping[str, Any]) -> float:
    return float(settings.get("emg_uv_per_count", 0.1) if name == "emg" else settings.get("acc_g_per_count", 0.001))


def _decode_stream(
    payloads: Sequence[bytes],
    sel: npt.NDArray[np.intp],
    lengths: npt.NDArray[np.int64],
    t_rx: npt.NDArray[np.int64],
    n_ch: int,
    name: str,
    scale: float,
) -> tuple[SampleBlock | None, int]:
    if sel.size == 0:
        return None, 0
    ln = lengths[sel]
    ok = (ln > HEADER_BYTES) & ((ln - HEADER_BYTES) % (2 * n_ch) == 0)
    n_declared = np.fromiter((payloads[i][7] if lengths[i] > 7 else 0 for i in sel), dtype=np.int64, count=sel.size)
    ok &= (n_declared > 0) & (n_declared * 2 * n_ch == ln - HEADER_BYTES)
    good = sel[ok]
    bad = int(sel.size - good.size)
    if good.size == 0:
        return None, bad
    # frames of equal length decode together as one structured array, scattered back in arrival order
    glen = lengths[good]
    seq = np.zeros(good.size, dtype=np.int64)
    t0 = np.zeros(good.size, dtype=np.int64)
    counts = (glen - HEADER_BYTES) // (2 * n_ch)
    offsets = np.concatenate(([0], np.cumsum(counts)))
    data = np.empty((n_ch, int(offsets[-1])))
    for length in np.unique(glen):
        rows = np.flatnonzero(glen == length)
        k = int((length - HEADER_BYTES) // (2 * n_ch))
        dt = np.dtype([*_HEADER.descr, ("x", "<i2", (k * n_ch,))])
        arr = np.frombuffer(b"".join(payloads[i] for i in good[rows]), dtype=dt)
        seq[rows], t0[rows] = arr["seq"], arr["t0"]
        cols = (offsets[rows][:, np.newaxis] + np.arange(k)).reshape(-1)
        data[:, cols] = arr["x"].reshape(-1, n_ch).T * scale
    block = SampleBlock(
        stream=name,
        data=data,
        counts=counts,
        t_rx_ns=t_rx[good],
        t_device_ns=t0 * 1000,
        seq=seq,
    )
    return block, bad


def encode_frames(
    stream: str,
    counts: npt.ArrayLike,
    *,
    frame_samples: int,
    t0_us: float | npt.ArrayLike,
    fs_hz: float,
    seq0: int = 0,
) -> list[bytes]:
    """Encode integer counts ``(n_channels, n)`` as consecutive frames of ``frame_samples`` samples.

    ``t0_us`` is the device clock at sample 0 (scalar: frame times follow from ``fs_hz``; array: one per
    frame). Used by the simulator's synthetic band and by tests; a real band's firmware does the same.
    """
    code = STREAM_EMG if stream == "emg" else STREAM_ACC
    c = np.asarray(counts)
    if c.ndim == 1:
        c = c[np.newaxis, :]
    n_ch, n = c.shape
    if n_ch != _CHANNELS[code]:
        raise ValueError(f"{stream} frames need {_CHANNELS[code]} channel(s), got {n_ch}")
    if not 1 <= frame_samples <= 255:
        raise ValueError(f"frame_samples must be 1..255, got {frame_samples}")
    starts = np.arange(0, n, frame_samples)
    if np.ndim(t0_us) == 0:
        t0 = np.floor(float(np.asarray(t0_us)) + starts * 1e6 / fs_hz).astype(np.int64)
    else:
        t0 = np.asarray(t0_us, dtype=np.int64)
    clipped = np.clip(np.rint(c), -32768, 32767).astype("<i2")
    out: list[bytes] = []
    n_full = n // frame_samples
    hdr = (VERSION << 4) | code
    if n_full:
        dt = np.dtype([*_HEADER.descr, ("x", "<i2", (frame_samples * n_ch,))])
        arr = np.zeros(n_full, dtype=dt)
        arr["hdr"] = hdr
        arr["seq"] = (seq0 + np.arange(n_full)) % 65536
        arr["t0"] = t0[:n_full] % (2**32)
        arr["n"] = frame_samples
        arr["x"] = clipped[:, : n_full * frame_samples].T.reshape(n_full, frame_samples * n_ch)
        raw = arr.tobytes()
        size = dt.itemsize
        out = [raw[i * size : (i + 1) * size] for i in range(n_full)]
    rest = n - n_full * frame_samples
    if rest:
        head = np.array([(hdr, (seq0 + n_full) % 65536, int(t0[n_full]) % (2**32), rest)], dtype=_HEADER)
        out.append(head.tobytes() + clipped[:, n_full * frame_samples :].T.reshape(-1).tobytes())
    return out


def encode_info(settings: Mapping[str, Any]) -> bytes:
    """The info frame announcing ``settings``."""
    return bytes([(VERSION << 4) | STREAM_INFO]) + json.dumps(dict(settings), sort_keys=True).encode()


PROFILE = NusEmgProfile()
