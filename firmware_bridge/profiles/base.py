"""The device-profile contract: data about a band plus a pure, vectorised decoder.

A profile turns the raw notification payloads a band sends into :class:`SampleBlock` s in physical units
(EMG in µV, acceleration in g). Decoders take many payloads at once (a whole recorded night) or one (a
live notification) and never raise on malformed input: bad payloads are counted and skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One stream a band produces with given settings."""

    name: str  #: profile-local name, e.g. "emg" or "acc"
    kind: str  #: "emg" (µV) or "acc" (g, axes x, y, z)
    channels: tuple[str, ...]
    unit: str  #: "uV" or "g"
    fs_hz: float
    full_scale: float | None = None  #: amplitude at which the sensor clips, in ``unit``


@dataclass(frozen=True, slots=True)
class SampleBlock:
    """Decoded frames of one stream, in arrival order.

    Attributes
    ----------
    stream : str
        The :class:`StreamSpec` name.
    data : ndarray, shape (n_channels, n_samples)
        Samples in physical units, frames concatenated.
    counts : ndarray of int64, shape (n_frames,)
        Samples per frame.
    t_rx_ns : ndarray of int64, shape (n_frames,)
        Host receive time of each frame's notification (ns since the recording start).
    t_device_ns : ndarray of int64 or None, shape (n_frames,)
        Device clock at each frame's first sample, as sent (it may wrap; see the profile's
        ``device_clock_wrap_ns``), or None for bands without timestamps.
    seq : ndarray of int64 or None, shape (n_frames,)
        Device frame counter, as sent (wraps at the profile's ``seq_wrap``), or None.
    """

    stream: str
    data: FloatArray
    counts: IntArray
    t_rx_ns: IntArray
    t_device_ns: IntArray | None = None
    seq: IntArray | None = None

    @property
    def n_frames(self) -> int:
        return int(self.counts.shape[0])


@dataclass(frozen=True, slots=True)
class Decoded:
    """What a batch of payloads decoded to."""

    blocks: tuple[SampleBlock, ...]
    malformed: int = 0  #: payloads that could not be decoded and were skipped
    info: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)  #: device information messages


class DeviceProfile(Protocol):
    """What every band profile provides."""

    name: str
    version: int
    service_uuid: str
    notify_uuid: str
    write_uuid: str | None
    device_clock_wrap_ns: int | None
    seq_wrap: int | None

    def default_settings(self) -> dict[str, Any]: ...

    def streams(self, settings: Mapping[str, Any]) -> tuple[StreamSpec, ...]: ...

    def decode(self, payloads: Sequence[bytes], t_rx_ns: npt.ArrayLike, settings: Mapping[str, Any]) -> Decoded: ...

    def matches(self, name: str | None, service_uuids: Sequence[str]) -> bool: ...

    def start_commands(self, settings: Mapping[str, Any]) -> list[tuple[str, bytes]]: ...

    def stop_commands(self, settings: Mapping[str, Any]) -> list[tuple[str, bytes]]: ...
