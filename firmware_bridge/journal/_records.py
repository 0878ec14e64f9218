"""Compact storage of a journal's records: parallel arrays, materialised as :class:`Record` on demand.

An 8-hour night holds about 1.5 million DATA records; keeping them as arrays over the file's bytes instead
of one object each makes reading several times faster and the memory a fraction.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from firmware_bridge.journal._format import DATA_HEAD, RECORD_HEAD, Record, RecordType

__all__ = ["RecordIndex", "RecordSequence"]

_HEAD = RECORD_HEAD.size
_DATA_FIXED = RECORD_HEAD.size + DATA_HEAD.size
_RECORD_TYPES = {int(t): t for t in RecordType}
_BATCH = 65_536
_NEW = object.__new__
_SET_TYPE, _SET_OFFSET, _SET_T, _SET_DEVICE, _SET_PAYLOAD, _SET_OBJ = (
    Record.__dict__[name].__set__ for name in ("type", "offset", "t_ns", "device", "payload", "obj")
)


def _make_record(
    rtype: RecordType,
    offset: int,
    t_ns: int | None,
    device: int | None,
    payload: bytes | None,
    obj: Mapping[str, Any] | None,
) -> Record:
    """``Record(...)`` at about half the cost of the frozen dataclass's ``__init__``.

    Replaying a night materialises over a million records, so this matters; the result is an ordinary
    :class:`Record` (which has no ``__post_init__`` to skip).
    """
    record: Record = _NEW(Record)
    _SET_TYPE(record, rtype)
    _SET_OFFSET(record, offset)
    _SET_T(record, t_ns)
    _SET_DEVICE(record, device)
    _SET_PAYLOAD(record, payload)
    _SET_OBJ(record, obj)
    return record


@dataclass(frozen=True, slots=True)
class RecordIndex:
    """Records kept by the reader as parallel arrays (one entry per record, in file order)."""

    data: bytes  # the whole (decompressed) file
    types: npt.NDArray[np.uint8]
    offsets: npt.NDArray[np.int64]  # offset of the record head
    lengths: npt.NDArray[np.int64]  # payload length
    devices: npt.NDArray[np.int16]  # -1: none
    t_ns: npt.NDArray[np.int64]  # DATA, EVENT, END; 0 for DEVICE
    objs: Mapping[int, Mapping[str, Any]]  # position -> JSON object of DEVICE, EVENT and END records

    def records(self, which: slice) -> list[Record]:
        """The records at positions ``which``, materialised."""
        positions = range(len(self.types))[which]
        columns = (self.types, self.offsets, self.lengths, self.devices, self.t_ns)
        rows = zip(positions, *(c[which].tolist() for c in columns), strict=True)
        data, objs, make, out = self.data, self.objs, _make_record, []
        for k, rtype, offset, length, dev, t in rows:
            device = None if dev < 0 else dev
            if rtype == RecordType.DATA:
                payload = data[offset + _DATA_FIXED : offset + _HEAD + length]
                out.append(make(RecordType.DATA, offset, t, device, payload, None))
            else:
                kind = _RECORD_TYPES[rtype]
                out.append(make(kind, offset, None if kind is RecordType.DEVICE else t, device, None, objs[k]))
        return out


class RecordSequence(Sequence[Record]):
    """Read-only, lazily materialised sequence of the journal's records."""

    __slots__ = ("_index",)

    def __init__(self, index: RecordIndex) -> None:
        self._index = index

    def __len__(self) -> int:
        return len(self._index.types)

    @overload
    def __getitem__(self, i: int) -> Record: ...
    @overload
    def __getitem__(self, i: slice) -> list[Record]: ...
    def __getitem__(self, i: int | slice) -> Record | list[Record]:
        if isinstance(i, slice):
            return self._index.records(i)
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"record index {i} out of range for {n} records")
        k = i % n
        return self._index.records(slice(k, k + 1))[0]

    def __iter__(self) -> Iterator[Record]:
        n = len(self)
        for start in range(0, n, _BATCH):
            yield from self._index.records(slice(start, min(start + _BATCH, n)))

    def __repr__(self) -> str:
        return f"<{len(self)} journal records>"
