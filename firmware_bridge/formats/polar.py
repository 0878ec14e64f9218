"""Polar Sensor Logger exports (the phone app): one semicolon-separated ``.txt`` per stream.

``Polar_<model>_<ID>_<YYYYMMDD>_<HHMMSS>_ACC.txt``::

    Phone timestamp;sensor timestamp [ns];X [mg];Y [mg];Z [mg]
    2026-07-16T23:02:11.930;599636646177065964;-12;995;31

``..._ECG.txt``: ``Phone timestamp;sensor timestamp [ns];timestamp [ms];ecg [uV]``.

Columns are found by their header name (any order, extra columns ignored, spaces and case ignored). Cells
may use a decimal comma (some phone locales). The sensor timestamp (ns on the sensor's clock) spaces the
samples; the phone timestamp (local time of arrival, no zone, per BLE packet) gives the wall-clock start.
Acceleration becomes ``acc:<leg>`` in g; ECG is not calf EMG, so it is kept as an :class:`ExtraSignal`
for export and a file of ECG alone is refused.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from detector.night import StreamInfo
from firmware_bridge.formats import _textio as tio
from firmware_bridge.formats._timing import Uniform, place, repair_times, to_uniform, wall_offset
from firmware_bridge.formats.recording import ChannelRole, ExtraSignal, Recording, RecordingError, Signal

FORMAT = "Polar Sensor Logger"
PHONE = "phone timestamp"
SENSOR = "sensor timestamp [ns]"
ACC_COLUMNS = ("x [mg]", "y [mg]", "z [mg]")
ECG_COLUMN = "ecg [uv]"
_SHOWN = {"x [mg]": "X [mg]", "y [mg]": "Y [mg]", "z [mg]": "Z [mg]", "ecg [uv]": "ecg [uV]"}
RATE_MATCH = 1e-4  #: files of one stream kind whose rates differ by less than this (0.01 %) share the first file's rate
START_WINDOW_S = 300.0  #: the packets of the first five minutes estimate the phone-to-sensor clock offset


def is_polar_header(line: str) -> bool:
    """Whether a first line is a Polar Sensor Logger header (semicolons, a sensor timestamp column)."""
    labels = {tio.norm_label(c) for c in line.split(";")}
    return SENSOR in labels and (set(ACC_COLUMNS) <= labels or ECG_COLUMN in labels)


@dataclass
class _Stream:
    """One Polar file on its own uniform grid: ``kind`` "acc" (g, 3 rows) or "ecg" (µV, 1 row)."""

    path: str
    kind: str
    labels: tuple[str, ...]
    grid: Uniform  #: on the sensor clock, s from the file's first timestamp
    wall_offset_s: float | None  #: phone clock minus sensor clock (s since 1970 on the phone's zone-less clock)
    warnings: list[str] = field(default_factory=list)

    @property
    def fs(self) -> float:
        return float(self.grid.fs)

    @property
    def start_s(self) -> float:
        return self.grid.t0_s + (self.wall_offset_s or 0.0)

    @property
    def end_s(self) -> float:
        return self.start_s + float(self.grid.data.shape[1]) / self.grid.fs


def _read_stream(path: str | os.PathLike[str], channels: Mapping[str, ChannelRole] | None) -> _Stream:
    lines = tio.head_lines(path, 2)
    if not lines or not lines[0].strip():
        raise RecordingError(f"{tio.name(path)} is empty")
    labels = tuple(c.strip() for c in lines[0].split(";"))
    index = {tio.norm_label(c): i for i, c in enumerate(labels)}
    if ";" not in lines[0] or SENSOR not in index:
        raise RecordingError(
            f"{tio.name(path)} is not a Polar Sensor Logger file: its first line {tio.clip(lines[0])} has no "
            f"'sensor timestamp [ns]' column"
        )
    kind = "acc" if any(c in index for c in ACC_COLUMNS) else "ecg" if ECG_COLUMN in index else ""
    wanted = ACC_COLUMNS if kind == "acc" else (ECG_COLUMN,)
    lacking = [c for c in wanted if c not in index]
    if not kind or lacking:
        raise RecordingError(
            f"{tio.name(path)} lacks the column{'s' if len(lacking) > 1 else ''} "
            f"{', '.join(repr(_SHOWN.get(c, c)) for c in lacking or ACC_COLUMNS)} of a Polar Sensor Logger "
            f"ACC (or 'ecg [uV]' of an ECG) file"
        )
    cols = [index[c] for c in wanted]
    if kind == "acc" and channels:
        plan = tio.streams_from_map(path, labels, channels)
        if len(plan) != 1 or plan[0].kind != "acc":
            raise RecordingError(
                f"{tio.name(path)}: a Polar ACC file holds one accelerometer; map its three columns to "
                "x, y and z of one leg (e.g. 'Y [mg]=acc:left:x')"
            )
        cols = list(plan[0].columns)
    data_line = lines[1] if len(lines) > 1 else ""
    layout = tio.Layout(";", 1, labels, decimal_comma="," in data_line)
    values = tio.read_columns(path, layout, [index[SENSOR], *cols])
    if values.shape[1] == 0:
        raise RecordingError(f"{tio.name(path)} has a header but no rows of data")
    tio.check_finite(path, layout, values, [labels[i] for i in (index[SENSOR], *cols)])
    sensor_s = (values[0] - values[0, 0]) * 1e-9
    timing = repair_times(path, sensor_s, line_of=lambda i: tio.line_of_row(path, layout, i))
    scale = 1e-3 if kind == "acc" else 1.0  # mg -> g; ECG stays in µV
    grid = to_uniform(path, timing, values[1:] * scale)
    stream = _Stream(tio.name(path), kind, tuple(labels[c] for c in cols), grid, None)
    if PHONE in index:
        n_first = int(np.searchsorted(timing.t_s, timing.t_s[0] + START_WINDOW_S, side="right"))
        texts = tio.first_lines_of_column(path, layout, index[PHONE], n_first)
        phone = tio.parse_wall(texts)
        if phone is None:
            stream.warnings.append(
                f"{tio.name(path)}: the phone timestamps are unreadable, so the start time is unknown"
            )
        else:
            stream.wall_offset_s = wall_offset(phone, timing.t_s[: phone.size])
    else:
        stream.warnings.append(f"{tio.name(path)} has no 'Phone timestamp' column, so the start time is unknown")
    return stream


def read_polar(
    path: str | os.PathLike[str], leg: str | None = None, channels: Mapping[str, ChannelRole] | None = None
) -> Recording:
    """One Polar Sensor Logger ACC file as a :class:`Recording` with the stream ``acc:<leg>`` in g.

    ``leg`` is "left", "right" or None (the file does not say: ``acc:unknown``). ``channels`` may remap the
    axes (``{"Y [mg]": ChannelRole("acc", "left", "x"), ...}``; the detector takes x along the shank).
    An ECG file alone is refused: NightCramp needs calf EMG or acceleration.
    """
    return read_polar_files([path], leg=leg, channels=channels)


def read_polar_files(
    paths: Sequence[str | os.PathLike[str]],
    leg: str | None = None,
    channels: Mapping[str, ChannelRole] | None = None,
) -> Recording:
    """Several Polar Sensor Logger files of one session (ACC and ECG of one device, or one stream split over
    files) merged on a common start: the earliest wall-clock start, each stream placed by its own phone-clock
    start, NaN where a stream has no data. Files of one kind must share a rate and must not overlap."""
    if not paths:
        raise RecordingError("no Polar Sensor Logger file was given")
    side = tio.check_leg(leg)
    streams = [_read_stream(p, channels) for p in paths]
    if not any(s.kind == "acc" for s in streams):
        which = ", ".join(s.path for s in streams)
        verb = "holds" if len(streams) == 1 else "hold"
        raise RecordingError(f"{which} {verb} ECG only; NightCramp needs calf EMG or acceleration")
    if len(streams) > 1:
        for s in streams:
            if s.wall_offset_s is None:
                raise RecordingError(
                    f"{s.path} has no readable phone timestamps, so it cannot be aligned with the other files"
                )
    t0 = min(s.start_s for s in streams)
    owner: dict[str, _Stream] = {}
    for i, s in enumerate(streams):
        first = owner.setdefault(s.kind, s)
        if abs(first.fs / s.fs - 1.0) > RATE_MATCH:
            raise RecordingError(
                f"{first.path} and {s.path} are both {s.kind.upper()} but at different rates "
                f"({first.fs:g} and {s.fs:g} Hz); give the files of one band and session only"
            )
        for other in streams[:i]:
            if other.kind == s.kind and s.start_s < other.end_s and other.start_s < s.end_s:
                raise RecordingError(
                    f"{s.path} and {other.path} both hold {s.kind.upper()} for the same time; give the files of "
                    "one band and session only (read each leg's band separately)"
                )
    grids = [place(Uniform(s.start_s, owner[s.kind].fs, s.grid.data, s.grid.steady), t0) for s in streams]
    merged: dict[str, np.ndarray] = {}
    for kind, first in owner.items():
        pieces = [g for s, g in zip(streams, grids, strict=True) if s.kind == kind]
        whole = np.full((first.grid.data.shape[0], max(g.shape[1] for g in pieces)), np.nan, dtype=np.float32)
        for g in pieces:
            np.copyto(whole[:, : g.shape[1]], g, where=np.isfinite(g))
        merged[kind] = whole
    duration = max(merged[k].shape[1] / owner[k].fs for k in merged)
    acc = owner["acc"]
    signals = [
        Signal(
            StreamInfo(name=f"acc:{side or 'unknown'}", kind="acc", leg=side, fs_hz=acc.fs, unit="g"),
            merged["acc"],
            acc.labels,
        )
    ]
    extra = []
    if "ecg" in merged:
        extra.append(ExtraSignal("ECG", "ecg", "uV", owner["ecg"].fs, merged["ecg"][0]))
    warnings = [w for s in streams for w in s.warnings]
    start_wall = tio.iso_wall(t0) if streams[0].wall_offset_s is not None else None
    return Recording(
        path=Path(acc.path),
        format=FORMAT,
        start_wall=start_wall,
        duration_s=duration,
        signals=signals,
        warnings=warnings,
        extra=extra,
    )
