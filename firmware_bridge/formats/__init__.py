"""Recordings from other tools: EDF/EDF+/BDF and CSV in, EDF+ with annotations out."""

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
    "parse_channel_map",
    "read_openbci",
    "read_polar",
    "read_polar_files",
    "read_simple_csv",
    "read_text_recording",
    "sniff_text",
]
