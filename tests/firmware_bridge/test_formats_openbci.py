"""OpenBCI GUI raw ``.txt`` files, written here in the GUI's documented layout from known signals."""

from __future__ import annotations

import datetime as dt
import gzip
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.formats import ChannelRole, RecordingError, read_openbci, read_text_recording

T0 = 1_763_852_531.25  # Unix time of sample 0
MIN_DELAY_S = 0.004  # the smallest delay from sampling to the computer's timestamp


def exg_uv(c: int, k: np.ndarray, fs: float) -> np.ndarray:
    t = k / fs
    return -2000.0 + 300.0 * c + 40.0 * np.sin(2 * np.pi * (7.0 + 3 * c) * t) + 15.0 * np.cos(2 * np.pi * 61.0 * t)


def accel_g(k: np.ndarray, fs: float) -> np.ndarray:
    t = k / fs
    return np.stack([0.05 * np.sin(2 * np.pi * 0.2 * t), 0.98 + 0.01 * np.cos(t), 0.12 + 0.02 * np.sin(0.7 * t)])


def write_openbci(
    path: Path,
    k: np.ndarray,
    *,
    fs: float = 250.0,
    n_exg: int = 8,
    board: str = "OpenBCI_GUI$BoardCytonSerial",
    index: np.ndarray | None = None,
    accel_every: int = 10,
    stall: tuple[int, float] | None = None,
    marker_at: int | None = None,
    rng: np.random.Generator | None = None,
) -> Path:
    """The samples numbered ``k`` (lost ones left out) as the GUI writes them; the Timestamp is when each
    arrived: samples come in bursts of 8 stamped on arrival, and ``stall`` = (first sample, seconds) holds
    up a stretch of 200 samples that then arrive late (nothing lost)."""
    rng = rng or np.random.default_rng(0)
    idx = np.mod(k, 256) if index is None else index
    burst_end = (k // 8 + 1) * 8 - 1
    stamps = T0 + burst_end / fs + MIN_DELAY_S + np.where(k < 16, 0.0, rng.exponential(0.01, k.size))
    if stall is not None:
        first, late = stall
        stamps = np.where((k >= first) & (k < first + 200), T0 + (first + 200) / fs + late, stamps)
    exg = [exg_uv(c, k, fs) for c in range(n_exg)]
    acc = np.where(k % accel_every == 0, accel_g(k, fs), 0.0)
    names = ["Sample Index", *[f"EXG Channel {c}" for c in range(n_exg)]]
    names += ["Accel Channel 0", "Accel Channel 1", "Accel Channel 2", *["Other"] * 7]
    names += ["Analog Channel 0", "Analog Channel 1", "Analog Channel 2", "Timestamp"]
    names += ["Marker Channel"] if marker_at is not None else ["Other"]
    names += ["Timestamp (Formatted)"]
    lines = [
        "%OpenBCI Raw EXG Data",
        f"%Number of channels = {n_exg}",
        f"%Sample Rate = {fs:g} Hz",
        f"%Board = {board}",
        ", ".join(names),
    ]
    for r in range(k.size):
        cells = [f"{idx[r]:d}", *[f"{e[r]:.2f}" for e in exg], *[f"{a[r]:.3f}" for a in acc]]
        cells += ["192.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00", "0.00"]
        cells += [f"{stamps[r]:.3f}", "1.0" if marker_at is not None and k[r] == marker_at else "0.0"]
        cells += [dt.datetime.fromtimestamp(stamps[r], tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]]
        lines.append(", ".join(cells))
    path.write_text("\n".join(lines) + "\n")
    return path


def cyton_lost() -> tuple[np.ndarray, np.ndarray]:
    """All sample numbers of 60 s at 250 Hz, and which were lost: 10 samples, and 529 = 2 turns of the
    0-255 counter + 17 (only the Timestamp can tell the turns)."""
    k = np.arange(250 * 60)
    lost = ((k >= 1000) & (k < 1010)) | ((k >= 3000) & (k < 3529))
    return k, lost


MAP = {
    "EXG Channel 2": ChannelRole("emg", "left", None),
    "Accel Channel 0": ChannelRole("acc", "left", "x"),
    "Accel Channel 1": ChannelRole("acc", "left", "y"),
    "Accel Channel 2": ChannelRole("acc", "left", "z"),
}


def test_cyton_file_with_dropouts_and_a_stall_matches_the_generating_signals(tmp_path: Path) -> None:
    k, lost = cyton_lost()
    path = write_openbci(tmp_path / "OpenBCI-RAW-2025-11-22_23-02-11.txt", k[~lost], stall=(6000, 0.6))
    rec = read_text_recording(path, channels=MAP)
    assert rec.format == "OpenBCI GUI" and rec.warnings == []
    emg, acc = rec.signals
    assert emg.info.name == "emg:left" and emg.info.fs_hz == 250.0 and emg.info.unit == "uV"
    assert emg.labels == ("EXG Channel 2",)
    assert emg.data.shape == (k.size,)  # every lost sample has its place back
    assert np.array_equal(np.isnan(emg.data), lost)
    np.testing.assert_allclose(emg.data[~lost], np.round(exg_uv(2, k[~lost], 250.0), 2), atol=1e-3)
    # the accelerometer reported every 10th sample (zeros between): 25 Hz, its values unchanged
    assert acc.info.name == "acc:left" and acc.info.fs_hz == 25.0 and acc.info.unit == "g"
    j = np.arange(acc.data.shape[1])
    reported = ~lost[j * 10]
    np.testing.assert_allclose(acc.data[:, reported], np.round(accel_g(j[reported] * 10, 250.0), 3), atol=1e-6)
    # the 529-sample dropout (53 reports) is missing; the 10-sample one lost one report, interpolated
    assert np.array_equal(np.isnan(acc.data[0]), (j * 10 >= 3000) & (j * 10 < 3529))
    np.testing.assert_allclose(acc.data[:, 100], (acc.data[:, 99] + acc.data[:, 101]) / 2, atol=1e-6)
    assert rec.duration_s == k.size / 250.0
    expected = dt.datetime.fromtimestamp(T0 + MIN_DELAY_S, tz=dt.UTC)
    assert abs(dt.datetime.fromisoformat(rec.start_wall or "") - expected) <= dt.timedelta(milliseconds=1)


def test_several_exg_channels_need_the_channel_map(tmp_path: Path) -> None:
    path = write_openbci(tmp_path / "OpenBCI-RAW-x.txt", np.arange(500))
    with pytest.raises(RecordingError) as err:
        read_openbci(path)
    msg = str(err.value)
    assert msg.startswith(str(path)) and "has 8 EXG channels (EXG Channel 0, EXG Channel 1," in msg
    assert "EXG Channel 7) and does not say which is calf EMG" in msg
    assert "--channel 'EXG Channel 0=emg:left'" in msg
    with pytest.raises(RecordingError, match="has no column 'EXG Channel 9'; its columns are 'Sample Index'"):
        read_openbci(path, channels={"EXG Channel 9": ChannelRole("emg", "left", None)})


def test_with_a_map_only_mapped_channels_are_read(tmp_path: Path) -> None:
    path = write_openbci(tmp_path / "OpenBCI-RAW-x.txt", np.arange(2500))
    rec = read_openbci(path, channels={"exg channel 5": ChannelRole("emg", None, None)})
    (emg,) = rec.signals
    assert emg.info.name == "emg:unknown" and emg.info.leg is None
    np.testing.assert_allclose(emg.data, np.round(exg_uv(5, np.arange(2500), 250.0), 2), atol=1e-3)


def test_one_exg_channel_is_emg_and_the_board_accelerometer_comes_along_with_a_warning(tmp_path: Path) -> None:
    k = np.arange(2500)
    path = write_openbci(tmp_path / "one.txt", k, n_exg=1, marker_at=700)
    rec = read_openbci(path, leg="right")
    emg, acc = rec.signals
    assert (emg.info.name, acc.info.name) == ("emg:right", "acc:right")
    assert any("accelerometer is taken to be on the same calf" in w for w in rec.warnings)
    assert [(a.onset_s, a.text) for a in rec.annotations] == [(700 / 250.0, "marker 1")]


def test_other_boards_fall_back_to_timestamp_jumps(tmp_path: Path) -> None:
    """A Ganglion's index is a packet number (two samples per packet here): not trusted. A 2-s dropout is
    found from the arrival times, a 0.6-s stall with late arrival is not mistaken for one."""
    fs = 200.0
    k = np.arange(int(fs * 40))
    lost = (k >= 3000) & (k < 3400)
    index = (k // 2) % 100 + 1
    path = write_openbci(
        tmp_path / "ganglion.txt",
        k[~lost],
        fs=fs,
        n_exg=4,
        board="OpenBCI_GUI$BoardGanglionBLE",
        index=index[~lost],
        accel_every=1,
        stall=(5000, 0.6),
    )
    rec = read_openbci(path, channels={"EXG Channel 1": ChannelRole("emg", "right", None)})
    (emg,) = rec.signals
    assert any("only dropouts longer than 0.5 s" in w for w in rec.warnings)
    missing = np.isnan(emg.data)
    assert abs(int(missing.sum()) - 400) <= 2 and abs(emg.data.size - k.size) <= 2
    gap = np.flatnonzero(missing)
    assert abs(int(gap[0]) - 3000) <= 2 and np.all(np.diff(gap) == 1)
    np.testing.assert_allclose(emg.data[:3000], np.round(exg_uv(1, k[:3000], fs), 2), atol=1e-3)
    tail = emg.data[~missing][3000:]
    np.testing.assert_allclose(tail, np.round(exg_uv(1, k[~lost][3000:], fs), 2), atol=1e-3)


@pytest.fixture(scope="module")
def small_cyton(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    path = write_openbci(tmp_path_factory.mktemp("obci") / "small.txt", np.arange(300))
    return path.read_text().splitlines()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda r: [ln for ln in r if not ln.startswith("%Sample Rate")],
            r"has no '%Sample Rate = \.\.\. Hz' header line",
        ),
        (lambda r: [ln.replace("250 Hz", "0 Hz") for ln in r], "states a sample rate of 0 Hz, outside 1-20000 Hz"),
        (lambda r: [*r[:4], r[4].replace("Timestamp, ", "Stamp, "), *r[5:]], "lacks the column 'Timestamp'"),
        (
            lambda r: [*r[:40], ", ".join([r[40].split(", ")[0], "1.2.3", *r[40].split(", ")[2:]]), *r[41:]],
            "line 41: the cell in column 'EXG Channel 0' holds '1.2.3', which is not a number",
        ),
        (lambda r: r[:6], "holds 1 row of data; a recording needs more"),
        (
            lambda r: [*r[:10], "-3" + r[10][r[10].index(",") :], *r[11:]],
            "line 11: the Sample Index -3 is not a whole number",
        ),
        (lambda r: r[:4], "has no table after its '%' header lines"),
        (lambda r: ["%Something else", *r[1:]], "is not an OpenBCI GUI raw file"),
    ],
    ids=["no-rate", "zero-rate", "no-timestamp", "text-cell", "one-row", "negative-index", "no-table", "not-openbci"],
)
def test_bad_files_get_one_sentence_naming_file_and_problem(
    tmp_path: Path, small_cyton: list[str], edit: Callable[[list[str]], list[str]], message: str
) -> None:
    path = tmp_path / "OpenBCI-RAW-bad.txt"
    path.write_text("\n".join(edit(small_cyton)) + "\n")
    with pytest.raises(RecordingError, match=message) as err:
        read_openbci(path, channels={"EXG Channel 0": ChannelRole("emg", "left", None)})
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cuts=st.lists(st.tuples(st.integers(0, 40_000), st.integers(0, 40), st.binary(max_size=8)), min_size=1, max_size=4),
    packing=st.sampled_from(["plain", "gzip", "cut-gzip"]),
    mapped=st.booleans(),
)
def test_fuzz_corrupted_openbci_files_only_raise_recording_error(
    tmp_path: Path, small_cyton: list[str], cuts: list[tuple[int, int, bytes]], packing: str, mapped: bool
) -> None:
    data = ("\n".join(small_cyton) + "\n").encode()
    for pos, drop, insert in cuts:
        pos %= len(data)
        data = data[:pos] + insert + data[pos + drop :]
    if packing != "plain":
        data = gzip.compress(data)
        data = data[: len(data) // 2] if packing == "cut-gzip" else data
    path = tmp_path / "fuzz.txt"
    path.write_bytes(data)
    try:
        rec = read_openbci(path, channels=MAP if mapped else None)
    except RecordingError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
    else:
        assert rec.signals and all(s.data.shape[-1] >= 1 for s in rec.signals)
