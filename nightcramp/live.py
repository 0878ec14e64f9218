"""The live window (pyqtgraph): watch a night as it is replayed.

Per leg, the last ``window_s`` seconds of the EMG (raw in grey, its 100-ms RMS envelope, and the detector's
current activity threshold as a dashed line) and of the accelerometer (magnitude in g); events shaded the
moment they are found (a "possible cramp" notice in red while it lasts); a large state line (CRAMP - LEFT,
out of bed, asleep, awake); tonight's counters; the replay speed, which can be changed while it runs.

The night runs in a worker thread (decoding and the detector) that posts what it places and finds to a
queue; the window drains the queue on a 30-Hz timer and draws from fixed ring buffers (each sample written
twice, so the newest window is one contiguous slice). Dense signals (raw EMG, acceleration) are drawn per
pixel column by :class:`nightcramp.waveform.WaveformItem`, so bursts keep their height at a fraction of
the cost of stroking every sample; drawing stops while the window is hidden. Closing the window stops the
replay cleanly; the recording itself is only ever read.
"""

from __future__ import annotations

import asyncio
import math
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from detector.events import Event
from detector.night import NightDetector, Notice, StreamInfo
from firmware_bridge.formats import Recording
from firmware_bridge.journal import DeviceInfo, Journal, JournalEvent
from firmware_bridge.sources import Packet, ReplaySource
from nightcramp.session import NightResult, NightSession, replay_recording
from nightcramp.sidecar import Sidecar, SidecarError
from nightcramp.waveform import WaveformItem

#: Okabe-Ito colours (safe for colour-blind readers), one per event kind
COLOURS = {
    "cramp": "#D55E00",
    "awakening": "#0072B2",
    "out_of_bed": "#009E73",
    "limb_movement": "#E69F00",
    "large_movement": "#CC79A7",
    "plm_series": "#F0E442",
    "artifact": "#999999",
    "signal_gap": "#000000",
    "marker": "#56B4E9",
}
ASLEEP_AFTER_S = 300.0  #: still this long: shown as asleep (van Hees' sustained inactivity)


def _envelope(y: npt.NDArray[np.float32], fs: float) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float32]]:
    """RMS of each 100-ms slice of ``y`` (the newest sample last) and the times of the slices' ends, in
    seconds from the first sample; NaN where a slice has no sample, missing samples left out."""
    step = max(1, round(fs / 10))
    m = (y.size // step) * step
    frames = y[y.size - m :].reshape(-1, step)
    sq = np.einsum("ij,ij->i", frames, frames)
    missing = np.flatnonzero(~np.isfinite(sq))  # rare: slices with gaps
    with np.errstate(invalid="ignore", divide="ignore"):
        env = np.sqrt(sq / step)
        if missing.size:
            part = frames[missing]
            ok = np.isfinite(part)
            env[missing] = np.sqrt(np.where(ok, part * part, 0.0).sum(axis=1) / ok.sum(axis=1))
    x = (y.size - m + step * np.arange(1, env.size + 1)) / fs
    return x, env


class Feed:
    """What the worker thread hands the window; thread-safe."""

    def __init__(self, speed: float) -> None:
        self.queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self.markers: queue.SimpleQueue[str] = queue.SimpleQueue()  #: labels the window asks to record
        self.speed = speed  #: times real time; the window may change it while the night runs
        self.stop = threading.Event()

    def post(self, kind: str, payload: Any) -> None:
        self.queue.put((kind, payload))


class Ring:
    """The newest ``window_s`` seconds of one stream; gaps stay NaN."""

    def __init__(self, n_channels: int, fs: float, window_s: float) -> None:
        self.fs = fs
        self.n = max(2, round(window_s * fs))
        self.buf = np.full((n_channels, 2 * self.n), np.nan, dtype=np.float32)
        self.end = 0  # sample index after the newest written

    def write(self, start: int, data: npt.NDArray[np.floating[Any]]) -> None:
        if start + data.shape[1] <= self.end - self.n:
            return  # already out of view
        if start > self.end:  # a gap: the samples in between are missing
            self._fill(self.end, min(start - self.end, self.n), None)
        skip = max(0, self.end - self.n - start)
        self._fill(start + skip, data.shape[1] - skip, data[:, skip:])
        self.end = max(self.end, start + data.shape[1])

    def _fill(self, start: int, n: int, data: npt.NDArray[np.floating[Any]] | None) -> None:
        done = 0
        while done < n:
            i = (start + done) % self.n
            k = min(n - done, self.n - i)
            piece = np.nan if data is None else data[:, done : done + k]
            self.buf[:, i : i + k] = piece
            self.buf[:, i + self.n : i + self.n + k] = piece
            done += k

    def view(self) -> npt.NDArray[np.float32]:
        """Samples ``end - n .. end``, oldest first."""
        i = self.end % self.n
        return self.buf[:, i : i + self.n]


@dataclass
class _Shade:
    start_s: float
    end_s: float | None  # None: still going on
    kind: str
    leg: str | None
    notice: bool = False  #: a possible cramp, not yet classified
    items: list[tuple[pg.PlotItem, pg.LinearRegionItem]] = field(default_factory=list)


class LiveWindow(QtWidgets.QWidget):
    """The window; ``feed`` is drained on a timer."""

    def __init__(
        self,
        streams: list[StreamInfo],
        feed: Feed,
        *,
        window_s: float = 30.0,
        fps: float = 30.0,
        start_unix_s: float | None = None,
    ) -> None:
        super().__init__()
        self.start_unix_s = start_unix_s
        self.setWindowTitle("NightCramp - live")
        self.feed, self.window_s = feed, window_s
        self.streams: dict[str, StreamInfo] = {}
        self.rings: dict[str, Ring] = {}
        self.counts: dict[str, int] = {}
        self.shades: list[_Shade] = []
        self.status: dict[str, Any] = {}
        self.bands: dict[int, dict[str, Any]] = {}
        self._ranged = 0.0
        self._ranged_at_s = 0.0  #: data time of the last fit
        self._state_shown = ("", "")
        self.finished = False
        self.frames_drawn = 0
        self._build()
        self.add_streams(streams)
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.tick)
        self.timer.start(int(1000 / fps))

    # -- layout --------------------------------------------------------------------------------------
    def _build(self) -> None:
        outer = QtWidgets.QVBoxLayout(self)
        self.state = QtWidgets.QLabel("waiting for data")
        font = QtGui.QFont()
        font.setPointSize(22)
        font.setBold(True)
        self.state.setFont(font)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(self.state, 1)
        top.addWidget(QtWidgets.QLabel("speed x"))
        self.speed = QtWidgets.QDoubleSpinBox()
        self.speed.setRange(0.1, 10000.0)
        self.speed.setDecimals(1)
        self.speed.setValue(self.feed.speed if math.isfinite(self.feed.speed) else 10000.0)
        self.speed.valueChanged.connect(lambda v: setattr(self.feed, "speed", float(v)))
        top.addWidget(self.speed)
        outer.addLayout(top)
        self.counters = QtWidgets.QLabel("")
        outer.addWidget(self.counters)
        self.marker_button = QtWidgets.QPushButton("Cramp now (C)")
        self.marker_button.setToolTip("Mark this moment in the recording")
        self.marker_button.clicked.connect(self.mark)
        self.marker_key = QtGui.QShortcut(QtGui.QKeySequence("C"), self)
        self.marker_key.activated.connect(self.mark)
        bottom = QtWidgets.QHBoxLayout()
        self.band_line = QtWidgets.QLabel("")
        bottom.addWidget(self.band_line, 1)
        bottom.addWidget(self.marker_button)
        pg.setConfigOptions(antialias=False, background="w", foreground="k")
        self.plots = pg.GraphicsLayoutWidget()
        outer.addWidget(self.plots, 1)
        outer.addLayout(bottom)
        self.curves: dict[str, list[pg.PlotDataItem]] = {}
        self.thresholds: dict[str, pg.InfiniteLine] = {}
        self.leg_plots: dict[str | None, list[pg.PlotItem]] = {}
        self.plot_of: dict[str, pg.PlotItem] = {}  #: stream name -> its plot
        self._posture: dict[str, str] = {}  #: posture shown on each accelerometer plot

    def add_streams(self, streams: list[StreamInfo]) -> None:
        """Plots for streams not shown yet (a live band's streams are known once it has connected)."""
        new = [s for s in streams if s.name not in self.streams]
        if not new:
            return
        for s in new:
            self.streams[s.name] = s
            self.rings[s.name] = Ring(s.n_channels, s.fs_hz, self.window_s)
        self.plots.clear()
        self.curves, self.thresholds, self.leg_plots = {}, {}, {}
        self.plot_of, self._posture = {}, {}
        for shade in self.shades:
            shade.items = []
        legs = sorted({s.leg for s in self.streams.values()}, key=lambda leg: (leg is None, leg or ""))
        row = 0
        for leg in legs:
            for s in sorted((s for s in self.streams.values() if s.leg == leg), key=lambda s: s.kind != "emg"):
                p = self.plots.addPlot(row=row, col=0)
                row += 1
                side = (leg or "band").upper()
                p.setLabel(
                    "left", f"{'EMG' if s.kind == 'emg' else 'ACC'} {side}", units="V" if s.kind == "emg" else "g"
                )
                p.setXRange(-self.window_s, 0, padding=0.005)  # a few pixels free at both ends (see WaveformItem)
                for side_name in ("left", "bottom"):  # ticks outside the plot: the axes are not redrawn each frame
                    p.getAxis(side_name).setStyle(tickLength=5)
                p.enableAutoRange(x=False, y=False)
                # no downsampling or clipping by pyqtgraph: what is drawn is already reduced to the screen
                p.setDownsampling(auto=False)
                p.setClipToView(False)
                if s.kind == "emg":
                    p.getAxis("left").setScale(1e-6)  # µV shown in volts with an SI prefix
                    raw = WaveformItem("#9a9a9a")
                    p.addItem(raw)
                    env = p.plot(pen=pg.mkPen("#0072B2", width=1))
                    line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#D55E00", width=1, style=QtCore.Qt.PenStyle.DashLine))
                    p.addItem(line)
                    self.thresholds[s.name] = line
                    self.curves[s.name] = [raw, env]
                else:
                    mag = WaveformItem("#000000")
                    p.addItem(mag)
                    self.curves[s.name] = [mag]
                self.leg_plots.setdefault(leg, []).append(p)
                self.plot_of[s.name] = p
        self.plots.getItem(row - 1, 0).setLabel("bottom", "seconds before now")

    def mark(self) -> None:
        """The "cramp now" button or key: a marker in the recording, shown at once."""
        self.feed.markers.put("cramp now")
        now = self.now_s()
        self.shades.append(_Shade(now, now + 0.5, "marker", None))  # counted when the recording has it

    # -- data ------------------------------------------------------------------------------------------
    def tick(self) -> None:
        self._drain()
        if self.isVisible():  # nothing is drawn while the window is hidden
            self.draw()

    def _drain(self, limit: int = 20000) -> None:
        for _ in range(limit):
            try:
                kind, payload = self.feed.queue.get_nowait()
            except queue.Empty:
                return
            if kind == "samples":
                name, start, data = payload
                if name in self.rings:
                    self.rings[name].write(start, data)
            elif kind == "event":
                self._event(payload)
            elif kind == "notice":
                n: Notice = payload
                self.shades.append(_Shade(n.since_s, None, "cramp", n.leg, notice=True))
            elif kind == "status":
                self.status = payload
                contracting = payload.get("contracting", {})
                for shade in self.shades:  # a possible cramp's shading ends when its contraction does
                    if shade.end_s is None and not contracting.get(shade.leg, False):
                        shade.end_s = float(payload.get("t_s", self.now_s()))
            elif kind == "streams":
                self.add_streams(payload)
            elif kind == "bands":
                self.bands = payload
            elif kind == "start":
                self.start_unix_s = payload
            elif kind == "live":  # a live recording: real time only
                self.speed.setEnabled(False)
                self.speed.setToolTip("recording live: always real time")
            elif kind == "done":
                self.finished = True

    def _event(self, e: Event) -> None:
        self.counts[e.kind] = self.counts.get(e.kind, 0) + 1
        if e.kind == "cramp":  # the notice's shading gives way to the cramp's own bounds
            for shade in [s for s in self.shades if s.notice and s.leg == e.leg and s.start_s <= e.end_s]:
                self._drop(shade)
                self.shades.remove(shade)
        if e.kind in COLOURS and e.kind != "marker":  # markers are shown when pressed
            self.shades.append(_Shade(e.start_s, e.end_s, e.kind, e.leg))

    def _drop(self, shade: _Shade) -> None:
        for plot, item in shade.items:
            plot.removeItem(item)
        shade.items = []

    def now_s(self) -> float:
        return max((r.end / r.fs for r in self.rings.values()), default=0.0)

    # -- drawing ---------------------------------------------------------------------------------------
    def draw(self) -> None:
        now = self.now_s()
        for name, ring in self.rings.items():
            y = ring.view()
            curves = self.curves[name]
            x0, dx = -ring.n / ring.fs, 1.0 / ring.fs
            if self.streams[name].kind == "emg":
                curves[0].setData(y[0], x0, dx)
                x, env = _envelope(y[0], ring.fs)
                curves[1].setData(x0 + x, env, connect="finite", skipFiniteCheck=True)
                level = self.status.get("levels", {}).get(name)
                self.thresholds[name].setVisible(level is not None)
                if level is not None:
                    self.thresholds[name].setValue(level[1])
            else:
                curves[0].setData(np.sqrt((y * y).sum(axis=0)), x0, dx)
        for name, posture in self.status.get("posture", {}).items():  # the shank's posture, on change only
            if name in self.plot_of and self._posture.get(name) != posture:
                self._posture[name] = posture
                leg = (self.streams[name].leg or "band").upper()
                self.plot_of[name].setLabel("left", f"ACC {leg} - {posture}", units="g")
        self._draw_shades(now)
        self._draw_text(now)
        # y ranges follow the data once a second, or sooner when a fast replay has moved the view on
        if time.monotonic() - self._ranged > 1.0 or abs(now - self._ranged_at_s) > self.window_s / 10:
            self._set_ranges()
            self._ranged_at_s = now
        self.frames_drawn += 1

    def _set_ranges(self) -> None:
        """Fit each plot's y range to what it shows, at most once a second (fixed between: cheaper axes)."""
        self._ranged = time.monotonic()
        for name, ring in self.rings.items():
            y = ring.view()
            if self.streams[name].kind == "acc":
                y = np.sqrt((y.astype(np.float64) ** 2).sum(axis=0, keepdims=True))
            finite = y[np.isfinite(y)]
            if not finite.size or name not in self.curves:
                continue
            lo, hi = float(finite.min()), float(finite.max())
            pad = 0.05 * (hi - lo) or 1.0
            plot = self.curves[name][0].getViewBox()
            if plot is not None:
                plot.setYRange(lo - pad, hi + pad, padding=0)

    def _draw_shades(self, now: float) -> None:
        keep = []
        for shade in self.shades:
            end = now if shade.end_s is None else shade.end_s
            if end < now - self.window_s:
                self._drop(shade)
                continue
            keep.append(shade)
            if not shade.items:
                plots = self.leg_plots.get(shade.leg) if shade.leg is not None else None
                targets = plots or [p for ps in self.leg_plots.values() for p in ps]
                colour = QtGui.QColor(COLOURS.get(shade.kind, "#999999"))
                colour.setAlpha(70 if shade.end_s is not None else 110)
                for p in targets:
                    item = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(colour), pen=pg.mkPen(None))
                    item.setZValue(-10)
                    p.addItem(item)
                    shade.items.append((p, item))
            for _, item in shade.items:
                item.setRegion((shade.start_s - now, end - now))
        self.shades = keep

    def _draw_text(self, now: float) -> None:
        open_cramps = [s.leg for s in self.shades if s.kind == "cramp" and s.end_s is None]  # contracting now
        status = self.status
        if open_cramps:
            text, colour = "CRAMP - " + " + ".join(sorted((leg or "?").upper() for leg in open_cramps)), "#D55E00"
        elif status.get("upright"):
            text, colour = "out of bed", "#009E73"
        elif status.get("still_s") is not None:
            asleep = status["still_s"] >= ASLEEP_AFTER_S
            text, colour = ("asleep", "#0072B2") if asleep else ("awake", "#333333")
        else:
            text, colour = ("listening" if not self.finished else "night replayed"), "#333333"
        if (text, colour) != self._state_shown:  # a style sheet change re-polishes the label: only on change
            self.state.setText(text)
            self.state.setStyleSheet(f"color: {colour}")
            self._state_shown = (text, colour)
        c = self.counts
        if self.start_unix_s is not None:
            clock = time.strftime("%H:%M:%S", time.localtime(self.start_unix_s + now))
        else:
            clock = f"{int(now // 3600)}:{int(now % 3600 // 60):02d}:{int(now % 60):02d} into the night"
        self.counters.setText(
            f"{clock}   cramps: {c.get('cramp', 0)}   awakenings: {c.get('awakening', 0)}   "
            f"out of bed: {c.get('out_of_bed', 0)}   leg movements: {c.get('limb_movement', 0)}"
            + (f"   markers: {c['marker']}" if c.get("marker") else "")
            + ("   (finished)" if self.finished else "")
        )
        if self.bands:
            parts = []
            for b in self.bands.values():
                rate = b.get("rate_hz")
                parts.append(
                    f"{b.get('leg') or b.get('name')}: {b.get('state')}, {b.get('packets', 0)} packets"
                    + (f", {b['malformed']} malformed" if b.get("malformed") else "")
                    + (f", {b['drops']} drops" if b.get("drops") else "")
                    + (f", {rate:.0f} samples/s" if rate else "")
                    + (f", battery {b['battery_pct']} %" if b.get("battery_pct") is not None else "")
                )
            self.band_line.setText("   |   ".join(parts))

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:
        self.feed.stop.set()
        self.timer.stop()
        super().closeEvent(event)


# -- replaying a journal into the window ----------------------------------------------------------------
_STATES = {  # what a band's journal events say about its link
    "connected": "connected",
    "stream_started": "streaming",
    "disconnected": "disconnected",
    "reconnecting": "reconnecting",
    "connect_failed": "reconnecting",
    "silent": "silent",
    "gave_up": "given up",
}


class BandTracker:
    """Each band's link as its recording tells it, for the window's band line during a replay: the state
    from the connection events, packets, drops, the battery level, malformed notifications and the
    measured sample rate (from the session)."""

    def __init__(self) -> None:
        self.bands: dict[int, dict[str, Any]] = {}

    def _band(self, device: int) -> dict[str, Any]:
        return self.bands.setdefault(
            device, {"state": "streaming", "packets": 0, "drops": 0, "battery_pct": None, "leg": None, "name": None}
        )

    def add(self, item: Any) -> None:
        if isinstance(item, Packet):
            self._band(item.device)["packets"] += 1
        elif isinstance(item, JournalEvent) and item.device is not None:
            b = self._band(item.device)
            b["state"] = _STATES.get(item.kind, b["state"])
            if item.kind == "disconnected" and item.fields.get("reason") != "stopped":
                b["drops"] += 1
            if item.kind == "battery":
                b["battery_pct"] = item.fields.get("percent")
        elif isinstance(item, DeviceInfo):
            b = self._band(item.device)
            b["leg"], b["name"] = item.leg, item.name

    def status(self, session: NightSession) -> dict[int, dict[str, Any]]:
        return {
            d: {**b, "malformed": session.link_malformed(d), "rate_hz": session.samples_per_s(d)}
            for d, b in self.bands.items()
        }


def _record_markers(feed: Feed, sidecar: Sidecar | None, t_s: float) -> list[tuple[float, str]]:
    """The window's "cramp now" presses since the last call, placed at ``t_s`` and saved in the sidecar."""
    out: list[tuple[float, str]] = []
    while True:
        try:
            label = feed.markers.get_nowait()
        except queue.Empty:
            return out
        out.append((t_s, label))
        if sidecar is not None:
            try:
                sidecar.add_marker(t_s, label, added=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
            except SidecarError as exc:
                print(f"cramp: {exc}", file=sys.stderr)


def replay_journal(
    journal: Journal, feed: Feed, status_every_s: float = 0.2, sidecar: Sidecar | None = None
) -> NightResult | None:
    """Replay ``journal`` at ``feed.speed`` (changeable) into ``feed``; None when stopped early. Markers
    pressed in the window go into the night's events and into ``sidecar`` (the recording is only read)."""

    def samples(name: str, start: int, data: npt.NDArray[np.floating[Any]]) -> None:
        feed.post("samples", (name, start, np.array(data, dtype=np.float32, copy=True)))

    session = NightSession(
        on_event=lambda e: feed.post("event", e),
        on_notice=lambda n: feed.post("notice", n),
        on_samples=samples,
        batch_packets=256,
    )

    tracker = BandTracker()

    async def run() -> bool:
        wall0, data0, t_now = time.monotonic(), 0.0, 0.0
        last_status = 0.0
        async with ReplaySource(journal, speed=math.inf) as source:
            async for item in source.items():
                if feed.stop.is_set():
                    return False
                t = (
                    item.t_rx_ns / 1e9
                    if isinstance(item, Packet)
                    else item.t_ns / 1e9
                    if isinstance(item, JournalEvent)
                    else 0.0
                )
                if math.isfinite(feed.speed) and t > data0:
                    ahead = (t - data0) / feed.speed - (time.monotonic() - wall0)
                    if ahead > 0:
                        await asyncio.sleep(min(ahead, 0.1))
                    if time.monotonic() - wall0 > 0.5:  # re-anchor, so that a speed change applies at once
                        wall0, data0 = time.monotonic(), t
                session.add(item)
                tracker.add(item)
                t_now = max(t_now, t)
                for t_s, label in _record_markers(feed, sidecar, t_now):
                    session.add(JournalEvent(round(t_s * 1e9), "marker", None, {"label": label}))
                if time.monotonic() - last_status > status_every_s and session.detector is not None:
                    session.flush()
                    feed.post("status", session.detector.live_status())
                    feed.post("bands", tracker.status(session))
                    last_status = time.monotonic()
        return True

    completed = asyncio.run(run())
    if not completed:
        return None
    result = session.finish(journal_duration(journal))
    feed.post("done", None)
    return result


class _WindowHooks:
    """:class:`nightcramp.session.LiveHooks` for a file replayed into the window."""

    def __init__(self, feed: Feed, sidecar: Sidecar | None, status_every_s: float) -> None:
        self.feed, self.sidecar, self.every = feed, sidecar, status_every_s
        self._last = 0.0

    def on_samples(self, name: str, start: int, data: npt.NDArray[np.floating[Any]]) -> None:
        self.feed.post("samples", (name, start, np.array(data, dtype=np.float32, copy=True)))

    def on_status(self, detector: NightDetector) -> None:
        if time.monotonic() - self._last > self.every:
            self.feed.post("status", detector.live_status())
            self._last = time.monotonic()

    def markers(self, t_s: float) -> list[tuple[float, str]]:
        return _record_markers(self.feed, self.sidecar, t_s)

    def speed(self) -> float:
        return self.feed.speed

    def stopped(self) -> bool:
        return self.feed.stop.is_set()


def replay_file(
    rec: Recording, feed: Feed, status_every_s: float = 0.2, sidecar: Sidecar | None = None
) -> NightResult | None:
    """Replay a recording read from another tool's file (EDF+, BDF, CSV) into ``feed``, 1 s of every stream
    at a time at ``feed.speed``; None when stopped early. Markers go into the night and ``sidecar``."""
    hooks = _WindowHooks(feed, sidecar, status_every_s)
    result = replay_recording(
        rec,
        chunk_s=1.0,
        speed=feed.speed,
        on_event=lambda e: feed.post("event", e),
        on_notice=lambda n: feed.post("notice", n),
        live=hooks,
    )
    if result is not None:
        feed.post("done", None)
    return result


def journal_duration(journal: Journal) -> float:
    return (journal.last_t_ns or 0) / 1e9


def close_after(
    window: QtWidgets.QWidget,
    duration_s: float | None,
    screenshot: Path | None,
    before: Callable[[], None] | None = None,
) -> None:
    """With ``duration_s``, close ``window`` that many seconds from now, first calling ``before`` and saving
    the window to ``screenshot`` (a PNG) if one is given."""

    def finish() -> None:
        if before is not None:
            before()
        if screenshot is not None:
            window.grab().save(str(screenshot))
        window.close()

    if duration_s is not None:
        QtCore.QTimer.singleShot(int(duration_s * 1000), finish)


def run_window(
    streams: list[StreamInfo],
    work: Callable[[Feed], Any],
    *,
    speed: float,
    window_s: float,
    duration_s: float | None,
    screenshot: Path | None,
    size: tuple[int, int] = (1280, 800),
    start_unix_s: float | None = None,
) -> tuple[Any, LiveWindow]:
    """Show the window while ``work`` runs in a thread; returns its result (None if closed early)."""
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    feed = Feed(speed)
    window = LiveWindow(streams, feed, window_s=window_s, start_unix_s=start_unix_s)
    window.resize(*size)
    result: list[Any] = [None]
    worker = threading.Thread(target=lambda: result.__setitem__(0, work(feed)), name="night", daemon=True)

    close_after(window, duration_s, screenshot, before=window.tick)
    window.show()
    worker.start()
    app.exec()
    feed.stop.set()
    worker.join(timeout=30)
    return result[0], window
