"""Recordings from other tools: EDF/EDF+/BDF and CSV in, EDF+ with annotations out.

:func:`read_recording` picks the reader from the file's extension or first bytes; every reader returns a
:class:`Recording` or raises :class:`RecordingError` with one sentence naming the file and the problem.
"""

from __future__ import annotations

import dataclasses
import os

from detector.accel import shank_axis
from firmware_bridge.formats.edf import is_edf, read_edf
from firmware_bridge.formats.recording import (
    Annotation,
    ChannelRole,
    ExtraSignal,
    Recording,
    RecordingError,
    Signal,
    parse_channel_map,
)
from firmware_bridge.formats.text import (
    read_openbci,
    read_polar,
    read_polar_files,
    read_simple_csv,
    read_text_recording,
    sniff_text,
)

__all__ = [
    "Annotation",
    "ChannelRole",
    "ExtraSignal",
    "Recording",
    "RecordingError",
    "Signal",
    "is_edf",
    "orient_shanks",
    "parse_channel_map",
    "read_edf",
    "read_openbci",
    "read_polar",
    "read_polar_files",
    "read_recording",
    "read_simple_csv",
    "read_text_recording",
    "sniff_text",
]


def read_recording(
    path: str | os.PathLike[str], channels: dict[str, ChannelRole] | None = None, leg: str | None = None
) -> Recording:
    """Read another tool's recording: EDF, EDF+ or BDF(+) (by extension ``.edf``/``.bdf``/``.rec`` or by the
    EDF ``0       `` / BDF ``\\xffBIOSEMI`` header), or a text export (Polar Sensor Logger, OpenBCI GUI, the
    simple CSV), recognised by its first lines. ``leg`` is the leg of a band whose file does not say.

    An accelerometer whose x axis cannot lie along the shank is turned so that its long axis comes first
    (see :func:`orient_shanks`).

    Raises
    ------
    RecordingError
        The file is of no format NightCramp reads, or cannot be read.
    """
    if is_edf(path):
        return orient_shanks(read_edf(path, channels), channels)
    if sniff_text(path) is not None:
        return orient_shanks(read_text_recording(path, channels, leg=leg), channels)
    raise RecordingError(
        f"{os.fspath(path)} is not a recording NightCramp can read; it reads .ncr, EDF/EDF+, BDF, "
        "Polar Sensor Logger and OpenBCI GUI .txt files and the simple CSV described in the README"
    )


def orient_shanks(rec: Recording, channels: dict[str, ChannelRole] | None = None) -> Recording:
    """The recording with each accelerometer's shank axis first.

    NightCramp reads a shank's posture from the axis along it, x for its own bands. A band from another
    tool may have been worn, or its axes labelled, otherwise. When a night's acceleration says that its
    x axis lay across the shank (:func:`detector.accel.shank_axis`), the axis that lay along it becomes the
    first row, the other two follow in their order, and a warning names the channel used. Streams whose
    axes the user mapped with ``--channel`` are left as they are.
    """
    mapped = {(r.leg or "unknown") for r in (channels or {}).values() if r.kind == "acc"}
    signals, notes = [], []
    for sig in rec.signals:
        axis = None
        if sig.info.kind == "acc" and sig.info.name.split(":", 1)[-1] not in mapped:
            axis = shank_axis(sig.data, sig.info.fs_hz)
        if axis is None:
            signals.append(sig)
            continue
        order = [axis] + [i for i in range(3) if i != axis]
        labels = tuple(sig.labels[i] for i in order) if len(sig.labels) == 3 else sig.labels
        signals.append(dataclasses.replace(sig, data=sig.data[order], labels=labels))
        shown = sig.labels[axis] if len(sig.labels) == 3 else "xyz"[axis]
        notes.append(
            f"{rec.path}: the first axis of {sig.info.name} took gravity for much of the night, so it lay across "
            f"the shank; channel {shown} is taken as the shank's long axis (posture, out of bed)"
        )
    if not notes:
        return rec
    return dataclasses.replace(rec, signals=signals, warnings=[*rec.warnings, *notes])
