"""MetaWear (BMI160 / BMI270) and Movesense GSP accelerometers: vendor command bytes and data vectors,
round trips through encoders written from the byte layouts, and malformed input that never raises.

Vendor vectors covered: the SDK's command bytes (BMI160 200 Hz ±8 g ``03 03 29 08``, BMI270 ``03 03 A9 02``,
enable ``03 02 01 00``, disable ``03 02 00 01``, start ``03 01 01``, stop ``03 01 00``, subscribe single
``03 04 01`` and packed ``03 1C 01`` / ``03 05 01``), the single-sample vector at ±4 g and the packed vector
at ±8 g (BMI160 and BMI270 registers); Movesense's subscribe ``01 63 "/Meas/Acc/13"``, unsubscribe
``02 63``, the HELLO reply and the "507" result in both byte orders.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.profiles import get_profile
from firmware_bridge.profiles import metawear as mw
from firmware_bridge.profiles import movesense as ms


def mw_settings(**kw: object) -> dict:
    return {**mw.PROFILE.default_settings(), **kw}


def test_metawear_command_bytes() -> None:
    assert mw.config_command(mw_settings(acc_fs_hz=200, range_g=8)) == bytes.fromhex("03 03 29 08")
    assert mw.config_command(mw_settings(chip="bmi270", acc_fs_hz=200, range_g=8)) == bytes.fromhex("03 03 A9 02")
    assert mw.config_command(mw_settings(acc_fs_hz=50, range_g=2)) == bytes.fromhex("03 03 27 03")
    start = [c for _, c in mw.PROFILE.start_commands(mw_settings(acc_fs_hz=100, range_g=4))]
    assert start == [bytes.fromhex(h) for h in ("03 03 28 05", "03 1C 01", "03 02 01 00", "03 01 01")]
    single = [c for _, c in mw.PROFILE.start_commands(mw_settings(packed=False))]
    assert single[1] == bytes.fromhex("03 04 01")
    b270 = [c for _, c in mw.PROFILE.start_commands(mw_settings(chip="bmi270"))]
    assert b270[1] == bytes.fromhex("03 05 01") and b270[-1] == bytes.fromhex("03 01 02")
    stop = [c for _, c in mw.PROFILE.stop_commands(mw_settings())]
    assert stop == [bytes.fromhex(h) for h in ("03 01 00", "03 02 00 01", "03 1C 00")]
    with pytest.raises(ValueError, match="rates"):
        mw.config_command(mw_settings(acc_fs_hz=120))


def test_metawear_vendor_data_vectors() -> None:
    single = bytes.fromhex("03 04 16 C4 94 A2 2A D0")
    (b,) = mw.PROFILE.decode([single], [0], mw_settings(range_g=4)).blocks
    np.testing.assert_allclose(b.data[:, 0], [-1.872, -2.919, -1.495], atol=5e-4)
    packed = "62 B7 53 0D E9 FD 16 D0 4D 0E 57 02 8A FF A1 05 0A 01"
    expected = [[-4.539, 0.833, -0.131], [-2.995, 0.894, 0.146], [-0.029, 0.352, 0.065]]
    for register in ("1C", "05"):
        (p,) = mw.PROFILE.decode([bytes.fromhex(f"03 {register} {packed}")], [5], mw_settings()).blocks
        np.testing.assert_allclose(p.data.T, expected, atol=5e-4)
        assert p.counts.tolist() == [3] and p.t_device_ns is None and p.t_rx_ns.tolist() == [5]


def test_metawear_round_trip_and_malformed() -> None:
    rng = np.random.default_rng(0)
    counts = rng.integers(-32768, 32767, (3, 30))
    packets = [b"\x03\x1c" + struct.pack("<9h", *counts[:, k : k + 3].T.reshape(-1)) for k in range(0, 30, 3)]
    packets.insert(4, b"\x03\x04" + struct.pack("<3h", 1, 2, 3))
    out = mw.PROFILE.decode([*packets, b"\x03\x1c\x00", b"\x19\x01\x00"], range(len(packets) + 2), mw_settings())
    (b,) = out.blocks
    assert out.malformed == 2 and b.counts.tolist() == [3] * 4 + [1] + [3] * 6
    got = np.rint(b.data * 4096).astype(int)
    np.testing.assert_array_equal(np.delete(got, 12, axis=1), counts)
    assert got[:, 12].tolist() == [1, 2, 3]


def test_movesense_commands_and_results() -> None:
    assert ms.subscribe_command(0x63, "/Meas/Acc/13") == bytes.fromhex("01 63") + b"/Meas/Acc/13"
    assert ms.unsubscribe_command(0x63) == bytes.fromhex("02 63")
    start = ms.PROFILE.start_commands({"acc_fs_hz": 52, "client_ref": 0x63})
    assert start == [(ms.MOVESENSE_COMMAND, b"\x01\x63/Meas/Acc/52")]
    assert ms.PROFILE.stop_commands({"client_ref": 0x63}) == [(ms.MOVESENSE_COMMAND, b"\x02\x63")]
    assert ms.result_status(bytes.fromhex("01 63 01 FB")) == 507  # big-endian in the sample firmware
    assert ms.result_status(bytes.fromhex("01 63 C8 00")) == 200  # little-endian in other clients
    assert ms.result_status(b"\x01\x63Hello") is None


def acc_notification(ref: int, t_ms: int, xyz_ms2: np.ndarray) -> bytes:
    return bytes((2, ref)) + struct.pack("<I", t_ms) + xyz_ms2.T.astype("<f4").tobytes()


def test_movesense_data_in_g_with_first_sample_times_and_continuations() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(0, 2, (3, 8)).astype(np.float32)
    first = acc_notification(99, 4_294_967_000, a[:, :4])
    long = acc_notification(99, 4_294_967_100, a[:, 4:])
    part1, part2 = long[:20], bytes((3, 99)) + long[20:]
    hello = b"\x01\x63Hello"
    out = ms.PROFILE.decode([hello, first, part1, part2, b"\x02\x07" + bytes(16)], [0, 1, 2, 3, 4], {"acc_fs_hz": 52})
    (b,) = out.blocks
    assert out.malformed == 1 and b.counts.tolist() == [4, 4]
    np.testing.assert_allclose(b.data, a / 9.80665, rtol=1e-6)
    assert b.t_device_ns is not None and b.t_device_ns.tolist() == [4_294_967_000_000_000, 4_294_967_100_000_000]
    assert out.info[0]["hello"] is True


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_fuzz_metawear_and_movesense(payloads: list[bytes]) -> None:
    for profile, prefix in ((mw.PROFILE, b"\x03\x1c"), (ms.PROFILE, b"\x02\x63")):
        frames = [prefix + p if i % 2 else p for i, p in enumerate(payloads)]
        out = profile.decode(frames, list(range(len(frames))), profile.default_settings())
        for b in out.blocks:
            assert b.data.shape == (3, int(b.counts.sum()))
        assert out.malformed <= len(frames)


def test_registered_and_matched() -> None:
    assert get_profile("metawear") is mw.PROFILE and get_profile("movesense") is ms.PROFILE
    assert mw.PROFILE.matches("MetaWear", []) and mw.PROFILE.matches(None, [mw.METAWEAR_SERVICE.upper()])
    assert ms.PROFILE.matches("Movesense 174630000192", []) and not ms.PROFILE.matches("Polar H10", [])
