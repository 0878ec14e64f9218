"""A native recording (``.ncr`` journal) as whole-night arrays: the :class:`Recording` every format gives.

The journal stores raw notification payloads. :func:`journal_recording` decodes each band's payloads with
its device profile and places the samples on the recording's grid with :class:`DeviceTimeline`, exactly
as a night session does before analysis (the session and this module share :func:`band_streams`, the
naming of a band's streams). Each stream becomes one array on its own uniform clock (sample ``i`` at
``i / fs`` s from the recording start), NaN wherever no sample arrived: dropouts, lost notifications and
the stretch before a band's first or after its last sample.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from detector.night import StreamInfo
from firmware_bridge.formats.recording import Annotation, Recording, RecordingError, Signal
from firmware_bridge.journal import DeviceInfo, Journal
from firmware_bridge.profiles import DeviceProfile, StreamSpec, get_profile
from firmware_bridge.timeline import Chunk, DeviceTimeline

__all__ = ["BandStreams", "band_streams", "journal_recording", "start_datetime"]


@dataclass(frozen=True, slots=True)
class BandStreams:
    """What a band described by a DEVICE record produces, named as the detector knows its streams."""

    profile: DeviceProfile
    specs: tuple[StreamSpec, ...]
    names: dict[str, str]  #: profile stream name ("emg", "acc") -> detector stream name ("emg:left")
    infos: tuple[StreamInfo, ...]  #: one per spec, in the same order


def band_streams(info: DeviceInfo) -> BandStreams:
    """The streams of one band: ``<kind>:<leg>``, or ``<kind>:band<id>`` when the leg is not known.

    Raises ``KeyError`` (with a sentence listing the known profiles) for an unknown profile.
    """
    profile = get_profile(info.profile)
    specs = profile.streams(info.settings)
    suffix = info.leg or f"band{info.device}"
    names = {s.name: f"{s.kind}:{suffix}" for s in specs}
    infos = tuple(StreamInfo(names[s.name], s.kind, info.leg, s.fs_hz, s.unit, s.full_scale) for s in specs)
    return BandStreams(profile, specs, names, infos)


def start_datetime(unix_ns: int | None) -> dt.datetime | None:
    """Wall-clock start as a local, zone-aware datetime to the microsecond (None when unknown)."""
    if unix_ns is None:
        return None
    seconds, rest_ns = divmod(int(unix_ns), 1_000_000_000)
    utc = dt.datetime.fromtimestamp(seconds, tz=dt.UTC) + dt.timedelta(microseconds=rest_ns // 1000)
    return utc.astimezone()


def journal_recording(journal: Journal) -> Recording:
    """Decode every band of ``journal`` into whole-night arrays (EMG ``(n,)`` µV, acceleration ``(3, n)`` g).

    The arrays are float32 (the bands send 16-bit counts, which float32 holds exactly to well below one
    count) and span the journal's duration (the time of its last record). Markers become annotations
    with their label as text. Raises :class:`RecordingError` for a journal without a band or with a band
    of an unknown profile.
    """
    path = journal.path
    if not journal.devices:
        raise RecordingError(f"{path} describes no band; it holds no signal to read")
    duration_s = (journal.last_t_ns or 0) / 1e9
    signals: list[Signal] = []
    for device, info in sorted(journal.devices.items()):
        try:
            band = band_streams(info)
        except KeyError as exc:
            raise RecordingError(f"{path}: band {device} uses an {exc.args[0]}") from None
        timeline = DeviceTimeline(band.specs, clock_wrap_ns=band.profile.device_clock_wrap_ns)
        t_rx, payloads = journal.packets(device)
        chunks: list[Chunk] = []
        if payloads:
            decoded = band.profile.decode(payloads, t_rx, info.settings)
            chunks += timeline.push(decoded.blocks) if decoded.blocks else []
        chunks += timeline.finish()
        for spec, stream in zip(band.specs, band.infos, strict=True):
            mine = [c for c in chunks if c.stream == spec.name]
            signals.append(Signal(stream, _place(mine, len(spec.channels), spec.fs_hz, duration_s), spec.channels))
    start = start_datetime(journal.start_unix_ns)
    markers = [Annotation(ev.t_ns / 1e9, None, str(ev.fields.get("label", "marker"))) for ev in journal.markers()]
    return Recording(
        path=path,
        format="NightCramp journal",
        start_wall=None if start is None else start.isoformat(timespec="microseconds"),
        duration_s=duration_s,
        signals=signals,
        annotations=markers,
    )


def _place(chunks: list[Chunk], n_channels: int, fs: float, duration_s: float) -> np.ndarray:
    """Contiguous chunks of one stream -> one NaN-filled ``(n_channels, n)`` array (EMG squeezed to ``(n,)``)."""
    n = math.ceil(duration_s * fs - 1e-9)
    n = max([n, *(c.start + c.data.shape[1] for c in chunks)])
    out = np.full((n_channels, n), np.nan, dtype=np.float32)
    for c in chunks:
        out[:, c.start : c.start + c.data.shape[1]] = c.data
    return out[0] if n_channels == 1 else out
