"""Recordings from other tools: EDF/EDF+/BDF and CSV in, EDF+ with annotations out."""

from firmware_bridge.formats.recording import (
    Annotation,
    ChannelRole,
    Recording,
    RecordingError,
    Signal,
    parse_channel_map,
)

__all__ = ["Annotation", "ChannelRole", "Recording", "RecordingError", "Signal", "parse_channel_map"]
