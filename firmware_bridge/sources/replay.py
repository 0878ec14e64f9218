"""Replay a recorded journal as if the bands were streaming again."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from firmware_bridge.journal import DeviceInfo, Journal, JournalEvent, RecordType, read_journal
from firmware_bridge.sources.base import Item, Packet, SourceContext


class ReplaySource(SourceContext):
    """Yields a journal's devices, packets and events in file order.

    Parameters
    ----------
    journal : Journal or path
        The recording.
    speed : float
        Playback speed relative to real time (``math.inf``: as fast as possible).
    """

    def __init__(self, journal: Journal | str | os.PathLike[str], *, speed: float = math.inf) -> None:
        if not speed > 0:
            raise ValueError(f"replay speed must be > 0, got {speed}")
        self.journal = journal if isinstance(journal, Journal) else read_journal(journal)
        self.speed = speed

    @property
    def start_unix_ns(self) -> int | None:
        return self.journal.start_unix_ns

    @property
    def meta(self) -> Mapping[str, Any]:
        header = self.journal.header or {}
        return {"replay_of": str(self.journal.path), **dict(header.get("meta", {}))}

    @property
    def duration_s(self) -> float:
        """Time of the last record (or the END record), in s since t=0."""
        return (self.journal.last_t_ns or 0) / 1e9

    async def items(self) -> AsyncIterator[Item]:
        t0 = time.monotonic()
        devices: dict[int, DeviceInfo] = {}
        for i, rec in enumerate(self.journal.records):
            if rec.t_ns is not None and math.isfinite(self.speed):
                wait = rec.t_ns / 1e9 / self.speed - (time.monotonic() - t0)
                if wait > 0:
                    await asyncio.sleep(wait)
            elif i % 512 == 0:
                await asyncio.sleep(0)
            if rec.type == RecordType.DEVICE and rec.obj is not None:
                info = DeviceInfo.from_json(dict(rec.obj))
                devices[info.device] = info
                yield info
            elif rec.type == RecordType.DATA and rec.payload is not None and rec.device is not None:
                yield Packet(rec.device, int(rec.t_ns or 0), rec.payload)
            elif rec.type == RecordType.EVENT and rec.obj is not None:
                obj = rec.obj
                fields = {k: v for k, v in obj.items() if k not in ("t_ns", "kind", "device")}
                yield JournalEvent(int(obj["t_ns"]), str(obj["kind"]), obj.get("device"), fields)
