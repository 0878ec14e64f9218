"""OpenBCI Ganglion: the vendor's bit-unpacking vectors, firmware 2 delta chains and firmware 3 samples
against slow loop oracles written from the packing rules, the packet clock across losses, and malformed
packets that never raise.

Vendor vectors covered: G18+, G18-, G19+, G19- (18- and 19-bit unpacking with the firmware-2 sign rule,
and the raw unsigned fields of G18-), ``convert18bitAsInt32`` (``00 06 90`` and ``02 C0 00``), and the
documentation's full packets (id 0x01 with an accelerometer byte, id 0x65).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.profiles import get_profile
from firmware_bridge.profiles.ganglion import (
    PROFILE,
    UV_PER_COUNT,
    GanglionDecoder,
    fw2_signed,
    fw3_counts,
    unpack_fields,
)

G18P = "00 00 00 00 20 00 28 00 04 80 00 BC 00 07 00 28 C0 0A"
G18N = "FF FF 7F FF BF FF E7 FF F5 00 01 4F 8E 30 00 1F F0 01"
G19P = "00 00 00 00 08 00 05 00 00 48 00 09 F0 01 B0 00 30 00 08"
G19N = "FF FF BF FF EF FF FC FF FF 58 00 0B 3E 38 E0 00 3F F0 01"


def body(hex_text: str) -> np.ndarray:
    b = np.frombuffer(bytes.fromhex(hex_text), dtype=np.uint8)
    return np.concatenate((b, np.zeros(19 - b.size, dtype=np.uint8)))[np.newaxis, :]


@pytest.mark.parametrize(
    ("payload", "bits", "expected"),
    [
        (G18P, 18, [[0, 2, 10, 4], [131074, 245760, 114698, 49162]]),
        (G18N, 18, [[-3, -5, -7, -11], [-262139, -198429, -262137, -4095]]),
        (G19P, 19, [[0, 2, 10, 4], [262148, 507910, 393222, 8]]),
        (G19N, 19, [[-3, -5, -7, -11], [-262139, -198429, -262137, -4095]]),
    ],
)
def test_vendor_delta_vectors(payload: str, bits: int, expected: list) -> None:
    deltas = fw2_signed(unpack_fields(body(payload), bits), bits).reshape(2, 4)
    assert deltas.tolist() == expected


def test_vendor_raw_fields_and_18_bit_conversion() -> None:
    assert unpack_fields(body(G18N), 18).tolist() == [[262141, 262139, 262137, 262133, 5, 63715, 7, 258049]]
    assert fw2_signed(np.array([0x000690, 0x02C000]), 18).tolist() == [1680, 180224]


def test_documented_full_packets_decode_as_firmware_2() -> None:
    seed = bytes((0,)) + bytes.fromhex("00 00 64 00 00 C8 00 01 2C 00 01 90") + bytes(7)  # 100, 200, 300, 400
    p18 = bytes((0x01,)) + bytes.fromhex(G18P) + b"\x0e"  # accelerometer X = 14 counts in byte 19
    dec = GanglionDecoder({"firmware": 2, "emg_channel": 2})
    (block,) = dec.decode([seed, p18], [0, 10_000_000]).blocks
    # channel 2: 200, then 200 - 2 = 198, then 198 - 245760
    np.testing.assert_allclose(block.data[0] / UV_PER_COUNT, [200, 198, 198 - 245760])
    assert block.counts.tolist() == [1, 2] and block.seq is not None and block.seq.tolist() == [0, 1]
    p19 = bytes((0x65,)) + bytes.fromhex(G19P)
    dec19 = GanglionDecoder({"firmware": 2})
    (b19,) = dec19.decode([seed, p19], [0, 10_000_000]).blocks
    np.testing.assert_allclose(b19.data[0] / UV_PER_COUNT, [100, 100, 100 - 262148])


# -- slow loop oracles written from the packing rules ------------------------------------------------
def pack(fields: list[int], bits: int) -> bytes:
    """8 N-bit fields, most significant bit first, padded to whole bytes (19 bytes for a packet)."""
    stream = "".join(format(f & ((1 << bits) - 1), f"0{bits}b") for f in fields)
    stream += "0" * (-len(stream) % 8)
    out = bytes(int(stream[i : i + 8], 2) for i in range(0, len(stream), 8))
    return out + bytes(19 - len(out))


def fw3_field(sample: int, bits: int) -> int:
    """Firmware 3: the sample's top N bits (of 24), bit 0 replaced by the sign."""
    top = (sample >> (24 - bits)) & ((1 << bits) - 1)
    return (top & ~1) | (1 if sample < 0 else 0)


def fw3_decoded(sample: int, bits: int) -> int:
    f = fw3_field(sample, bits)
    v = f - (1 << bits) if f >> (bits - 1) else f
    return v << (24 - bits)


def fw3_packets(samples: np.ndarray, bits: int) -> list[bytes]:
    """(n, 4) samples, 2 per packet, ids cycling as the firmware counts them."""
    out = []
    for k in range(samples.shape[0] // 2):
        pid = k % 101 if bits == 18 else 101 + k % 100
        fields = [fw3_field(int(v), bits) for v in samples[2 * k : 2 * k + 2].reshape(-1)]
        out.append(bytes((pid,)) + pack(fields, bits))
    return out


def fw2_packets(samples: np.ndarray, bits: int) -> list[bytes]:
    """A raw packet (one sample), then 100 delta packets of two, repeated; deltas ``previous - new``."""
    out, k, last = [], 0, None
    while k < samples.shape[0]:
        pos = len(out) % 101
        if pos == 0:
            last = samples[k]
            raw = b"".join(int(v).to_bytes(3, "big", signed=True) for v in last)
            out.append(b"\x00" + raw + bytes(7))
            k += 1
            continue
        if k + 2 > samples.shape[0]:
            break
        fields = []
        for s in samples[k : k + 2]:
            d = last - s
            fields += [int(x) for x in d]
            last = s
        out.append(bytes((pos if bits == 18 else 100 + pos,)) + pack(fields, bits))
        k += 2
    return out


def fw2_friendly(rng: np.random.Generator, n: int) -> np.ndarray:
    """Samples whose deltas survive the sign-in-bit-0 rule exactly (even when >= 0, odd when < 0)."""
    d = rng.integers(-5000, 5000, (n, 4))
    d = np.where(d >= 0, d & ~1, d | 1)
    return 1000 - np.cumsum(d, axis=0)


@pytest.mark.parametrize("bits", [18, 19])
def test_firmware_3_matches_the_oracle_and_any_batching(bits: int) -> None:
    rng = np.random.default_rng(bits)
    samples = rng.integers(-(1 << 23), 1 << 23, (2 * 350, 4))
    packets = fw3_packets(samples, bits)
    t = np.arange(len(packets)) * 10_000_000
    (block,) = GanglionDecoder({"firmware": 3, "emg_channel": 3}).decode(packets, t).blocks
    expected = [fw3_decoded(int(v), bits) for v in samples[:, 2]]
    np.testing.assert_allclose(block.data[0] / UV_PER_COUNT, expected, rtol=1e-12)
    assert np.all(np.diff(block.t_device_ns) == 10_000_000)  # two samples per packet, no gap
    dec = GanglionDecoder({"firmware": 3, "emg_channel": 3})
    parts = [dec.decode(packets[a : a + 37], t[a : a + 37]).blocks[0] for a in range(0, len(packets), 37)]
    np.testing.assert_array_equal(np.concatenate([p.data for p in parts], axis=1), block.data)
    np.testing.assert_array_equal(np.concatenate([p.t_device_ns for p in parts]), block.t_device_ns)


@pytest.mark.parametrize("bits", [18, 19])
def test_firmware_2_delta_chain_matches_the_oracle(bits: int) -> None:
    samples = fw2_friendly(np.random.default_rng(7 + bits), 603)
    packets = fw2_packets(samples, bits)
    t = np.arange(len(packets)) * 10_000_000
    dec = GanglionDecoder({"firmware": 2, "emg_channel": 4})
    blocks = [dec.decode(packets[a : a + 50], t[a : a + 50]).blocks[0] for a in range(0, len(packets), 50)]
    got = np.concatenate([b.data[0] for b in blocks]) / UV_PER_COUNT
    np.testing.assert_allclose(got, samples[: got.size, 3], atol=1e-6)
    first = np.concatenate([b.t_device_ns for b in blocks])
    counts = np.concatenate([b.counts for b in blocks])
    assert np.array_equal(np.diff(first), counts[:-1] * 5_000_000)  # the sample clock has no hole


def test_a_lost_packet_is_a_gap_in_the_sample_clock() -> None:
    samples = np.random.default_rng(1).integers(-(1 << 22), 1 << 22, (2 * 600, 4))
    packets = fw3_packets(samples, 18)
    t = np.arange(len(packets)) * 10_000_000
    keep = np.ones(len(packets), dtype=bool)
    keep[[50, 51, 52]] = False  # three packets lost
    keep[120 : 120 + 202] = False  # two whole id cycles lost: only arrival times can tell
    idx = np.flatnonzero(keep)
    (block,) = GanglionDecoder({}).decode([packets[i] for i in idx], t[idx]).blocks
    assert block.t_device_ns is not None
    np.testing.assert_array_equal(block.t_device_ns, idx * 10_000_000)
    # firmware 2: after a loss the chain waits for the next raw packet; nothing wrong is emitted
    samples2 = fw2_friendly(np.random.default_rng(3), 603)
    p2 = fw2_packets(samples2, 18)
    gone = [30]
    kept = [p for i, p in enumerate(p2) if i not in gone]
    dec = GanglionDecoder({"firmware": 2})
    (b2,) = dec.decode(kept, np.delete(np.arange(len(p2)) * 10_000_000, gone)).blocks
    assert dec.unseeded == 100 - 30  # packets 31-100 skipped until the raw packet 101
    starts = b2.t_device_ns // 5_000_000
    got = b2.data[0] / UV_PER_COUNT
    where = np.concatenate([np.arange(s, s + c) for s, c in zip(starts, b2.counts, strict=True)])
    np.testing.assert_allclose(got, samples2[where, 0], atol=1e-6)


def test_impedance_messages_and_malformed_packets() -> None:
    imp = bytes((201,)) + b"12345Z" + bytes(13)
    msg = bytes((207,)) + b"v3.0.2".ljust(19, b"\x00")
    out = PROFILE.decode([imp, msg, b"\x01" * 5, bytes((250,)) + bytes(19)], [0, 1, 2, 3], PROFILE.default_settings())
    assert out.blocks == () and out.malformed == 2
    assert out.info == ({"impedance_channel": 1, "ohms": "12345"}, {"message": "v3.0.2", "last": True})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=24), max_size=10), st.sampled_from([2, 3]))
def test_fuzz_any_bytes_decode_or_count(payloads: list[bytes], firmware: int) -> None:
    frames = [p[:20].ljust(20, b"\x00") if i % 2 else p for i, p in enumerate(payloads)]
    out = GanglionDecoder({"firmware": firmware}).decode(frames, list(range(len(frames))))
    for b in out.blocks:
        assert b.data.shape == (1, int(b.counts.sum())) and np.isfinite(b.data).all()
    assert out.malformed <= len(frames)


def test_registered_and_matched() -> None:
    assert get_profile("ganglion") is PROFILE
    assert PROFILE.matches("Ganglion-4f2a", []) and PROFILE.matches(None, ["0000FE84-0000-1000-8000-00805F9B34FB"])
    assert PROFILE.start_commands({}) == [("2d30c083-f39f-4ce6-923f-3484ea480596", b"b")]
    assert PROFILE.streams({"emg_channel": 2})[0].fs_hz == 200.0
    assert fw3_counts(np.array([1 << 17]), 18).tolist() == [-(1 << 23)]


def test_firmware_from_the_software_revision() -> None:
    from firmware_bridge.profiles.ganglion import firmware_from_revision

    assert firmware_from_revision("3.0.2") == 3 and firmware_from_revision("2.0.1") == 2
    assert firmware_from_revision(" 3.1") == 3 and firmware_from_revision("") == 2
