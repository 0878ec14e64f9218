"""A night session: items from any source -> decoders -> device timelines -> the night detector.

The same :class:`NightSession` serves live recording, replay and offline analysis; offline analysis
(:func:`analyze_journal`) just hands it each device's whole night at once. Recordings made by other tools
(EDF/BDF, read into whole-night arrays) are analysed offline with :func:`analyze_recording` and replayed
chunk by chunk, as live data would arrive, with :func:`replay_recording`; both give the same events.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from detector.events import Event, mask_to_runs, sort_events
from detector.night import NightDetector, Notice, StreamInfo, analyze_streams
from detector.params import DetectorParams
from detector.summary import summarize
from firmware_bridge.formats import Recording
from firmware_bridge.formats.native import band_streams
from firmware_bridge.journal import DeviceInfo, Journal, JournalEvent
from firmware_bridge.profiles import DeviceProfile
from firmware_bridge.sources.base import Item, Packet
from firmware_bridge.timeline import DeviceTimeline


class SessionError(Exception):
    """A night cannot be analysed (no devices, unknown profile, no data)."""


@dataclass
class NightResult:
    """Everything the morning needs: events, summary, what was recorded and how it was analysed."""

    events: list[Event]
    summary: dict[str, Any]
    streams: list[StreamInfo]
    devices: list[DeviceInfo]
    duration_s: float
    start_unix_ns: int | None
    params: DetectorParams
    mains_hz: dict[str, float | None]
    connection_events: list[JournalEvent] = field(default_factory=list)
    packets: int = 0
    malformed: int = 0
    source: dict[str, Any] = field(default_factory=dict)
    start_time: str | None = None  #: ISO-8601 start as a file states it (used when ``start_unix_ns`` is None)
    link: dict[int, dict[str, Any]] = field(default_factory=dict)  #: per band: packets, malformed, gaps, drift
    overview: dict[str, Any] = field(default_factory=dict)  #: per-minute activity and posture per stream
    pictures: list[dict[str, Any]] = field(default_factory=list)  #: the signals around each cramp (report)
    review: dict[str, Any] = field(default_factory=dict)  #: the sleeper's review and diary, when there is one


@dataclass
class _Device:
    info: DeviceInfo
    profile: DeviceProfile
    timeline: DeviceTimeline
    names: dict[str, str]  # profile stream name -> detector stream name
    streams: tuple[StreamInfo, ...]
    t: list[int] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)
    packets: int = 0
    malformed: int = 0
    samples: dict[str, int] = field(default_factory=dict)  #: decoded samples per stream
    rx_span_ns: tuple[int, int] | None = None  #: first and last receive time
    decoder: Any = None  #: the profile's stateful decoder, for profiles that have one (Ganglion)


class NightSession:
    """Feed items with :meth:`add`; call :meth:`finish` at the end of the night."""

    def __init__(
        self,
        params: DetectorParams | None = None,
        *,
        on_event: Callable[[Event], None] | None = None,
        on_notice: Callable[[Notice], None] | None = None,
        batch_packets: int = 256,
        on_samples: Callable[[str, int, np.ndarray], None] | None = None,
        flush_s: float | None = None,
    ) -> None:
        self.params = params or DetectorParams()
        self._on_event = on_event
        self._on_notice = on_notice
        self._on_samples = on_samples  #: (stream, first sample, data (channels, n)) as placed, for a live view
        #: live recording: analyse at least this often (s of arrival time), however few packets have come
        self._flush_ns = None if flush_s is None else int(flush_s * 1e9)
        self._pending_since: int | None = None
        self._batch = batch_packets
        self._devices: dict[int, _Device] = {}
        self._detector: NightDetector | None = None
        self._pending = 0
        self.connection_events: list[JournalEvent] = []
        self._markers: list[JournalEvent] = []
        self.packets = 0
        self.malformed = 0
        self.last_t_ns = 0

    # -- items -----------------------------------------------------------------------------------
    def add(self, item: Item) -> None:
        if isinstance(item, Packet):
            dev = self._devices.get(item.device)
            if dev is None:
                self.malformed += 1  # a packet from a band never described
                return
            dev.t.append(item.t_rx_ns)
            dev.payloads.append(item.payload)
            self.last_t_ns = max(self.last_t_ns, item.t_rx_ns)
            self._pending += 1
            if self._pending_since is None:
                self._pending_since = item.t_rx_ns
            due = self._flush_ns is not None and item.t_rx_ns - self._pending_since >= self._flush_ns
            if self._pending >= self._batch or due:
                self.flush()
        elif isinstance(item, DeviceInfo):
            self.flush()  # packets so far decode with the settings they came with
            self._add_device(item)
        else:
            self.flush()
            self.last_t_ns = max(self.last_t_ns, item.t_ns)
            if item.kind == "marker":
                self._markers.append(item)
                if self._detector is not None:
                    self._emit(self._detector.add_marker(item.t_ns / 1e9, str(item.fields.get("label", "marker"))))
            else:
                self.connection_events.append(item)

    def add_block(self, device: int, t_rx_ns: Sequence[int] | np.ndarray, payloads: Sequence[bytes]) -> None:
        """Many packets of one device at once (offline analysis)."""
        dev = self._devices[device]
        self._decode(dev, np.asarray(t_rx_ns, dtype=np.int64), list(payloads))
        if len(payloads):
            self.last_t_ns = max(self.last_t_ns, int(np.max(t_rx_ns)))

    def flush(self) -> None:
        """Decode and analyse the packets received so far."""
        for dev in self._devices.values():
            if dev.payloads:
                t, p = np.asarray(dev.t, dtype=np.int64), dev.payloads
                dev.t, dev.payloads = [], []
                self._decode(dev, t, p)
        self._pending = 0
        self._pending_since = None

    def link_malformed(self, device: int) -> int:
        """Notifications of one band that could not be decoded so far."""
        dev = self._devices.get(device)
        return 0 if dev is None else dev.malformed

    def samples_per_s(self, device: int) -> float | None:
        """The band's measured sample rate (its fastest stream): samples decoded over the span they arrived in."""
        dev = self._devices.get(device)
        if dev is None or dev.rx_span_ns is None or not dev.samples:
            return None
        span = (dev.rx_span_ns[1] - dev.rx_span_ns[0]) / 1e9
        return max(dev.samples.values()) / span if span >= 1.0 else None

    @property
    def detector(self) -> NightDetector | None:
        """The online detector, once the first band is described."""
        return self._detector

    def finish(self, duration_s: float | None = None) -> NightResult:
        self.flush()
        det = self._ensure_detector()
        for dev in self._devices.values():
            self._analyse(dev, dev.timeline.finish())
        duration = max(duration_s or 0.0, self.last_t_ns / 1e9)
        self._emit(det.finish(duration))
        events = det.all_events()
        summary = summarize(events, duration_s=duration, sleep=det.sleep_info(), streams=det.valid_seconds())
        return NightResult(
            events=events,
            summary=summary,
            streams=list(det.streams.values()),
            devices=[d.info for d in self._devices.values()],
            duration_s=duration,
            start_unix_ns=None,
            params=self.params,
            mains_hz=det.mains_hz,
            connection_events=list(self.connection_events),
            overview=det.overview(),
            packets=self.packets,
            malformed=self.malformed,
            link={
                d.info.device: {
                    "packets": d.packets,
                    "malformed_packets": d.malformed,
                    "gaps": d.timeline.stats.gaps,
                    "frames_overlapping": d.timeline.stats.frames_dropped,
                    "clock_drift_ppm": dict(d.timeline.stats.drift_ppm),
                }
                for d in self._devices.values()
            },
        )

    # -- internals -------------------------------------------------------------------------------
    def _add_device(self, info: DeviceInfo) -> None:
        known = self._devices.get(info.device)
        if known is not None:
            # settings refreshed (negotiated, or after a reconnect): later packets decode with them, as long
            # as the streams they describe are the same (the night's streams cannot change midway)
            if known.profile.streams(info.settings) == known.profile.streams(known.info.settings):
                known.info = info
            return
        if self._detector is not None:
            raise SessionError(f"band {info.device} joined after the night started; record it separately")
        try:
            band = band_streams(info)
        except KeyError as exc:
            raise SessionError(str(exc.args[0])) from None
        timeline = DeviceTimeline(band.specs, clock_wrap_ns=band.profile.device_clock_wrap_ns)
        dev = _Device(info, band.profile, timeline, band.names, band.infos)
        new_decoder = getattr(band.profile, "new_decoder", None)
        if new_decoder is not None:
            dev.decoder = new_decoder(info.settings)
        self._devices[info.device] = dev

    def _ensure_detector(self) -> NightDetector:
        if self._detector is None:
            streams = [stream for dev in self._devices.values() for stream in dev.streams]
            if not streams:
                raise SessionError("the recording describes no EMG or accelerometer stream")
            self._detector = NightDetector(streams, self.params)
            for m in self._markers:
                self._detector.add_marker(m.t_ns / 1e9, str(m.fields.get("label", "marker")))
        return self._detector

    def _decode(self, dev: _Device, t: np.ndarray, payloads: list[bytes]) -> None:
        if dev.decoder is not None:  # a band whose decoding carries state from one batch to the next
            decoded = dev.decoder.decode(payloads, t)
        else:
            decoded = dev.profile.decode(payloads, t, dev.info.settings)
        self.packets += len(payloads)
        self.malformed += decoded.malformed
        dev.packets += len(payloads)
        dev.malformed += decoded.malformed
        for b in decoded.blocks:
            dev.samples[b.stream] = dev.samples.get(b.stream, 0) + int(b.counts.sum())
        if t.size:
            lo, hi = int(t.min()), int(t.max())
            dev.rx_span_ns = (
                (lo, hi) if dev.rx_span_ns is None else (min(dev.rx_span_ns[0], lo), max(dev.rx_span_ns[1], hi))
            )
        self._ensure_detector()
        chunks = dev.timeline.push(decoded.blocks) if decoded.blocks else []
        self._analyse(dev, chunks)

    def _analyse(self, dev: _Device, chunks: Sequence[Any]) -> None:
        det = self._ensure_detector()
        for c in chunks:
            data = c.data[0] if c.data.shape[0] == 1 else c.data
            if self._on_samples is not None:
                self._on_samples(dev.names[c.stream], c.start, c.data)
            self._emit(det.push(dev.names[c.stream], c.start, data))

    def _emit(self, events: list[Event]) -> None:
        det = self._detector
        if det is not None and det.notices:
            notices, det.notices = det.notices, []
            if self._on_notice:
                for n in notices:
                    self._on_notice(n)
        if self._on_event:
            for e in sort_events(events):
                self._on_event(e)


def journal_duration_s(journal: Journal) -> float:
    """Time of the journal's last record, in seconds since t=0."""
    return (journal.last_t_ns or 0) / 1e9


def analyze_journal(journal: Journal, params: DetectorParams | None = None) -> NightResult:
    """Offline analysis of a whole recording: each device's night decoded and analysed at once."""
    if not journal.devices:
        raise SessionError(f"{journal.path} describes no band; it holds no analysable data")
    session = NightSession(params)
    for info in journal.devices.values():
        session.add(info)
    for ev in journal.events():
        session.add(ev)
    for dev in journal.devices:
        t, payloads = journal.packets(dev)
        session.add_block(dev, t, payloads)
    result = session.finish(journal_duration_s(journal))
    result.start_unix_ns = journal.start_unix_ns
    return result


# -- recordings made by other tools ----------------------------------------------------------------
def recording_source(rec: Recording) -> dict[str, Any]:
    """The night JSON's ``source`` fields that describe a recording read from another tool's file."""
    return {
        "path": str(rec.path),
        "format": rec.format,
        "complete": rec.complete,
        "channels": {s.info.name: list(s.labels) for s in rec.signals},
        "annotations": [
            {"onset_s": round(a.onset_s, 6), "duration_s": a.duration_s, "text": a.text} for a in rec.annotations
        ],
        "warnings": list(rec.warnings),
    }


def _unknown_leg(rec: Recording) -> bool:
    """A file whose one band says no leg: the detector files such a band under "left"; we report None."""
    return any(s.info.leg is None for s in rec.signals)


def _relabel(events: list[Event], unknown: bool) -> list[Event]:
    if not unknown:
        return events
    return [dataclasses.replace(e, leg=None) if e.leg == "left" else e for e in events]


def _recording_result(rec: Recording, det: NightDetector) -> NightResult:
    events = _relabel(det.all_events(), _unknown_leg(rec))
    summary = summarize(events, duration_s=rec.duration_s, sleep=det.sleep_info(), streams=det.valid_seconds())
    return NightResult(
        events=events,
        summary=summary,
        streams=list(det.streams.values()),
        devices=[],
        duration_s=rec.duration_s,
        start_unix_ns=None,
        params=det.params,
        mains_hz=det.mains_hz,
        source=recording_source(rec),
        start_time=rec.start_wall,
        overview=det.overview(),
    )


def analyze_recording(rec: Recording, params: DetectorParams | None = None) -> NightResult:
    """Offline analysis of a recording read from another tool's file (each stream's night at once)."""
    det = analyze_streams([(s.info, s.data) for s in rec.signals], duration_s=rec.duration_s, params=params)
    return _recording_result(rec, det)


def replay_recording(
    rec: Recording,
    params: DetectorParams | None = None,
    *,
    chunk_s: float | None = None,
    speed: float = math.inf,
    on_event: Callable[[Event], None] | None = None,
    on_notice: Callable[[Notice], None] | None = None,
    on_progress: Callable[[float], None] | None = None,
    live: LiveHooks | None = None,
) -> NightResult | None:
    """Replay a recording as live data: ``chunk_s`` seconds of every stream at a time, in time order, through
    the online detector (at ``speed`` times real time; ``inf`` = as fast as possible). ``chunk_s`` defaults to
    1 s when paced and 10 s at full speed. Missing samples (NaN) are not sent, as a live band sends nothing
    during a dropout. Gives the same events as :func:`analyze_recording`.

    ``live`` connects a live window: it sees every chunk sent, can change the speed and stop the replay
    (then None is returned), and adds markers to the night as they are pressed."""
    if chunk_s is None:
        chunk_s = 10.0 if math.isinf(speed) else 1.0
    if not (chunk_s > 0 and speed > 0):
        raise ValueError(f"chunk_s and speed must be positive, got {chunk_s} and {speed}")
    det = NightDetector([s.info for s in rec.signals], params)
    unknown = _unknown_leg(rec)
    if on_event is not None and unknown:
        deliver = on_event
        on_event = lambda e: deliver(_relabel([e], True)[0])  # noqa: E731
    t_wall, t_anchor = time.perf_counter(), 0.0
    t_sent = 0.0
    while t_sent < rec.duration_s or t_sent == 0.0:
        step = chunk_s
        if live is not None and math.isfinite(live.speed()):  # about 30 pieces a second of wall time
            step = min(10.0, max(chunk_s, live.speed() / 30.0))
        t_next = min(t_sent + step, rec.duration_s)
        for sig in rec.signals:
            fs = sig.info.fs_hz
            a, b = round(t_sent * fs), round(t_next * fs)
            block = sig.data[..., a:b].reshape(sig.info.n_channels, -1)
            for ra, rb in mask_to_runs(np.isfinite(block).all(axis=0)).tolist():
                part = block[0, ra:rb] if sig.info.kind == "emg" else block[:, ra:rb]
                if live is not None:
                    live.on_samples(sig.info.name, a + ra, part.reshape(sig.info.n_channels, -1))
                _deliver(det, det.push(sig.info.name, a + ra, part), on_event, on_notice)
        t_sent = t_data = t_next
        if on_progress is not None:
            on_progress(t_data)
        if live is not None:
            for t_s, label in live.markers(t_data):
                _deliver(det, det.add_marker(t_s, label), on_event, on_notice)
            live.on_status(det)
            while True:  # paced at the window's speed, which may change at any time
                if live.stopped():
                    return None
                pace = live.speed()
                wait = t_wall + (t_data - t_anchor) / pace - time.perf_counter()
                if wait <= 0 or not math.isfinite(pace):
                    break
                time.sleep(min(wait, 0.1))
            if time.perf_counter() - t_wall > 0.5:  # re-anchor, so that a speed change applies at once
                t_wall, t_anchor = time.perf_counter(), t_data
        elif math.isfinite(speed):
            wait = t_wall + t_data / speed - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        if rec.duration_s <= 0:
            break
    _deliver(det, det.finish(rec.duration_s), on_event, on_notice)
    return _recording_result(rec, det)


class LiveHooks(Protocol):
    """What :func:`replay_recording` asks of a live window."""

    def on_samples(self, name: str, start: int, data: npt.NDArray[np.floating[Any]]) -> None: ...

    def on_status(self, detector: NightDetector) -> None: ...

    def markers(self, t_s: float) -> list[tuple[float, str]]:
        """Markers pressed since the last call, placed at ``t_s`` (the replay's newest time)."""
        ...

    def speed(self) -> float: ...

    def stopped(self) -> bool: ...


def _deliver(
    det: NightDetector,
    events: list[Event],
    on_event: Callable[[Event], None] | None,
    on_notice: Callable[[Notice], None] | None,
) -> None:
    if det.notices:
        notices, det.notices = det.notices, []
        if on_notice:
            for n in notices:
                on_notice(n)
    if on_event:
        for e in sort_events(events):
            on_event(e)
