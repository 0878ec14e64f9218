"""The nus-emg wire format: byte layout, round trips, malformed input never raises."""

from __future__ import annotations

import struct

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.profiles import get_profile
from firmware_bridge.profiles.nus_emg import PROFILE, encode_frames, encode_info

SETTINGS = PROFILE.default_settings()


def test_frame_bytes_follow_the_documented_layout() -> None:
    frame = encode_frames("emg", np.array([[1, -2, 300]]), frame_samples=3, t0_us=70_000.0, fs_hz=1000.0, seq0=65535)[0]
    version_stream, seq, t0, n = struct.unpack_from("<BHIB", frame)
    assert (version_stream, seq, t0, n) == (0x10, 65535, 70_000, 3)
    assert frame[8:] == struct.pack("<3h", 1, -2, 300)
    acc = encode_frames("acc", np.array([[1], [2], [3]]), frame_samples=1, t0_us=5.0, fs_hz=100.0)[0]
    assert acc[0] == 0x11 and acc[8:] == struct.pack("<3h", 1, 2, 3)


def test_hand_written_frame_decodes_to_physical_units() -> None:
    payload = bytes.fromhex("10 0700 40420f00 02 e803 18fc")  # EMG, seq 7, t0 1 s, +1000 and -1000 counts
    block = PROFILE.decode([payload], [123], SETTINGS).blocks[0]
    assert block.stream == "emg" and block.seq is not None and block.t_device_ns is not None
    assert block.seq.tolist() == [7] and block.t_device_ns.tolist() == [1_000_000_000]
    np.testing.assert_allclose(block.data, [[100.0, -100.0]])  # 0.1 µV per count
    assert block.t_rx_ns.tolist() == [123]


def test_round_trip_with_mixed_frame_lengths_keeps_arrival_order() -> None:
    rng = np.random.default_rng(0)
    emg = rng.integers(-32768, 32767, (1, 1237))
    acc = rng.integers(-2000, 2000, (3, 211))
    fe = encode_frames("emg", emg, frame_samples=50, t0_us=1e6, fs_hz=1000.0)
    fe2 = encode_frames("emg", emg, frame_samples=17, t0_us=1e6, fs_hz=1000.0)
    fa = encode_frames("acc", acc, frame_samples=25, t0_us=1e6, fs_hz=100.0)
    payloads = fe[:5] + fa[:3] + [encode_info(SETTINGS)] + fe[5:] + fa[3:]
    dec = PROFILE.decode(payloads, np.arange(len(payloads)), SETTINGS)
    assert dec.malformed == 0 and dec.info == (SETTINGS,)
    by = {b.stream: b for b in dec.blocks}
    np.testing.assert_allclose(by["emg"].data, emg * 0.1)
    np.testing.assert_allclose(by["acc"].data, acc * 0.001)
    assert by["emg"].counts.sum() == 1237 and by["emg"].counts[-1] == 1237 % 50
    mixed = PROFILE.decode(fe2, np.arange(len(fe2)), SETTINGS).blocks[0]
    np.testing.assert_allclose(mixed.data, emg * 0.1)
    assert np.all(np.diff(by["acc"].t_rx_ns) > 0)


def test_malformed_payloads_are_counted_and_skipped() -> None:
    good = encode_frames("emg", np.array([[5, 6]]), frame_samples=2, t0_us=0.0, fs_hz=1000.0)[0]
    bad = [
        b"",
        b"\x10",
        good[:-1],
        good + b"\x00",
        b"\x20" + good[1:],
        bytes([0x10, 0, 0, 0, 0, 0, 0, 9, 1, 2]),
    ]
    dec = PROFILE.decode([*bad, good], np.arange(len(bad) + 1), SETTINGS)
    assert dec.malformed == len(bad)
    np.testing.assert_allclose(dec.blocks[0].data, [[0.5, 0.6]])


def test_registry_knows_the_profile() -> None:
    assert get_profile("nus-emg") is PROFILE
    try:
        get_profile("nope")
    except KeyError as exc:
        assert "nus-emg" in str(exc)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=12))
def test_decoder_never_raises_on_random_bytes(payloads: list[bytes]) -> None:
    dec = PROFILE.decode(payloads, np.arange(len(payloads)), SETTINGS)
    decoded = sum(b.n_frames for b in dec.blocks) + len(dec.info)
    assert decoded + dec.malformed == len(payloads)
