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
    Recording,
    RecordingError,
    Signal,
    parse_channel_map,
)

__all__ = [
    "Annotation",
    "ChannelRole",
    "Recording",
    "RecordingError",
    "Signal",
    "is_edf",
    "parse_channel_map",
    "read_edf",
    "read_recording",
]


def read_recording(path: str | os.PathLike[str], channels: dict[str, ChannelRole] | None = None) -> Recording:
    """Read another tool's recording: EDF, EDF+ or BDF(+) (by extension ``.edf``/``.bdf``/``.rec`` or by the
    EDF ``0       `` / BDF ``\\xffBIOSEMI`` header).

    Raises
    ------
    RecordingError
        The file is of no format NightCramp reads, or cannot be read.
    """
    if is_edf(path):
        return read_edf(path, channels)
    raise RecordingError(
        f"{os.fspath(path)} is not a recording NightCramp can read; it reads .ncr, EDF/EDF+ and BDF files"
    )
