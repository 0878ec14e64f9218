"""Text recordings made by other tools: Polar Sensor Logger ``.txt``, OpenBCI GUI raw ``.txt`` and NightCramp's
simple CSV, plain or gzip-compressed. :func:`read_text_recording` tells them apart by their first lines."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from firmware_bridge.formats import _textio as tio
from firmware_bridge.formats.openbci import is_openbci, read_openbci
from firmware_bridge.formats.polar import is_polar_header, read_polar, read_polar_files
from firmware_bridge.formats.recording import ChannelRole, Recording, RecordingError
from firmware_bridge.formats.simple_csv import is_simple_csv, read_simple_csv

__all__ = ["read_openbci", "read_polar", "read_polar_files", "read_simple_csv", "read_text_recording", "sniff_text"]


def sniff_text(path: str | os.PathLike[str]) -> str | None:
    """ "polar", "openbci" or "csv" from the file's first lines, or None when it is none of them."""
    lines = tio.head_lines(path)
    if lines and is_polar_header(lines[0]):
        return "polar"
    if is_openbci(lines):
        return "openbci"
    if is_simple_csv(lines):
        return "csv"
    return None


def _names_mapped_column(path: str | os.PathLike[str], channels: Mapping[str, ChannelRole]) -> bool:
    """Whether the first non-comment line is a comma, semicolon or tab separated header with a mapped label
    (a CSV whose columns are all named by the ``--channel`` map)."""
    header = next((ln for ln in tio.head_lines(path) if ln.strip() and not ln.lstrip().startswith("#")), "")
    cells = {tio.norm_label(c) for c in re.split(r"[,;\t]", header)}
    return any(tio.norm_label(label) in cells for label in channels)


def read_text_recording(
    path: str | os.PathLike[str], channels: Mapping[str, ChannelRole] | None = None, leg: str | None = None
) -> Recording:
    """Read a Polar Sensor Logger ACC (or ECG) ``.txt``, an OpenBCI GUI raw ``.txt`` or a simple CSV.

    ``channels`` is the ``--channel`` map (needed for OpenBCI files with several EXG channels); ``leg``
    ("left", "right") is the leg for files that do not say (Polar, one-channel OpenBCI, ``unknown`` CSV
    columns). Raises :class:`RecordingError` with one sentence naming the file and the problem.
    """
    kind = sniff_text(path)
    if kind == "polar":
        return read_polar(path, leg=leg, channels=channels)
    if kind == "openbci":
        return read_openbci(path, channels=channels, leg=leg)
    if kind == "csv" or (kind is None and channels and _names_mapped_column(path, channels)):
        return read_simple_csv(path, channels=channels, leg=leg)
    lines = tio.head_lines(path, 1)
    first = tio.clip(lines[0]) if lines else "empty"
    raise RecordingError(
        f"{tio.name(path)} is not a text recording NightCramp reads (a Polar Sensor Logger ACC/ECG file, an "
        f"OpenBCI GUI raw file or the simple CSV with a time_s column); its first line is {first}"
    )
