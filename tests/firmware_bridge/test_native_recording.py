"""A native journal as whole-night arrays: the samples the band sent, where its clock put them, NaN in gaps."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from detector.night import analyze_streams
from detector.simulate import SimulatedNight
from firmware_bridge.formats import RecordingError
from firmware_bridge.formats.native import journal_recording, start_datetime
from firmware_bridge.journal import DeviceInfo, JournalWriter, read_journal
from firmware_bridge.profiles.nus_emg import PROFILE, VERSION, encode_frames
from nightcramp.session import analyze_journal

UV_PER_COUNT = 0.1  # the synthetic band's EMG resolution (firmware_bridge.sources.synthetic)
G_PER_COUNT = 0.001


def _lag(decoded: np.ndarray, truth: np.ndarray, max_lag: int = 100) -> int:
    """The shift (in samples) at which the decoded stream equals the simulated one."""
    for lag in range(max_lag):
        n = min(decoded.shape[-1] - lag, truth.shape[-1])
        d, t = decoded[..., lag : lag + n], truth[..., :n]
        ok = np.isfinite(d) & np.isfinite(t)
        if ok.sum() > 0.9 * n and np.allclose(d[ok], t[ok], rtol=0, atol=1e-4 * abs(t[ok]).max()):
            return lag
    raise AssertionError("the decoded stream matches the simulated one at no shift")


def test_journal_decodes_to_the_simulated_samples_with_gaps_as_nan(
    short_recording: Path, short_night: SimulatedNight
) -> None:
    journal = read_journal(short_recording)
    rec = journal_recording(journal)
    assert rec.format == "NightCramp journal"
    assert rec.duration_s == pytest.approx(journal.last_t_ns / 1e9)  # type: ignore[operator]
    assert [s.info.name for s in rec.signals] == ["emg:left", "acc:left", "emg:right", "acc:right"]
    start = dt.datetime.fromisoformat(rec.start_wall or "")
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    assert (start - epoch) // dt.timedelta(microseconds=1) == journal.start_unix_ns // 1000  # to the µs, exactly
    gaps_truth = {leg: [e for e in short_night.events_of("signal_gap") if e.leg == leg] for leg in ("left", "right")}
    assert gaps_truth["right"], "the fixture night has a dropout on the right band"
    for s in rec.signals:
        leg, fs = s.info.leg, s.info.fs_hz
        assert leg is not None
        assert s.data.dtype == np.float32
        assert s.data.shape[-1] == int(np.ceil(rec.duration_s * fs))
        if s.info.kind == "emg":
            truth = np.clip(np.rint(short_night.emg[leg] / UV_PER_COUNT), -32768, 32767) * UV_PER_COUNT
            assert s.data.ndim == 1
        else:
            truth = np.clip(np.rint(short_night.acc[leg] / G_PER_COUNT), -32768, 32767) * G_PER_COUNT
            assert s.data.shape[0] == 3
        lag = _lag(s.data, truth)
        assert lag <= 0.05 * fs  # the clock offset is fixed to within the shortest transport latency
        n = min(truth.shape[-1], s.data.shape[-1] - lag)
        placed, truth = s.data[..., lag : lag + n], truth[..., :n]
        finite = np.isfinite(placed)
        # every sample that arrived is the simulated sample, quantised as the band sends it
        np.testing.assert_allclose(placed[finite], truth[finite], rtol=0, atol=1e-4 * np.nanmax(np.abs(truth)))
        # every sample lost in a dropout is NaN; beyond that only the lost notifications' edges are
        missing = ~finite if s.data.ndim == 1 else ~finite.all(axis=0)
        in_gap = np.zeros(n, dtype=bool)
        for g in gaps_truth[leg]:
            in_gap[int(np.ceil(g.start_s * fs)) : int(np.ceil(g.end_s * fs))] = True
        assert missing[in_gap].all()
        frame = 50 if s.info.kind == "emg" else 25  # samples per notification of the synthetic band
        assert (missing & ~in_gap).sum() <= 2 * frame * len(gaps_truth[leg])
        assert np.isnan(s.data[..., :lag]).all()  # before the first sample: nothing arrived


def test_analysing_the_arrays_gives_the_events_of_the_journal(short_recording: Path) -> None:
    journal = read_journal(short_recording)
    rec = journal_recording(journal)
    det = analyze_streams([(s.info, s.data) for s in rec.signals], duration_s=rec.duration_s)
    from_journal = [e for e in analyze_journal(journal).events if e.kind != "marker"]
    assert from_journal, "the fixture night has events"
    assert det.all_events() == from_journal


def _small_journal(path: Path, *, profile: str = PROFILE.name, marker: bool = True) -> Path:
    fs = 500.0
    counts = (np.arange(2000) % 200 - 100)[np.newaxis, :]
    frames = encode_frames("emg", counts, frame_samples=50, t0_us=7e6, fs_hz=fs)
    settings = {"emg_fs_hz": fs, "emg_uv_per_count": 0.5}
    with JournalWriter(path, software="tests", start_unix_ns=1_764_000_000_123_456_789) as w:
        w.add_device(DeviceInfo(0, profile, VERSION, None, "band", None, settings))
        for i, f in enumerate(frames):
            if i != 10:  # one notification lost: samples 500..549
                w.write_packet(0, int(((i + 1) * 50 / fs + 0.02) * 1e9), f)
        if marker:
            w.write_marker(int(1.5e9), "cramp now")
    return path


def test_a_band_without_leg_keeps_its_id_and_markers_become_annotations(tmp_path: Path) -> None:
    journal = read_journal(_small_journal(tmp_path / "small.ncr"))
    rec = journal_recording(journal)
    (sig,) = rec.signals
    assert sig.info.name == "emg:band0" and sig.info.leg is None and sig.labels == ("emg",)
    x = sig.data
    lag = int(np.flatnonzero(np.isfinite(x))[0])
    expected = (np.arange(2000) % 200 - 100) * 0.5
    got = x[lag : lag + 2000]
    assert np.isnan(got[500:550]).all() and np.isfinite(np.delete(got, np.s_[500:550])).all()
    np.testing.assert_array_equal(np.delete(got, np.s_[500:550]), np.delete(expected, np.s_[500:550]))
    assert [(a.onset_s, a.duration_s, a.text) for a in rec.annotations] == [(1.5, None, "cramp now")]
    assert dt.datetime.fromisoformat(rec.start_wall or "").microsecond == 123456


def test_start_datetime_keeps_microseconds() -> None:
    start = start_datetime(1_764_000_000_123_456_789)
    assert start is not None and start.tzinfo is not None
    assert start.astimezone(dt.UTC) == dt.datetime(2025, 11, 24, 16, 0, 0, 123456, tzinfo=dt.UTC)
    assert start_datetime(None) is None


def test_unreadable_journals_are_refused_in_one_sentence_naming_the_file(tmp_path: Path) -> None:
    empty = tmp_path / "nobands.ncr"
    with JournalWriter(empty, software="tests"):
        pass
    with pytest.raises(RecordingError, match=r"nobands\.ncr describes no band"):
        journal_recording(read_journal(empty))
    other = _small_journal(tmp_path / "other.ncr", profile="acme-x", marker=False)
    with pytest.raises(RecordingError, match=r"other\.ncr: band 0 uses an unknown device profile 'acme-x'"):
        journal_recording(read_journal(other))
