"""The live window's part of ``cramp bench``, rendered offscreen (``QT_QPA_PLATFORM=offscreen``).

Two legs, EMG at 1 kHz and accelerometers at 100 Hz, a 60-s window, 1280x720: each frame receives 1/30 s of
every stream and is drawn, as the 30-Hz timer does. The CPU time per frame gives the frame rate one core
could sustain and the share of a core that 30 frames/s take. Then an hour of data goes through the window
(drawn once per two seconds of data) and the resident memory after 10 minutes and after the hour are compared.
"""

from __future__ import annotations

import os
import resource
import time
from typing import Any

import numpy as np


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_live_bench(seconds_drawn: float = 60.0, hour_s: float = 3600.0) -> dict[str, Any]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtWidgets

    from detector.night import stream_infos
    from nightcramp.live import Feed, LiveWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    streams = stream_infos(("left", "right"), emg_fs=1000.0, acc_fs=100.0, emg_full_scale_uv=3276.7)
    feed = Feed(1.0)
    window = LiveWindow(streams, feed, window_s=60.0)
    window.timer.stop()  # frames are driven here, one per 1/30 s of data
    window.resize(1280, 720)
    window.show()
    rng = np.random.default_rng(0)
    fs = {s.name: s.fs_hz for s in streams}
    nch = {s.name: s.n_channels for s in streams}
    sent = dict.fromkeys(fs, 0)

    def feed_until(t: float) -> None:
        for name in fs:
            n = int(t * fs[name]) - sent[name]
            if n > 0:
                scale = 20.0 if name.startswith("emg") else 0.01
                data = rng.normal(0.0, scale, (nch[name], n)).astype(np.float32)
                if name.startswith("acc"):
                    data[2] += 1.0
                feed.post("samples", (name, sent[name], data))
                sent[name] += n

    feed_until(60.0)  # a full window first
    window.tick()
    app.processEvents()
    frames = int(seconds_drawn * 30)
    t0 = time.process_time()
    for k in range(frames):
        feed_until(60.0 + (k + 1) / 30.0)
        window.tick()
        app.processEvents()
    cpu_per_frame = (time.process_time() - t0) / frames
    # an hour of data, drawn once per data second: memory must not grow
    rss: dict[str, float] = {}
    t = 60.0 + seconds_drawn
    while t < hour_s:
        t += 2.0
        feed_until(t)
        window.tick()
        app.processEvents()
        if not rss.get("10_min") and t >= 600.0:
            rss["10_min"] = _rss_mb()
    rss["60_min"] = _rss_mb()
    window.close()
    return {
        "cpu_ms_per_frame": round(cpu_per_frame * 1000, 2),
        "max_fps_one_core": round(1.0 / cpu_per_frame, 1),
        "core_share_at_30fps": round(30 * cpu_per_frame, 3),
        "rss_mb_10_min": round(rss["10_min"], 1),
        "rss_mb_60_min": round(rss["60_min"], 1),
    }


def run_review_bench(hours: float = 8.0, fs: float = 1000.0) -> dict[str, Any]:
    """The review window's whole-night overview: building the min/max pyramid of one leg's 8 h of 1-kHz EMG,
    and redrawing a 1280-pixel-wide plot of it with the whole night, an hour and a minute in view (each the
    mean of 20 redraws, offscreen)."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    from PySide6 import QtWidgets

    from nightcramp.waveform import Pyramid, WaveformItem

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    y = np.random.default_rng(1).normal(0.0, 10.0, int(hours * 3600 * fs)).astype(np.float32)
    t0 = time.perf_counter()
    pyramid = Pyramid(y)
    build = time.perf_counter() - t0
    widget = pg.GraphicsLayoutWidget()
    plot = widget.addPlot()
    item = WaveformItem()
    item.setPyramid(pyramid, 0.0, 1.0 / fs)
    plot.addItem(item)
    widget.resize(1280, 300)
    widget.show()
    app.processEvents()
    redraw: dict[str, float] = {}
    for label, span in (("night", hours * 3600), ("hour", 3600.0), ("minute", 60.0)):
        plot.setXRange(1000.0, 1000.0 + span if label != "night" else span, padding=0)
        app.processEvents()
        t0 = time.perf_counter()
        for _ in range(20):
            item.update()
            app.processEvents()
        redraw[label] = round((time.perf_counter() - t0) / 20 * 1000, 2)
    widget.close()
    return {"hours": hours, "pyramid_build_s": round(build, 3), "redraw_ms": redraw}


def format_review(res: dict[str, Any]) -> list[tuple[str, str, str]]:
    r = res["redraw_ms"]
    return [
        (
            f"review overview: {res['hours']:g} h of 1-kHz EMG (one leg), min/max pyramid, 1280 px offscreen",
            f"pyramid built in {res['pyramid_build_s']:.2f} s; redrawn in {r['night']:.1f} ms (whole night), "
            f"{r['hour']:.1f} ms (an hour), {r['minute']:.1f} ms (a minute)",
            "fast at any zoom",
        )
    ]


def format_live(res: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (
            "live window, 60 s of two legs (EMG 1 kHz + ACC 100 Hz), 1280x720 offscreen",
            f"{res['cpu_ms_per_frame']:.1f} ms of CPU per frame: {res['max_fps_one_core']:.0f} frames/s on one core, "
            f"{100 * res['core_share_at_30fps']:.0f} % of a core at 30 frames/s",
            ">= 30 frames/s, <= 30 % of a core",
        ),
        (
            "live window memory over an hour of data",
            f"{res['rss_mb_10_min']:.0f} MB after 10 min, {res['rss_mb_60_min']:.0f} MB after 60 min",
            "flat",
        ),
    ]
