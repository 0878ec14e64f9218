"""The ``Source`` contract shared by BLE, replay and synthetic sources."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self

from firmware_bridge.journal import DeviceInfo, JournalEvent


@dataclass(frozen=True, slots=True)
class Packet:
    """One notification as it arrived: device id, host receive time (ns since t=0), raw payload."""

    device: int
    t_rx_ns: int
    payload: bytes


#: What a source yields, in arrival order: a band's information (before its first packet, and again when
#: its settings change), its packets, and connection events or markers.
Item = DeviceInfo | Packet | JournalEvent


class Source(Protocol):
    """An async context manager that yields :data:`Item` s in arrival order."""

    @property
    def start_unix_ns(self) -> int | None:
        """Wall-clock time of t=0 (ns since the Unix epoch), if known."""
        ...

    @property
    def meta(self) -> Mapping[str, Any]:
        """Free information about the source (for the recording's header)."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def items(self) -> AsyncIterator[Item]: ...


class SourceContext:
    """Async context manager for sources that hold nothing to open or close."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None
