"""NightCramp's simple CSV layout, written here as a spreadsheet or a script would."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from detector.resample import resample_uniform
from firmware_bridge.formats import ChannelRole, RecordingError, read_simple_csv, read_text_recording

G = 9.80665


def emg_uv(t: np.ndarray) -> np.ndarray:
    return 30.0 * np.sin(2 * np.pi * 83.0 * t) + 10.0 * np.sin(2 * np.pi * 17.0 * t)


def acc_g(t: np.ndarray) -> np.ndarray:
    return np.stack([0.1 * np.sin(2 * np.pi * 0.3 * t), 0.95 + 0.02 * np.cos(t), 0.2 * np.sin(0.5 * t)])


def write_csv(
    path: Path, header: list[str], columns: list[list[str]], comments: tuple[str, ...] = (), sep: str = ","
) -> Path:
    rows = [sep.join(cells) for cells in zip(*columns, strict=True)]
    path.write_text("\n".join([*comments, sep.join(header), *rows]) + "\n")
    return path


def test_two_rates_in_one_file_units_and_start(tmp_path: Path) -> None:
    """EMG at 500 Hz in mV and acceleration at 50 Hz in m/s² and mg, the acceleration cells empty between
    its samples; each stream takes its own rows and rate."""
    n = 500 * 20
    t = np.arange(n) / 500.0
    a = acc_g(t)
    every10 = np.arange(n) % 10 == 0
    cols = [
        [f"{v:.3f}" for v in t],
        [f"{v / 1000:.6f}" for v in emg_uv(t)],
        [f"{v * G:.5f}" if on else "" for v, on in zip(a[0], every10, strict=True)],
        [f"{v * 1000:.2f}" if on else "" for v, on in zip(a[1], every10, strict=True)],
        [f"{v:.5f}" if on else "" for v, on in zip(a[2], every10, strict=True)],
        ["ok"] * n,
    ]
    header = ['"time_s"', "emg_left_mv", "acc_left_x_ms2", "ACC_LEFT_Y_MG", " acc_left_z_g ", "note"]
    path = write_csv(tmp_path / "night.csv", header, cols, ("# from a spreadsheet", "# start: 2026-11-21T23:02:11"))
    rec = read_simple_csv(path)
    emg, acc = rec.signals
    assert rec.format == "CSV" and rec.start_wall == "2026-11-21T23:02:11.000"
    assert rec.warnings == [f"{path}: columns 'note' are not signals and were left out"]
    assert (emg.info.name, emg.info.fs_hz, emg.info.unit, emg.data.shape) == ("emg:left", 500.0, "uV", (n,))
    np.testing.assert_allclose(emg.data, emg_uv(t), atol=6e-4)  # µV from mV with 6 decimals
    assert (acc.info.name, acc.info.fs_hz, acc.info.unit, acc.data.shape) == ("acc:left", 50.0, "g", (3, n // 10))
    np.testing.assert_allclose(acc.data, a[:, every10], atol=2e-5)
    assert acc.labels == ("acc_left_x_ms2", "ACC_LEFT_Y_MG", "acc_left_z_g")


def test_irregular_times_are_interpolated_and_long_holes_stay_missing(tmp_path: Path) -> None:
    """A phone-stamped accelerometer: samples truly taken at irregular times (no steady clock), in ms."""
    rng = np.random.default_rng(3)
    t = np.cumsum(rng.uniform(0.012, 0.028, 3000))  # ~50 Hz, spacing varying by ±40 %
    hole = (t > 20.0) & (t < 21.0)
    t_kept = t[~hole]
    a = acc_g(t_kept)
    cols = [[f"{v * 1000:.3f}" for v in t_kept], *[[f"{v:.6f}" for v in row] for row in a]]
    path = write_csv(tmp_path / "phone.csv", ["time_ms", "acc_right_x_g", "acc_right_y_g", "acc_right_z_g"], cols)
    (acc,) = read_simple_csv(path).signals
    d = np.diff(t_kept)
    normal = d[d < 1.5 * np.median(d)]  # the hole's step is not a sampling step
    fs = round(normal.size / normal.sum(), 2)
    assert acc.info.fs_hz == fs  # the mean rate of the sampling steps, to 0.01 Hz
    # exactly what resample_uniform makes of these samples with the 5-period (100-ms) gap limit
    _, y = resample_uniform(t_kept - t_kept[0], a, fs, max_gap_s=5 / fs)
    np.testing.assert_allclose(acc.data, y, atol=2e-6)
    grid = np.arange(acc.data.shape[1]) / fs + t_kept[0]
    before, after = t_kept[t_kept < 20.5][-1], t_kept[t_kept > 20.5][0]
    assert np.array_equal(np.isnan(acc.data[0]), (grid > before + 1e-9) & (grid < after - 1e-9))


def test_small_backward_steps_are_jitter_and_keep_the_sample_order(tmp_path: Path) -> None:
    t = np.arange(1000) / 100.0
    stamps = t.copy()
    stamps[500] = t[499] - 0.003  # stamped 3 ms before its predecessor: jitter, not a reset clock
    e = emg_uv(t)
    path = write_csv(
        tmp_path / "j.csv", ["time_s", "emg_left_uv"], [[f"{v:.4f}" for v in stamps], [f"{v:.4f}" for v in e]]
    )
    (emg,) = read_simple_csv(path).signals
    # the stamp moves to just after its predecessor (13 ms early: no steady clock), so the samples are
    # interpolated at 100 Hz; only the two grid points around it differ from the samples
    assert emg.info.fs_hz == 100.0 and emg.data.size == 1000 and np.isfinite(emg.data).all()
    near = (np.arange(1000) >= 499) & (np.arange(1000) <= 500)
    np.testing.assert_allclose(emg.data[~near], e[~near], atol=1e-3)
    assert emg.data[499] == pytest.approx(e[499], abs=1e-3)
    assert min(e[500], e[501]) - 1e-3 <= emg.data[500] <= max(e[500], e[501]) + 1e-3


def test_fixed_rate_without_time_column_semicolons_and_decimal_commas(tmp_path: Path) -> None:
    n = 1000
    t = np.arange(n) / 250.0
    e = emg_uv(t)
    cells = [f"{v:.4f}".replace(".", ",") for v in e]
    cells[100:110] = [""] * 10  # missing samples
    path = write_csv(
        tmp_path / "fixed.csv", ["emg_unknown_uv", "extra"], [cells, ["1"] * n], ("# fs_hz: 250",), sep=";"
    )
    rec = read_simple_csv(path, leg="left")
    (emg,) = rec.signals
    assert (emg.info.name, emg.info.leg, emg.info.fs_hz) == ("emg:left", "left", 250.0)
    assert np.array_equal(np.isnan(emg.data), (np.arange(n) >= 100) & (np.arange(n) < 110))
    ok = ~np.isnan(emg.data)
    np.testing.assert_allclose(emg.data[ok], e[ok], atol=1e-4)
    assert rec.start_wall is None


def test_channel_map_names_other_columns_and_start_moves_to_first_row(tmp_path: Path) -> None:
    t = 10.0 + np.arange(2000) / 500.0
    cols = [[f"{v:.3f}" for v in t], [f"{v:.3f}" for v in emg_uv(t)]]
    path = write_csv(tmp_path / "m.csv.gz", ["time_s", "EMG1"], cols, ("#start: 2026-11-21T23:00:00+01:00",))
    path.write_bytes(gzip.compress(path.read_bytes()))
    rec = read_text_recording(path, channels={"emg1": ChannelRole("emg", "right", None)})
    (emg,) = rec.signals
    assert emg.info.name == "emg:right" and emg.labels == ("EMG1",)
    assert rec.start_wall == "2026-11-21T23:00:10.000+01:00"  # the wall-clock time of the first row
    np.testing.assert_allclose(emg.data, emg_uv(t), atol=6e-4)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "time_s,heart_rate\n0,60\n1,61\n",
            r"has no signal column: name them emg_<leg>_<unit> .* its columns are 'time_s', 'heart_rate'",
        ),
        (
            "time_s,acc_left_x_g,acc_left_y_g\n0,1,0\n",
            r"the accelerometer of the left leg lacks the column for axis z \(e\.g\. acc_left_z_g\)",
        ),
        ("time_s,emg_left_uv,emg_l_mv\n0,1,0\n", "has two EMG columns for the left leg"),
        ("emg_left_uv\n1\n2\n", "has no time_s or time_ms column and no '# fs_hz: <rate>' comment line"),
        ("# fs_hz: 0\nemg_left_uv\n1\n2\n", "'# fs_hz: 0' is not a rate of 1-20000 Hz"),
        ("time_s,emg_left_uv\n", "has a header but no rows of data"),
        (
            "time_s,emg_left_uv\n0,1\n0.001,2\n0.002,3\n0.003,abc\n",
            "line 5: the cell in column 'emg_left_uv' holds 'abc'",
        ),
        ("time_s,emg_left_uv\n0,1\n,2\n0.002,3\n", "line 3: the 'time_s' cell is empty"),
        ("time_s,emg_left_uv\n0,1\n0.001,inf\n0.002,3\n", "line 3: the cell in column 'emg_left_uv' is inf"),
        (
            "time_s,emg_left_uv\n" + "".join(f"{i / 1000:.3f},1\n" for i in range(300)) + "0.1,1\n",
            r"the timestamps go back by 0\.199 s at line 302 \(a reset sensor clock",
        ),
        ("time_s,emg_left_uv\n0,1\n0,2\n0,3\n", "the timestamps never increase"),
        ("time_s,emg_left_uv\n0,1\n100000,2\n200000,3\n", r"sampling rate of 1e-05 Hz, outside 1-20000 Hz"),
        ("time_s,emg_left_uv\n0,1\n0.001,\n0.002,\n", "the emg_left columns hold fewer than two values"),
        ("# start: yesterday\ntime_s,emg_left_uv\n0,1\n0.001,2\n", "'# start: yesterday' is not an ISO-8601 date-time"),
        ("", "has no header line"),
    ],
    ids=[
        "no-signal",
        "missing-axis",
        "two-emg",
        "no-time",
        "zero-rate",
        "no-rows",
        "text-cell",
        "empty-time",
        "inf",
        "clock-back",
        "flat-time",
        "absurd-rate",
        "one-value",
        "bad-start",
        "empty",
    ],
)
def test_bad_files_get_one_sentence_naming_file_and_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(RecordingError, match=message) as err:
        read_simple_csv(path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


def _valid_csv() -> bytes:
    t = np.arange(200) / 100.0
    lines = ["# start: 2026-11-21T23:02:11", "time_s,emg_left_uv,acc_left_x_g,acc_left_y_g,acc_left_z_g"]
    lines += [
        f"{ti:.2f},{e:.2f},{a:.3f},{b:.3f},{c:.3f}" for ti, e, (a, b, c) in zip(t, emg_uv(t), acc_g(t).T, strict=True)
    ]
    return ("\n".join(lines) + "\n").encode()


_VALID = _valid_csv()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cuts=st.lists(
        st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 30), st.binary(max_size=8)), min_size=1, max_size=4
    ),
    packing=st.sampled_from(["plain", "gzip", "cut-gzip"]),
)
def test_fuzz_corrupted_csv_files_only_raise_recording_error(
    tmp_path: Path, cuts: list[tuple[int, int, bytes]], packing: str
) -> None:
    data = _VALID
    for pos, drop, insert in cuts:
        data = data[:pos] + insert + data[pos + drop :]
    if packing != "plain":
        data = gzip.compress(data)
        data = data[: len(data) // 2] if packing == "cut-gzip" else data
    path = tmp_path / "fuzz.csv"
    path.write_bytes(data)
    try:
        rec = read_simple_csv(path)
    except RecordingError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
    else:
        assert rec.signals and all(1.0 <= s.info.fs_hz <= 20_000.0 for s in rec.signals)
