"""EDF+ export, checked by reading the files back with edfio and with MNE (independent readers)."""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import edfio
import mne
import numpy as np
import pytest

from detector.events import Event
from detector.night import StreamInfo
from firmware_bridge.errors import BridgeError
from firmware_bridge.formats import Annotation, Signal
from firmware_bridge.formats.edf_export import (
    MAX_ANNOTATION_CHARS,
    RANGE_MARGIN,
    EdfExport,
    EdfExportError,
    event_text,
    record_plan,
    write_edf_plus,
)
from firmware_bridge.formats.native import journal_recording, start_datetime
from firmware_bridge.journal import read_journal
from nightcramp.session import NightResult, analyze_journal

Key = tuple[float, float | None, str]


# -- helpers ---------------------------------------------------------------------------------------
def emg(leg: str | None, x: Any, fs: float, name: str | None = None) -> Signal:
    n = name or f"emg:{leg}"
    return Signal(StreamInfo(n, "emg", leg, fs, "uV"), np.asarray(x, dtype=np.float64), ("emg",))


def acc(leg: str | None, x: Any, fs: float, name: str | None = None) -> Signal:
    n = name or f"acc:{leg}"
    return Signal(StreamInfo(n, "acc", leg, fs, "g"), np.asarray(x, dtype=np.float64), ("x", "y", "z"))


def channels(signals: list[Signal]) -> list[tuple[Signal, np.ndarray]]:
    """(signal, row) per EDF channel, in file order."""
    return [(s, row) for s in signals for row in (s.data.reshape(1, -1) if s.info.kind == "emg" else s.data)]


def keys(annotations: Any) -> Counter[Key]:
    """Annotations as a multiset of (onset, duration or None, text), onsets to the microsecond."""
    out: Counter[Key] = Counter()
    for a in annotations:
        onset, duration, text = (a.onset_s, a.duration_s, a.text) if isinstance(a, Annotation) else a
        out[(round(onset, 6), None if not duration else round(duration, 6), text)] += 1
    return out


def expected_text(e: Event) -> str:
    """The annotation texts the export promises (README), written out independently of the code."""
    stream = e.fields.get("stream", "")
    kind, _, where = stream.partition(":")
    stream_words = f"{kind.upper()} {where}"
    return {
        "cramp": f"Cramp {e.leg} calf",
        "limb_movement": f"Leg movement {e.leg}" if e.leg else "Leg movement",
        "plm_series": f"PLM series{' ' + e.leg if e.leg else ''} ({e.fields.get('count')} movements)",
        "large_movement": "Large movement",
        "awakening": "Awakening",
        "out_of_bed": "Out of bed",
        "artifact": f"Artifact ({str(e.fields.get('reason')).replace('_', ' ')}) {stream_words}",
        "signal_gap": f"Signal gap {stream_words}",
        "marker": f"Marker: {e.fields.get('label')}",
    }[e.kind]


def lsb(sig: edfio.EdfSignal) -> float:
    return (sig.physical_max - sig.physical_min) / (sig.digital_max - sig.digital_min)


# -- the short simulated night, exported once --------------------------------------------------------
@dataclass
class Exported:
    path: Path
    result: NightResult
    signals: list[Signal]
    start: dt.datetime
    export: EdfExport


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, short_recording: Path) -> Exported:
    journal = read_journal(short_recording)
    result = analyze_journal(journal)
    rec = journal_recording(journal)
    start = start_datetime(journal.start_unix_ns)
    assert start is not None
    path = tmp_path_factory.mktemp("edf") / "night.edf"
    export = write_edf_plus(
        path,
        rec.signals,
        result.events,
        start,
        duration_s=result.duration_s,
        sleep_onset_s=result.summary["sleep_onset_s"],
        final_wake_s=result.summary["final_wake_s"],
    )
    return Exported(path, result, rec.signals, start, export)


LABELS = [
    "EMG Left",
    "ACC Left X",
    "ACC Left Y",
    "ACC Left Z",
    "EMG Right",
    "ACC Right X",
    "ACC Right Y",
    "ACC Right Z",
]


def test_edfio_reads_back_the_signals_within_half_a_step(exported: Exported) -> None:
    edf = edfio.read_edf(exported.path)
    assert edf.reserved == "EDF+C"
    assert list(edf.labels) == LABELS and edf.data_record_duration == 1
    for label, (s, row) in zip(LABELS, channels(exported.signals), strict=True):
        sig = edf.get_signal(label)
        assert sig.physical_dimension == ("uV" if s.info.kind == "emg" else "g")
        assert sig.sampling_frequency == s.info.fs_hz
        x = row.astype(np.float64)
        y = sig.data
        assert y.size >= x.size and y.size == edf.num_data_records * s.info.fs_hz
        step = lsb(sig)
        finite = np.isfinite(x)
        assert np.abs(y[: x.size][finite] - x[finite]).max() <= step / 2 * (1 + 1e-9)
        assert np.abs(y[: x.size][~finite]).max(initial=0) <= step / 2  # gaps written as 0
        assert np.abs(y[x.size :]).max(initial=0) <= step / 2  # padding after the end
        # the physical range hugs the data (and the 0 of filled gaps): the finest 16-bit steps
        lo, hi = x[finite].min(), x[finite].max()
        if not finite.all():
            lo, hi = min(lo, 0.0), max(hi, 0.0)
        assert sig.physical_min <= lo and sig.physical_max >= hi
        assert sig.physical_max - sig.physical_min <= (hi - lo) * (1 + 2 * RANGE_MARGIN) * 1.001
        assert sig.digital_min == -32768 and sig.digital_max == 32767


def test_edfio_reads_back_the_start_to_the_microsecond(exported: Exported) -> None:
    edf = edfio.read_edf(exported.path)
    assert exported.start.microsecond != 0  # a recorded start has a fraction of a second
    assert edf.startdatetime == exported.start.replace(tzinfo=None)
    assert edf.recording.startdate == exported.start.date()
    assert edf.patient.code == "X"  # nothing about the person goes into the file


def test_every_event_is_one_annotation_and_every_filled_sample_is_annotated(exported: Exported) -> None:
    edf = edfio.read_edf(exported.path)
    result = exported.result
    expected = keys((e.start_s, e.duration_s, expected_text(e)) for e in result.events)
    expected += keys([(result.summary["sleep_onset_s"], None, "Sleep onset")])
    expected += keys([(result.summary["final_wake_s"], None, "Final wake")])
    got = keys((a.onset, a.duration, a.text) for a in edf.annotations)
    assert not expected - got, f"events missing from the file: {expected - got}"
    assert {k[2] for k in expected if k[2].startswith("Cramp")} == {"Cramp left calf"}
    assert sum(n for k, n in expected.items() if k[2] == "Cramp left calf") == 2
    extra = got - expected
    assert all(k[2].startswith("Signal gap ") or k[2] == "End of recording" for k in extra), extra
    assert keys(exported.export.annotations) == got
    # every filled (missing) sample lies inside a "Signal gap <stream>" or the "End of recording" annotation,
    # and the extra gap annotations cover missing samples only
    spans: dict[str, list[tuple[float, float]]] = {}
    for onset, duration, text in got:
        spans.setdefault(text, []).append((onset, onset + (duration or 0.0)))
    end = spans["End of recording"]
    assert len(end) == 1 and end[0][0] == pytest.approx(result.duration_s, abs=1e-6)
    for s, row in channels(exported.signals):
        fs = s.info.fs_hz
        words = f"Signal gap {s.info.kind.upper()} {s.info.leg}"
        n_file = edf.num_data_records * int(fs)
        missing = np.ones(n_file, dtype=bool)
        missing[: row.size] = ~np.isfinite(row)
        t = np.flatnonzero(missing) / fs
        covered = np.zeros(t.size, dtype=bool)
        for a, b in spans.get(words, []) + end:
            covered |= (t >= a - 1e-6) & (t < b - 1e-6)
        assert covered.all(), f"{words}: {int((~covered).sum())} filled samples without an annotation"
        for onset, duration, text in extra:
            if text == words:
                idx = np.arange(math.ceil(onset * fs - 1e-6), math.ceil((onset + (duration or 0)) * fs - 1e-6))
                assert missing[idx].all()


def test_mne_reads_the_same_signals_start_and_annotations(exported: Exported) -> None:
    raw = mne.io.read_raw_edf(exported.path, preload=True, verbose="error")
    edf = edfio.read_edf(exported.path)
    assert raw.ch_names == LABELS
    # MNE keeps the start to the second (its EDF reader drops the fraction, as its documentation says)
    assert raw.info["meas_date"].replace(tzinfo=None) == exported.start.replace(tzinfo=None, microsecond=0)
    assert raw.n_times / raw.info["sfreq"] == edf.num_data_records * edf.data_record_duration
    for label, (s, row) in zip(LABELS, channels(exported.signals), strict=True):
        step = round(raw.info["sfreq"] / s.info.fs_hz)  # MNE brings every channel to the highest rate
        scale = 1e6 if s.info.kind == "emg" else 1.0  # µV are read as volts; g is kept as is
        y = raw.get_data(picks=[label])[0][::step] * scale
        x = row.astype(np.float64)
        finite = np.isfinite(x)
        assert np.abs(y[: x.size][finite] - x[finite]).max() <= lsb(edf.get_signal(label)) / 2 * (1 + 1e-6)
    ann = raw.annotations
    got = keys(zip(ann.onset, ann.duration, ann.description, strict=True))
    assert got == keys((a.onset, a.duration, a.text) for a in edf.annotations)
    cramps = sorted(o for o, d in zip(ann.onset, ann.description, strict=True) if d == "Cramp left calf")
    truth = sorted(e.start_s for e in exported.result.events if e.kind == "cramp")
    np.testing.assert_allclose(cramps, truth, atol=1e-6)


def test_the_file_is_private_and_replaces_an_older_export(tmp_path: Path) -> None:
    path = tmp_path / "n.edf"
    path.write_bytes(b"old")
    path.chmod(0o644)
    old = os.umask(0)
    try:
        write_edf_plus(path, [emg("left", np.zeros(200), 100.0)], [], None)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o600
    assert edfio.read_edf(path).labels == ("EMG Left",)
    assert [p.name for p in tmp_path.iterdir()] == ["n.edf"]  # no temporary file left behind


# -- the parts, on signals with known values -----------------------------------------------------------
def test_annotation_texts_read_as_the_issue_asks() -> None:
    def e(kind: str, leg: str | None = None, **fields: Any) -> str:
        return event_text(Event(kind, 1.0, 2.0, leg, fields))

    assert e("cramp", "left", peak_uv=80.0) == "Cramp left calf"
    assert e("limb_movement", "right") == "Leg movement right"
    assert e("plm_series", "left", count=6) == "PLM series left (6 movements)"
    assert e("large_movement") == "Large movement"
    assert e("awakening") == "Awakening"
    assert e("out_of_bed") == "Out of bed"
    assert e("artifact", "left", stream="emg:left", reason="clipping") == "Artifact (clipping) EMG left"
    assert e("artifact", "left", stream="emg:left", reason="lead_off") == "Artifact (lead off) EMG left"
    assert e("signal_gap", "right", stream="acc:right") == "Signal gap ACC right"
    assert e("marker", label="cramp now") == "Marker: cramp now"


def test_labels_follow_the_rules_the_edf_reader_recognises(tmp_path: Path) -> None:
    signals = [
        emg("left", np.zeros(100), 100.0),
        acc("right", np.zeros((3, 10)), 10.0),
        emg(None, np.zeros(100), 100.0, name="emg:band3"),
        acc(None, np.zeros((3, 10)), 10.0, name="acc:band3"),
    ]
    write_edf_plus(tmp_path / "l.edf", signals, [], None)
    edf = edfio.read_edf(tmp_path / "l.edf")
    assert edf.labels == (
        "EMG Left",
        "ACC Right X",
        "ACC Right Y",
        "ACC Right Z",
        "EMG band3",
        *(f"ACC band3 {a}" for a in "XYZ"),
    )
    # SPEC section 4: EMG = "EMG" in the label and a voltage unit; ACC = ACC/Accel + trailing axis letter,
    # unit g; the leg from a token L/Left/LT/R/Right/RT
    legs = {"l": "left", "left": "left", "lt": "left", "r": "right", "right": "right", "rt": "right"}
    for sig in edf.signals:
        tokens = [t.lower() for t in re.split(r"[^A-Za-z0-9]+", sig.label) if t]
        leg = next((legs[t] for t in tokens if t in legs), None)
        if "EMG" in sig.label:
            assert sig.physical_dimension in ("uV", "mV", "V")
        else:
            assert re.match(r"^(ACC|Accel|Acc)\b.*\b[XYZ]$", sig.label) and sig.physical_dimension == "g"
        assert leg == ("left" if "Left" in sig.label else "right" if "Right" in sig.label else None)
        assert len(sig.label) <= 16


def test_a_gap_is_filled_with_zero_and_annotated_where_no_event_covers_it(tmp_path: Path) -> None:
    fs = 100.0
    x = np.sin(np.arange(1000) / 7.0) * 50.0
    x[300:450] = np.nan  # 3.0 - 4.5 s
    a = np.ones((3, 1000))
    a[1, 200] = np.nan  # one missing sample on one axis
    gap_event = Event("signal_gap", 3.0, 4.0, "left", {"stream": "emg:left"})
    export = write_edf_plus(
        tmp_path / "g.edf", [emg("left", x, fs), acc("left", a, fs)], [gap_event], None, duration_s=10.5
    )
    assert export.n_records == 11 and export.record_s == 1
    edf = edfio.read_edf(tmp_path / "g.edf")
    assert keys((an.onset, an.duration, an.text) for an in edf.annotations) == keys(
        [
            (2.0, 0.01, "Signal gap ACC left"),
            (3.0, 1.0, "Signal gap EMG left"),  # the detector's event
            (4.0, 0.5, "Signal gap EMG left"),  # the part the event does not cover
            (10.0, 0.5, "Signal gap ACC left"),  # the signals end at 10 s, the recording at 10.5 s
            (10.0, 0.5, "Signal gap EMG left"),
            (10.5, 0.5, "End of recording"),
        ]
    )
    sig = edf.get_signal("EMG Left")
    assert np.abs(sig.data[300:450]).max() <= lsb(sig) / 2
    assert np.abs(sig.data[:300] - x[:300]).max() <= lsb(sig) / 2 * (1 + 1e-9)
    y = edf.get_signal("ACC Left Y").data
    assert abs(y[200]) <= lsb(edf.get_signal("ACC Left Y")) / 2
    assert abs(edf.get_signal("ACC Left X").data[200] - 1.0) <= lsb(edf.get_signal("ACC Left X")) / 2 * (1 + 1e-9)
    raw = mne.io.read_raw_edf(tmp_path / "g.edf", verbose="error")
    assert len(raw.annotations) == 6


@pytest.mark.parametrize(
    ("rates", "record_s", "in_file"),
    [
        ([500.0, 50.0], 1, [500.0, 50.0]),
        ([1000.0, 12.5], 2, [1000.0, 12.5]),
        ([100.0 / 3.0, 250.0], 3, [100.0 / 3.0, 250.0]),
        ([1.5, 2.4], 10, [1.5, 2.4]),
        ([199.93, 100.0], 1, [200.0, 100.0]),  # a rate measured from timestamps: resampled
        ([199.93, 12.5], 2, [200.0, 12.5]),
        ([1000.0 / 59.0, 1000.0 / 58.0], 1, [17.0, 17.0]),  # records of 59 x 29 s would be absurd
    ],
)
def test_record_duration_gives_every_channel_whole_samples(
    rates: list[float], record_s: int, in_file: list[float]
) -> None:
    assert record_plan(rates) == (record_s, pytest.approx(in_file))


def test_non_integer_rates_read_back_exactly_or_resampled(tmp_path: Path) -> None:
    t_emg = np.arange(int(20 * 199.93)) / 199.93
    sine = 100.0 * np.sin(2 * np.pi * 0.5 * t_emg)
    sine[1000:1200] = np.nan  # 5.0-6.0 s missing
    slow = np.stack([np.linspace(-1, 1, 250), np.zeros(250), np.full(250, 0.98)])  # 20 s at 12.5 Hz
    export = write_edf_plus(tmp_path / "r.edf", [emg("left", sine, 199.93), acc("left", slow, 12.5)], [], None)
    assert export.record_s == 2 and export.resampled == {"EMG Left": (199.93, 200.0)}
    edf = edfio.read_edf(tmp_path / "r.edf")
    assert edf.data_record_duration == 2
    x = edf.get_signal("ACC Left X")
    assert x.sampling_frequency == 12.5 and x.samples_per_data_record == 25
    assert np.abs(x.data[:250] - slow[0]).max() <= lsb(x) / 2 * (1 + 1e-9)
    e = edf.get_signal("EMG Left")
    assert e.sampling_frequency == 200.0
    n = math.floor((sine.size - 1) * 200.0 / 199.93) + 1
    expected = 100.0 * np.sin(2 * np.pi * 0.5 * np.arange(n) / 200.0)  # the same sine, on the new clock
    kept = (np.arange(n) / 200.0 < 1000 / 199.93 - 0.01) | (np.arange(n) / 200.0 > 1200 / 199.93)
    np.testing.assert_allclose(e.data[:n][kept], expected[kept], atol=0.01)
    (gap,) = [a for a in edf.annotations if a.text == "Signal gap EMG left" and a.onset < 10]
    assert gap.onset <= 1000 / 199.93 and gap.onset + gap.duration >= 1200 / 199.93  # the gap stays a gap
    inside = (np.arange(n) / 200.0 >= gap.onset) & (np.arange(n) / 200.0 < gap.onset + gap.duration)
    assert np.abs(e.data[:n][inside]).max() <= lsb(e) / 2
    raw = mne.io.read_raw_edf(tmp_path / "r.edf", verbose="error")
    assert raw.info["sfreq"] == 200.0 and raw.n_times == 20 * 200


def test_marker_labels_are_cleaned_to_one_readable_line(tmp_path: Path) -> None:
    long = "woke up \x14 with\ncramp – Wade links " + "x" * 200
    events = [
        Event("marker", 2.0, 2.0, None, {"label": long}),
        Event("marker", 3.0, 3.0, None, {"label": "Krampf – Wade"}),
    ]
    write_edf_plus(tmp_path / "m.edf", [emg("left", np.zeros(500), 100.0)], events, None)
    texts = [a.text for a in edfio.read_edf(tmp_path / "m.edf").annotations]
    assert texts[1] == "Marker: Krampf – Wade"
    assert texts[0] == "Marker: woke up with cramp – Wade links " + "x" * 37 + "..."
    assert len(texts[0]) == MAX_ANNOTATION_CHARS
    assert not re.search(r"[\x00-\x1f]", texts[0])
    raw = mne.io.read_raw_edf(tmp_path / "m.edf", verbose="error")
    assert list(raw.annotations.description) == texts


def test_without_a_start_time_the_file_says_unknown(tmp_path: Path) -> None:
    write_edf_plus(tmp_path / "u.edf", [emg("left", np.zeros(100), 100.0)], [], None)
    edf = edfio.read_edf(tmp_path / "u.edf")
    assert edf.local_recording_identification.startswith("Startdate X ")
    header = (tmp_path / "u.edf").read_bytes()[168:184]
    assert header == b"01.01.8500.00.00"


def test_what_edf_cannot_hold_is_refused_in_one_sentence(tmp_path: Path) -> None:
    ok = [emg("left", np.zeros(100), 100.0)]
    with pytest.raises(EdfExportError, match=r"x\.edf: EDF holds start dates from 1985 to 2084, not 1970-01-01"):
        write_edf_plus(tmp_path / "x.edf", ok, [], dt.datetime(1970, 1, 1))
    with pytest.raises(EdfExportError, match=r"channel EMG Left has values too large for EDF"):
        write_edf_plus(tmp_path / "x.edf", [emg("left", np.full(100, 3e9), 100.0)], [], None)
    with pytest.raises(EdfExportError, match=r"no signal to export"):
        write_edf_plus(tmp_path / "x.edf", [], [], None)
    with pytest.raises(EdfExportError, match=r"cannot write .*missing/x\.edf \(No such file or directory\)"):
        write_edf_plus(tmp_path / "missing" / "x.edf", ok, [], None)
    assert issubclass(EdfExportError, BridgeError)
    assert not list(tmp_path.iterdir())


def test_tiny_and_constant_channels_get_a_valid_range(tmp_path: Path) -> None:
    tiny = np.linspace(0.0, 3e-5, 100)
    const = np.full(100, 2.5)
    write_edf_plus(tmp_path / "t.edf", [emg("left", tiny, 100.0), emg("right", const, 100.0)], [], None)
    edf = edfio.read_edf(tmp_path / "t.edf")
    t, c = edf.get_signal("EMG Left"), edf.get_signal("EMG Right")
    assert t.physical_min <= 0.0 and t.physical_max >= 3e-5
    assert np.abs(t.data - tiny).max() <= lsb(t) / 2 * (1 + 1e-9)
    assert c.physical_min < 2.5 < c.physical_max
    assert np.abs(c.data - 2.5).max() <= lsb(c) / 2 * (1 + 1e-9)
