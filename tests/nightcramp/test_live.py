"""The live window, rendered for real offscreen (QT_QPA_PLATFORM=offscreen): it draws, events appear as the
replay finds them, closing mid-replay is clean and leaves the recording as it was, nothing is drawn while
hidden, and the ring buffer keeps exactly the newest samples."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # `make test` sets it too

from PySide6 import QtGui

from firmware_bridge.formats.native import band_streams
from firmware_bridge.journal import read_journal
from nightcramp import live

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("live") / "night.ncr"
    run = subprocess.run(
        [sys.executable, "-m", "nightcramp", "simulate", str(out), "--hours", "0.5", "--cramps", "1", "--seed", "4"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    return out


def streams_of(path: Path) -> list:
    journal = read_journal(path)
    return [s for info in journal.devices.values() for s in band_streams(info).infos]


def distinct_colours(png: Path) -> int:
    image = QtGui.QImage(str(png))
    assert not image.isNull()
    step = 7
    return len({image.pixel(x, y) for x in range(0, image.width(), step) for y in range(0, image.height(), step)})


def test_the_window_draws_and_shows_the_events_of_the_night(night: Path, tmp_path: Path) -> None:
    journal = read_journal(night)
    shot = tmp_path / "live.png"
    result, window = live.run_window(
        streams_of(night), lambda feed: live.replay_journal(journal, feed), speed=1e5, window_s=30.0,
        duration_s=10.0, screenshot=shot,
    )  # fmt: skip
    assert result is not None and window.finished  # the whole night was replayed within the 10 s
    found = {k: sum(e.kind == k for e in result.events) for k in ("cramp", "awakening")}
    assert found["cramp"] >= 1
    assert window.counts.get("cramp", 0) == found["cramp"]  # every cramp reached the window
    assert window.counts.get("awakening", 0) == found["awakening"]
    assert window.frames_drawn > 20
    assert shot.exists() and distinct_colours(shot) > 20  # a real picture, not a blank window
    assert "cramps: " + str(found["cramp"]) in window.counters.text()


def test_closing_mid_replay_stops_cleanly_and_leaves_the_recording_as_it_was(night: Path) -> None:
    before = hashlib.sha256(night.read_bytes()).hexdigest()
    journal = read_journal(night)
    result, window = live.run_window(
        streams_of(night), lambda feed: live.replay_journal(journal, feed), speed=2.0, window_s=10.0,
        duration_s=1.5, screenshot=None,
    )  # fmt: skip
    assert result is None and not window.finished  # closed before the end of the night
    assert window.feed.stop.is_set() and window.now_s() < 60
    assert hashlib.sha256(night.read_bytes()).hexdigest() == before


def test_nothing_is_drawn_while_hidden_and_the_ring_keeps_the_newest_samples(night: Path) -> None:
    from PySide6 import QtWidgets

    QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    feed = live.Feed(1.0)
    window = live.LiveWindow(streams_of(night), feed, window_s=2.0)
    name = next(iter(window.rings))
    fs = window.rings[name].fs
    n = window.rings[name].n
    data = np.arange(5 * n, dtype=np.float32)[np.newaxis, :]
    feed.post("samples", (name, 0, data[:, : 3 * n]))
    feed.post("samples", (name, 4 * n, data[:, 4 * n :]))  # a gap of n samples
    window.tick()
    assert window.frames_drawn == 0  # never shown: nothing drawn
    np.testing.assert_array_equal(window.rings[name].view()[0], data[0, 4 * n :])
    feed.post("samples", (name, 5 * n, data[:, : n // 2]))
    window.tick()
    view = window.rings[name].view()[0]
    assert np.array_equal(view[-(n // 2) :], data[0, : n // 2]) and window.now_s() == pytest.approx(5.5 * n / fs)
    window.close()


def test_record_view_shows_the_band_and_a_cramp_now_press_lands_in_the_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import argparse

    from PySide6 import QtCore, QtWidgets

    from nightcramp import bands

    from ..bluez_double import private_system_bus
    from .test_bands_cli import BandThread, band_frames

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    out, shot = tmp_path / "night.ncr", tmp_path / "record.png"
    args = argparse.Namespace(
        device=["band L"], leg=["left"], profile=None, out=out, duration=6.0, json=None, report=None,
        view=True, window=10.0, screenshot=shot,
    )  # fmt: skip
    windows: list = []

    def press() -> None:  # the "cramp now" button, pressed as a person would
        for w in app.topLevelWidgets():
            if hasattr(w, "marker_button") and w.isVisible():
                windows.append(w)
                w.marker_button.click()

    with private_system_bus() as address:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        with BandThread(address, band_frames(60), interval_s=0.02):
            QtCore.QTimer.singleShot(3500, press)
            code = bands.cmd_record(args)
    assert code == 0
    journal = read_journal(out)
    assert journal.complete
    markers = list(journal.markers())
    assert [m.fields.get("label") for m in markers] == ["cramp now"]
    assert 0 < markers[0].t_ns / 1e9 < 6.5
    window = windows[0]
    assert set(window.streams) == {"emg:left", "acc:left"} and window.frames_drawn > 10
    assert "streaming" in window.band_line.text() or "stopped" in window.band_line.text()
    assert shot.exists() and distinct_colours(shot) > 10


def test_a_cramp_now_key_in_a_replay_lands_in_the_sidecar_and_the_night(night: Path, tmp_path: Path, qtbot) -> None:
    """The C key during a replay: the marker is shown, counted, saved beside the recording at once, and the
    recording itself is left as it was."""
    import shutil

    from PySide6 import QtCore

    from nightcramp.sidecar import Sidecar, sidecar_path

    copy = tmp_path / night.name
    shutil.copy(night, copy)
    before = hashlib.sha256(copy.read_bytes()).hexdigest()
    journal = read_journal(copy)
    sidecar = Sidecar.load(copy)
    feed = live.Feed(20.0)
    window = live.LiveWindow(streams_of(copy), feed, window_s=10.0)
    qtbot.addWidget(window)
    window.show()
    result: list = []
    worker = __import__("threading").Thread(
        target=lambda: result.append(live.replay_journal(journal, feed, sidecar=sidecar)), daemon=True
    )
    worker.start()
    qtbot.waitUntil(lambda: window.now_s() > 30.0, timeout=20_000)
    qtbot.keyClick(window, QtCore.Qt.Key.Key_C)
    qtbot.waitUntil(lambda: sidecar_path(copy).exists(), timeout=5_000)
    qtbot.waitUntil(lambda: window.counts.get("marker", 0) == 1, timeout=5_000)
    assert "markers: 1" in window.counters.text()
    window.close()  # mid-replay
    worker.join(10)
    assert result == [None]  # stopped early
    saved = Sidecar.load(copy)
    assert [m["label"] for m in saved.markers] == ["cramp now"]
    assert 30.0 <= saved.markers[0]["t_s"] <= window.now_s() + 1.0
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == before


def test_the_replay_band_line_shows_the_link_and_the_battery(night: Path, qtbot) -> None:
    journal = read_journal(night)
    feed = live.Feed(1e5)
    window = live.LiveWindow(streams_of(night), feed, window_s=10.0)
    qtbot.addWidget(window)
    window.show()
    worker = __import__("threading").Thread(target=lambda: live.replay_journal(journal, feed), daemon=True)
    worker.start()
    qtbot.waitUntil(lambda: window.finished, timeout=60_000)
    worker.join(10)
    text = window.band_line.text()
    # the simulated bands report their charge as a real band's Battery Service does, running down
    levels = [e.fields["percent"] for e in journal.events() if e.kind == "battery" and e.device == 0]
    assert len(levels) >= 1 and levels == sorted(levels, reverse=True)
    assert "left: streaming" in text or "left: connected" in text
    assert f"battery {levels[-1]} %" in text and "samples/s" in text


def test_an_edf_night_plays_in_the_window(night: Path, tmp_path: Path) -> None:
    """``cramp replay NIGHT.edf --view``: an EDF+ file (the night exported by edfio) in the window."""
    edf = tmp_path / "night.edf"
    made = subprocess.run(
        [sys.executable, "-m", "nightcramp", "export", str(night), str(edf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    shot = tmp_path / "edf.png"
    run = subprocess.run(
        [sys.executable, "-m", "nightcramp", "replay", str(edf), "--view", "--speed", "400", "--duration", "8",
         "--screenshot", str(shot)],
        capture_output=True, text=True, check=False, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert shot.exists() and distinct_colours(shot) > 20
    assert "Saved the window" in run.stdout
