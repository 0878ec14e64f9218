"""EDF, EDF+ (continuous and discontinuous) and BDF/BDF+ files in, a :class:`Recording` out.

The header is parsed and checked here, field by field, so that a damaged file gets one sentence naming
the problem. The data records are never held whole: they are read 8 MB at a time (the next block is read
in a second thread while this one is converted), and each channel that is used is converted (digital ->
physical -> µV or g) straight into its float32 output through a strided view of the records, the channels
in two lanes side by side. Memory is the output arrays plus a few tens of MB; channels that are not used
are never converted.

- Scaling as EDF defines it: ``physical = (digital - dmin) * (pmax - pmin) / (dmax - dmin) + pmin``.
  Samples at the digital minimum or maximum stay there (clipping); when an EMG channel has pinned samples,
  its physical range becomes the stream's full scale, so that the detector marks them as clipping.
- EDF+/BDF+: the first record's time-keeping annotation gives the sub-second start; the other annotations
  become :class:`Annotation` (seconds from the first record). EDF+D records are placed at their own
  onsets on one timeline, with NaN between them (signal gaps for the detector).
- A file cut short keeps the complete records before the cut (``Recording.complete`` is then False and a
  warning says so); a header that is cut, garbled or out of range, or no complete record, is an error.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from detector.night import StreamInfo
from firmware_bridge.formats.channels import NON_SIGNAL, ChannelHeader, StreamPlan, plan_streams
from firmware_bridge.formats.recording import Annotation, ChannelRole, Recording, RecordingError, Signal

try:  # the optional C kernel (setup.py); without it the numpy path below gives the same arrays
    from firmware_bridge.formats import _edfkernel
except ImportError:  # pragma: no cover - depends on the build
    _edfkernel = None  # type: ignore[assignment]

EDF_MAGIC = b"0       "
BDF_MAGIC = b"\xffBIOSEMI"
MAX_DURATION_S = 48 * 3600.0  #: longest recording read (a discontinuous file's gaps count too)
RATE_LIMITS_HZ = {"emg": (100.0, 20000.0), "acc": (5.0, 20000.0)}  #: rates the detector can use
_BLOCK_BYTES = 1 << 23  #: data records read at a time (bounds the reader's working memory)
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_ONSET = re.compile(rb"^[+-]\d+(?:\.\d*)?$")
_DURATION = re.compile(rb"^\d+(?:\.\d*)?$")


@dataclass(frozen=True, slots=True)
class _Header:
    fmt: str  #: "EDF", "EDF+C", "EDF+D", "BDF", "BDF+C" or "BDF+D"
    bytes_per_sample: int
    header_bytes: int
    n_records: int  #: as the header states it (-1: unknown)
    record_s: float
    labels: tuple[str, ...]
    units: tuple[str, ...]
    ranges: tuple[tuple[str, str, str, str], ...]  #: physical min, max, digital min, max (as written)
    spr: tuple[int, ...]  #: samples per data record, per channel
    start_date: str
    start_time: str
    recording_id: str

    @property
    def plus(self) -> bool:
        return "+" in self.fmt


def is_edf(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` looks like EDF/BDF: by its extension, or by the first 8 bytes of the file."""
    p = Path(path)
    if p.suffix.lower() in (".edf", ".bdf", ".rec"):
        return True
    try:
        with p.open("rb") as fh:
            head = fh.read(8)
    except OSError:
        return False
    return head in (EDF_MAGIC, BDF_MAGIC)


def read_edf(path: str | os.PathLike[str], channels: dict[str, ChannelRole] | None = None) -> Recording:
    """Read an EDF, EDF+ or BDF(+) file's calf EMG and accelerometer channels (see the module docstring).

    Parameters
    ----------
    path : path-like
        The file.
    channels : dict of str to ChannelRole, optional
        ``--channel`` mapping: label -> what the channel is (overrides recognition by label and unit).

    Raises
    ------
    RecordingError
        One sentence naming the file and the problem.
    """
    p = Path(path)
    name = os.fspath(path)
    try:
        size = p.stat().st_size
        with p.open("rb") as fh:
            hdr = _read_header(name, fh, size)
    except OSError as exc:
        raise RecordingError(f"{name} cannot be read ({exc.strerror or exc})") from None
    warnings: list[str] = []
    found = [ChannelHeader(i, hdr.labels[i], hdr.units[i], hdr.spr[i] / hdr.record_s) for i in range(len(hdr.labels))]
    plans, notes = plan_streams(name, found, channels)
    warnings += notes
    record_bytes = sum(hdr.spr) * hdr.bytes_per_sample
    available = (size - hdr.header_bytes) // record_bytes
    n, complete = _record_count(name, hdr, available, size - hdr.header_bytes - available * record_bytes, warnings)
    for plan in plans:
        lo, hi = RATE_LIMITS_HZ[plan.kind]
        if not lo <= plan.fs_hz <= hi:
            raise RecordingError(
                f"{name}: channel {plan.channels[0].label!r} has a sampling rate of {plan.fs_hz:g} Hz "
                f"({hdr.spr[plan.channels[0].index]} samples per {hdr.record_s:g}-s record); NightCramp reads "
                f"{plan.kind.upper() if plan.kind == 'emg' else 'accelerometers'} at {lo:g}-{hi:g} Hz"
            )
    try:
        with p.open("rb") as fh:
            records = _Records(fh, hdr.header_bytes, record_bytes, n)
            onsets, annotations, t0 = _annotations(name, hdr, records, warnings)
            positions = _positions(name, hdr, onsets)
            duration_s = float(positions[-1] + hdr.record_s) if positions is not None else n * hdr.record_s
            if duration_s > MAX_DURATION_S:
                raise RecordingError(
                    f"{name} spans {duration_s / 3600:.1f} h; NightCramp reads recordings of up to "
                    f"{MAX_DURATION_S / 3600:g} h (one night)"
                )
            signals = _signals(name, hdr, records, plans, positions, warnings)
    except OSError as exc:
        raise RecordingError(f"{name} cannot be read ({exc.strerror or exc})") from None
    return Recording(
        path=p,
        format=hdr.fmt,
        start_wall=_start_wall(name, hdr, t0, warnings),
        duration_s=duration_s,
        signals=signals,
        annotations=annotations,
        warnings=warnings,
        complete=complete,
    )


# -- header ----------------------------------------------------------------------------------------
def _read_header(name: str, fh: Any, size: int) -> _Header:
    head = fh.read(256)
    if len(head) < 8 or head[:8] not in (EDF_MAGIC, BDF_MAGIC):
        raise RecordingError(f"{name} is not an EDF or BDF file (it does not start with an EDF or BDF header)")
    if len(head) < 256:
        raise RecordingError(f"{name} is cut short inside its header ({size} bytes; the header alone needs 256)")
    bdf = head[:8] == BDF_MAGIC
    text = head.decode("latin-1")
    reserved = text[192:236].strip()
    base = "BDF" if bdf else "EDF"
    fmt = base + reserved[3:5] if reserved[:5] in (f"{base}+C", f"{base}+D") else base
    ns = _int(name, text[252:256], "number of signals", 1, 4096)
    header_bytes = _int(name, text[184:192], "header size", 0, None)
    if header_bytes != 256 * (ns + 1):
        raise RecordingError(
            f"{name} has a damaged header: it declares {header_bytes} header bytes, but {ns} signals need "
            f"{256 * (ns + 1)}"
        )
    raw = fh.read(256 * ns)
    if len(raw) < 256 * ns:
        raise RecordingError(f"{name} is cut short inside its header ({size} bytes; the header needs {header_bytes})")
    fields = _split_signal_fields(raw.decode("latin-1"), ns)
    labels = tuple(s.strip() for s in fields[0])
    for what, column in (("label", fields[0]), ("physical dimension", fields[2])):
        for i, value in enumerate(column):
            if any(ord(c) < 32 or ord(c) == 127 for c in value):  # EDF header text is printable ASCII
                raise RecordingError(
                    f"{name} has a damaged header: the {what} of channel {i + 1} holds control characters"
                )
    if all(lab.lower() in NON_SIGNAL for lab in labels):
        raise RecordingError(f"{name} has no signal channels, only annotations; there is nothing to analyse")
    n_records = _int(name, text[236:244], "number of data records", -1, None)
    if n_records == 0:
        raise RecordingError(f"{name} has zero data records; there is no signal to analyse")
    record_s = _float(name, text[244:252], "data-record duration")
    if not record_s > 0:
        raise RecordingError(f"{name} has a data-record duration of {record_s:g} s; it must be positive")
    spr = tuple(_int(name, s, f"samples per record of channel {i + 1}", 0, None) for i, s in enumerate(fields[8]))
    if sum(spr) == 0:
        raise RecordingError(f"{name} declares no samples in its data records")
    return _Header(
        fmt=fmt,
        bytes_per_sample=3 if bdf else 2,
        header_bytes=header_bytes,
        n_records=n_records,
        record_s=record_s,
        labels=labels,
        units=tuple(s.strip() for s in fields[2]),
        ranges=tuple(zip(fields[3], fields[4], fields[5], fields[6], strict=True)),
        spr=spr,
        start_date=text[168:176],
        start_time=text[176:184],
        recording_id=text[88:168],
    )


_FIELD_WIDTHS = (16, 80, 8, 8, 8, 8, 8, 80, 8, 32)  # label ... samples per record, reserved


def _split_signal_fields(text: str, ns: int) -> list[list[str]]:
    out, pos = [], 0
    for width in _FIELD_WIDTHS:
        out.append([text[pos + i * width : pos + (i + 1) * width] for i in range(ns)])
        pos += width * ns
    return out


def _int(name: str, field: str, what: str, lo: int, hi: int | None) -> int:
    try:
        value = int(field.strip())
    except ValueError:
        raise RecordingError(f"{name} has a damaged header: its {what} is {field.strip()!r}, not a number") from None
    if value < lo or (hi is not None and value > hi):
        raise RecordingError(f"{name} has a damaged header: its {what} is {value}, which is out of range")
    return value


def _float(name: str, field: str, what: str) -> float:
    try:
        value = float(field.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise RecordingError(f"{name} has a damaged header: its {what} is {field.strip()!r}, not a number")
    return value


def _record_count(name: str, hdr: _Header, available: int, extra_bytes: int, warnings: list[str]) -> tuple[int, bool]:
    """How many records to read, and whether that is all the recording had."""
    announced = hdr.n_records
    if available == 0:
        raise RecordingError(f"{name} is cut short before its first complete data record; it holds no signal")
    if announced == -1:
        if extra_bytes:
            warnings.append(
                f"{name} ends inside a data record (the recording was interrupted); "
                f"the {available} complete records were read"
            )
        return available, not extra_bytes
    if available < announced:
        warnings.append(
            f"{name} is cut short: it holds {available} of the {announced} data records its header announces; "
            f"the {available * hdr.record_s / 60:.1f} min before the cut were read"
        )
        return available, False
    if available > announced or extra_bytes:
        warnings.append(f"{name} has data after the {announced} records its header announces; it was ignored")
    return announced, True


# -- annotations and timing ------------------------------------------------------------------------
def _annotation_channels(hdr: _Header) -> list[int]:
    return [i for i, lab in enumerate(hdr.labels) if lab.lower() in NON_SIGNAL]


class _Records:
    """The data records of an open file, a block at a time, read ahead in a second thread.

    Two reusable buffers: while the caller converts one block, the next is read into the other (the read
    releases the GIL), so reading from disk and converting overlap. Each buffer has a few spare bytes at its
    end, so that a 24-bit sample at the very end can be read as the low bytes of a 32-bit word.
    """

    def __init__(self, fh: Any, offset: int, record_bytes: int, n: int) -> None:
        self.fd, self.offset, self.record_bytes, self.n = fh.fileno(), offset, record_bytes, n
        self.rows = max(1, min(n, _BLOCK_BYTES // record_bytes))
        self._flats = [np.empty(self.rows * record_bytes + 4, dtype=np.uint8) for _ in range(2)]
        if hasattr(os, "posix_fadvise"):  # a whole-file pass: let the kernel read ahead further
            os.posix_fadvise(self.fd, offset, 0, os.POSIX_FADV_SEQUENTIAL)

    def _read(self, r: int, k: int, flat: npt.NDArray[np.uint8]) -> None:
        view = memoryview(flat[: k * self.record_bytes].data).cast("B")
        pos, want = self.offset + r * self.record_bytes, len(view)
        got = 0
        while got < want:
            n = os.preadv(self.fd, [view[got:]], pos + got)
            if n <= 0:
                raise OSError(
                    f"the file changed while it was read (record {r + got // self.record_bytes + 1} is missing)"
                )
            got += n

    def blocks(
        self, start: int = 0, stop: int | None = None
    ) -> Iterator[tuple[int, npt.NDArray[np.uint8], npt.NDArray[np.uint8]]]:
        """``(first record, records x bytes, the flat buffer that holds them from byte 0)`` for records
        ``start .. stop``; each block is valid until the next is asked for."""
        stop = self.n if stop is None else stop
        starts = list(range(start, stop, self.rows))
        if not starts:
            return
        sizes = [min(self.rows, stop - r) for r in starts]
        if len(starts) == 1:
            self._read(starts[0], sizes[0], self._flats[0])
            yield starts[0], self._flats[0][: sizes[0] * self.record_bytes].reshape(sizes[0], -1), self._flats[0]
            return
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = pool.submit(self._read, starts[0], sizes[0], self._flats[0])
            for i, (r, k) in enumerate(zip(starts, sizes, strict=True)):
                pending.result()
                flat = self._flats[i % 2]
                if i + 1 < len(starts):
                    pending = pool.submit(self._read, starts[i + 1], sizes[i + 1], self._flats[(i + 1) % 2])
                yield r, flat[: k * self.record_bytes].reshape(k, -1), flat
            pending.result()


def _annotations(
    name: str, hdr: _Header, records: _Records, warnings: list[str]
) -> tuple[list[float] | None, list[Annotation], float]:
    """Record onsets from the first record's (EDF+ only; None otherwise), annotations, and the first record's
    onset from the header's start time."""
    chans = _annotation_channels(hdr)
    if not hdr.plus or not chans:
        if hdr.plus:
            if hdr.fmt.endswith("D"):
                raise RecordingError(f"{name} is {hdr.fmt} but has no annotation channel to say when records start")
            warnings.append(f"{name} is {hdr.fmt} but has no annotation channel; no annotations were read")
        return None, [], 0.0
    offsets = _offsets(hdr)
    keepers: list[Decimal] = []
    texts: list[tuple[Decimal, Decimal | None, str]] = []
    for r0, block, _ in records.blocks():
        cols = [block[:, offsets[ch] : offsets[ch + 1]] for ch in chans]
        for i in range(block.shape[0]):
            for j, col in enumerate(cols):
                keeper = _parse_tals(name, r0 + i, col[i].tobytes(), texts, timekeeping=j == 0)
                if j == 0:
                    if keeper is None:
                        raise RecordingError(
                            f"{name}: data record {r0 + i + 1} lacks the time-keeping annotation EDF+ requires"
                        )
                    keepers.append(keeper)
    first = keepers[0]
    annotations = [
        Annotation(float(onset - first), None if dur is None else float(dur), text) for onset, dur, text in texts
    ]
    annotations.sort(key=lambda a: a.onset_s)
    return [float(k - first) for k in keepers], annotations, float(first)


def _offsets(hdr: _Header) -> list[int]:
    """Byte offset of each channel within a data record (and the record length last)."""
    return [0, *itertools.accumulate(n * hdr.bytes_per_sample for n in hdr.spr)]


def _parse_tals(
    name: str, record: int, raw: bytes, out: list[tuple[Decimal, Decimal | None, str]], *, timekeeping: bool
) -> Decimal | None:
    """Append the annotations of one record's annotation bytes; returns the time-keeping onset."""
    keeper: Decimal | None = None
    for k, tal in enumerate(t for t in raw.split(b"\x14\x00") if t.strip(b"\x00")):
        parts = tal.lstrip(b"\x00").split(b"\x14")
        head = parts[0].split(b"\x15")
        if len(head) > 2 or not _ONSET.match(head[0]) or (len(head) == 2 and not _DURATION.match(head[1])):
            raise RecordingError(f"{name}: the annotations in data record {record + 1} are damaged")
        try:
            onset = Decimal(head[0].decode("ascii"))
            duration = Decimal(head[1].decode("ascii")) if len(head) == 2 else None
        except (InvalidOperation, UnicodeDecodeError):
            raise RecordingError(f"{name}: the annotations in data record {record + 1} are damaged") from None
        labels = [p.decode("utf-8", errors="replace").strip() for p in parts[1:]]
        if timekeeping and k == 0 and (not labels or labels[0] == ""):
            keeper = onset
            labels = labels[1:]
        out.extend((onset, duration, text) for text in labels if text)
    return keeper


def _positions(name: str, hdr: _Header, onsets: list[float] | None) -> npt.NDArray[np.float64] | None:
    """Each record's start in seconds from the first (EDF+D), or None when records follow each other."""
    if onsets is None or not hdr.fmt.endswith("D"):
        return None
    pos = np.asarray(onsets, dtype=np.float64)
    step = np.diff(pos)
    bad = np.flatnonzero(step < hdr.record_s - 1e-6)
    if bad.size:
        r = int(bad[0]) + 1
        raise RecordingError(
            f"{name}: data record {r + 1} starts at {pos[r]:g} s, before the previous record ends at "
            f"{pos[r - 1] + hdr.record_s:g} s; EDF+D records must follow each other in time"
        )
    return pos


def _start_wall(name: str, hdr: _Header, t0: float, warnings: list[str]) -> str | None:
    try:
        d, m, y = (int(x) for x in hdr.start_date.strip().split("."))
        hh, mi, ss = (int(x) for x in hdr.start_time.strip().split("."))
        year = 1900 + y if y >= 85 else 2000 + y
        rid = hdr.recording_id.split()
        if hdr.plus and len(rid) >= 2 and rid[0] == "Startdate" and len(rid[1]) == 11:
            year = int(rid[1][7:])  # EDF+ gives the full year here
        start = dt.datetime(year, m, d, hh, mi, ss) + dt.timedelta(seconds=t0)
    except (ValueError, OverflowError):
        warnings.append(f"{name} has no valid start date and time; times are counted from the start of the file")
        return None
    return start.isoformat(timespec="microseconds" if start.microsecond else "seconds")


# -- samples ---------------------------------------------------------------------------------------
def _scaling(name: str, hdr: _Header, ch: ChannelHeader) -> tuple[float, float, float, float, float]:
    """gain, offset (physical = digital * gain + offset), digital min and max, largest |physical|."""
    pmin, pmax, dmin, dmax = (
        _float(name, f, f"{w} of channel {ch.label!r}")
        for f, w in zip(
            hdr.ranges[ch.index],
            ("physical minimum", "physical maximum", "digital minimum", "digital maximum"),
            strict=True,
        )
    )
    limit = 2 ** (8 * hdr.bytes_per_sample - 1)
    if not (-limit <= dmin < dmax <= limit - 1) or pmin == pmax:
        raise RecordingError(
            f"{name}: channel {ch.label!r} has an unusable range (physical {pmin:g} to {pmax:g}, digital {dmin:g} "
            f"to {dmax:g}); the digital range must be increasing and within {hdr.fmt[:3]} integers"
        )
    gain = (pmax - pmin) / (dmax - dmin)
    offset = pmin - dmin * gain
    if not abs(gain) * 2.0**24 + abs(offset) < 1e30:  # every digital value must give a finite float32 in µV or g
        raise RecordingError(
            f"{name}: channel {ch.label!r} has an absurd physical range ({pmin:g} to {pmax:g} {ch.unit})"
        )
    return gain, offset, dmin, dmax, max(abs(pmin), abs(pmax))


@dataclass
class _Out:
    """One channel being converted into its row of a stream's output."""

    row: npt.NDArray[np.float32]
    cols: slice
    spr: int
    gain: float  #: µV or g per digital unit
    offset: float
    dmin: int
    dmax: int
    starts: npt.NDArray[np.int64] | None  #: each record's first sample (EDF+D), else None
    pinned: int = 0


def _signals(
    name: str,
    hdr: _Header,
    records: _Records,
    plans: list[StreamPlan],
    positions: npt.NDArray[np.float64] | None,
    warnings: list[str],
) -> list[Signal]:
    """Convert every used channel in one pass over the data records."""
    n_rec = records.n
    offsets = _offsets(hdr)
    arrays: list[npt.NDArray[np.float32]] = []
    outs: list[list[_Out]] = []
    breaks: set[int] = set()
    for plan in plans:
        spr = hdr.spr[plan.channels[0].index]
        starts = None if positions is None else np.round(positions * (spr / hdr.record_s)).astype(np.int64)
        total = n_rec * spr if starts is None else int(starts[-1]) + spr
        if starts is None:
            arr = np.empty((len(plan.channels), total), dtype=np.float32)
        else:
            arr = np.full((len(plan.channels), total), np.nan, dtype=np.float32)
            breaks.update((np.flatnonzero(np.diff(starts) != spr) + 1).tolist())
        arrays.append(arr)
        chans = []
        for row, (ch, factor) in enumerate(zip(plan.channels, plan.factors, strict=True)):
            gain, offset, dmin, dmax, _ = _scaling(name, hdr, ch)
            cols = slice(offsets[ch.index], offsets[ch.index + 1])
            chans.append(
                _Out(arr[row], cols, spr, gain * factor, offset * factor, math.ceil(dmin), math.floor(dmax), starts)
            )
        outs.append(chans)
    edges = [0, *sorted(breaks), n_rec]
    # the channels in two lanes of about equal work, converted side by side (numpy releases the GIL)
    lanes: list[list[_Out]] = [[], []]
    work = [0, 0]
    for o in sorted((o for chans in outs for o in chans), key=lambda o: -o.spr):
        lane = work.index(min(work))
        lanes[lane].append(o)
        work[lane] += o.spr
    bps = hdr.bytes_per_sample
    scratches = [
        np.empty(records.rows * max((o.spr for o in lane), default=0) if bps == 3 else 0, dtype=np.int32)
        for lane in lanes
    ]

    def run(lane: int, flat: npt.NDArray[np.uint8], shape: tuple[int, ...], r0: int, ra: int) -> None:
        for o in lanes[lane]:
            _convert(o, flat, shape, r0, ra, bps, scratches[lane])

    with ThreadPoolExecutor(max_workers=1) as pool:
        for ra, rb in itertools.pairwise(edges):  # runs of records that follow each other without a gap
            for r0, block, flat in records.blocks(ra, rb):
                other = pool.submit(run, 1, flat, block.shape, r0, ra)
                run(0, flat, block.shape, r0, ra)
                other.result()
    signals = []
    for plan, arr, chans in zip(plans, arrays, outs, strict=True):
        data = arr[0] if plan.kind == "emg" else arr
        _plausible(name, plan, data, warnings)
        full_scale = None
        # a range stretched to the data touches its extremes once or twice; an amplifier that clipped, many times
        if plan.kind == "emg" and chans[0].pinned >= 10:
            _, _, _, _, largest = _scaling(name, hdr, plan.channels[0])
            full_scale = largest * plan.factors[0]
        unit = "uV" if plan.kind == "emg" else "g"
        leg = plan.leg if plan.leg in ("left", "right") else None  # the stream is named ...:unknown
        info = StreamInfo(plan.name, plan.kind, leg, plan.fs_hz, unit, full_scale)
        signals.append(Signal(info=info, data=data, labels=tuple(c.label for c in plan.channels)))
    return signals


def _convert(
    o: _Out,
    flat: npt.NDArray[np.uint8],
    shape: tuple[int, ...],
    r0: int,
    ra: int,
    bytes_per_sample: int,
    scratch: npt.NDArray[np.int32],
) -> None:
    """Records ``r0 ..`` (in the run that starts at record ``ra``) of one channel into its output row.

    The channel's samples are read in place through a strided view of the records (no copy): 16-bit
    samples directly; each 24-bit sample as the low 3 bytes of a little-endian 32-bit word at a 3-byte
    stride (the 4th byte belongs to the next sample), shifted left by 8 bits so that bit 23 becomes the
    sign. The shifted value is 256 times the sample, exact in float32, and the gain is divided by 256, a
    power of two: the result is bit for bit ``float32(digital) * float32(gain)``.
    """
    k, record_bytes = shape
    first = (r0 - ra) * o.spr + (ra * o.spr if o.starts is None else int(o.starts[ra]))
    if _edfkernel is not None:  # the same floats in one pass, without the interpreter lock
        out = o.row[first : first + k * o.spr]
        low, high = _edfkernel.convert(
            flat, o.cols.start, record_bytes, k, o.spr, out, bytes_per_sample, o.gain, o.offset, o.dmin, o.dmax
        )
        o.pinned += low + high
        return
    seg = o.row[first : first + k * o.spr].reshape(k, o.spr)
    strides = (record_bytes, bytes_per_sample)
    if bytes_per_sample == 2:
        digital: npt.NDArray[np.int16] | npt.NDArray[np.int32]
        digital = np.ndarray((k, o.spr), dtype="<i2", buffer=flat, offset=o.cols.start, strides=strides)
        seg[:] = digital  # exact: 16-bit integers fit a float32
        seg *= np.float32(o.gain)
        unit = 1
    else:
        words = np.ndarray((k, o.spr), dtype="<i4", buffer=flat, offset=o.cols.start, strides=strides)
        digital = scratch[: k * o.spr].reshape(k, o.spr)
        np.left_shift(words, 8, out=digital)
        seg[:] = digital
        seg *= np.float32(o.gain / 256.0)
        unit = 256
    if o.offset:
        seg += np.float32(o.offset)
    lo, hi = int(digital.min()) // unit, int(digital.max()) // unit
    if lo <= o.dmin:
        o.pinned += int(np.count_nonzero(digital <= o.dmin * unit))
    if hi >= o.dmax:
        o.pinned += int(np.count_nonzero(digital >= o.dmax * unit))


def _plausible(name: str, plan: StreamPlan, data: npt.NDArray[np.float32], warnings: list[str]) -> None:
    """Warn when the values do not look like the unit the file states (a cheap check on a subsample)."""
    x = data.reshape(len(plan.channels), -1)
    if x.shape[1] > 200_000:  # 100 stretches of 2,000 samples spread over the night (cache lines, not strides)
        at = np.linspace(0, x.shape[1] - 2_000, 100).astype(np.int64)
        x = np.concatenate([x[:, a : a + 2_000] for a in at], axis=1)
    x = x[:, np.isfinite(x.sum(axis=0))].astype(np.float64)
    if x.size == 0:
        return
    label = plan.channels[0].label
    if plan.kind == "emg":
        rms = float(np.sqrt(np.mean((x[0] - x[0].mean()) ** 2)))
        if rms < 1e-3:
            warnings.append(
                f"{name}: EMG channel {label!r} has an RMS of {rms:.2g} µV, which looks like volts labelled as "
                f"{plan.channels[0].unit or 'µV'}; check the file's units"
            )
        elif rms > 1e5:
            warnings.append(
                f"{name}: EMG channel {label!r} has an RMS of {rms:.3g} µV, far above any surface EMG; "
                "check the file's units"
            )
    else:
        mag = float(np.mean(np.sqrt((x**2).sum(axis=0))))
        if mag > 50:
            warnings.append(
                f"{name}: the {plan.leg} accelerometer averages {mag:.3g} g, which looks like mg or m/s² labelled "
                "as g; check the file's units"
            )
