"""Polar Sensor Logger ``.txt`` files, written here in the app's exact layout from known signals."""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.night import analyze_streams
from detector.simulate import SimulatedNight
from firmware_bridge.formats import RecordingError, read_polar, read_polar_files, read_text_recording
from firmware_bridge.formats.recording import ChannelRole

ACC_HEADER = ["Phone timestamp", "sensor timestamp [ns]", "X [mg]", "Y [mg]", "Z [mg]"]
ECG_HEADER = ["Phone timestamp", "sensor timestamp [ns]", "timestamp [ms]", "ecg [uV]"]
NS0 = 599_636_646_177_065_964  # sensor clock: ns since 2000-01-01
PHONE0 = dt.datetime(2026, 7, 16, 23, 2, 11, 930_000)  # phone clock at sensor time 0 (plus delivery delay)
LATENCY_S = 0.030  # the smallest delivery delay: the start estimate must land on PHONE0 + t[0] + this


def xyz_mg(t: np.ndarray) -> np.ndarray:
    """A slow, smooth 3-axis signal in mg (gravity on y plus motion), exact at any time."""
    return np.stack(
        [
            400.0 * np.sin(2 * np.pi * 0.05 * t) + 30.0 * np.sin(2 * np.pi * 0.9 * t),
            950.0 + 40.0 * np.cos(2 * np.pi * 0.11 * t),
            -120.0 + 60.0 * np.sin(2 * np.pi * 0.4 * t + 1.0),
        ]
    )


def ecg_uv(t: np.ndarray) -> np.ndarray:
    return 800.0 * np.sin(2 * np.pi * 1.2 * t) + 100.0 * np.cos(2 * np.pi * 3.1 * t)


def sample_times(
    n: int, rate_hz: float, rng: np.random.Generator, *, jitter_s: float = 0.0015, t_start: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """A sensor sampling on its own steady clock at a real rate off nominal: the true sample times, and the
    stamps written for them (with stamping jitter, kept in order)."""
    t = t_start + np.arange(n) / rate_hz
    stamps = t + rng.uniform(-jitter_s, jitter_s, n)
    return t, np.maximum.accumulate(stamps + np.arange(n) * 1e-7)


def write_polar(
    path: Path,
    t: np.ndarray,
    values: np.ndarray,
    header: list[str],
    *,
    packet: int = 36,
    decimal_comma: bool = False,
    order: list[int] | None = None,
    extra_column: bool = False,
    packet_stamps: bool = False,
    fmt: str = "{:.0f}",
    phone0: dt.datetime = PHONE0,
    rng: np.random.Generator | None = None,
) -> Path:
    """Rows as Polar Sensor Logger writes them, sensor stamps ``t`` (s): per BLE packet of ``packet`` samples
    one phone timestamp (arrival = the stamp of the packet's last sample + LATENCY_S, plus a random extra
    delay after the first packet)."""
    rng = rng or np.random.default_rng(0)
    n = t.size
    pk = np.arange(n) // packet
    last = np.minimum((pk + 1) * packet - 1, n - 1)
    delay = LATENCY_S + np.where(pk == 0, 0.0, rng.exponential(0.04, pk[-1] + 1)[pk])
    phone = [phone0 + dt.timedelta(seconds=float(t[j] + d)) for j, d in zip(last, delay, strict=True)]
    sensor = NS0 + np.round((t[last] if packet_stamps else t) * 1e9).astype(np.int64)
    cols: list[list[str]] = [[p.isoformat(timespec="milliseconds") for p in phone], [str(s) for s in sensor]]
    if header is ECG_HEADER:
        cols.append([f"{(s - sensor[0]) / 1e6:.6f}" for s in sensor])
    cols += [[fmt.format(v) for v in row] for row in values]
    names = list(header)
    if extra_column:
        names.append(" battery [%] ")
        cols.append(["87"] * n)
    idx = order or list(range(len(names)))
    lines = [";".join(names[i] for i in idx)]
    for r in range(n):
        line = ";".join(cols[i][r] for i in idx)
        lines.append(line.replace(".", ",") if decimal_comma else line)
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize(("model", "real_hz"), [("H10", 52.2), ("VeritySense", 104.3)])
def test_acc_file_matches_the_generating_signal(tmp_path: Path, model: str, real_hz: float) -> None:
    rng = np.random.default_rng(5)
    t, stamps = sample_times(int(real_hz * 180), real_hz, rng)
    k = np.arange(t.size)
    hole = (t > 60.0) & (t < 63.0)  # lost BLE packets: 3 s without rows
    blip = (k == 5000) | (k == 5001)  # two lost samples: shorter than the gap limit, interpolated
    kept = ~hole & ~blip
    mg = np.round(xyz_mg(t))
    path = write_polar(
        tmp_path / f"Polar_{model}_A1B2C3D4_20260716_230211_ACC.txt", stamps[kept], mg[:, kept], ACC_HEADER
    )
    rec = read_polar(path, leg="left")
    (sig,) = rec.signals
    assert rec.format == "Polar Sensor Logger"
    assert sig.info.name == "acc:left" and sig.info.leg == "left" and sig.info.unit == "g"
    assert sig.info.fs_hz == pytest.approx(real_hz, abs=2e-3)  # the sensor's real rate, not the nominal one
    assert sig.labels == ("X [mg]", "Y [mg]", "Z [mg]")
    assert sig.data.shape == (3, t.size)  # one grid point per sensor sample, lost ones included
    # each sample keeps its value, on its own sample number (no interpolation); the 3-s hole is missing
    np.testing.assert_allclose(sig.data[:, kept], mg[:, kept] / 1000.0, rtol=1e-6)
    assert np.array_equal(np.isnan(sig.data).any(axis=0), hole)
    assert np.array_equal(np.isnan(sig.data).any(axis=0), np.isnan(sig.data).all(axis=0))
    np.testing.assert_allclose(
        sig.data[:, blip], (mg[:, [4999]] + (mg[:, [5002]] - mg[:, [4999]]) * [[1, 2]] / 3) / 1000, rtol=1e-5
    )
    assert rec.duration_s == pytest.approx(t.size / sig.info.fs_hz)
    start = dt.datetime.fromisoformat(rec.start_wall or "")
    expected = PHONE0 + dt.timedelta(seconds=float(t[0]) + LATENCY_S)
    assert abs((start - expected).total_seconds()) <= 0.004  # ms phone stamps, 1.5-ms stamping jitter


def test_decimal_commas_shuffled_columns_spaces_and_extra_columns(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    t, stamps = sample_times(52 * 60, 52.0, rng)
    vals = np.round(xyz_mg(t), 3)
    plain = write_polar(tmp_path / "plain_ACC.txt", stamps, vals, ACC_HEADER, fmt="{:.3f}")
    odd = write_polar(
        tmp_path / "odd_ACC.txt",
        stamps,
        vals,
        [" Phone timestamp ", "Sensor timestamp [ns]", " X [mg]", "Y  [mg] ", "z [MG]"],
        fmt="{:.3f}",
        decimal_comma=True,
        order=[4, 2, 0, 5, 1, 3],
        extra_column=True,
    )
    assert "," in odd.read_text().splitlines()[1]
    a, b = read_polar(plain), read_polar(odd)
    assert a.signals[0].info == b.signals[0].info
    np.testing.assert_array_equal(a.signals[0].data, b.signals[0].data)
    assert a.start_wall == b.start_wall
    np.testing.assert_allclose(b.signals[0].data, vals / 1000.0, rtol=1e-6)  # the fractions survived


def test_packet_stamped_sensor_times_are_spread_over_the_packet(tmp_path: Path) -> None:
    """Older exports stamp every sample of a packet with the packet's (last sample's) time."""
    t, _ = sample_times(52 * 120, 52.2, np.random.default_rng(7), jitter_s=0.0)
    mg = np.round(xyz_mg(t))
    path = write_polar(tmp_path / "pk_ACC.txt", t, mg, ACC_HEADER, packet=20, packet_stamps=True)
    lines = path.read_text().splitlines()
    assert lines[1].split(";")[1] == lines[2].split(";")[1]  # really packet-stamped
    (sig,) = read_polar(path).signals
    assert sig.info.fs_hz == pytest.approx(52.2, abs=1e-3)
    np.testing.assert_allclose(sig.data, mg / 1000.0, rtol=1e-6)


def test_gzip_gives_the_same_recording(tmp_path: Path) -> None:
    t, stamps = sample_times(52 * 30, 52.0, np.random.default_rng(8))
    path = write_polar(tmp_path / "a_ACC.txt", stamps, xyz_mg(t), ACC_HEADER)
    gz = tmp_path / "a_ACC.txt.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    a, b = read_polar(path), read_text_recording(gz)
    np.testing.assert_array_equal(a.signals[0].data, b.signals[0].data)
    assert (a.start_wall, a.duration_s) == (b.start_wall, b.duration_s)


def test_acc_and_ecg_of_one_session_merge_on_a_common_start(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    t_acc, s_acc = sample_times(int(52.1 * 90), 52.1, rng)
    t_ecg, s_ecg = sample_times(int(130.2 * 80), 130.2, rng, jitter_s=0.0005, t_start=4.0)  # starts 4 s later
    acc_mg, ecg = np.round(xyz_mg(t_acc)), np.round(ecg_uv(t_ecg))
    acc = write_polar(tmp_path / "Polar_H10_X_20260716_230211_ACC.txt", s_acc, acc_mg, ACC_HEADER, rng=rng)
    ecg_path = write_polar(
        tmp_path / "Polar_H10_X_20260716_230211_ECG.txt", s_ecg, ecg[None], ECG_HEADER, packet=73, rng=rng
    )
    rec = read_polar_files([ecg_path, acc], leg="right")
    (sig,) = rec.signals
    (ex,) = rec.extra
    assert sig.info.name == "acc:right" and rec.path == acc
    assert (ex.label, ex.kind, ex.unit) == ("ECG", "ecg", "uV")
    assert (sig.info.fs_hz, ex.fs_hz) == (pytest.approx(52.1, abs=2e-3), pytest.approx(130.2, abs=2e-3))
    np.testing.assert_allclose(sig.data, acc_mg / 1000.0, rtol=1e-6)  # the earlier file starts the recording
    lead = round(4.0 * ex.fs_hz)  # the ECG file's first sample, placed by its phone-clock start
    first = int(np.argmax(np.isfinite(ex.data)))
    assert abs(first - lead) <= 1
    np.testing.assert_array_equal(ex.data[first : first + ecg.size], ecg)
    assert not np.isfinite(ex.data[:first]).any()
    assert rec.duration_s == pytest.approx(max(t_acc[-1], t_ecg[-1]) - t_acc[0], abs=0.05)


def test_a_night_split_over_two_files_is_one_stream_with_a_gap(tmp_path: Path) -> None:
    rng = np.random.default_rng(10)
    t, stamps = sample_times(52 * 200, 52.0, rng)
    mg = np.round(xyz_mg(t))
    first, second = t < 80.0, t > 110.0
    a = write_polar(tmp_path / "a_ACC.txt", stamps[first], mg[:, first], ACC_HEADER, rng=rng)
    b = write_polar(tmp_path / "b_ACC.txt", stamps[second], mg[:, second], ACC_HEADER, rng=rng)
    (sig,) = read_polar_files([b, a]).signals
    assert sig.data.shape == (3, t.size)  # the second file lands on its own sample numbers
    missing = ~(first | second)
    assert np.array_equal(np.isnan(sig.data[0]), missing)
    np.testing.assert_allclose(sig.data[:, ~missing], mg[:, ~missing] / 1000.0, rtol=1e-6)
    with pytest.raises(RecordingError, match="both hold ACC for the same time"):
        read_polar_files([a, a])


def test_axes_can_be_remapped_with_the_channel_map(tmp_path: Path) -> None:
    t, stamps = sample_times(52 * 30, 52.0, np.random.default_rng(11))
    path = write_polar(tmp_path / "r_ACC.txt", stamps, xyz_mg(t), ACC_HEADER)
    roles = {"Y [mg]": ChannelRole("acc", "left", "x"), "Z [mg]": ChannelRole("acc", "left", "y")}
    roles["X [mg]"] = ChannelRole("acc", "left", "z")
    plain, mapped = read_polar(path), read_polar(path, channels=roles)
    np.testing.assert_array_equal(mapped.signals[0].data, plain.signals[0].data[[1, 2, 0]])
    assert mapped.signals[0].labels == ("Y [mg]", "Z [mg]", "X [mg]")


def test_ecg_alone_is_refused(tmp_path: Path) -> None:
    t, stamps = sample_times(130 * 20, 130.0, np.random.default_rng(12))
    path = write_polar(tmp_path / "e_ECG.txt", stamps, ecg_uv(t)[None], ECG_HEADER, packet=73)
    with pytest.raises(RecordingError, match=r"e_ECG\.txt holds ECG only; NightCramp needs calf EMG or acceleration"):
        read_text_recording(path)


def _acc_lines(n: int = 200) -> list[str]:
    _, t = sample_times(n, 52.0, np.random.default_rng(13))
    rows = [";".join(ACC_HEADER)]
    for ti in t:
        x, y, z = xyz_mg(np.array([ti]))[:, 0]
        stamp = (PHONE0 + dt.timedelta(seconds=float(ti))).isoformat(timespec="milliseconds")
        rows.append(f"{stamp};{NS0 + round(ti * 1e9)};{x:.0f};{y:.0f};{z:.0f}")
    return rows


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda r: [";".join(ACC_HEADER[:3] + ACC_HEADER[4:]), *r[1:]],
            r"lacks the column 'Y \[mg\]' of a Polar Sensor Logger ACC",
        ),
        (lambda r: r[:1], "has a header but no rows of data"),
        (lambda r: r[:2], "holds 1 sample; a recording needs more"),
        (
            lambda r: [*r[:50], r[50].replace(r[50].split(";")[3], "abc"), *r[51:]],
            r"line 51: the cell in column 'Y \[mg\]' holds 'abc'",
        ),
        (
            lambda r: [*r[:50], r[50].replace(r[50].split(";")[3], ""), *r[51:]],
            r"line 51: the cell in column 'Y \[mg\]' is empty",
        ),
        (lambda r: [*r[:70], r[70].rsplit(";", 2)[0], *r[71:]], "line 71 has 3 cells where the header has 5"),
        (
            lambda r: [*r[:70], r[70].replace(r[70].split(";")[2], "NaN"), *r[71:]],
            r"line 71: the cell in column 'X \[mg\]' is nan",
        ),
        (lambda r: r[:100] + r[1:100], r"timestamps go back by 1\.88 s at line 101 \(a reset sensor clock"),
        (
            lambda r: (
                [r[0]]
                + [
                    ";".join([c.split(";")[0], str(int(c.split(";")[1]) // 1_000_000), *c.split(";")[2:]])
                    for c in r[1:]
                ]
            ),
            "sampling rate of .* Hz, outside 1-20000 Hz",
        ),
    ],
    ids=[
        "missing-column",
        "no-rows",
        "one-row",
        "text-cell",
        "empty-cell",
        "short-line",
        "nan",
        "clock-back",
        "absurd-rate",
    ],
)
def test_bad_files_get_one_sentence_naming_file_and_problem(
    tmp_path: Path, edit: Callable[[list[str]], list[str]], message: str
) -> None:
    path = tmp_path / "Polar_H10_BAD_ACC.txt"
    path.write_text("\n".join(edit(_acc_lines())) + "\n")
    with pytest.raises(RecordingError, match=message) as err:
        read_polar(path)
    text = str(err.value)
    assert text.startswith(str(path)) and "\n" not in text


def test_missing_file_and_bad_leg(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="does not exist"):
        read_polar(tmp_path / "nope_ACC.txt")
    path = tmp_path / "ok_ACC.txt"
    path.write_text("\n".join(_acc_lines()) + "\n")
    with pytest.raises(RecordingError, match="leg 'middle' is not one of left, right or unknown"):
        read_polar(path, leg="middle")


_VALID = ("\n".join(_acc_lines(120)) + "\n").encode()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cuts=st.lists(
        st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 40), st.binary(max_size=8)), min_size=1, max_size=4
    ),
    packing=st.sampled_from(["plain", "gzip", "cut-gzip"]),
)
def test_fuzz_corrupted_polar_files_only_raise_recording_error(
    tmp_path: Path, cuts: list[tuple[int, int, bytes]], packing: str
) -> None:
    data = _VALID
    for pos, drop, insert in cuts:
        data = data[:pos] + insert + data[pos + drop :]
    if packing != "plain":
        data = gzip.compress(data)
        data = data[: len(data) // 2] if packing == "cut-gzip" else data
    path = tmp_path / "fuzz_ACC.txt"
    path.write_bytes(data)
    try:
        rec = read_polar(path)
    except RecordingError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
    else:
        (sig,) = rec.signals
        assert sig.data.shape[0] == 3 and sig.data.shape[1] >= 1 and 1.0 <= sig.info.fs_hz <= 20_000.0


def test_simulated_accelerometer_night_as_polar_files_finds_the_cramps(
    tmp_path: Path, acc_night: SimulatedNight
) -> None:
    """A 40-min accelerometer-only night (two legs, 50 Hz) written as two Polar ACC files with a sensor clock
    80 ppm fast, 1.5-ms timestamp jitter, packetised phone stamps and the night's dropouts as missing rows:
    the cramps found through the reader match the simulator's truth (onsets within 3 s)."""
    rng = np.random.default_rng(14)
    items = []
    for leg, xyz in acc_night.acc.items():
        n = xyz.shape[1]
        t_true = np.arange(n) / 50.0
        stamps = t_true * (1 + 80e-6) + rng.uniform(-0.0015, 0.0015, n)
        keep = np.isfinite(xyz).all(axis=0)
        path = write_polar(
            tmp_path / f"Polar_Sense_{leg}_ACC.txt", stamps[keep], xyz[:, keep] * 1000.0, ACC_HEADER, rng=rng
        )
        (sig,) = read_polar(path, leg=leg).signals
        assert sig.info.fs_hz == pytest.approx(50.0 / (1 + 80e-6), abs=2e-4)  # the sensor clock's own seconds
        items.append((sig.info, sig.data))
    duration = max(s.shape[1] / i.fs_hz for i, s in items)
    det = analyze_streams(items, duration_s=duration)
    found = sorted((e.start_s, e.leg) for e in det.all_events() if e.kind == "cramp")
    truth = sorted((e.start_s, e.leg) for e in acc_night.truth if e.kind == "cramp")
    assert len(truth) == 2
    assert [leg for _, leg in found] == [leg for _, leg in truth]
    for (s_found, _), (s_true, _) in zip(found, truth, strict=True):
        assert abs(s_found - s_true) <= 3.0
