"""Small pictures of the signals around each cramp, for the morning report (and kept in the night JSON).

For each cramp: from ``margin_s`` before its start to ``margin_s`` after its end, every EMG stream (both
legs: a cramp is one-sided, so the other leg at rest is part of the picture) and the cramping leg's
accelerometer magnitude, each reduced to its lowest and highest value in each of ``columns`` equal time
slices (what a small picture can show; bursts keep their height). With them, the peak absolute value of
each stream before, during and after the cramp: the picture's numbers, as a table beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from firmware_bridge.formats import Recording

COLUMNS = 240
MARGIN_S = 30.0


def _columns(x: npt.NDArray[np.floating[Any]], columns: int) -> tuple[list[float | None], list[float | None]]:
    """Lowest and highest value in each of ``columns`` equal slices (None where a slice has no sample)."""
    n = x.size
    if n == 0:
        return [None] * columns, [None] * columns
    edges = np.linspace(0, n, columns + 1).round().astype(np.intp)
    lo, hi = np.full(columns, np.nan), np.full(columns, np.nan)
    filled = edges[1:] > edges[:-1]
    with np.errstate(invalid="ignore"):
        lo[filled] = np.fmin.reduceat(x, edges[:-1][filled])
        hi[filled] = np.fmax.reduceat(x, edges[:-1][filled])
    return (
        [None if not np.isfinite(v) else float(v) for v in lo],
        [None if not np.isfinite(v) else float(v) for v in hi],
    )


def _peak(x: npt.NDArray[np.floating[Any]]) -> float | None:
    finite = x[np.isfinite(x)]
    return float(np.max(np.abs(finite))) if finite.size else None


def cramp_pictures(
    rec: Recording, events: Sequence[Mapping[str, Any]], *, columns: int = COLUMNS, margin_s: float = MARGIN_S
) -> list[dict[str, Any]]:
    """One picture per cramp in ``events`` (night-JSON event dicts), in their order."""
    out = []
    for i, e in enumerate(events):
        if e["kind"] != "cramp":
            continue
        t0, t1 = max(0.0, e["start_s"] - margin_s), min(rec.duration_s, e["end_s"] + margin_s)
        streams: dict[str, Any] = {}
        for sig in rec.signals:
            info = sig.info
            if info.kind == "acc" and e["leg"] is not None and info.leg != e["leg"]:
                continue
            fs = info.fs_hz
            a, b = round(t0 * fs), round(t1 * fs)
            x = sig.data[..., a:b].astype(np.float64)
            if info.kind == "acc":  # magnitude in g; gravity stays in, so posture changes show
                x = np.sqrt((x * x).sum(axis=0))
            x = x.reshape(-1)
            lo, hi = _columns(x, columns)
            digits = 1 if info.kind == "emg" else 4
            s, c = round((e["start_s"] - t0) * fs), round((e["end_s"] - t0) * fs)
            moved = info.kind == "acc" and bool(np.isfinite(x).any())
            centred = x - np.nanmedian(x) if moved else x  # acceleration: the deviation from the median
            streams[info.name] = {
                "kind": info.kind,
                "leg": info.leg,
                "unit": "uV" if info.kind == "emg" else "g",
                "lo": [None if v is None else round(v, digits) for v in lo],
                "hi": [None if v is None else round(v, digits) for v in hi],
                "peak_before": _round(_peak(centred[:s]), digits),
                "peak_during": _round(_peak(centred[s:c]), digits),
                "peak_after": _round(_peak(centred[c:]), digits),
            }
        out.append({"event": i, "t0_s": round(t0, 3), "t1_s": round(t1, 3), "streams": streams})
    return out


def _round(v: float | None, digits: int) -> float | None:
    return None if v is None else round(v, digits)
