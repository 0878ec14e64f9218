"""Whole simulated nights written as EDF+/BDF+ by edfio, pyedflib and MNE: analysed from the file, the cramps
are the simulator's and the same as analysing the written arrays directly; replay equals offline; the
command line reads the files, maps channels and refuses bad ones in one sentence."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from detector.events import Event
from detector.night import StreamInfo, analyze_streams
from detector.simulate import NightConfig, SimulatedNight, simulate_night
from firmware_bridge.formats import ChannelRole, read_edf
from nightcramp.cli import main
from nightcramp.nightjson import night_json
from nightcramp.session import analyze_recording, replay_recording

from ..edf_files import START, channels, make_discontinuous, write_edfio, write_mne, write_pyedflib

NOTES = [(600.0, None, "lights off"), (1500.5, 2.0, "woke with pain")]


@pytest.fixture(scope="module")
def proof_night() -> SimulatedNight:
    """30 minutes, two legs, EMG 1 kHz + accelerometer 100 Hz, a cramp on each leg, no dropouts (EDF+C)."""
    cfg = NightConfig(duration_s=1800.0, emg_fs_hz=1000.0, acc_fs_hz=100.0, n_cramps=2, dropouts=False)
    return simulate_night(cfg, rng=np.random.default_rng(1))


def cramps(events: list[Event]) -> list[tuple[str | None, float, float]]:
    return [(e.leg, e.start_s, e.end_s) for e in events if e.kind == "cramp"]


def direct(night: SimulatedNight, acc_repeat: int = 1) -> list[tuple[str | None, float, float]]:
    """The same arrays (as written) analysed without any file."""
    cfg = night.config
    items: list[tuple[StreamInfo, np.ndarray]] = []
    for leg in cfg.legs:
        items.append((StreamInfo(f"emg:{leg}", "emg", leg, float(cfg.emg_fs_hz or 0), "uV"), night.emg[leg]))
        acc = np.repeat(night.acc[leg], acc_repeat, axis=1)
        items.append((StreamInfo(f"acc:{leg}", "acc", leg, float(cfg.acc_fs_hz or 0) * acc_repeat, "g"), acc))
    return cramps(analyze_streams(items, duration_s=cfg.duration_s).all_events())


def assert_same_cramps(got: list, want: list, tol_s: float) -> None:
    assert [g[0] for g in got] == [w[0] for w in want]
    for g, w in zip(got, want, strict=True):
        assert abs(g[1] - w[1]) <= tol_s and abs(g[2] - w[2]) <= tol_s, (g, w)


@pytest.mark.parametrize(
    ("writer", "suffix", "emg_unit", "acc_unit"),
    [("edfio", ".edf", "uV", "g"), ("pyedflib", ".bdf", "mV", "mg"), ("mne", ".edf", "uV", "g")],
)
def test_a_night_from_each_library_gives_the_simulated_cramps(
    tmp_path: Path, proof_night: SimulatedNight, writer: str, suffix: str, emg_unit: str, acc_unit: str
) -> None:
    night = proof_night
    repeat = 10 if writer == "mne" else 1  # MNE keeps one rate: the accelerometer is written at 1 kHz
    acc = {leg: np.repeat(a, repeat, axis=1) for leg, a in night.acc.items()}
    chans = channels(night.emg, acc, emg_unit=emg_unit, acc_unit=acc_unit, acc_label="Accel{A} {leg}")
    path = tmp_path / f"night{suffix}"
    mapping = None
    if writer == "mne":
        write_mne(path, chans, 1000.0, annotations=NOTES)
        mapping = {f"Accel{a} {leg}": ChannelRole("acc", leg, a.lower()) for leg in ("left", "right") for a in "XYZ"}
    elif writer == "edfio":
        write_edfio(path, chans, [1000.0 if u == emg_unit else 100.0 for _, u, _, _ in chans], annotations=NOTES)
    else:
        write_pyedflib(
            path, chans, [1000.0 if u == emg_unit else 100.0 for _, u, _, _ in chans], bdf=True, annotations=NOTES
        )
    rec = read_edf(path, mapping)
    result = analyze_recording(rec)
    got = cramps(result.events)
    truth = [(e.leg, e.start_s, e.end_s) for e in night.truth if e.kind == "cramp"]
    assert len(got) == len(truth) == 2
    assert [g[0] for g in got] == [t[0] for t in truth]
    assert all(abs(g[1] - t[1]) <= 3.0 for g, t in zip(got, truth, strict=True))
    assert_same_cramps(got, direct(night, repeat), tol_s=0.2)  # quantisation to 16/24 bits changes nothing
    doc = night_json(result)
    src = doc["source"]
    assert src["format"] == ("BDF+C" if suffix == ".bdf" else "EDF+C")
    assert src["start_time"] == START.isoformat()
    assert [(a["onset_s"], a["text"]) for a in src["annotations"]] == [(o, t) for o, _, t in NOTES]
    assert {s["name"]: (s["leg"], s["unit"]) for s in src["streams"]} == {
        "emg:left": ("left", "uV"),
        "acc:left": ("left", "g"),
        "emg:right": ("right", "uV"),
        "acc:right": ("right", "g"),
    }
    assert src["channels"]["acc:left"] == ["AccelX left", "AccelY left", "AccelZ left"]


@pytest.fixture(scope="module")
def gap_recording(tmp_path_factory: pytest.TempPathFactory, short_night: SimulatedNight) -> tuple[Path, np.ndarray]:
    """The shared 40-min night with dropouts as EDF+D: 1-s records, those touching a dropout left out."""
    night = short_night
    d = tmp_path_factory.mktemp("gaps")
    chans = channels(night.emg, night.acc)
    src = write_edfio(d / "c.edf", chans, [500.0 if u == "uV" else 50.0 for _, u, _, _ in chans], record_s=1.0)
    n = int(night.config.duration_s)
    bad = np.zeros(n, dtype=bool)
    for leg in night.config.legs:
        bad |= np.isnan(night.emg[leg][: n * 500]).reshape(n, 500).any(axis=1)
        bad |= np.isnan(night.acc[leg][:, : n * 50]).reshape(3, n, 50).any(axis=(0, 2))
    assert 0 < bad.sum() < n // 4 and not bad[0] and not bad[-1]
    return make_discontinuous(src, d / "gaps.edf", ~bad), bad


def test_a_discontinuous_night_has_its_gaps_and_its_cramps(
    gap_recording: tuple[Path, np.ndarray], short_night: SimulatedNight
) -> None:
    path, bad = gap_recording
    rec = read_edf(path)
    assert rec.format == "EDF+D" and rec.duration_s == short_night.config.duration_s
    result = analyze_recording(rec)
    gaps = [e for e in result.events if e.kind == "signal_gap"]
    assert gaps and all(bad[int(e.start_s) : int(np.ceil(e.end_s))].all() for e in gaps)
    truth = [(e.leg, e.start_s) for e in short_night.truth if e.kind == "cramp"]
    got = cramps(result.events)
    assert [g[0] for g in got] == [t[0] for t in truth]
    assert all(abs(g[1] - t[1]) <= 3.0 for g, t in zip(got, truth, strict=True))
    # the arrays with the left-out records as NaN, analysed directly
    night = short_night
    items: list[tuple[StreamInfo, np.ndarray]] = []
    for leg in night.config.legs:
        emg = np.where(np.repeat(bad, 500), np.nan, np.nan_to_num(night.emg[leg]))
        acc = np.where(np.repeat(bad, 50), np.nan, np.nan_to_num(night.acc[leg]))
        items += [
            (StreamInfo(f"emg:{leg}", "emg", leg, 500.0, "uV"), emg),
            (StreamInfo(f"acc:{leg}", "acc", leg, 50.0, "g"), acc),
        ]
    want = cramps(analyze_streams(items, duration_s=night.config.duration_s).all_events())
    assert_same_cramps(got, want, tol_s=0.2)


@pytest.mark.parametrize("chunk_s", [None, 7.3])
def test_replay_of_a_recording_equals_offline_analysis(
    gap_recording: tuple[Path, np.ndarray], chunk_s: float | None
) -> None:
    rec = read_edf(gap_recording[0])
    offline = [e.to_json() for e in analyze_recording(rec).events]
    emitted: list[Event] = []
    notices: list[object] = []
    online = replay_recording(rec, chunk_s=chunk_s, on_event=emitted.append, on_notice=notices.append)
    assert online is not None
    assert [e.to_json() for e in online.events] == offline
    assert sorted(map(str, (e.to_json() for e in emitted))) == sorted(map(str, offline))  # each emitted once
    assert notices  # the live "possible cramp" notices came too


# -- the command line --------------------------------------------------------------------------------
def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nightcramp", *args], capture_output=True, text=True, timeout=300)


def test_cramp_analyze_and_replay_read_an_edf_night(tmp_path: Path, proof_night: SimulatedNight) -> None:
    chans = channels(proof_night.emg, proof_night.acc, emg_label="Ch{L}1", acc_label="Acc {L} {A}")
    path = write_edfio(
        tmp_path / "n.edf", chans, [1000.0 if u == "uV" else 100.0 for _, u, _, _ in chans], annotations=NOTES
    )
    p = run(
        "analyze",
        str(path),
        "--channel",
        "ChL1=emg:left",
        "--channel",
        "ChR1=emg:right",
        "--json",
        str(tmp_path / "n.json"),
        "--report",
        str(tmp_path / "n.html"),
    )
    assert p.returncode == 0, p.stderr
    assert "Cramps: 2 (1 left, 1 right)" in p.stdout and "Night of 2026-11-21" in p.stdout
    doc = json.loads((tmp_path / "n.json").read_text())
    assert doc["source"]["format"] == "EDF+C" and doc["source"]["start_time"] == "2026-11-21T23:04:05"
    assert doc["source"]["channels"]["emg:left"] == ["ChL1"] and len(doc["source"]["annotations"]) == 2
    assert (tmp_path / "n.html").stat().st_mode & 0o777 == 0o600
    p = run("replay", str(path), "--channel", "ChL1=emg:left", "--channel", "ChR1=emg:right", "--kinds", "cramp")
    assert p.returncode == 0, p.stderr
    live = p.stdout.split("\nNight")[0]
    lines = [ln for ln in live.splitlines() if "CRAMP" in ln]
    assert len(lines) == 2 and all(ln.startswith("23:") for ln in lines)  # wall-clock times from the header
    assert "possible cramp" in p.stdout


def test_a_band_worn_another_way_round_is_turned_to_its_shank_axis(tmp_path: Path, acc_night: SimulatedNight) -> None:
    """The same accelerometer-only night written with its axes permuted and one flipped: the reader takes
    the axis along the shank as the first, says so, and finds the same events; a --channel mapping wins."""
    from firmware_bridge.formats import read_recording

    def events(path: Path, mapping: dict[str, ChannelRole] | None = None) -> tuple[list[tuple[str, int]], list[str]]:
        rec = read_recording(path, mapping)
        res = analyze_recording(rec)
        kinds = ("cramp", "out_of_bed", "awakening")
        return [(e.kind, round(e.start_s)) for e in res.events if e.kind in kinds], rec.warnings

    # the sleeper lies on one side: the lateral axis, written first, takes gravity most of the night
    worn = {leg: a[[1, 0, 2]] * np.array([[1.0], [-1.0], [1.0]]) for leg, a in acc_night.acc.items()}
    plain = write_edfio(tmp_path / "plain.edf", channels({}, acc_night.acc), [50.0] * 6)
    turned = write_edfio(tmp_path / "turned.edf", channels({}, worn), [50.0] * 6)
    want, notes = events(plain)
    assert not any("long axis" in n for n in notes)
    assert [k for k, _ in want].count("cramp") == 2 and ("out_of_bed" in [k for k, _ in want])
    got, notes = events(turned)
    assert got == want
    assert [n for n in notes if "long axis" in n] == [
        f"{turned}: the first axis of acc:{leg} took gravity for much of the night, so it lay across the shank; "
        f"channel Acc {leg[0].upper()} Y is taken as the shank's long axis (posture, out of bed)"
        for leg in sorted(acc_night.acc)
    ]
    mapping = {f"Acc L {a}": ChannelRole("acc", "left", a.lower()) for a in "XYZ"}
    got, notes = events(turned, mapping)
    assert [n for n in notes if "long axis" in n and "acc:left" in n] == []  # the user said which axis is x
    assert any("acc:right" in n for n in notes)


def test_cli_refuses_bad_recordings_in_one_sentence(
    tmp_path: Path, proof_night: SimulatedNight, capsys: pytest.CaptureFixture[str]
) -> None:
    garbage = tmp_path / "garbage.edf"
    garbage.write_bytes(b"\x00" * 4000)
    unknown = tmp_path / "unknown.edf"
    chans = channels({"left": proof_night.emg["left"][:10_000]}, {}, emg_label="Ch{L}1")
    write_edfio(unknown, chans, [1000.0])
    text = tmp_path / "table.csv"
    text.write_text("a,b\n1,2\n")
    cases = [
        (["analyze", str(garbage)], "garbage.edf is not an EDF or BDF file"),
        (["analyze", str(unknown)], "--channel 'ChL1=emg:left'"),
        (["analyze", str(unknown), "--channel", "ChL1=muscle"], "is not LABEL=KIND"),
        (["replay", str(unknown), "--channel", "Nope=emg:left"], "no channel labelled 'Nope'"),
        (["analyze", str(text)], "table.csv is not a recording NightCramp can read"),
    ]
    for args, expect in cases:
        assert main(args) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("cramp: error:") and expect in err[0], (args, err)
    # the same in a real process: no traceback reaches the user
    p = run("analyze", str(unknown))
    assert p.returncode == 2 and "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    # warnings are printed and the analysis goes on
    assert main(["analyze", str(unknown), "--channel", "ChL1=emg:left"]) == 0
    assert main(["analyze", str(unknown), "--channel", "ChL1=emg:left", "--channel", "X=ignore"]) == 2


def test_a_band_whose_leg_the_file_does_not_say_is_reported_as_unknown(
    tmp_path: Path, proof_night: SimulatedNight
) -> None:
    from nightcramp.report import write_report
    from nightcramp.text import format_summary

    night = proof_night
    chans = channels({"left": night.emg["left"]}, {"left": night.acc["left"]}, emg_label="EMG", acc_label="Acc {A}")
    path = write_edfio(tmp_path / "one.edf", chans, [1000.0, 100.0, 100.0, 100.0])
    result = analyze_recording(read_edf(path))
    truth = [e.start_s for e in night.truth if e.kind == "cramp" and e.leg == "left"]
    got = [e for e in result.events if e.kind == "cramp"]
    assert [e.leg for e in got] == [None] * len(truth) and len(truth) == 1
    assert not any(e.leg == "left" for e in result.events)  # nothing claims a leg the file does not name
    assert abs(got[0].start_s - truth[0]) <= 3.0
    doc = night_json(result)
    assert [(s["name"], s["leg"]) for s in doc["source"]["streams"]] == [("emg:unknown", None), ("acc:unknown", None)]
    assert "Cramps: 1 (1 on a leg the file does not name)" in format_summary(doc)
    write_report(doc, tmp_path / "r.html")
    assert "Cramp, leg unknown" in (tmp_path / "r.html").read_text()
