"""Polar PMD: every vendor test vector, multi-block delta frames against a slow loop oracle, the control
point's exact bytes, negotiation, and malformed frames that never raise.

Vendor vectors covered (names as in the protocol notes): A (raw ACC type 0x01, 36 samples, SDK timestamps),
C (delta ACC 0x81, Android and iOS timestamp variants), E (H10 raw ACC from the PMD specification), F
(Verity 0x80 delta frame from the specification, with and without its FACTOR), G (ECG raw type 0, which the
accelerometer profile counts as not its stream), the control-point byte sequences of the specification's
diagrams (H10 and Verity settings, starts, stop), the SDK's control-point response and settings tests, and
the device-stop event; R1 and R2 (real Verity frames quoted in public reports) as sanity checks.
"""

from __future__ import annotations

import asyncio
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.profiles import get_profile
from firmware_bridge.profiles.polar import (
    ACC,
    CHANNELS,
    FACTOR,
    PMD_CP,
    PMD_DATA,
    PROFILE,
    RANGE,
    RESOLUTION,
    SAMPLE_RATE,
    ControlResponse,
    DeviceStopped,
    PolarError,
    factor_of,
    get_settings_command,
    negotiate,
    parse_control,
    parse_settings,
    sample_timestamps_ns,
    start_command,
    stop_command,
)

VECTOR_A = bytes.fromhex(
    "02 00 94 35 77 00 00 00 00 01 F7 FF FF FF E7 03 F8 FF FE FF E5 03 F9 FF"
    "FF FF E5 03 FA FF FF FF E6 03 FA FF FE FF E6 03 F9 FF FF FF E5 03 F8 FF"
    "FF FF E6 03 F8 FF FE FF E6 03 FA FF FF FF E5 03 FA FF FF FF E7 03 FA FF"
    "FF FF E5 03 F8 FF FF FF E6 03 F7 FF FF FF E6 03 F8 FF FE FF E6 03 F9 FF"
    "FE FF E7 03 F9 FF 00 00 E6 03 F9 FF FF FF E6 03 F7 FF FE FF E5 03 F9 FF"
    "FF FF E5 03 F9 FF FF FF E5 03 FA FF 00 00 E6 03 F9 FF FE FF E6 03 F8 FF"
    "FF FF E6 03 F8 FF FF FF E5 03 F9 FF FF FF E6 03 F9 FF FF FF E5 03 FA FF"
    "FF FF E6 03 F9 FF FF FF E5 03 F9 FF FF FF E5 03 F8 FF FE FF E6 03 F9 FF"
    "FF FF E6 03 F9 FF FF FF E6 03 F9 FF 00 00 E5 03 F9 FF FE FF E6 03 F8 FF"
    "FE FF E6 03 F7 FF FE FF E6 03"
)
VECTOR_C_ANDROID = bytes.fromhex("02 65 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 06 01 7B 0F 08")
VECTOR_C_IOS = bytes.fromhex("02 66 00 00 00 00 00 00 00 81 F1 FF 14 00 F0 03 06 01 7B 0F 08")
VECTOR_E = bytes.fromhex("02 EA 54 A2 42 8B 45 52 08 01 45 FF E4 FF B5 03 45 FF E4 FF B8 03")
# the specification prints the start of a 29-sample block; the first five deltas are complete
VECTOR_F_HEAD = bytes.fromhex("02 64 6C 76 C4 3C C6 7F 07 80 D0 FF 65 01 E4 0F")
VECTOR_F_DELTAS = bytes.fromhex("FC 07 FF 0C 13 F2 11 F1 1A F9 EE F8 EF 0C 03")  # after "08 1D"
VECTOR_G = bytes.fromhex("00 00 94 35 77 00 00 00 00 00 02 80 FF 02 80 00")
R1_HEAD = bytes.fromhex("02 9C 58 29 13 84 57 73 07 81 FA FF 21 00 F4 03")

MG = 1e-3  # g per mG


def settings_with(**kw: object) -> dict:
    return {**PROFILE.default_settings(), **kw}


def acc(payloads: list[bytes], **kw: object):
    return PROFILE.decode(payloads, list(range(len(payloads))), settings_with(**kw))


# -- vendor data vectors ------------------------------------------------------------------------
def test_vector_a_raw_h10_frame() -> None:
    out = acc([VECTOR_A])
    assert out.malformed == 0
    (block,) = out.blocks
    mg = np.rint(block.data / MG).astype(int).T
    assert block.counts.tolist() == [36] and mg.shape == (36, 3)
    assert mg[0].tolist() == [-9, -1, 999] and mg[1].tolist() == [-8, -2, 997]
    assert mg[2].tolist() == [-7, -1, 997] and mg[35].tolist() == [-9, -2, 998]
    ts = sample_timestamps_ns(2_000_000_000, 36, 52.0)
    assert ts[0] == 1_326_923_077 and ts[1] == 1_346_153_846 and ts[-1] == 2_000_000_000
    assert block.t_device_ns is not None and block.t_device_ns.tolist() == [ts[0]]


def test_vector_c_delta_type_1_and_sdk_timestamps() -> None:
    for frame in (VECTOR_C_ANDROID, VECTOR_C_IOS):
        (block,) = acc([frame]).blocks
        mg = np.rint(block.data / MG).astype(int).T.tolist()
        assert mg == [[-15, 20, 1008], [-20, 17, 1008]]
    assert sample_timestamps_ns(101, 2, 52.0, previous_ns=100) == [100, 101]  # half to even
    assert sample_timestamps_ns(102, 2, 52.0, previous_ns=100) == [101, 102]
    assert sample_timestamps_ns(11_000_000_000, 10, 52.0, previous_ns=1_000_000_000)[:2] == [2e9, 3e9]


def test_vector_e_h10_frame_from_the_specification() -> None:
    (block,) = acc([VECTOR_E]).blocks
    mg = np.rint(block.data / MG).astype(int).T.tolist()
    assert mg == [[-187, -28, 949], [-187, -28, 952]]
    last = struct.unpack_from("<Q", VECTOR_E, 1)[0]
    assert last == 599_618_164_814_402_794


def vector_f(n_deltas: int) -> bytes:
    """The specification's Verity frame with its first ``n_deltas`` 8-bit samples as one block."""
    return VECTOR_F_HEAD + bytes((8, n_deltas)) + VECTOR_F_DELTAS[: 3 * n_deltas]


def test_vector_f_verity_delta_frame_with_and_without_factor() -> None:
    (block,) = acc([vector_f(5)]).blocks  # no FACTOR received: the raw values, trunc(v * 1 * 1000) mG
    raw = np.rint(block.data / MG / 1000).astype(int).T.tolist()
    assert raw[:6] == [[-48, 357, 4068], [-52, 364, 4067], [-40, 383, 4053], [-23, 368, 4079], [-30, 350, 4071],
                       [-47, 362, 4074]]  # fmt: skip
    (scaled,) = acc([vector_f(5)], factor=0.000244).blocks
    assert round(scaled.data[2, 0] / MG) == 992  # trunc(4068 * 0.244)


def test_vector_g_ecg_is_not_the_accelerometer() -> None:
    out = acc([VECTOR_G])
    assert out.blocks == () and out.malformed == 1


def test_real_verity_frames_read_about_one_g() -> None:
    # R1: the reference sample and a 6-bit block of two samples built from its first decoded deltas
    (block,) = acc([R1_HEAD + encode_block(6, [[3, 2, -3], [-6, 6, 7]])]).blocks
    mg = np.rint(block.data / MG).astype(int).T.tolist()
    assert mg == [[-6, 33, 1012], [-3, 35, 1009], [-9, 41, 1016]]
    assert all(1000 < np.linalg.norm(s) < 1020 for s in mg)


# -- control point ------------------------------------------------------------------------------
def test_control_point_bytes_of_the_specification() -> None:
    assert get_settings_command(ACC) == bytes.fromhex("01 02")
    h10 = start_command(ACC, [(RANGE, 8), (SAMPLE_RATE, 200), (RESOLUTION, 16)])
    assert h10 == bytes.fromhex("02 02 02 01 08 00 00 01 C8 00 01 01 10 00")
    verity = start_command(ACC, [(SAMPLE_RATE, 52), (RESOLUTION, 16), (RANGE, 8), (CHANNELS, 3)])
    assert verity == bytes.fromhex("02 02 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03")
    assert stop_command(ACC) == bytes.fromhex("03 02")
    assert PROFILE.start_commands(settings_with()) == [(PMD_CP, verity)]
    assert PROFILE.stop_commands(settings_with()) == [(PMD_CP, bytes.fromhex("03 02"))]
    sdk = PROFILE.start_commands(settings_with(sdk_mode=True, acc_fs_hz=416))
    assert sdk[0] == (PMD_CP, bytes.fromhex("02 09")) and sdk[1][1][2:6] == bytes.fromhex("00 01 A0 01")


def test_settings_responses_of_the_specification() -> None:
    h10 = parse_control(
        bytes.fromhex("F0 01 02 00 00 00 04 19 00 32 00 64 00 C8 00 01 01 10 00 02 03 02 00 04 00 08 00")
    )
    assert isinstance(h10, ControlResponse) and h10.ok and not h10.more
    assert parse_settings(h10.parameters) == {SAMPLE_RATE: [25, 50, 100, 200], RESOLUTION: [16], RANGE: [2, 4, 8]}
    verity = parse_control(bytes.fromhex("F0 01 02 00 00 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03"))
    assert isinstance(verity, ControlResponse)
    assert parse_settings(verity.parameters) == {SAMPLE_RATE: [52], RESOLUTION: [16], RANGE: [8], CHANNELS: [3]}
    sdk = parse_settings(bytes.fromhex("00 01 34 00 01 01 10 00 02 04 F5 00 F4 01 E8 03 D0 07 04 01 03"))
    assert sdk == {SAMPLE_RATE: [52], RESOLUTION: [16], RANGE: [245, 500, 1000, 2000], CHANNELS: [3]}


def test_start_responses_factor_errors_and_device_stop() -> None:
    verity = parse_control(bytes.fromhex("F0 02 02 00 00 05 01 40 DA 7F 39"))
    assert isinstance(verity, ControlResponse) and verity.ok
    assert factor_of(verity) == pytest.approx(0.000244, rel=1e-4)
    h10 = parse_control(bytes.fromhex("F0 02 02 00 00 01"))
    assert isinstance(h10, ControlResponse) and h10.ok and factor_of(h10) is None  # reserved byte
    assert parse_control(bytes.fromhex("F0 03 02 00 00")) == ControlResponse(3, 2, 0, False, b"")
    gen = parse_control(bytes.fromhex("F0 01 02 00 00 FF FF FF"))
    assert isinstance(gen, ControlResponse) and gen.parameters == b"\xff\xff\xff"
    bad = parse_control(bytes.fromhex("F0 01 06 07 00"))
    assert isinstance(bad, ControlResponse) and not bad.ok and bad.error == "invalid resolution"
    assert parse_control(bytes.fromhex("01 01 02")) == DeviceStopped((1, 2))
    with pytest.raises(PolarError):
        parse_control(b"\xf0\x01")


class FakeControlPoint:
    """A band's control point that answers like the specification's diagrams."""

    def __init__(self, offered: bytes, start_reply: bytes) -> None:
        self.offered, self.start_reply, self.sent = offered, start_reply, []

    async def __call__(self, payload: bytes) -> ControlResponse:
        self.sent.append(payload)
        reply = {1: self.offered, 2: self.start_reply}.get(payload[0], bytes((0xF0, payload[0], payload[1], 0, 0)))
        out = parse_control(reply)
        assert isinstance(out, ControlResponse)
        return out


def test_negotiation_picks_offered_settings_and_keeps_the_factor() -> None:
    verity = FakeControlPoint(
        bytes.fromhex("F0 01 02 00 00 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03"),
        bytes.fromhex("F0 02 02 00 00 05 01 40 DA 7F 39"),
    )
    got = asyncio.run(negotiate(verity, settings_with(acc_fs_hz=200)))
    assert verity.sent[-1] == bytes.fromhex("02 02 00 01 34 00 01 01 10 00 02 01 08 00 04 01 03")
    assert got["acc_fs_hz"] == 52 and got["factor"] == pytest.approx(0.000244, rel=1e-4)
    h10 = FakeControlPoint(
        bytes.fromhex("F0 01 02 00 00 00 04 19 00 32 00 64 00 C8 00 01 01 10 00 02 03 02 00 04 00 08 00"),
        bytes.fromhex("F0 02 02 00 00 01"),
    )
    got = asyncio.run(negotiate(h10, settings_with(acc_fs_hz=200, range_g=8)))
    assert h10.sent == [bytes.fromhex("01 02"), bytes.fromhex("02 02 00 01 C8 00 01 01 10 00 02 01 08 00")]
    assert got["acc_fs_hz"] == 200 and got["factor"] == 1.0
    refusing = FakeControlPoint(h10.offered, bytes.fromhex("F0 02 02 08 00"))
    with pytest.raises(PolarError, match="invalid sample rate"):
        asyncio.run(negotiate(refusing, settings_with()))


# -- a slow loop oracle for delta frames ----------------------------------------------------------
def encode_block(width: int, deltas: list[list[int]]) -> bytes:
    """One delta block, bit by bit: ``[width][count][LSB-first W-bit fields, sample-major]``."""
    bits: list[int] = []
    for sample in deltas:
        for d in sample:
            v = d & ((1 << width) - 1)
            bits += [(v >> b) & 1 for b in range(width)]
    bits += [0] * (-len(bits) % 8)
    body = bytes(sum(bits[i + b] << b for b in range(8)) for i in range(0, len(bits), 8))
    return bytes((width, len(deltas))) + body


def delta_frame(ts: int, ref: list[int], blocks: list[tuple[int, list[list[int]]]], kind: int = 0x81) -> bytes:
    head = bytes((ACC,)) + struct.pack("<Q", ts) + bytes((kind,)) + struct.pack("<3h", *ref)
    return head + b"".join(encode_block(w, d) for w, d in blocks)


def oracle(ref: list[int], blocks: list[tuple[int, list[list[int]]]]) -> list[list[int]]:
    out = [list(ref)]
    for _, deltas in blocks:
        for d in deltas:
            out.append([out[-1][c] + d[c] for c in range(3)])
    return out


def random_blocks(rng: np.random.Generator) -> list[tuple[int, list[list[int]]]]:
    blocks = []
    for _ in range(int(rng.integers(1, 5))):
        w = int(rng.integers(2, 17))
        n = int(rng.integers(1, 40))
        lim = 1 << (w - 1)
        blocks.append((w, rng.integers(-lim, lim, (n, 3)).tolist()))
    return blocks


def test_multi_block_mixed_width_frames_match_the_loop_oracle() -> None:
    rng = np.random.default_rng(3)
    frames, expected = [], []
    for k in range(60):
        ref = rng.integers(-2000, 2000, 3).tolist()
        blocks = random_blocks(rng)
        frames.append(delta_frame(1_000_000 * (k + 1), ref, blocks))
        expected += oracle(ref, blocks)
    (block,) = acc(frames).blocks
    np.testing.assert_array_equal(np.rint(block.data.T / MG).astype(int), np.array(expected))
    assert block.counts.sum() == len(expected)
    # one frame at a time gives the same samples, in the same order
    one_by_one = np.concatenate([acc([f]).blocks[0].data for f in frames], axis=1)
    np.testing.assert_array_equal(one_by_one, block.data)


def test_raw_and_delta_frames_keep_arrival_order() -> None:
    d = delta_frame(5, [1, 2, 3], [(4, [[1, 1, 1], [-1, 0, 2]])])
    out = acc([VECTOR_E, d, VECTOR_A[: 10 + 12], b"\x02"])
    (block,) = out.blocks
    assert out.malformed == 1 and block.counts.tolist() == [2, 3, 2]
    assert block.t_rx_ns.tolist() == [0, 1, 2]
    mg = np.rint(block.data.T / MG).astype(int).tolist()
    assert mg[:2] == [[-187, -28, 949], [-187, -28, 952]] and mg[2:5] == [[1, 2, 3], [2, 3, 4], [1, 3, 6]]


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        VECTOR_A[:9],  # header cut
        VECTOR_A[:10],  # no samples
        VECTOR_A[:-1],  # a sample cut
        delta_frame(1, [0, 0, 0], [(8, [[1, 2, 3]])])[:-1],  # block cut
        delta_frame(1, [0, 0, 0], [])[:14],  # reference cut
        delta_frame(1, [0, 0, 0], [(0, [[0, 0, 0]])]),  # zero bit width
        bytes((ACC,)) + bytes(8) + b"\x07" + bytes(6),  # unknown frame type
        VECTOR_G,  # ECG
    ],
)
def test_malformed_frames_are_counted_not_raised(bad: bytes) -> None:
    out = acc([bad, VECTOR_E])
    assert out.malformed == 1 and out.blocks[0].counts.tolist() == [2]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=8), st.floats(0.0001, 2.0))
def test_fuzz_any_bytes_decode_or_count(payloads: list[bytes], factor: float) -> None:
    # frames that look like ACC half the time, so the decoders themselves get exercised
    frames = [bytes((ACC,)) + p if i % 2 else p for i, p in enumerate(payloads)]
    out = PROFILE.decode(frames, list(range(len(frames))), settings_with(factor=factor))
    decoded = sum(b.n_frames for b in out.blocks)
    assert decoded + out.malformed == len(frames)
    for b in out.blocks:
        assert b.data.shape == (3, int(b.counts.sum())) and np.isfinite(b.data).all()


def test_registered_and_matched() -> None:
    assert get_profile("polar") is PROFILE
    assert PROFILE.matches("Polar Sense B5A22F29", []) and PROFILE.matches("Polar H10 1234ABCD", [])
    assert PROFILE.matches(None, ["FB005C80-02E7-F387-1CAD-8ACD2D8DF0C8"])
    assert not PROFILE.matches("Mi Band", ["0000180d-0000-1000-8000-00805f9b34fb"])
    assert PROFILE.notify_uuid == PMD_DATA and FACTOR == 5


def test_the_frame_encoder_round_trips_through_the_decoder_and_the_oracle() -> None:
    from firmware_bridge.profiles.polar import encode_delta_frame

    rng = np.random.default_rng(9)
    x = np.cumsum(rng.integers(-300, 300, (37, 3)), axis=0) + 1000
    frame = encode_delta_frame(123, x)
    width = int(np.abs(np.diff(x, axis=0)).max()).bit_length() + 1  # the sign needs one more bit
    assert frame[16] == width and frame[17] == 36
    (block,) = acc([frame]).blocks
    np.testing.assert_array_equal(np.rint(block.data.T / MG).astype(int), x)
    blocks = [(width, np.diff(x, axis=0).tolist())]
    assert frame == delta_frame(123, x[0].tolist(), blocks)  # byte for byte what the loop encoder writes
