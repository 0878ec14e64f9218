"""``cramp review`` driven as a person would (pytest-qt, offscreen): confirm, reject, move the bounds, add a
missed cramp, fill the diary; everything persists in the review file and reloads; the report then uses the
reviewed cramps and shows how the detector and the review agree. And the whole-night overview's min/max
pyramid against every sample."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6 import QtCore, QtWidgets

from firmware_bridge.formats.native import journal_recording
from firmware_bridge.journal import read_journal
from nightcramp.sidecar import Sidecar
from nightcramp.waveform import Pyramid, pyramid_ranges

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    d = tmp_path_factory.mktemp("review")
    rec = d / "night.ncr"
    run = subprocess.run(
        [sys.executable, "-m", "nightcramp", "simulate", str(rec), "--hours", "1.0", "--cramps", "3", "--seed", "21"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    run = subprocess.run(
        [sys.executable, "-m", "nightcramp", "analyze", str(rec), "--json", str(d / "night.json")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    events = json.loads((d / "night.json").read_text())["events"]
    assert sum(e["kind"] == "cramp" for e in events) >= 3
    return rec, events


def open_window(rec: Path, events: list[dict], qtbot):  # type: ignore[no-untyped-def]
    from nightcramp.review import ReviewWindow

    window = ReviewWindow(journal_recording(read_journal(rec)), events, Sidecar.load(rec), start=None)
    qtbot.addWidget(window)
    window.resize(1280, 900)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()  # keys go to the active window, as when a person clicks into it
    qtbot.waitUntil(lambda: QtWidgets.QApplication.activeWindow() is window)
    return window


def test_review_actions_persist_and_reload(night: tuple[Path, list[dict]], tmp_path: Path, qtbot) -> None:
    src, events = night
    rec = tmp_path / src.name
    shutil.copy(src, rec)
    before = rec.read_bytes()
    cramps = [e for e in events if e["kind"] == "cramp"]
    w = open_window(rec, events, qtbot)
    assert "Cramp 1 of" in w.status.text() and "not reviewed yet" in w.status.text()
    qtbot.keyClick(w, QtCore.Qt.Key.Key_Y)  # confirm the first
    assert "confirmed" in w.status.text()
    qtbot.keyClick(w, QtCore.Qt.Key.Key_N)
    w.buttons["reject"].click()  # reject the second
    qtbot.keyClick(w, QtCore.Qt.Key.Key_N)
    a, b = cramps[2]["start_s"], cramps[2]["end_s"]
    w.regions[1].setRegion((a - 3.0, b + 4.0))  # drag the third one's bounds (on the second plot)
    w.regions[1].sigRegionChangeFinished.emit(w.regions[1])
    assert w.regions[0].getRegion() == pytest.approx((a - 3.0, b + 4.0))  # every plot follows
    # look at a quiet moment of the night, then add a cramp the detector missed there, on the right leg
    quiet = next(t for t in np.arange(300.0, 3300.0, 60.0) if all(abs(t - c["start_s"]) > 200 for c in cramps))
    w.show_time(quiet)
    assert "Showing" in w.status.text()
    w.add_leg.setCurrentText("right")
    qtbot.keyClick(w, QtCore.Qt.Key.Key_A)
    assert "added by you" in w.status.text()
    # the diary
    w.severity.setValue(7)
    w.disturbance.setValue(4)
    w.tag_boxes["magnesium"].click()
    w.other_tags.setText("late dinner")
    w.other_tags.editingFinished.emit()
    qtbot.keyClicks(w.notes, "woke at 3 with the right calf <hard>")
    w.close()  # notes are saved at the latest on closing

    side = Sidecar.load(rec)
    status = [(r["detected"]["start_s"], r["status"]) for r in side.episodes]
    assert sorted(status) == [(cramps[0]["start_s"], "confirmed"), (cramps[1]["start_s"], "rejected"),
                              (cramps[2]["start_s"], "confirmed")]  # fmt: skip
    third = side.review_of(cramps[2])
    assert third is not None and (third["start_s"], third["end_s"]) == pytest.approx((a - 3.0, b + 4.0), abs=1e-3)
    (added,) = side.added
    assert added["leg"] == "right" and added["start_s"] < quiet < added["end_s"]
    assert side.diary == {
        "severity": 7, "disturbance": 4, "tags": ["magnesium", "late dinner"],
        "notes": "woke at 3 with the right calf <hard>",
    }  # fmt: skip
    assert rec.read_bytes() == before  # the recording itself is untouched

    again = open_window(rec, events, qtbot)  # reopened: the review is where it was left
    seen = []
    for _ in range(len(cramps) + 1):
        seen.append(again.status.text().split(" - ")[1].split(".")[0])
        qtbot.keyClick(again, QtCore.Qt.Key.Key_N)
    assert sorted(seen) == sorted(["confirmed", "rejected", "confirmed", "added by you"]
                                  + ["not reviewed yet"] * (len(cramps) - 3))  # fmt: skip
    assert again.severity.value() == 7
    assert again.tag_boxes["magnesium"].isChecked() and again.other_tags.text() == "late dinner"
    again.close()

    # the report uses the review: the rejected cramp is gone, the added one is in, agreement is shown
    out = subprocess.run(
        [sys.executable, "-m", "nightcramp", "report", str(rec), "--json", str(tmp_path / "r.json")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads((tmp_path / "r.json").read_text())
    ag = doc["review"]["agreement"]
    n = len(cramps)
    assert (ag["confirmed"], ag["rejected"], ag["adjusted"], ag["added"], ag["unreviewed"]) == (2, 1, 1, 1, n - 3)
    assert ag["precision"] == pytest.approx(2 / 3, abs=1e-3) and ag["recall"] == pytest.approx(2 / 3, abs=1e-3)
    assert len(doc["review"]["cramps"]) == n - 1 + 1
    page = (tmp_path / "night.report.html").read_text()
    assert "Your review" in page and "cramps after your review" in page
    assert "&lt;hard&gt;" in page and "<hard>" not in page  # the notes are escaped


def test_review_command_opens_and_closes_offscreen(night: tuple[Path, list[dict]], tmp_path: Path) -> None:
    src, _ = night
    rec = tmp_path / src.name
    shutil.copy(src, rec)
    shot = tmp_path / "review.png"
    run = subprocess.run(
        [sys.executable, "-m", "nightcramp", "review", str(rec), "--duration", "3", "--screenshot", str(shot)],
        capture_output=True, text=True, check=False, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert shot.exists() and shot.stat().st_size > 20_000
    assert "Nothing was reviewed" in run.stdout and not (tmp_path / (src.name + ".review.json")).exists()


def test_the_overview_pyramid_covers_what_every_sample_covers() -> None:
    """Column ranges from the pyramid against every sample: within two blocks of each column's edges."""
    rng = np.random.default_rng(3)
    n = 3_000_000
    y = rng.normal(0.0, 1.0, n).astype(np.float32)
    y[1_000_000:1_000_500] *= 8  # a short burst must keep its height at any zoom
    y[2_000_000:2_100_000] = np.nan
    pyr = Pyramid(y)
    assert len(pyr.levels) == 3 and pyr.levels[-1][1].size == 3_000_000 // 256  # 16 and 256 samples a block
    columns, dx = 900, 1.0
    px = n / columns
    lo, hi = pyramid_ranges(pyr, 0.0, dx, 0.0, px, columns)
    step = pyr.level_for(px)[0]
    assert 1 < step <= px / 2
    for c in range(columns):
        a, b = int(np.ceil(c * px)), int(np.ceil((c + 1) * px))
        outer = y[max(0, a - 2 * step) : b + 2 * step]  # a block straddling an edge, and the next one
        inner = y[a + step : max(a + step, b - step)]
        if np.isnan(outer).all():
            assert np.isnan(lo[c]) and np.isnan(hi[c])
            continue
        if np.isfinite(lo[c]):  # nothing drawn that is not within two blocks of the column
            assert np.nanmin(outer) <= lo[c] + 1e-6 and hi[c] <= np.nanmax(outer) + 1e-6
        if inner.size and not np.isnan(inner).all():  # everything in the column is drawn (the burst too)
            assert lo[c] <= np.nanmin(inner) + 1e-6 and hi[c] >= np.nanmax(inner) - 1e-6
