"""Filters designed once as second-order sections, applied causally with carried state.

Every filter is designed from edges in Hz and ``fs`` (never hand-normalised), cached and read-only.
:class:`OnlineSOS` carries ``sosfilt``'s state between chunks, so filtering a signal in any chunking gives
bit-identical output to filtering it at once; the detector relies on that for online == offline.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
from scipy import signal

FloatArray = npt.NDArray[np.float64]


@functools.lru_cache(maxsize=64)
def _butter_sos(btype: str, edges: tuple[float, ...], fs: float, order: int) -> FloatArray:
    if not all(0.0 < e < fs / 2 for e in edges) or list(edges) != sorted(edges):
        raise ValueError(f"{btype} edges {edges} Hz must rise within (0, {fs / 2}) Hz for fs={fs} Hz")
    wn = edges[0] if len(edges) == 1 else edges
    sos = np.asarray(signal.butter(order, wn, btype=btype, output="sos", fs=fs))
    sos.flags.writeable = False  # shared by the cache
    return sos


def bandpass_sos(low_hz: float, high_hz: float, fs: float, order: int = 4) -> FloatArray:
    """Butterworth band-pass as SOS; ``0 < low_hz < high_hz < fs / 2``."""
    if not low_hz < high_hz:
        raise ValueError(f"band ({low_hz}, {high_hz}) Hz must have low < high")
    return _butter_sos("bandpass", (low_hz, high_hz), fs, order)


def lowpass_sos(cutoff_hz: float, fs: float, order: int = 4) -> FloatArray:
    """Butterworth low-pass as SOS; ``0 < cutoff_hz < fs / 2``."""
    return _butter_sos("lowpass", (cutoff_hz,), fs, order)


def highpass_sos(cutoff_hz: float, fs: float, order: int = 4) -> FloatArray:
    """Butterworth high-pass as SOS; ``0 < cutoff_hz < fs / 2``."""
    return _butter_sos("highpass", (cutoff_hz,), fs, order)


class OnlineSOS:
    """Causal SOS filtering of a multichannel stream, one chunk at a time.

    Parameters
    ----------
    sos : ndarray, shape (n_sections, 6)
        The filter.
    n_channels : int
        Rows of every chunk passed to :meth:`push`.

    Notes
    -----
    The state starts at rest (zeros). :meth:`reset` returns it to rest, which the detector does after a
    signal gap so that no filter rings across missing data.
    """

    def __init__(self, sos: FloatArray, n_channels: int) -> None:
        self._sos = np.array(sos, dtype=np.float64)  # sosfilt needs a writable copy
        self._n_channels = n_channels
        self._zi = np.zeros((sos.shape[0], n_channels, 2))

    def reset(self) -> None:
        self._zi[...] = 0.0

    def push(self, x: FloatArray) -> FloatArray:
        """Filter one chunk of shape ``(n_channels, n_samples)``; returns the same shape."""
        if x.ndim != 2 or x.shape[0] != self._n_channels:
            raise ValueError(f"chunk must have shape ({self._n_channels}, n), got {x.shape}")
        y, self._zi = signal.sosfilt(self._sos, x, axis=-1, zi=self._zi)
        return np.asarray(y, dtype=np.float64)
