"""EDF/EDF+/BDF reading, checked against files written by other libraries (edfio, pyedflib, MNE) from known
arrays, and against what those libraries read back from the same files."""

from __future__ import annotations

from pathlib import Path

import edfio
import numpy as np
import pyedflib
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from firmware_bridge.formats import ChannelRole, RecordingError, parse_channel_map, read_edf, read_recording
from firmware_bridge.formats import edf as edf_module
from firmware_bridge.formats.channels import recognise

from ..edf_files import (
    ACC_PER_G,
    ACC_RANGE_G,
    EMG_PER_UV,
    EMG_RANGE,
    EMG_RANGE_UV,
    START,
    channels,
    make_discontinuous,
    write_edfio,
    write_mne,
    write_pyedflib,
)

SECONDS = 60


def band(seed: int = 0, seconds: int = SECONDS, emg_fs: int = 1000, acc_fs: int = 100) -> tuple[dict, dict]:
    """Known signals for two legs: EMG (µV) with bursts, acceleration (g) around gravity."""
    rng = np.random.default_rng(seed)
    emg, acc = {}, {}
    for i, leg in enumerate(("left", "right")):
        x = rng.standard_normal(seconds * emg_fs) * (8 + 4 * i)
        x[emg_fs * 20 : emg_fs * 23] *= 30  # a burst well inside the range
        emg[leg] = x
        g = np.array([[0.1], [-0.2], [0.97]]) + rng.standard_normal((3, seconds * acc_fs)) * 0.02
        acc[leg] = g
    return emg, acc


def rates(chans: list, emg_fs: float = 1000, acc_fs: float = 100) -> list[float]:
    return [emg_fs if unit in EMG_PER_UV else acc_fs for _, unit, _, _ in chans]


# -- recognition -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("label", "unit", "expect"),
    [
        ("EMG L", "uV", ("emg", "left", None)),
        ("EMG_Right", "mV", ("emg", "right", None)),
        ("Left-EMG", "V", ("emg", "left", None)),
        ("emg rt", "µV", ("emg", "right", None)),
        ("EMG1", "uV", ("emg", None, None)),
        ("EMG L", "", None),  # no voltage unit: not recognised
        ("EMG Chin", "uV", None),  # chin EMG is not a calf
        ("Acc X", "g", ("acc", None, "x")),
        ("ACC_L_Z", "mg", ("acc", "left", "z")),
        ("AccelY R", "m/s2", ("acc", "right", "y")),
        ("Accel-X-Left", "m/s^2", ("acc", "left", "x")),
        ("acc lt y", "m/s²", ("acc", "left", "y")),
        ("Acc X", "uV", None),
        ("Acc", "g", None),  # no axis
        ("ECG", "uV", None),
        ("EEG Fpz-Cz", "uV", None),
        ("EMG L R", "uV", ("emg", None, None)),  # both legs named: unknown
    ],
)
def test_channels_are_recognised_by_label_and_unit(label: str, unit: str, expect: tuple | None) -> None:
    role = recognise(label, unit)
    assert (None if role is None else (role.kind, role.leg, role.axis)) == expect


def test_channel_map_parses_kinds_legs_axes_and_ignore() -> None:
    got = parse_channel_map(["EMG1=emg:left", "A X = acc:r:x", "ECG=ignore", "E2=emg"])
    assert got == {
        "EMG1": ChannelRole("emg", "left", None),
        "A X": ChannelRole("acc", "right", "x"),
        "ECG": ChannelRole("ignore", None, None),
        "E2": ChannelRole("emg", None, None),
    }
    for bad in ("EMG1", "x=acc:left", "x=emg:left:x", "x=eeg"):
        with pytest.raises(ValueError, match="--channel"):
            parse_channel_map([bad])


# -- values and units ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("writer", "bdf", "emg_unit", "acc_unit"),
    [
        ("edfio", False, "uV", "g"),
        ("edfio", False, "mV", "mg"),
        ("edfio", True, "V", "m/s2"),
        ("pyedflib", False, "V", "mg"),
        ("pyedflib", True, "mV", "m/s2"),
        ("pyedflib", True, "uV", "g"),
    ],
)
def test_values_are_converted_to_uv_and_g(tmp_path: Path, writer: str, bdf: bool, emg_unit: str, acc_unit: str) -> None:
    emg, acc = band(1)
    chans = channels(emg, acc, emg_unit=emg_unit, acc_unit=acc_unit)
    path = tmp_path / ("n.bdf" if bdf else "n.edf")
    (write_edfio if writer == "edfio" else write_pyedflib)(path, chans, rates(chans), bdf=bdf)
    rec = read_recording(path)
    assert [s.info.name for s in rec.signals] == ["emg:left", "acc:left", "emg:right", "acc:right"]
    assert rec.format == ("BDF+C" if bdf else "EDF+C") and rec.duration_s == SECONDS and rec.complete
    assert not rec.warnings
    levels = 2**24 if bdf else 2**16
    for s in rec.signals:
        leg = s.info.leg
        assert s.data.dtype == np.float32
        if s.info.kind == "emg":
            assert s.info.unit == "uV" and s.info.fs_hz == 1000 and s.labels == (f"EMG {leg[0].upper()}",)
            lsb = 2 * EMG_RANGE[emg_unit] / EMG_PER_UV[emg_unit] / (levels - 1)
            np.testing.assert_allclose(s.data, emg[leg], atol=lsb, rtol=1e-6)
        else:
            assert s.info.unit == "g" and s.info.fs_hz == 100 and s.data.shape == (3, SECONDS * 100)
            lsb = 2 * ACC_RANGE_G / (levels - 1)
            np.testing.assert_allclose(s.data, acc[leg], atol=lsb, rtol=1e-6)
    # the writing library's own reading of the file, in the file's units, agrees to float32 precision
    theirs = read_back(path, writer, bdf)
    k = {"emg": 1 / EMG_PER_UV[emg_unit], "acc": 1 / ACC_PER_G[acc_unit]}
    mine = [row for s in rec.signals for row in s.data.reshape(s.info.n_channels, -1)]
    kinds = [s.info.kind for s in rec.signals for _ in range(s.info.n_channels)]
    for row, ref, kind in zip(mine, theirs, kinds, strict=True):
        np.testing.assert_allclose(row, ref * k[kind], rtol=2e-6, atol=1e-6 * np.abs(ref * k[kind]).max())


def read_back(path: Path, writer: str, bdf: bool) -> list[np.ndarray]:
    if writer == "edfio":
        rec = edfio.read_bdf(path) if bdf else edfio.read_edf(path)
        return [s.data for s in rec.signals]
    with pyedflib.EdfReader(str(path)) as f:
        return [f.readSignal(i) for i in range(f.signals_in_file)]


def test_rates_differ_per_stream(tmp_path: Path) -> None:
    emg, acc = band(2, seconds=30, emg_fs=2000, acc_fs=50)
    chans = channels({"left": emg["left"]}, {"left": acc["left"]})
    rec = read_edf(write_pyedflib(tmp_path / "r.bdf", chans, rates(chans, 2000, 50), bdf=True))
    (e, a) = rec.signals
    assert (e.info.fs_hz, e.data.shape, a.info.fs_hz, a.data.shape) == (2000, (60000,), 50, (3, 1500))
    np.testing.assert_allclose(e.data, emg["left"], atol=1e-3)


# -- time, annotations, discontinuous records ------------------------------------------------------
NOTES = [(2.5, 1.0, "lights off"), (30.0, None, "snoring"), (41.25, 0.5, "Schmerz im Bein")]


@pytest.mark.parametrize("writer", ["edfio", "pyedflib", "mne"])
def test_start_time_and_annotations_are_carried(tmp_path: Path, writer: str) -> None:
    emg, acc = band(3)
    start = START.replace(microsecond=250_000) if writer != "pyedflib" else START
    if writer == "mne":  # one rate for every channel; the accelerometer has no unit in MNE's export
        acc = {leg: np.repeat(a, 10, axis=1) for leg, a in acc.items()}
        chans = channels(emg, acc)
        path = write_mne(tmp_path / "m.edf", chans, 1000.0, start=start, annotations=NOTES)
        mapping = {
            f"Acc {L} {A}": ChannelRole("acc", leg, A.lower())
            for leg, L in (("left", "L"), ("right", "R"))
            for A in "XYZ"
        }
    else:
        chans = channels(emg, acc)
        write = write_edfio if writer == "edfio" else write_pyedflib
        path = write(tmp_path / "n.edf", chans, rates(chans), start=start, annotations=NOTES)
        mapping = None
    rec = read_edf(path, mapping)
    assert rec.start_wall == start.isoformat(timespec="microseconds" if start.microsecond else "seconds")
    got = [(a.onset_s, a.duration_s, a.text) for a in rec.annotations]
    want = [(o, d if writer != "mne" else (d or 0.0), t) for o, d, t in NOTES]
    assert [(round(o, 6), d, t) for o, d, t in got] == want
    if writer == "mne":
        assert any("no physical unit" in w for w in rec.warnings)
        assert [s.info.name for s in rec.signals] == ["emg:left", "acc:left", "emg:right", "acc:right"]
        np.testing.assert_allclose(rec.signals[1].data, acc["left"], atol=2 * 1.2 / 65535)


def test_discontinuous_records_are_placed_at_their_onsets(tmp_path: Path) -> None:
    emg, acc = band(4, seconds=120)
    chans = channels(emg, acc)
    src = write_edfio(tmp_path / "c.edf", chans, rates(chans), annotations=[(70.0, None, "note")], record_s=1.0)
    keep = np.ones(120, dtype=bool)
    keep[30:50] = keep[80:85] = keep[119] = False
    rec = read_edf(make_discontinuous(src, tmp_path / "d.edf", keep))
    full = read_edf(src)
    assert rec.format == "EDF+D" and full.format == "EDF+C"
    assert rec.duration_s == 119.0  # the last record is gone
    assert [a.text for a in rec.annotations] == ["note"]
    for s, f in zip(rec.signals, full.signals, strict=True):
        fs = int(s.info.fs_hz)
        missing = np.repeat(~keep[:119], fs)
        x = s.data.reshape(s.info.n_channels, -1)
        assert x.shape[1] == 119 * fs
        assert np.isnan(x).any(axis=0).tolist() == missing.tolist()
        np.testing.assert_array_equal(x[:, ~missing], f.data.reshape(x.shape[0], -1)[:, : 119 * fs][:, ~missing])


@pytest.mark.parametrize("bdf", [False, True])
def test_reading_a_few_records_at_a_time_gives_the_same_arrays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bdf: bool
) -> None:
    """Blocks of 1-3 records (read ahead in a second thread, converted in two lanes) equal one block."""
    emg, acc = band(6, seconds=40)
    emg["left"][3000:3300] = EMG_RANGE_UV  # pinned samples are counted across block edges
    chans = channels(emg, acc)
    src = write_edfio(tmp_path / ("c.bdf" if bdf else "c.edf"), chans, rates(chans), bdf=bdf, record_s=1.0)
    keep = np.ones(40, dtype=bool)
    keep[10:13] = keep[25] = False
    files = [src, make_discontinuous(src, tmp_path / ("d.bdf" if bdf else "d.edf"), keep)]
    for path in files:
        whole = read_edf(path)
        for records in (1, 2, 3):
            monkeypatch.setattr(edf_module, "_BLOCK_BYTES", records * record_bytes(path))
            small = read_edf(path)
            for a, b in zip(whole.signals, small.signals, strict=True):
                assert a.info == b.info
                np.testing.assert_array_equal(a.data, b.data)
            monkeypatch.undo()
        assert whole.signals[0].info.full_scale is not None


def record_bytes(path: Path) -> int:
    raw = path.read_bytes()
    header = 256 * (int(raw[252:256]) + 1)
    return (len(raw) - header) // int(raw[236:244])


def test_overlapping_discontinuous_records_are_refused(tmp_path: Path) -> None:
    emg, acc = band(4, seconds=10)
    chans = channels(emg, acc)
    src = write_edfio(tmp_path / "c.edf", chans, rates(chans), record_s=1.0)
    raw = bytearray(make_discontinuous(src, tmp_path / "d.edf", np.ones(10, dtype=bool)).read_bytes())
    n_rec = 10
    rec_bytes = (len(raw) - int(raw[184:192])) // n_rec
    hb = int(raw[184:192])
    r3, r4 = hb + 3 * rec_bytes, hb + 4 * rec_bytes
    raw[r3:r4], raw[r4 : r4 + rec_bytes] = raw[r4 : r4 + rec_bytes], raw[r3:r4]  # records 4 and 5 swapped
    bad = tmp_path / "swapped.edf"
    bad.write_bytes(bytes(raw))
    with pytest.raises(RecordingError, match=r"swapped\.edf: data record 5 starts at 3 s, before the previous"):
        read_edf(bad)


# -- clipping --------------------------------------------------------------------------------------
def test_pinned_emg_keeps_its_value_and_sets_the_full_scale(tmp_path: Path) -> None:
    emg, acc = band(5)
    clipped = emg["left"].copy()
    clipped[5000:5200] = EMG_RANGE_UV  # an amplifier at its limit: pinned at the digital maximum
    chans = channels({"left": clipped}, {"left": acc["left"]})
    rec = read_edf(write_edfio(tmp_path / "c.edf", chans, rates(chans)))
    assert rec.signals[0].info.full_scale == pytest.approx(EMG_RANGE_UV)
    np.testing.assert_allclose(rec.signals[0].data[5000:5200], EMG_RANGE_UV, rtol=1e-6)
    chans = channels({"left": emg["left"]}, {"left": acc["left"]})
    rec = read_edf(write_edfio(tmp_path / "n.edf", chans, rates(chans)))
    assert rec.signals[0].info.full_scale is None  # nothing pinned: no clipping to find
    # MNE stretches the range to the data: its extremes are single samples, not clipping
    rec = read_edf(write_mne(tmp_path / "m.edf", chans[:1], 1000.0))
    assert rec.signals[0].info.full_scale is None


# -- channel problems and mapping ------------------------------------------------------------------
def small(tmp_path: Path, labels: list[tuple[str, str, float]], name: str = "s.edf", seconds: int = 10) -> Path:
    rng = np.random.default_rng(6)
    chans, fss = [], []
    for label, unit, fs in labels:
        full = EMG_RANGE.get(unit) or ACC_RANGE_G * ACC_PER_G.get(unit, 100.0)
        chans.append((label, unit, rng.standard_normal(int(seconds * fs)) * full * 0.01, full))
        fss.append(fs)
    return write_edfio(tmp_path / name, chans, fss)


def test_unknown_labels_are_listed_with_the_mapping_syntax_and_mapping_reads_them(tmp_path: Path) -> None:
    path = small(tmp_path, [("Ch1", "uV", 1000), ("Ch2", "uV", 1000), ("ECG", "uV", 200)])
    with pytest.raises(RecordingError) as err:
        read_edf(path)
    msg = str(err.value)
    assert str(path) in msg and "'Ch1'" in msg and "'Ch2'" in msg and "--channel 'Ch1=emg:left'" in msg
    rec = read_edf(path, parse_channel_map(["Ch1=emg:left", "Ch2=emg:right"]))
    assert [(s.info.name, s.labels) for s in rec.signals] == [("emg:left", ("Ch1",)), ("emg:right", ("Ch2",))]
    assert rec.warnings == [f"{path}: ignored 1 channel(s) that are not calf EMG or accelerometer axes: 'ECG'"]
    with pytest.raises(RecordingError, match="no channel labelled 'Ch9'"):
        read_edf(path, parse_channel_map(["Ch9=emg:left"]))


@pytest.mark.parametrize(
    ("labels", "mapping", "expect"),
    [
        ([("EMG", "uV", 1000), ("EMG 2", "uV", 1000)], [], "do not say which leg"),
        ([("EMG L", "uV", 1000), ("EMG L2", "uV", 1000)], [], "2 EMG channels for the left leg"),
        ([("Acc L X", "g", 100), ("Acc L Y", "g", 100)], [], "accelerometer has no Z axis"),
        ([("Acc L X", "g", 100), ("Acc L Y", "g", 100), ("Acc L Z", "g", 50)], [], "different rates"),
        ([("EMG L", "uV", 1000), ("Acc X", "g", 100), ("Acc Y", "g", 100), ("Acc Z", "g", 100)], [], "which leg"),
        ([("EMG L", "uV", 50)], [], "sampling rate of 50 Hz"),
        ([("Ch1", "mm", 1000)], ["Ch1=emg:left"], "cannot convert"),
        ([("ECG", "uV", 250), ("Temp", "degC", 1)], [], "no channel NightCramp recognises"),
    ],
)
def test_channel_problems_are_one_sentence(tmp_path: Path, labels: list, mapping: list, expect: str) -> None:
    path = small(tmp_path, labels)
    with pytest.raises(RecordingError) as err:
        read_edf(path, parse_channel_map(mapping))
    assert expect in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_bipolar_derivation_wins_and_unknown_leg_is_fine_for_one_band(tmp_path: Path) -> None:
    path = small(tmp_path, [("EMG L E1", "uV", 1000), ("EMG L E2", "uV", 1000), ("EMG L E1-E2", "uV", 1000)])
    rec = read_edf(path)
    assert [s.labels for s in rec.signals] == [("EMG L E1-E2",)]
    assert "bipolar" in rec.warnings[0]
    path = small(
        tmp_path, [("EMG", "uV", 1000), ("Acc X", "g", 100), ("Acc Y", "g", 100), ("Acc Z", "g", 100)], "u.edf"
    )
    rec = read_edf(path)
    assert [(s.info.name, s.info.leg) for s in rec.signals] == [("emg:unknown", None), ("acc:unknown", None)]


def test_implausible_units_give_a_warning(tmp_path: Path) -> None:
    emg, acc = band(7)
    volts = {"left": emg["left"] * 1e-6}  # volts, written as if they were µV
    chans = channels(volts, {"left": acc["left"] * 1000})  # mg written as g
    chans = [(lab, unit, x, 1.0 if unit == "uV" else 8000.0) for lab, unit, x, _ in chans]
    rec = read_edf(write_edfio(tmp_path / "u.edf", chans, rates(chans)))
    assert any("looks like volts" in w for w in rec.warnings)
    assert any("looks like mg or m/s²" in w for w in rec.warnings)


# -- damaged files ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    emg, acc = band(8, seconds=10)
    chans = channels({"left": emg["left"]}, {"left": acc["left"]})
    path = write_edfio(tmp_path_factory.mktemp("good") / "g.edf", chans, rates(chans), record_s=1.0)
    return path.read_bytes()


def patch(raw: bytes, offset: int, text: str) -> bytes:
    b = bytearray(raw)
    b[offset : offset + len(text)] = text.encode("latin-1")
    return bytes(b)


def signal_field(raw: bytes, field: int, i: int) -> int:
    """Byte offset of signal ``i``'s header field number ``field`` (0 = label ... 8 = samples per record)."""
    widths = (16, 80, 8, 8, 8, 8, 8, 80, 8, 32)
    return 256 + int(raw[252:256]) * sum(widths[:field]) + widths[field] * i


def header_bytes(raw: bytes) -> int:
    return 256 * (int(raw[252:256]) + 1)


@pytest.mark.parametrize(
    ("damage", "expect"),
    [
        (lambda r: b"hello, this is text\n" * 20, "is not an EDF or BDF file"),
        (lambda r: r[:200], "cut short inside its header"),
        (lambda r: r[: header_bytes(r) - 1], "cut short inside its header"),
        (lambda r: patch(r, 184, "9999    "), "damaged header"),
        (lambda r: patch(r, 252, "ab  "), "number of signals is 'ab'"),
        (lambda r: patch(r, 236, "0       "), "zero data records"),
        (lambda r: patch(r, 244, "-1      "), "data-record duration of -1 s"),
        (lambda r: patch(r, 244, "nan     "), "data-record duration is 'nan'"),
        (lambda r: patch(r, 244, "0.000001"), "sampling rate of 1e+09 Hz"),
        (lambda r: patch(r, signal_field(r, 8, 0), "0       "), "sampling rate of 0 Hz"),
        (lambda r: patch(r, signal_field(r, 5, 0), "32767   "), "unusable range"),
        (lambda r: patch(r, signal_field(r, 3, 0), "-1e300  "), "absurd physical range"),
        (lambda r: r[: header_bytes(r) + 100], "before its first complete data record"),
    ],
)
def test_damaged_files_get_one_sentence(tmp_path: Path, good: bytes, damage, expect: str) -> None:
    path = tmp_path / "bad.edf"
    path.write_bytes(damage(good))
    with pytest.raises(RecordingError) as err:
        read_edf(path)
    msg = str(err.value)
    assert expect in msg and str(path) in msg and "\n" not in msg


def test_a_file_cut_short_is_read_up_to_the_cut_with_a_warning(tmp_path: Path, good: bytes) -> None:
    hb = header_bytes(good)
    rec_bytes = (len(good) - hb) // 10
    path = tmp_path / "cut.edf"
    path.write_bytes(good[: hb + 6 * rec_bytes + 17])
    rec = read_edf(path)
    assert not rec.complete and rec.duration_s == 6.0 and rec.signals[0].data.shape == (6000,)
    assert rec.warnings == [
        f"{path} is cut short: it holds 6 of the 10 data records its header announces; "
        "the 0.1 min before the cut were read"
    ]
    full = tmp_path / "full.edf"
    full.write_bytes(good)
    np.testing.assert_array_equal(rec.signals[0].data, read_edf(full).signals[0].data[:6000])


def test_a_file_of_annotations_only_has_nothing_to_analyse(tmp_path: Path) -> None:
    path = tmp_path / "notes.edf"
    edfio.Edf([], annotations=[edfio.EdfAnnotation(1.0, None, "lights off")]).write(path)
    with pytest.raises(RecordingError, match="has no signal channels, only annotations"):
        read_edf(path)


def test_other_files_are_not_recordings(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(
        RecordingError, match=r"is not a recording NightCramp can read; it reads \.ncr, EDF/EDF\+, BDF, Polar"
    ):
        read_recording(path)


# -- fuzzing: whatever the bytes, a Recording or one RecordingError ------------------------------
@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def read_or_refuse(path: Path) -> None:
    try:
        rec = read_edf(path)
    except RecordingError as exc:
        assert str(path) in str(exc) and "\n" not in str(exc)
        return
    for s in rec.signals:
        assert s.data.dtype == np.float32 and not np.isinf(s.data).any()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000), magic=st.sampled_from([b"", b"0       ", b"\xffBIOSEMI"]))
def test_fuzz_random_bytes(fuzz_dir: Path, data: bytes, magic: bytes) -> None:
    path = fuzz_dir / "random.edf"
    path.write_bytes(magic + data)
    read_or_refuse(path)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    edits=st.lists(
        st.tuples(st.one_of(st.integers(0, 256 * 6 - 1), st.integers(0, 30_000)), st.binary(min_size=1, max_size=8)),
        max_size=6,
    ),
    cut=st.one_of(st.none(), st.integers(0, 40_000)),
    bdf=st.booleans(),
)
def test_fuzz_damaged_headers_and_cuts(fuzz_dir: Path, good: bytes, edits: list, cut: int | None, bdf: bool) -> None:
    raw = bytearray(good)
    if bdf:  # the same layout read as BDF: every record length changes meaning
        raw[:8] = b"\xffBIOSEMI"
    for pos, b in edits:
        raw[pos : pos + len(b)] = b
    path = fuzz_dir / "damaged.edf"
    path.write_bytes(bytes(raw[:cut]))
    read_or_refuse(path)


def test_a_file_that_vanishes_or_is_unreadable_is_one_sentence(tmp_path: Path, good: bytes) -> None:
    with pytest.raises(RecordingError, match="cannot be read"):
        read_edf(tmp_path / "missing.edf")
    folder = tmp_path / "dir.edf"
    folder.mkdir()
    with pytest.raises(RecordingError, match="cannot be read"):
        read_edf(folder)


def test_a_label_with_a_control_character_is_a_damaged_header(tmp_path: Path) -> None:
    """Found by fuzzing: a newline in a label once reached the one-line error that quotes it."""
    path = tmp_path / "night.edf"
    edfio.Edf([edfio.EdfSignal(np.zeros(100), 10, label="EMG L", physical_dimension="uV")]).write(path)
    raw = bytearray(path.read_bytes())
    raw[256 + 4] = ord("\n")
    path.write_bytes(bytes(raw))
    with pytest.raises(RecordingError, match="label of channel 1 holds control characters"):
        read_edf(path)


@pytest.mark.parametrize("bdf", [False, True])
def test_the_c_kernel_and_the_numpy_path_give_the_same_arrays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bdf: bool
) -> None:
    """The optional C kernel (one pass) against the numpy path (five passes) on the same files: equal bit for
    bit, pinned samples counted alike, with and without a physical offset and across EDF+D gaps."""
    if edf_module._edfkernel is None:
        pytest.skip("the C kernel is not built on this machine (no compiler or Python headers)")
    emg, acc = band(9, seconds=30)
    emg["left"][1000:1100] = EMG_RANGE_UV
    chans = channels(emg, acc, emg_unit="mV", acc_unit="m/s2")  # mV and m/s2: scaled, with offsets
    src = write_edfio(tmp_path / ("c.bdf" if bdf else "c.edf"), chans, rates(chans), bdf=bdf, record_s=1.0)
    keep = np.ones(30, dtype=bool)
    keep[7:9] = False
    for path in (src, make_discontinuous(src, tmp_path / ("d.bdf" if bdf else "d.edf"), keep)):
        fast = read_edf(path)
        monkeypatch.setattr(edf_module, "_edfkernel", None)
        slow = read_edf(path)
        monkeypatch.undo()
        for a, b in zip(fast.signals, slow.signals, strict=True):
            assert a.info == b.info
            np.testing.assert_array_equal(a.data, b.data)
