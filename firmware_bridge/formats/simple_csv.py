"""NightCramp's simple CSV layout, for recordings from spreadsheets and scripts (README, "Simple CSV")::

    # start: 2026-11-21T23:02:11
    time_s,emg_left_uv,acc_left_x_g,acc_left_y_g,acc_left_z_g
    0.000,12.5,0.012,-0.020,0.991
    0.002,-8.1,,,

Column names declare what a column is: ``time_s`` or ``time_ms``; ``emg_<leg>_<unit>`` with unit ``uv``,
``mv`` or ``v``; ``acc_<leg>_<axis>_<unit>`` with axis ``x``/``y``/``z`` and unit ``g``, ``mg`` or ``ms2``
(m/s²); leg ``left``, ``right`` or ``unknown``. Each stream takes the rows where it has values, so one file
may hold streams at different rates; empty cells are missing.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from detector.night import StreamInfo
from firmware_bridge.formats import _textio as tio
from firmware_bridge.formats._timing import MAX_RATE_HZ, MIN_RATE_HZ, place, repair_times, to_uniform
from firmware_bridge.formats.recording import ChannelRole, Recording, RecordingError, Signal

FORMAT = "CSV"
G_M_S2 = 9.80665
_EMG = re.compile(r"^emg_(left|right|unknown|l|r)_(uv|mv|v)$")
_ACC = re.compile(r"^acc_(left|right|unknown|l|r)_([xyz])_(g|mg|ms2)$")
_TIME = {"time_s": 1.0, "time_ms": 1e-3}
_EMG_UNIT = {"uv": 1.0, "mv": 1e3, "v": 1e6}
_ACC_UNIT = {"g": 1.0, "mg": 1e-3, "ms2": 1.0 / G_M_S2}
_LEG = {"l": "left", "r": "right", "left": "left", "right": "right", "unknown": None}
_META = re.compile(r"^#\s*([A-Za-z_]+)\s*:\s*(.*?)\s*$")


def _split_header(line: str) -> tuple[str, list[str]]:
    """The delimiter (comma, or semicolon or tab when the header uses those) and the labels, stripped of
    spaces and of the quotes some programs put around text."""
    for d in (",", ";", "\t"):
        if d in line:
            return d, [c.strip().strip('"').strip() for c in line.split(d)]
    return ",", [line.strip().strip('"').strip()]


def is_simple_csv(lines: list[str]) -> bool:
    """Whether the first non-comment line is a header naming a time column or a NightCramp signal column."""
    header = next((ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")), None)
    if header is None:
        return False
    _, labels = _split_header(header)
    keys = [tio.norm_label(c) for c in labels]
    return any(k in _TIME or _EMG.match(k) or _ACC.match(k) for k in keys)


@dataclass(frozen=True, slots=True)
class _Column:
    kind: str
    leg: str | None
    axis: str | None
    scale: float


def _declared(label: str) -> _Column | None:
    key = tio.norm_label(label)
    if m := _EMG.match(key):
        return _Column("emg", _LEG[m.group(1)], None, _EMG_UNIT[m.group(2)])
    if m := _ACC.match(key):
        return _Column("acc", _LEG[m.group(1)], m.group(2), _ACC_UNIT[m.group(3)])
    return None


def read_simple_csv(
    path: str | os.PathLike[str], channels: Mapping[str, ChannelRole] | None = None, leg: str | None = None
) -> Recording:
    """A CSV in NightCramp's simple layout as a :class:`Recording`.

    ``channels`` maps columns whose names do not follow the layout (values in µV for EMG, g for
    acceleration; ``ignore`` leaves a column out); ``leg`` replaces the leg ``unknown``.
    """
    side = tio.check_leg(leg)
    head = tio.head_lines(path)
    meta: dict[str, str] = {}
    header_no = None
    for i, line in enumerate(head):
        if line.lstrip().startswith("#"):
            if m := _META.match(line.strip()):
                meta[m.group(1).lower()] = m.group(2)
        elif line.strip():
            header_no = i
            break
    if header_no is None:
        raise RecordingError(f"{tio.name(path)} has no header line (and no data)")
    delim, labels = _split_header(head[header_no])
    keys = [tio.norm_label(c) for c in labels]
    mapped = {tio.norm_label(k): v for k, v in (channels or {}).items()}
    unknown_map = [k for k in (channels or {}) if tio.norm_label(k) not in keys]
    if unknown_map:
        raise RecordingError(
            f"{tio.name(path)} has no column {', '.join(repr(k) for k in unknown_map)}; its columns are "
            f"{', '.join(repr(c) for c in labels)}"
        )

    time_col = next((i for i, k in enumerate(keys) if k in _TIME and k not in mapped), None)
    columns: dict[int, _Column] = {}
    ignored: list[str] = []
    for i, (label, key) in enumerate(zip(labels, keys, strict=True)):
        if i == time_col:
            continue
        role = mapped.get(key)
        if role is not None:
            if role.kind in ("emg", "acc"):
                columns[i] = _Column(role.kind, role.leg, role.axis, 1.0)
            continue
        col = _declared(label)
        if col is None:
            if label:
                ignored.append(label)
        else:
            columns[i] = col
    streams = _group(path, labels, columns, side)
    if not streams:
        raise RecordingError(
            f"{tio.name(path)} has no signal column: name them emg_<leg>_<unit> (uv, mv, v) or "
            f"acc_<leg>_<x|y|z>_<unit> (g, mg, ms2), or map them with --channel; its columns are "
            f"{', '.join(repr(c) for c in labels)}"
        )
    warnings = [f"{tio.name(path)}: columns {', '.join(repr(c) for c in ignored)} are not signals and were left out"]
    warnings = warnings if ignored else []

    fs_fixed = None
    if time_col is None:
        if "fs_hz" not in meta:
            raise RecordingError(
                f"{tio.name(path)} has no time_s or time_ms column and no '# fs_hz: <rate>' comment line, so "
                "the time of its rows is unknown"
            )
        try:
            fs_fixed = float(meta["fs_hz"].replace(",", "."))
        except ValueError:
            fs_fixed = float("nan")
        if not (MIN_RATE_HZ <= fs_fixed <= MAX_RATE_HZ):
            raise RecordingError(
                f"{tio.name(path)}: '# fs_hz: {meta['fs_hz']}' is not a rate of {MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz"
            )

    used = sorted({c for _, cols, _ in streams for c in cols})
    cols = ([time_col] if time_col is not None else []) + used
    layout = tio.Layout(delim, header_no + 1, tuple(labels), decimal_comma=delim != ",", empty_is_nan=True, comment="#")
    values = tio.read_columns(path, layout, cols)
    if values.shape[1] == 0:
        raise RecordingError(f"{tio.name(path)} has a header but no rows of data")
    if np.isinf(values).any():
        tio.check_finite(path, layout, np.where(np.isnan(values), 0.0, values), [labels[c] for c in cols])
    row = {c: values[k] for k, c in enumerate(cols)}
    if time_col is not None:
        t = row[time_col] * _TIME[keys[time_col]]
        if np.isnan(t).any():
            bad = int(np.flatnonzero(np.isnan(t))[0])
            raise RecordingError(
                f"{tio.name(path)} line {tio.line_of_row(path, layout, bad)}: the {labels[time_col]!r} cell is empty"
            )
    else:
        assert fs_fixed is not None
        t = np.arange(values.shape[1]) / fs_fixed

    t0 = float(t[0]) if t.size else 0.0
    signals: list[Signal] = []
    for (kind, leg_name), cols_, scale in streams:
        x = np.stack([row[c] * s for c, s in zip(cols_, scale, strict=True)])
        have = np.all(np.isfinite(x), axis=0)
        what = f"{kind}_{leg_name or 'unknown'}"
        data: npt.NDArray[np.float32]
        if fs_fixed is not None:
            fs = fs_fixed
            data = x.astype(np.float32)
            data[:, ~have] = np.nan
        else:
            if np.count_nonzero(have) < 2:
                raise RecordingError(f"{tio.name(path)}: the {what} columns hold fewer than two values")
            rows_with = np.flatnonzero(have)

            def line_of(i: int, rows: npt.NDArray[np.intp] = rows_with) -> int:
                return tio.line_of_row(path, layout, int(rows[i]))

            grid = to_uniform(path, repair_times(path, t[have] - t0, line_of=line_of), x[:, have])
            fs, data = grid.fs, place(grid, 0.0)
        info = StreamInfo(
            name=f"{kind}:{leg_name or 'unknown'}",
            kind=kind,
            leg=leg_name,
            fs_hz=fs,
            unit="uV" if kind == "emg" else "g",
        )
        signals.append(Signal(info, data[0] if kind == "emg" else data, tuple(labels[c] for c in cols_)))
    duration = max(s.data.shape[-1] / s.info.fs_hz for s in signals)
    return Recording(
        path=tio.as_path(path),
        format=FORMAT,
        start_wall=_start(path, meta.get("start"), t0),
        duration_s=duration,
        signals=signals,
        warnings=warnings,
    )


def _group(
    path: str | os.PathLike[str], labels: list[str], columns: dict[int, _Column], side: str | None
) -> list[tuple[tuple[str, str | None], tuple[int, ...], tuple[float, ...]]]:
    """Columns gathered into streams: one EMG column, or x, y, z of an accelerometer, per leg."""
    emg: dict[str | None, int] = {}
    acc: dict[str | None, dict[str, int]] = {}
    for i, col in columns.items():
        leg = col.leg if col.leg is not None else side
        if col.kind == "emg":
            if leg in emg:
                raise RecordingError(
                    f"{tio.name(path)} has two EMG columns for the {leg or 'unknown'} leg "
                    f"({labels[emg[leg]]!r} and {labels[i]!r}); keep one per leg"
                )
            emg[leg] = i
        else:
            axes = acc.setdefault(leg, {})
            if col.axis is None or col.axis in axes:
                raise RecordingError(
                    f"{tio.name(path)} has two columns for accelerometer axis {col.axis} on the "
                    f"{leg or 'unknown'} leg ({labels[axes.get(col.axis or '', i)]!r} and {labels[i]!r})"
                )
            axes[col.axis] = i
    out: list[tuple[tuple[str, str | None], tuple[int, ...], tuple[float, ...]]] = []
    for leg, i in emg.items():
        out.append((("emg", leg), (i,), (columns[i].scale,)))
    for leg, axes in acc.items():
        lacking = [a for a in "xyz" if a not in axes]
        if lacking:
            raise RecordingError(
                f"{tio.name(path)}: the accelerometer of the {leg or 'unknown'} leg lacks the column"
                f"{'s' if len(lacking) > 1 else ''} for axis {', '.join(lacking)} "
                f"(e.g. acc_{leg or 'unknown'}_{lacking[0]}_g)"
            )
        trio = (axes["x"], axes["y"], axes["z"])
        out.append((("acc", leg), trio, tuple(columns[i].scale for i in trio)))
    return out


def _start(path: str | os.PathLike[str], text: str | None, first_s: float) -> str | None:
    """The ``# start:`` date-time (the wall-clock time at time 0) moved to the first row, as ISO-8601."""
    if text is None:
        return None
    try:
        start = dt.datetime.fromisoformat(text.strip().replace(",", "."))
    except ValueError:
        raise RecordingError(
            f"{tio.name(path)}: '# start: {text}' is not an ISO-8601 date-time such as 2026-11-21T23:02:11"
        ) from None
    try:
        return (start + dt.timedelta(seconds=first_s)).isoformat(timespec="milliseconds")
    except OverflowError:
        raise RecordingError(f"{tio.name(path)}: the first time {first_s:g} s is out of range") from None
