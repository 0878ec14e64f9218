"""A dense signal drawn the way a screen can show it: per pixel column, its samples' range.

Sixty seconds of 1-kHz EMG are 60,000 samples for about 1,200 pixel columns. A line through every sample
covers, in each column, the pixels between the column's lowest and highest sample (and joins the previous
column's last sample). :class:`WaveformItem` computes exactly that coverage with numpy (one reduction per
column, one comparison per pixel) and draws it as one image, instead of having Qt's software rasteriser
stroke thousands of line segments each frame. Bursts keep their full height, gaps (NaN) stay empty, and
sparse samples are joined as a line would join them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pyqtgraph as pg
from PySide6 import QtCore, QtGui

FloatArray = npt.NDArray[np.floating[Any]]
_INSET_PX = 5  #: pixels left free at the top and bottom of the view (the axes there are not redrawn)


def column_ranges(
    y: FloatArray, x0: float, dx: float, left: float, px_width: float, columns: int
) -> tuple[FloatArray, FloatArray]:
    """Lowest and highest value that the line through the samples ``y[i]`` at ``x0 + i dx`` reaches in
    each of ``columns`` columns of width ``px_width`` starting at ``left`` (all in the same x unit).

    The line is straight between neighbouring samples, so within a column its extremes are among the
    samples inside the column and the line's values where it crosses the column's two edges. NaN samples
    are missing: the line stops at them. Columns the line does not reach are NaN.
    """
    n = y.size
    pos = (left + px_width * np.arange(columns + 1) - x0) / dx  # column edges, in samples
    starts = np.clip(np.ceil(pos), 0, n).astype(np.intp)
    lo = np.full(columns, np.nan)
    hi = np.full(columns, np.nan)
    filled = starts[1:] > starts[:-1]
    if filled.any():
        idx = starts[:-1][filled]
        seg = y[: starts[-1]]
        with np.errstate(invalid="ignore"):
            lo[filled] = np.fmin.reduceat(seg, idx)
            hi[filled] = np.fmax.reduceat(seg, idx)
    # the line's value at each edge, where samples on both sides of it exist
    k = np.floor(pos)
    inside = (k >= 0) & (k <= n - 2)
    ki = np.where(inside, k, 0).astype(np.intp)
    at_edge = np.full(columns + 1, np.nan)
    if n >= 2:
        frac = pos - k
        a, b = y[ki].astype(np.float64), y[np.minimum(ki + 1, n - 1)].astype(np.float64)
        with np.errstate(invalid="ignore"):
            at_edge = np.where(inside & np.isfinite(a) & np.isfinite(b), a + frac * (b - a), np.nan)
    lo = np.fmin(lo, np.fmin(at_edge[:-1], at_edge[1:]))
    hi = np.fmax(hi, np.fmax(at_edge[:-1], at_edge[1:]))
    return lo, hi


class Pyramid:
    """Lowest and highest values of ``y`` over blocks of ``factor ** k`` samples, for every level ``k``
    down to a few thousand blocks: an 8-h night of 1-kHz EMG (28.8 M samples) is drawn whole from a few
    thousand block extremes instead of every sample. Building it reads the samples once (levels above
    the first are made from the level below)."""

    def __init__(self, y: FloatArray, factor: int = 16, smallest: int = 2048) -> None:
        self.factor = factor
        self.levels: list[tuple[int, FloatArray, FloatArray]] = [(1, y, y)]  # (block size, lo, hi)
        lo, hi, step = y, y, 1
        while lo.size // factor >= smallest:
            m = (lo.size // factor) * factor
            with np.errstate(invalid="ignore"):
                lo = np.fmin.reduce(lo[:m].reshape(-1, factor), axis=1)
                hi = np.fmax.reduce(hi[:m].reshape(-1, factor), axis=1)
            step *= factor
            self.levels.append((step, lo, hi))
        self.size = y.size

    def level_for(self, samples_per_px: float) -> tuple[int, FloatArray, FloatArray]:
        """The coarsest level that still has at least two blocks per pixel column."""
        best = self.levels[0]
        for level in self.levels:
            if level[0] * 2 <= samples_per_px:
                best = level
        return best


def pyramid_ranges(
    pyramid: Pyramid, x0: float, dx: float, left: float, px_width: float, columns: int
) -> tuple[FloatArray, FloatArray]:
    """:func:`column_ranges` from the coarsest level of ``pyramid`` with two blocks or more per column
    (exact to within two blocks at each column edge)."""
    step, lo_y, hi_y = pyramid.level_for(px_width / dx)
    lo = column_ranges(lo_y, x0, dx * step, left, px_width, columns)[0]
    hi = column_ranges(hi_y, x0, dx * step, left, px_width, columns)[1]
    return lo, hi


class WaveformItem(pg.GraphicsObject):  # type: ignore[misc]
    """Samples ``y[i]`` at ``x0 + i dx`` in a :class:`pyqtgraph.ViewBox`, drawn per pixel column."""

    def __init__(self, colour: str = "#9a9a9a") -> None:
        super().__init__()
        c = QtGui.QColor(colour)
        self._argb = np.uint32((0xFF << 24) | (c.red() << 16) | (c.green() << 8) | c.blue())
        self._pen = pg.mkPen(colour, width=1)
        self._y: FloatArray = np.empty(0, dtype=np.float32)
        self._x0, self._dx = 0.0, 1.0
        self._image: npt.NDArray[np.uint32] | None = None  # kept alive while Qt draws it
        self._rect: QtCore.QRectF | None = None
        self._pyramid: Pyramid | None = None

    def setData(self, y: FloatArray, x0: float, dx: float) -> None:
        extent = (float(x0), float(dx), y.size)
        if extent != (self._x0, self._dx, self._y.size):
            self._changed()
        self._y, self._x0, self._dx = y, float(x0), float(dx)
        self._pyramid = None
        self.update()

    def setPyramid(self, pyramid: Pyramid, x0: float, dx: float) -> None:
        """A long signal drawn from its :class:`Pyramid`: any zoom costs about the same."""
        self.setData(pyramid.levels[0][1], x0, dx)
        self._pyramid = pyramid

    def _changed(self) -> None:
        self.prepareGeometryChange()
        self._rect = None

    def viewRangeChanged(self) -> None:
        self._changed()

    def viewTransformChanged(self) -> None:
        self._changed()

    def boundingRect(self) -> QtCore.QRectF:
        """The samples' x extent within the view, and the view's height less a few pixels at the top and
        bottom: an update then repaints only the plot's inside, not the axes around it."""
        if self._rect is None:
            vb = self.getViewBox()
            px = self.pixelLength(QtCore.QPointF(0.0, 1.0), ortho=False) if vb is not None else None
            if vb is None or px is None or self._y.size == 0:
                return QtCore.QRectF()
            view = vb.viewRect()
            inset = _INSET_PX * abs(px)
            lo_x = max(view.left(), self._x0)
            hi_x = min(view.right(), self._x0 + self._dx * (self._y.size - 1))
            self._rect = QtCore.QRectF(
                lo_x, view.top() + inset, max(0.0, hi_x - lo_x), max(0.0, view.height() - 2 * inset)
            )
        return self._rect

    def paint(self, p: QtGui.QPainter, *args: Any) -> None:
        vb = self.getViewBox()
        y = self._y
        if vb is None or y.size < 2:
            return
        view = self.boundingRect()
        tr = p.transform()
        if tr.m12() or tr.m21() or not (tr.m11() and tr.m22()):
            return  # pyqtgraph views only scale and translate
        dev = tr.mapRect(view)
        left, top = math.floor(dev.left()), math.floor(dev.top())
        w, h = math.ceil(dev.right()) - left, math.ceil(dev.bottom()) - top
        if w < 1 or h < 1:
            return
        px = 1.0 / tr.m11()  # x units per device pixel
        x_left = (left - tr.dx()) / tr.m11()  # Qt's aliased drawing puts a point in pixel floor(x), floor(y)
        if self._pyramid is not None:
            lo, hi = pyramid_ranges(self._pyramid, self._x0, self._dx, x_left, px, w)
        else:
            lo, hi = column_ranges(y, self._x0, self._dx, x_left, px, w)
        ya, yb = tr.m22() * lo + tr.dy() - top, tr.m22() * hi + tr.dy() - top  # device rows
        with np.errstate(invalid="ignore"):
            r0 = np.floor(np.fmin(ya, yb))
            r1 = np.floor(np.fmax(ya, yb))
            shown = np.isfinite(r0) & (r1 >= 0) & (r0 <= h - 1)
        # a pixel is covered when its row is within its column's run: one unsigned comparison per pixel
        r0 = np.where(shown, np.clip(r0, 0, h - 1), h + 1).astype(np.int16)
        span = np.where(shown, np.clip(r1, 0, h - 1) - r0, 0).astype(np.uint16)
        rows = np.arange(h, dtype=np.int16)[:, np.newaxis]
        mask = (rows - r0).view(np.uint16) <= span
        image = mask.view(np.uint8) * self._argb
        self._image = image
        qimage = QtGui.QImage(image.data, w, h, 4 * w, QtGui.QImage.Format.Format_ARGB32_Premultiplied)
        p.save()
        p.resetTransform()
        p.drawImage(QtCore.QPointF(left, top), qimage)
        p.restore()
