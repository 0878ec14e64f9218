"""Recordings from other tools: EDF/EDF+/BDF and CSV in, EDF+ with annotations out.

:func:`read_recording` picks the reader from the file's extension or first bytes; every reader returns a
:class:`Recording` or raises :class:`RecordingError` with one sentence naming the file and the problem.
"""

from __future__ import annotations

import os

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

    Raises
    ------
    RecordingError
        The file is of no format NightCramp reads, or cannot be read.
    """
    if is_edf(path):
        return read_edf(path, channels)
    if sniff_text(path) is not None:
        return read_text_recording(path, channels, leg=leg)
    raise RecordingError(
        f"{os.fspath(path)} is not a recording NightCramp can read; it reads .ncr, EDF/EDF+, BDF, "
        "Polar Sensor Logger and OpenBCI GUI .txt files and the simple CSV described in the README"
    )
