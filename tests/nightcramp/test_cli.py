"""The cramp command line as a user runs it: real processes, real files, clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nightcramp.cli import main

CRAMP = [sys.executable, "-m", "nightcramp"]


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CRAMP, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_accelerometer_only_night_is_analysed_and_reported(tmp_path: Path) -> None:
    rec = tmp_path / "a.ncr"
    p = run(
        "simulate", str(rec), "--hours", "0.7", "--emg-fs", "none", "--acc-fs", "50", "--seed", "8", "--cramps", "2"
    )
    assert p.returncode == 0, p.stderr
    truth = [e for e in json.loads((tmp_path / "a.truth.json").read_text())["events"] if e["kind"] == "cramp"]
    p = run("analyze", str(rec), "--json", str(tmp_path / "a.json"), "--report", str(tmp_path / "a.html"))
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    cramps = [e for e in json.loads((tmp_path / "a.json").read_text())["events"] if e["kind"] == "cramp"]
    assert len(cramps) == len(truth) == 2
    assert all(c["evidence"] == ["acc"] and c["peak_uv"] is None for c in cramps)
    assert p.stdout.count("from the accelerometer (no EMG)") == 2
    page = (tmp_path / "a.html").read_text()
    for i, e in enumerate(json.loads((tmp_path / "a.json").read_text())["events"]):
        if e["kind"] == "cramp":  # no EMG peak to show
            assert f'data-json="events.{i}.peak_uv">-</td>' in page


def test_simulate_then_analyze_writes_private_json_and_report(tmp_path: Path) -> None:
    rec = tmp_path / "n.ncr"
    p = run(
        "simulate",
        str(rec),
        "--hours",
        "0.4",
        "--emg-fs",
        "500",
        "--acc-fs",
        "50",
        "--seed",
        "5",
        "--cramps",
        "1",
    )
    assert p.returncode == 0, p.stderr
    truth = json.loads((tmp_path / "n.truth.json").read_text())
    assert truth["schema"] == "cramp-truth/1" and sum(e["kind"] == "cramp" for e in truth["events"]) == 1
    assert oct(rec.stat().st_mode & 0o777) == "0o600"
    p = run("analyze", str(rec), "--json", str(tmp_path / "n.json"), "--report", str(tmp_path / "r.html"))
    assert p.returncode == 0, p.stderr
    assert "Cramps: 1" in p.stdout and "Sleep:" in p.stdout
    doc = json.loads((tmp_path / "n.json").read_text())
    assert doc["summary"]["cramp_count"] == 1
    html = (tmp_path / "r.html").read_text()
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    for f in ("n.json", "r.html"):
        assert (tmp_path / f).stat().st_mode & 0o777 == 0o600


def test_replay_prints_events_as_they_are_detected(short_recording: Path) -> None:
    p = run("replay", str(short_recording), "--kinds", "cramp")
    assert p.returncode == 0, p.stderr
    live = p.stdout.split("\nNight")[0]  # the summary after the replay lists the cramps again
    assert len([ln for ln in live.splitlines() if "CRAMP" in ln]) == 2
    assert "possible cramp" in p.stdout  # the live notice comes before the final event
    assert p.stdout.index("possible cramp") < p.stdout.index("CRAMP")


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["analyze", "/nonexistent/night.ncr"], "does not exist"),
        (["analyze", "{tmp}"], "is a folder"),
        (["analyze", "{tmp}/text.ncr"], "text.ncr"),
        (["analyze", "{tmp}/empty.ncr"], "empty.ncr"),
        (["replay", "{tmp}/text.ncr", "--speed", "fast"], "--speed"),
        (["simulate", "{tmp}/x.ncr", "--legs", "middle"], "--legs"),
        (["simulate", "{tmp}/x.ncr", "--emg-fs", "none", "--acc-fs", "none"], "EMG or an accelerometer"),
        (["simulate", "{tmp}/text.ncr"], "already exists"),
    ],
)
def test_bad_input_gets_one_clear_sentence(tmp_path: Path, args: list[str], expect: str) -> None:
    (tmp_path / "text.ncr").write_text("this is not a recording\n")
    (tmp_path / "empty.ncr").write_bytes(b"")
    p = run(*[a.format(tmp=tmp_path) for a in args])
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    msg = p.stderr.strip().splitlines()
    assert len(msg) == 1 and msg[0].startswith("cramp: error:") and expect in msg[0]


def test_main_returns_exit_codes_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(tmp_path / "missing.ncr")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([]) == 2


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    p = run("demo", "--out", str(tmp_path / "demo"))
    assert p.returncode == 0, p.stderr
    assert "Cramps:" in p.stdout and "Report:" in p.stdout
    doc = json.loads((tmp_path / "demo" / "night.json").read_text())
    assert doc["summary"]["cramp_count"] >= 1
    assert os.path.getsize(tmp_path / "demo" / "report.html") > 1000


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (["evaluate", "--scale", "9"], "--scale"),
        (["bench", "--repeat", "0"], "--repeat"),
        (["bench", "--pairs", "0"], "--pairs"),
    ],
)
def test_evaluate_and_bench_refuse_bad_options(args: list[str], expect: str) -> None:
    p = run(*args)
    assert p.returncode == 2 and expect in p.stderr and "Traceback" not in p.stderr


def test_a_gzipped_polar_export_is_analysed_with_the_leg_given(tmp_path: Path) -> None:
    import gzip

    import numpy as np

    n, rate = 52 * 300, 52.0  # five minutes of a still shank, Polar H10 layout
    rng = np.random.default_rng(1)
    lines = ["Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]"]
    for i in range(n):
        ns = 599_000_000_000_000_000 + round(i / rate * 1e9)
        phone = f"2026-11-21T23:{i // 3120 + 10:02d}:{(i % 3120) / 52:06.3f}"
        x, y, z = rng.normal((30.0, 20.0, 998.0), 3.0)
        lines.append(f"{phone};{ns};{x:.0f};{y:.0f};{z:.0f}")
    path = tmp_path / "Polar_H10_ABCD1234_20261121_231000_ACC.txt.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    p = run("analyze", str(path), "--leg", "right", "--json", str(tmp_path / "p.json"))
    assert p.returncode == 0, p.stderr
    doc = json.loads((tmp_path / "p.json").read_text())
    assert [(s["name"], s["leg"], s["kind"]) for s in doc["source"]["streams"]] == [("acc:right", "right", "acc")]
    assert doc["source"]["start_time"].startswith("2026-11-21T23:10")
    assert abs(doc["source"]["duration_s"] - 300.0) < 2.0
    assert not [e for e in doc["events"] if e["kind"] == "cramp"]


def test_what_a_band_cannot_measure_is_not_reported_as_none(tmp_path: Path) -> None:
    """Without EMG no leg movement can be seen, without an accelerometer no getting up: null, not 0. Sleep
    and awakenings come from the accelerometer, or without one from the EMG."""
    for name, emg_fs, acc_fs in (("acc", "none", "50"), ("emg", "500", "none")):
        rec = tmp_path / f"{name}.ncr"
        p = run("simulate", str(rec), "--hours", "0.3", "--emg-fs", emg_fs, "--acc-fs", acc_fs, "--cramps", "0")
        assert p.returncode == 0, p.stderr
        p = run(
            "analyze", str(rec), "--json", str(tmp_path / f"{name}.json"), "--report", str(tmp_path / f"{name}.html")
        )
        assert p.returncode == 0, p.stderr
        s = json.loads((tmp_path / f"{name}.json").read_text())["summary"]
        page = (tmp_path / f"{name}.html").read_text()
        if name == "acc":
            assert s["lm_count"] is None and s["plm_count"] is None and s["awakening_count"] is not None
            assert "leg movements: not measured (no EMG)" in p.stdout and "not measured (no EMG)" in page
        else:
            assert s["out_of_bed_count"] is None and s["large_movement_count"] is None
            assert s["awakening_count"] is not None and s["cramps_followed_by_awakening"] == 0
            assert s["lm_count"] is not None and s["sleep_onset_s"] is not None
            assert "out of bed: not measured (no accelerometer)" in p.stdout
            assert "(from the EMG alone: no accelerometer)" in p.stdout
            assert "not measured (no accelerometer)" in page
            assert '<div class="num" data-json="summary.out_of_bed_count">not measured</div>' in page
