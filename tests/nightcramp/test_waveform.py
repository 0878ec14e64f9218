"""The per-column waveform: its column ranges against a loop over every sample, and what it draws against
Qt's own rendering of a line through every sample, offscreen."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from nightcramp.waveform import WaveformItem, column_ranges

pytestmark = pytest.mark.gui


def line_at(y: np.ndarray, x0: float, dx: float, x: float) -> float:
    """The straight line between the two samples around ``x`` (NaN if either is missing or outside)."""
    pos = (x - x0) / dx
    k = math.floor(pos)
    if k < 0 or k + 1 >= y.size or math.isnan(y[k]) or math.isnan(y[k + 1]):
        return math.nan
    return float(y[k]) + (pos - k) * (float(y[k + 1]) - float(y[k]))


def loop_ranges(y: np.ndarray, x0: float, dx: float, left: float, width: float, columns: int) -> tuple:
    """Per column: the samples inside it and the line where it crosses the column's edges."""
    lo, hi = [math.nan] * columns, [math.nan] * columns
    for c in range(columns):
        a, b = left + c * width, left + (c + 1) * width
        vals = [float(y[i]) for i in range(y.size) if a <= x0 + i * dx < b and not math.isnan(y[i])]
        vals += [v for v in (line_at(y, x0, dx, a), line_at(y, x0, dx, b)) if not math.isnan(v)]
        if vals:
            lo[c], hi[c] = min(vals), max(vals)
    return np.array(lo), np.array(hi)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 120),
    columns=st.integers(1, 40),
    dx=st.sampled_from([0.25, 0.5, 1.0, 3.0]),
    left=st.sampled_from([-5.0, 0.0, 2.5, 7.0]),
    width=st.sampled_from([0.5, 1.0, 2.0, 4.0]),
    seed=st.integers(0, 10_000),
    nan_share=st.sampled_from([0.0, 0.1, 0.5]),
)
def test_column_ranges_match_a_loop_over_every_sample(
    n: int, columns: int, dx: float, left: float, width: float, seed: int, nan_share: float
) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(0.0, 1.0, n).astype(np.float32)
    y[rng.random(n) < nan_share] = np.nan
    lo, hi = column_ranges(y, 0.0, dx, left, width, columns)
    want_lo, want_hi = loop_ranges(y, 0.0, dx, left, width, columns)
    np.testing.assert_allclose(lo, want_lo, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(hi, want_hi, rtol=1e-12, atol=1e-12)


def draw_both(y: np.ndarray, dx: float) -> tuple[np.ndarray, np.ndarray]:
    """The plot's inside as two (h, w) arrays of 'is this pixel dark': once with :class:`WaveformItem`,
    once with pyqtgraph's line through every sample, in the same plot. One x unit is one device pixel, and
    the samples are placed clear of pixel edges (Qt places line ends to 1/64 pixel, a sample right on an
    edge could fall either way)."""
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    widget = pg.GraphicsLayoutWidget()
    widget.setBackground("w")
    plot = widget.addPlot()
    plot.hideAxis("left")
    plot.hideAxis("bottom")
    widget.resize(700, 240)
    widget.show()
    app.processEvents()
    width = plot.vb.width()
    plot.setXRange(0.0, width, padding=0)
    plot.setYRange(-30.0, 30.0, padding=0)
    app.processEvents()
    origin = plot.vb.mapViewToDevice(QtCore.QPointF(0.0, 0.0)).x()
    x0 = math.floor(origin) - origin + 0.5 * min(dx, 1.0) + 4.0
    x = x0 + dx * np.arange(y.size)
    assert x[-1] < width - 8
    shots = []
    for item in (WaveformItem("#000000"), pg.PlotCurveItem(pen=pg.mkPen("#000000", width=1), connect="finite")):
        if isinstance(item, WaveformItem):
            item.setData(y, x0, dx)
        else:
            item.setData(x, y.astype(np.float64))
        plot.addItem(item)
        app.processEvents()
        image = widget.grab().toImage().convertToFormat(QtGui.QImage.Format.Format_RGB32)
        plot.removeItem(item)
        rect = plot.vb.mapRectToScene(plot.vb.boundingRect()).toRect()
        rgb = np.frombuffer(image.constBits(), dtype=np.uint32).reshape(image.height(), image.bytesPerLine() // 4)
        inside = rgb[rect.top() + 6 : rect.bottom() - 6, rect.left() + 1 : rect.right() - 1]
        shots.append((inside & 0xFF) < 0x80)
    widget.close()
    return shots[0], shots[1]


@pytest.mark.parametrize("samples_per_px", [0.25, 1, 3, 20])
def test_it_covers_the_pixels_a_line_through_every_sample_covers(samples_per_px: float) -> None:
    rng = np.random.default_rng(1)
    n = int(600 * samples_per_px)
    y = rng.normal(0.0, 1.0, n).astype(np.float32)
    y[n // 3 : n // 3 + n // 20] *= 6.0  # a burst: it must keep its full height
    y[n // 2 : n // 2 + n // 25] = np.nan  # a gap: nothing drawn
    a, b = draw_both(y, 1.0 / samples_per_px)
    assert a.shape == b.shape
    cols_a, cols_b = a.any(axis=0), b.any(axis=0)
    assert cols_b.sum() > 500
    # the same columns are drawn (to within the column at each end of the gap) ...
    assert np.sum(cols_a != cols_b) <= 4
    rows = np.arange(a.shape[0])[:, np.newaxis]
    top_a, top_b = np.where(a, rows, a.shape[0]).min(axis=0), np.where(b, rows, a.shape[0]).min(axis=0)
    bot_a, bot_b = np.where(a, rows, -1).max(axis=0), np.where(b, rows, -1).max(axis=0)
    both = cols_a & cols_b
    # ... each from the same top to the same bottom pixel, give or take a pixel or so where a steep segment
    # crosses from one column to the next (Qt steps it row by row; the exact line touches both columns)
    close = (np.abs(top_a - top_b) <= 1) & (np.abs(bot_a - bot_b) <= 1)
    assert np.mean(close[both]) >= 0.97
    # the burst keeps its full height
    peak_a, peak_b = top_a[both].min(), top_b[both].min()
    assert abs(int(peak_a) - int(peak_b)) <= 1 and abs(int(bot_a[both].max()) - int(bot_b[both].max())) <= 1
    # and the drawn area agrees pixel for pixel almost everywhere
    assert np.mean(a != b) < 0.01
