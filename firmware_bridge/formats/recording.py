"""A recording made by another tool (EDF+, BDF, CSV), read into whole-night arrays for the detector.

Every reader returns a :class:`Recording`: one :class:`Signal` per detector stream (EMG in µV, one channel;
acceleration in g, three axes), each on its own uniform clock from t=0 = the recording start, with NaN where
no data exists (discontinuous EDF+ records, holes in a CSV), plus the file's own annotations. Signals the
detector does not use but an export should keep (a Polar strap's ECG) are :class:`ExtraSignal`. Readers raise
:class:`RecordingError` with one sentence naming the file and the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from detector.night import StreamInfo


class RecordingError(Exception):
    """A file cannot be read as a recording; the message is one sentence naming the file and the problem."""


@dataclass(frozen=True, slots=True)
class Signal:
    """One detector stream: ``info.name`` is ``emg:<leg>`` or ``acc:<leg>`` (``<leg>`` is left, right, or a
    stand-in such as ``unknown`` when the file does not say); ``data`` is ``(n,)`` µV or ``(3, n)`` g."""

    info: StreamInfo
    data: npt.NDArray[np.floating[Any]]
    labels: tuple[str, ...]  #: the file's channel label(s) behind this stream (x, y, z order for acceleration)


@dataclass(frozen=True, slots=True)
class Annotation:
    """An annotation carried in the file (EDF+ TAL, a marker column): seconds from the recording start."""

    onset_s: float
    duration_s: float | None
    text: str


@dataclass(frozen=True, slots=True)
class ExtraSignal:
    """A signal carried along for export but not analysed (for example a chest strap's ECG): ``data`` ``(n,)``
    in ``unit`` at ``fs_hz``, sample ``i`` at ``i / fs_hz`` s from the recording start, NaN where missing."""

    label: str  #: e.g. "ECG"
    kind: str  #: what it is, e.g. "ecg"
    unit: str  #: e.g. "uV"
    fs_hz: float
    data: npt.NDArray[np.floating[Any]]


@dataclass
class Recording:
    path: Path
    format: str  #: e.g. "EDF+C", "EDF+D", "BDF", "Polar Sensor Logger", "OpenBCI GUI", "CSV"
    start_wall: str | None  #: ISO-8601 wall-clock start as the file states it (no zone when it gives none)
    duration_s: float
    signals: list[Signal]
    annotations: list[Annotation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  #: plausibility notes for the user (one sentence each)
    complete: bool = True  #: False when the file was cut short and only the data before the cut was read
    extra: list[ExtraSignal] = field(default_factory=list)  #: non-detector signals, kept for export


@dataclass(frozen=True, slots=True)
class ChannelRole:
    """What ``--channel LABEL=emg:left``, ``LABEL=acc:right:x`` or ``LABEL=ignore`` says a channel is."""

    kind: str  #: "emg", "acc" or "ignore" (leave the channel out)
    leg: str | None  #: "left", "right" or None (unknown)
    axis: str | None  #: "x", "y", "z" for acceleration, None for EMG


_ROLE = re.compile(r"^(emg|acc)(?::(left|right|l|r|unknown))?(?::([xyz]))?$|^(ignore)$")


def parse_channel_map(items: list[str] | None) -> dict[str, ChannelRole]:
    """``["EMG1=emg:left", "AX=acc:left:x", "ECG=ignore", ...]`` -> label -> role; raises ValueError with one
    sentence."""
    out: dict[str, ChannelRole] = {}
    for item in items or []:
        label, sep, role = item.rpartition("=")
        m = _ROLE.match(role.strip().lower())
        if not sep or not label or m is None:
            raise ValueError(
                f"--channel {item!r} is not LABEL=KIND[:LEG][:AXIS], e.g. 'EMG1=emg:left', 'AccX=acc:right:x' "
                "or 'ECG=ignore'"
            )
        kind, leg, axis, ignore = m.groups()
        if ignore:
            out[label.strip()] = ChannelRole("ignore", None, None)
            continue
        if kind == "acc" and axis is None:
            raise ValueError(f"--channel {item!r} names an accelerometer channel without its axis (:x, :y or :z)")
        if kind == "emg" and axis is not None:
            raise ValueError(f"--channel {item!r} gives an axis to an EMG channel")
        leg = {"l": "left", "r": "right", "unknown": None}.get(leg or "unknown", leg)
        out[label.strip()] = ChannelRole(kind, leg, axis)
    return out
