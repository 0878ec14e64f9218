"""``cramp review NIGHT``: step through the night's cramps, confirm or reject them, move their bounds, add
the ones the detector missed, and fill in the night's diary.

The window has the whole night at the top (each leg's EMG, or its movement without EMG, drawn from a
min/max :class:`~nightcramp.waveform.Pyramid`, so 8 h of 1-kHz EMG stays quick at any zoom) with every
cramp shaded, and below it the signals around the current episode: both legs' EMG and the leg's movement,
with the episode's bounds as a region that can be dragged. Clicking the night overview shows that moment
below, where a missed cramp can be added. Every action is saved at once in the review file beside the
recording (:mod:`nightcramp.sidecar`); the recording itself is never modified.

Keys (outside the diary's text fields): N / P next and previous episode, Y confirm, R reject (an added cramp
is removed), A add a cramp at the middle of the view below, U undo the review of this episode.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from firmware_bridge.formats import Recording
from nightcramp.live import close_after
from nightcramp.sidecar import TAGS, Sidecar, SidecarError
from nightcramp.text import clock, duration
from nightcramp.waveform import Pyramid, WaveformItem

MARGIN_S = 30.0  #: shown before and after an episode
ADD_S = 20.0  #: length of a newly added cramp, before its bounds are dragged
COLOURS = {  # Okabe-Ito
    None: "#D55E00",  # detected, not reviewed
    "confirmed": "#009E73",
    "rejected": "#999999",
    "added": "#0072B2",
}


class ClockAxis(pg.AxisItem):  # type: ignore[misc]
    """A time axis in clock time of the night (seconds from the start underneath)."""

    def __init__(self, start: str | None) -> None:
        super().__init__("bottom")
        self.start = start

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [clock(v, self.start)[: 8 if spacing < 60 else 5] if v >= 0 else "" for v in values]


@dataclass
class Episode:
    """A cramp in the review: detected (``event`` is the night-JSON event) or added (``added`` index)."""

    start_s: float
    end_s: float
    leg: str | None
    event: Mapping[str, Any] | None = None
    added: int | None = None


class ReviewWindow(QtWidgets.QWidget):
    """The review of one night."""

    def __init__(self, rec: Recording, events: Sequence[Mapping[str, Any]], sidecar: Sidecar, *, start: str | None):
        super().__init__()
        self.rec, self.sidecar, self.start = rec, sidecar, start
        self.detected = [e for e in events if e["kind"] == "cramp"]
        self.current: int | None = 0 if self.detected or sidecar.added else None
        self.view_s: tuple[float, float] = (0.0, min(rec.duration_s, 120.0))
        self.setWindowTitle(f"NightCramp - review {rec.path.name}")
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)
        pg.setConfigOptions(antialias=False, background="w", foreground="k")
        self._build()
        self._notes_timer = QtCore.QTimer(self)
        self._notes_timer.setSingleShot(True)
        self._notes_timer.timeout.connect(self._save_notes)
        self.refresh()
        self.setFocus()  # not a text field: single-letter keys act at once

    # -- episodes --------------------------------------------------------------------------------------
    def episodes(self) -> list[Episode]:
        out = [Episode(e["start_s"], e["end_s"], e.get("leg"), event=e) for e in self.detected]
        out += [Episode(a["start_s"], a["end_s"], a["leg"], added=i) for i, a in enumerate(self.sidecar.added)]
        out.sort(key=lambda ep: ep.start_s)
        return out

    def status_of(self, ep: Episode) -> str | None:
        if ep.added is not None:
            return "added"
        assert ep.event is not None
        r = self.sidecar.review_of(ep.event)
        return None if r is None else str(r["status"])

    def bounds_of(self, ep: Episode) -> tuple[float, float]:
        if ep.event is not None:
            r = self.sidecar.review_of(ep.event)
            if r is not None:
                return float(r["start_s"]), float(r["end_s"])
        return ep.start_s, ep.end_s

    # -- layout ----------------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QtWidgets.QVBoxLayout(self)
        self.title = QtWidgets.QLabel()
        font = QtGui.QFont()
        font.setPointSize(15)
        font.setBold(True)
        self.title.setFont(font)
        outer.addWidget(self.title)
        self.night = pg.GraphicsLayoutWidget()
        self.night.setMinimumHeight(170)
        outer.addWidget(self.night, 2)
        self.detail = pg.GraphicsLayoutWidget()
        outer.addWidget(self.detail, 5)
        row = QtWidgets.QHBoxLayout()
        self.buttons: dict[str, QtWidgets.QPushButton] = {}
        self._shortcuts: list[QtGui.QShortcut] = []
        for key, text, slot in (
            ("prev", "Previous (P)", self.previous),
            ("next", "Next (N)", self.next),
            ("confirm", "Confirm (Y)", self.confirm),
            ("reject", "Reject (R)", self.reject),
            ("undo", "Undo (U)", self.undo),
            ("add", "Add a missed cramp here (A)", self.add),
        ):
            b = QtWidgets.QPushButton(text)
            b.clicked.connect(slot)
            row.addWidget(b)
            self.buttons[key] = b
            shortcut = QtGui.QShortcut(QtGui.QKeySequence(text[-2]), self)
            shortcut.activated.connect(slot)
            self._shortcuts.append(shortcut)  # kept: a collected wrapper would drop the connection
        self.add_leg = QtWidgets.QComboBox()
        legs = sorted({s.info.leg for s in self.rec.signals if s.info.leg}, key=str) or ["left"]
        self.add_leg.addItems([str(leg) for leg in legs])
        self.add_leg.setToolTip("the leg of a cramp you add")
        row.addWidget(self.add_leg)
        outer.addLayout(row)
        self.status = QtWidgets.QLabel()
        outer.addWidget(self.status)
        outer.addWidget(self._diary())
        self._night_plots()
        self._detail_plots()

    def _diary(self) -> QtWidgets.QGroupBox:
        box = QtWidgets.QGroupBox("The night's diary")
        form = QtWidgets.QGridLayout(box)
        d = self.sidecar.diary
        self.severity = QtWidgets.QSpinBox()
        self.disturbance = QtWidgets.QSpinBox()
        for col, (label, spin, key, tip) in enumerate(
            (
                ("Cramp severity", self.severity, "severity", "0 = none, 10 = the worst you can imagine"),
                ("Sleep disturbance", self.disturbance, "disturbance", "0 = slept through, 10 = hardly slept"),
            )
        ):
            spin.setRange(-1, 10)
            spin.setSpecialValueText("not set")
            spin.setValue(-1 if d.get(key) is None else int(d[key]))
            spin.setToolTip(tip)
            spin.valueChanged.connect(lambda v, key=key: self._set_diary(**{key: None if v < 0 else int(v)}))
            form.addWidget(QtWidgets.QLabel(label), 0, 2 * col)
            form.addWidget(spin, 0, 2 * col + 1)
        self.tag_boxes: dict[str, QtWidgets.QCheckBox] = {}
        tags_row = QtWidgets.QHBoxLayout()
        for tag in TAGS:
            cb = QtWidgets.QCheckBox(tag)
            cb.setChecked(tag in d.get("tags", []))
            cb.toggled.connect(self._save_tags)
            tags_row.addWidget(cb)
            self.tag_boxes[tag] = cb
        self.other_tags = QtWidgets.QLineEdit(", ".join(t for t in d.get("tags", []) if t not in TAGS))
        self.other_tags.setPlaceholderText("other tags, comma-separated")
        self.other_tags.editingFinished.connect(self._save_tags)
        tags_row.addWidget(self.other_tags, 1)
        form.addWidget(QtWidgets.QLabel("Tonight"), 1, 0)
        form.addLayout(tags_row, 1, 1, 1, 3)
        self.notes = QtWidgets.QPlainTextEdit(d.get("notes", ""))
        self.notes.setPlaceholderText("notes: what you did before bed, how the cramps felt ...")
        self.notes.setMaximumHeight(70)
        self.notes.textChanged.connect(lambda: self._notes_timer.start(800))
        form.addWidget(QtWidgets.QLabel("Notes"), 2, 0)
        form.addWidget(self.notes, 2, 1, 1, 3)
        return box

    def _signals(self) -> list[tuple[str, str, str | None, Any]]:
        """(name, kind, leg, data) per signal, EMG first, left first; acceleration as magnitude."""
        out = []
        for s in sorted(self.rec.signals, key=lambda s: (s.info.kind != "emg", str(s.info.leg))):
            data = s.data if s.info.kind == "emg" else np.sqrt((s.data.astype(np.float32) ** 2).sum(axis=0))
            out.append((s.info.name, s.info.kind, s.info.leg, data))
        return out

    def _night_plots(self) -> None:
        self.night_plots: list[pg.PlotItem] = []
        self.night_shades: list[tuple[pg.PlotItem, pg.LinearRegionItem]] = []
        emg_legs = {s.info.leg for s in self.rec.signals if s.info.kind == "emg"}
        self._pyramids: dict[str, Pyramid] = {}
        for name, kind, leg, data in self._signals():
            if kind == "acc" and leg in emg_legs:
                continue  # the overview shows each leg once: its EMG, or its movement without EMG
            p = self.night.addPlot(row=len(self.night_plots), col=0, axisItems={"bottom": ClockAxis(self.start)})
            p.setLabel("left", f"{'EMG' if kind == 'emg' else 'ACC'} {(leg or '').upper()}")
            p.setMouseEnabled(x=True, y=False)
            p.hideButtons()
            fs = next(s.info.fs_hz for s in self.rec.signals if s.info.name == name)
            pyr = Pyramid(np.asarray(data, dtype=np.float32).reshape(-1))
            self._pyramids[name] = pyr
            item = WaveformItem("#555555" if kind == "emg" else "#009E73")
            item.setPyramid(pyr, 0.0, 1.0 / fs)
            p.addItem(item)
            p.setXRange(0, self.rec.duration_s, padding=0.002)
            finite = pyr.levels[-1][2][np.isfinite(pyr.levels[-1][2])]
            if kind == "emg" and finite.size:
                top = float(np.percentile(finite, 99))
                p.setYRange(-top, top, padding=0.05)
            p.scene().sigMouseClicked.connect(self._night_clicked)
            self.night_plots.append(p)
        for p in self.night_plots[1:]:
            p.setXLink(self.night_plots[0])
        if self.night_plots:
            self.night_plots[-1].setLabel("bottom", "the night (click to look there)")
        self.here: list[pg.LinearRegionItem] = []  # what the view below shows
        for p in self.night_plots:
            here = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(0, 0, 0, 25), pen=pg.mkPen("#000"))
            p.addItem(here)
            self.here.append(here)

    def _detail_plots(self) -> None:
        self.detail_plots: list[tuple[pg.PlotItem, WaveformItem, str, Any, float]] = []
        for name, kind, leg, data in self._signals():
            p = self.detail.addPlot(row=len(self.detail_plots), col=0, axisItems={"bottom": ClockAxis(self.start)})
            p.setLabel(
                "left",
                f"{'EMG' if kind == 'emg' else 'ACC'} {(leg or '').upper()}",
                units="V" if kind == "emg" else "g",
            )
            if kind == "emg":
                p.getAxis("left").setScale(1e-6)
            p.setMouseEnabled(x=False, y=False)
            p.hideButtons()
            item = WaveformItem("#555555" if kind == "emg" else "#009E73")
            p.addItem(item)
            fs = next(s.info.fs_hz for s in self.rec.signals if s.info.name == name)
            self.detail_plots.append((p, item, kind, data, fs))
        for p, *_ in self.detail_plots[1:]:
            p.setXLink(self.detail_plots[0][0])
        if self.detail_plots:
            self.detail_plots[-1][0].setLabel("bottom", "clock time")
        self.regions: list[pg.LinearRegionItem] = []  # the episode's bounds, on every plot, dragged together
        for p, *_ in self.detail_plots:
            region = pg.LinearRegionItem(brush=pg.mkBrush(213, 94, 0, 50))
            region.setZValue(10)
            region.sigRegionChanged.connect(self._region_dragged)
            region.sigRegionChangeFinished.connect(self._region_moved)
            p.addItem(region)
            self.regions.append(region)

    # -- showing ---------------------------------------------------------------------------------------
    def refresh(self) -> None:
        eps = self.episodes()
        if self.current is not None and eps:
            self.current = max(0, min(self.current, len(eps) - 1))
            ep = eps[self.current]
            a, b = self.bounds_of(ep)
            self.view_s = (max(0.0, a - MARGIN_S), min(self.rec.duration_s, b + MARGIN_S))
        else:
            self.current = None
        self._draw_detail()
        self._draw_night(eps)
        self._draw_text(eps)

    def _draw_detail(self) -> None:
        t0, t1 = self.view_s
        for p, item, kind, data, fs in self.detail_plots:
            i0, i1 = max(0, int(t0 * fs)), min(data.shape[-1], math.ceil(t1 * fs))
            piece = np.asarray(data[i0:i1], dtype=np.float32)
            item.setData(piece, i0 / fs, 1.0 / fs)
            finite = piece[np.isfinite(piece)]
            if finite.size:
                if kind == "emg":
                    top = float(np.percentile(np.abs(finite), 99.5)) or 1.0
                    p.setYRange(-top, top, padding=0.05)
                else:
                    lo, hi = float(finite.min()), float(finite.max())
                    p.setYRange(lo, hi + 1e-3, padding=0.1)
        if self.detail_plots:
            self.detail_plots[0][0].setXRange(t0, t1, padding=0)
        eps = self.episodes()
        if self.current is not None:
            a, b = self.bounds_of(eps[self.current])
            colour = QtGui.QColor(COLOURS[self.status_of(eps[self.current])])
            colour.setAlpha(60)
            for region in self.regions:
                region.blockSignals(True)
                region.setRegion((a, b))
                region.blockSignals(False)
                region.setBrush(pg.mkBrush(colour))
        for region in self.regions:
            region.setVisible(self.current is not None)

    def _draw_night(self, eps: list[Episode]) -> None:
        for p, item in self.night_shades:
            p.removeItem(item)
        self.night_shades = []
        for ep in eps:
            colour = QtGui.QColor(COLOURS[self.status_of(ep)])
            colour.setAlpha(140)
            a, b = self.bounds_of(ep)
            for p in self.night_plots:
                item = pg.LinearRegionItem(
                    (a, max(b, a + 5)), movable=False, brush=pg.mkBrush(colour), pen=pg.mkPen(None)
                )
                item.setZValue(-5)
                p.addItem(item)
                self.night_shades.append((p, item))
        for here in self.here:
            here.setRegion(self.view_s)

    def _draw_text(self, eps: list[Episode]) -> None:
        n_det = len(self.detected)
        reviewed = sum(1 for ep in eps if ep.event is not None and self.status_of(ep) is not None)
        self.title.setText(
            f"{self.rec.path.name}: {n_det} cramp{'s' if n_det != 1 else ''} detected, {reviewed} reviewed, "
            f"{len(self.sidecar.added)} added"
        )
        if self.current is None:
            t0, t1 = self.view_s
            self.status.setText(
                f"Showing {clock(t0, self.start)} to {clock(t1, self.start)}"
                + ("" if eps else " - no cramp to review; click the night above to look around, A adds one")
            )
        else:
            ep = eps[self.current]
            a, b = self.bounds_of(ep)
            status = {
                None: "not reviewed yet",
                "confirmed": "confirmed",
                "rejected": "rejected",
                "added": "added by you",
            }
            self.status.setText(
                f"Cramp {self.current + 1} of {len(eps)}: {ep.leg or 'leg unknown'} calf, {clock(a, self.start)}, "
                f"{duration(b - a)} - {status[self.status_of(ep)]}. Drag the shaded bounds to correct them."
            )
        has = self.current is not None
        self.buttons["prev"].setEnabled(has and (self.current or 0) > 0)
        self.buttons["next"].setEnabled(has and (self.current or 0) < len(eps) - 1)
        for key in ("confirm", "reject", "undo"):
            self.buttons[key].setEnabled(has)

    # -- actions ---------------------------------------------------------------------------------------
    def _episode(self) -> Episode | None:
        eps = self.episodes()
        return eps[self.current] if self.current is not None and eps else None

    def _saving(self, action: Any) -> None:
        try:
            action()
        except SidecarError as exc:
            QtWidgets.QMessageBox.warning(self, "Cannot save the review", str(exc))

    def next(self) -> None:
        if self.current is not None and self.current < len(self.episodes()) - 1:
            self.current += 1
            self.refresh()

    def previous(self) -> None:
        if self.current is not None and self.current > 0:
            self.current -= 1
            self.refresh()

    def confirm(self) -> None:
        ep = self._episode()
        if ep is not None and ep.event is not None:
            a, b = self.bounds_of(ep)
            self._saving(lambda: self.sidecar.set_review(ep.event, "confirmed", start_s=a, end_s=b))
            self.refresh()

    def reject(self) -> None:
        ep = self._episode()
        if ep is None:
            return
        if ep.added is not None:
            self._saving(lambda: self.sidecar.remove_added(ep.added))
        elif ep.event is not None:
            self._saving(lambda: self.sidecar.set_review(ep.event, "rejected"))
        self.refresh()

    def undo(self) -> None:
        ep = self._episode()
        if ep is not None and ep.event is not None:
            self._saving(lambda: self.sidecar.clear_review(ep.event))
            self.refresh()

    def add(self) -> None:
        t0, t1 = self.view_s
        mid = (t0 + t1) / 2
        a, b = max(0.0, mid - ADD_S / 2), min(self.rec.duration_s, mid + ADD_S / 2)
        self._saving(lambda: self.sidecar.add_cramp(a, b, self.add_leg.currentText() or None))
        eps = self.episodes()
        self.current = next(i for i, ep in enumerate(eps) if ep.added is not None and ep.start_s == round(a, 3))
        self.refresh()

    def _region_dragged(self, moved: pg.LinearRegionItem) -> None:
        """Keep the bounds on every plot together while one is dragged."""
        for region in self.regions:
            if region is not moved:
                region.blockSignals(True)
                region.setRegion(moved.getRegion())
                region.blockSignals(False)

    def _region_moved(self, moved: pg.LinearRegionItem) -> None:
        ep = self._episode()
        if ep is None:
            return
        a, b = (float(v) for v in moved.getRegion())
        if not b > a:
            return
        index = ep.added
        if index is not None:

            def move() -> None:
                self.sidecar.added[index] = {"start_s": round(a, 3), "end_s": round(b, 3), "leg": ep.leg}
                self.sidecar.save()

            self._saving(move)
        elif ep.event is not None:  # moving the bounds of a detected cramp confirms it with those bounds
            self._saving(lambda: self.sidecar.set_review(ep.event, "confirmed", start_s=a, end_s=b))
        self._draw_night(self.episodes())
        self._draw_text(self.episodes())

    def _night_clicked(self, event: Any) -> None:
        if not self.night_plots:
            return
        vb = self.night_plots[0].vb
        t = float(vb.mapSceneToView(event.scenePos()).x())
        if not 0 <= t <= self.rec.duration_s:
            return
        self.show_time(t)

    def show_time(self, t: float, span_s: float = 120.0) -> None:
        """Look at the night around ``t`` (not tied to an episode: a missed cramp can be added there)."""
        a = max(0.0, min(t - span_s / 2, self.rec.duration_s - span_s))
        self.current = None
        self.view_s = (a, min(self.rec.duration_s, a + span_s))
        self._draw_detail()
        eps = self.episodes()
        self._draw_night(eps)
        self._draw_text(eps)

    def _set_diary(self, **fields: Any) -> None:
        self._saving(lambda: self.sidecar.set_diary(**fields))

    def _save_tags(self) -> None:
        tags = [t for t, cb in self.tag_boxes.items() if cb.isChecked()]
        tags += [t.strip() for t in self.other_tags.text().split(",") if t.strip() and t.strip() not in tags]
        if tags != self.sidecar.diary.get("tags", []):
            self._set_diary(tags=tags)

    def _save_notes(self) -> None:
        text = self.notes.toPlainText()
        if text != self.sidecar.diary.get("notes", ""):
            self._set_diary(notes=text)

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self._notes_timer.stop()
        self._save_notes()
        self._save_tags()
        super().closeEvent(event)


def run_review(
    rec: Recording,
    events: Sequence[Mapping[str, Any]],
    sidecar: Sidecar,
    *,
    start: str | None,
    duration_s: float | None = None,
    screenshot: Path | None = None,
    size: tuple[int, int] = (1280, 900),
) -> ReviewWindow:
    """Show the review window until it is closed (or for ``duration_s``, saving ``screenshot`` first)."""
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    window = ReviewWindow(rec, events, sidecar, start=start)
    window.resize(*size)

    close_after(window, duration_s, screenshot)
    window.show()
    app.exec()
    return window
