"""EDF+ export: a recording's signals plus every detected event as an EDF+ annotation.

One EDF+C file (written with edfio), readable by EDFbrowser, MNE, edfio and any EDF+ reader:

- **Channels**: one per signal: ``EMG Left`` (µV, label and unit ``uV``) and ``ACC Left X``, ``Y``, ``Z``
  (``g``), legs as ``Left``/``Right`` tokens, so NightCramp's own EDF reader recognises them again. A band
  whose leg is unknown keeps its stream suffix (``EMG band0``).
- **Resolution**: each channel's physical minimum and maximum are the data's own range widened by
  :data:`RANGE_MARGIN` of the span on each side, written with as many decimals as the 8-character
  header field holds, so the 65,536 digital steps cover little more than the data. Samples are rounded
  to the nearest step (error at most half a step).
- **Start time**: the wall-clock start, to the microsecond (EDF+ keeps the fraction of a second in the
  first time-keeping annotation). EDF has no time zone: the local time given is written as is.
- **Data records**: the shortest whole number of seconds (1 s for integer rates, at most
  :data:`MAX_RECORD_S`) in which every channel has a whole number of samples; a 12.5-Hz channel gives
  2-s records. A rate that needs longer records (a rate measured from timestamps, e.g. 199.93 Hz) is
  resampled by linear interpolation to the nearest rate that fits (200 Hz with 1-s records); the
  export reports each such channel.
- **Gaps**: EDF+C with the gaps filled: a missing sample (NaN) is written as 0 and every filled
  stretch lies inside an annotation ``Signal gap <stream>`` (the detector's own ``signal_gap`` events,
  plus one for any stretch they do not cover). EDF+D was not chosen because its records are shared by
  every channel, and a dropout of one band leaves the other band's data in the same seconds. After the
  recording's end the last data record is padded with 0 under an ``End of recording`` annotation.
- **Annotations**: every event with its onset and duration (none for instants) and a readable text
  (:func:`event_text`): ``Cramp left calf``, ``Leg movement right``, ``PLM series left (5 movements)``,
  ``Large movement``, ``Awakening``, ``Out of bed``, ``Artifact (clipping) EMG left``,
  ``Signal gap ACC right``, ``Marker: cramp now``, plus ``Sleep onset`` and ``Final wake``. Texts are
  single-line and at most :data:`MAX_ANNOTATION_CHARS` characters.

The file is created readable by its owner alone (0600) and replaces ``path`` atomically.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from edfio import Edf, EdfAnnotation, EdfSignal, Patient
from edfio import Recording as EdfRecording

from detector.events import Event
from firmware_bridge.errors import BridgeError
from firmware_bridge.formats.recording import Annotation, Signal

__all__ = [
    "MAX_ANNOTATION_CHARS",
    "MAX_RECORD_S",
    "RANGE_MARGIN",
    "EdfExport",
    "EdfExportError",
    "event_annotations",
    "event_text",
    "write_edf_plus",
]

#: Longest record, in seconds, chosen to give every channel a whole number of samples per record.
MAX_RECORD_S = 60
#: Fraction of a channel's span added below its minimum and above its maximum for the physical range.
RANGE_MARGIN = 0.01
#: Longest annotation text, in characters (longer marker labels are cut and end in "...").
MAX_ANNOTATION_CHARS = 80
#: Value written for a missing sample (in the channel's unit).
GAP_FILL = 0.0

_DIGITAL = (-32768, 32767)
_AXES = ("X", "Y", "Z")
_TINY = Decimal("0.0001")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


class EdfExportError(BridgeError):
    """A recording cannot be written as EDF+; the message names the file and the problem."""

    def __init__(self, path: str | os.PathLike[str], message: str) -> None:
        super().__init__(message)
        self.path = Path(path)


@dataclass(frozen=True, slots=True)
class EdfExport:
    """What was written."""

    path: Path
    record_s: int  #: data record duration in seconds
    n_records: int
    labels: tuple[str, ...]  #: signal channels, in file order (the annotation channel not included)
    annotations: tuple[Annotation, ...]  #: as written, sorted by onset
    resampled: dict[str, tuple[float, float]] = field(default_factory=dict)  #: label -> (from Hz, to Hz)

    @property
    def duration_s(self) -> int:
        return self.record_s * self.n_records


# -- annotation texts ----------------------------------------------------------------------------------
def stream_text(name: str) -> str:
    """``"emg:left"`` -> ``"EMG left"``, ``"acc:band0"`` -> ``"ACC band0"``."""
    kind, _, suffix = name.partition(":")
    return f"{kind.upper()} {suffix}".strip()


def event_text(event: Event) -> str:
    """The readable annotation text of one detected event."""
    leg = event.leg
    f = event.fields
    match event.kind:
        case "cramp":
            return f"Cramp {leg} calf" if leg else "Cramp calf"
        case "limb_movement":
            return f"Leg movement {leg}" if leg else "Leg movement"
        case "plm_series":
            count = f.get("count")
            where = f" {leg}" if leg else ""
            return f"PLM series{where} ({count} movements)" if count is not None else f"PLM series{where}"
        case "large_movement":
            return "Large movement"
        case "awakening":
            return "Awakening"
        case "out_of_bed":
            return "Out of bed"
        case "artifact":
            reason = str(f.get("reason", "unknown")).replace("_", " ")
            return f"Artifact ({reason}) {stream_text(str(f.get('stream', '')))}".strip()
        case "signal_gap":
            return f"Signal gap {stream_text(str(f.get('stream', '')))}".strip()
        case "marker":
            return f"Marker: {f.get('label', '')}".rstrip()
        case _:
            text = event.kind.replace("_", " ").capitalize()
            return f"{text} {leg}" if leg else text


def _clean_text(text: str) -> str:
    """One line of at most :data:`MAX_ANNOTATION_CHARS` characters, without the TAL separators."""
    text = " ".join(_CONTROL.sub(" ", text).split())
    if len(text) > MAX_ANNOTATION_CHARS:
        text = text[: MAX_ANNOTATION_CHARS - 3].rstrip() + "..."
    return text


def _annotation(onset_s: float, duration_s: float | None, text: str) -> Annotation:
    duration = None if duration_s is None or duration_s <= 0 else round(float(duration_s), 6)
    return Annotation(round(float(onset_s), 6), duration, _clean_text(text))


def event_annotations(
    events: Sequence[Event], *, sleep_onset_s: float | None = None, final_wake_s: float | None = None
) -> list[Annotation]:
    """Every event as an annotation (onset, duration or None for an instant, text), plus sleep onset and
    final wake when the night has them; sorted by onset."""
    out = [_annotation(e.start_s, e.duration_s, event_text(e)) for e in events]
    if sleep_onset_s is not None:
        out.append(_annotation(sleep_onset_s, None, "Sleep onset"))
    if final_wake_s is not None:
        out.append(_annotation(final_wake_s, None, "Final wake"))
    return sorted(out, key=lambda a: (a.onset_s, a.text))


# -- channels ------------------------------------------------------------------------------------------
def _leg_token(name: str, leg: str | None) -> str:
    if leg in ("left", "right"):
        return leg.capitalize()
    suffix = name.partition(":")[2]
    return "" if suffix in ("", "unknown") else suffix


def _labels(signal: Signal) -> list[str]:
    info = signal.info
    kind = "EMG" if info.kind == "emg" else "ACC"
    token = _leg_token(info.name, info.leg)
    if info.kind == "emg":
        return [" ".join(filter(None, (kind, token[:12])))]
    return [" ".join(filter(None, (kind, token[:10], axis))) for axis in _AXES]


def _unique(labels: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        n = seen.get(label, 0)
        seen[label] = n + 1
        out.append(label if n == 0 else f"{label[:13]} {n + 1}")
    return out


def _fit8(value: Decimal, rounding: str) -> Decimal:
    """``value`` rounded outwards (``rounding``) to the most decimals an 8-character EDF field holds."""
    for decimals in range(7, -1, -1):
        q = value.quantize(Decimal(1).scaleb(-decimals), rounding=rounding)
        text = format(q, "f")
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if len(text) <= 8:
            return Decimal(text)
    raise ValueError(f"{value} does not fit an 8-character EDF field")


def physical_range(x: npt.NDArray[np.float64], *, has_fill: bool) -> tuple[float, float]:
    """The physical minimum and maximum for a channel: its finite samples (and :data:`GAP_FILL` when
    gaps are filled) widened by :data:`RANGE_MARGIN` of the span, as 8-character decimals."""
    finite = x[np.isfinite(x)]
    values = [float(finite.min()), float(finite.max())] if finite.size else []
    if has_fill or not values:
        values.append(GAP_FILL)
    lo, hi = min(values), max(values)
    span = hi - lo
    margin = RANGE_MARGIN * span if span > 0 else max(1.0, abs(lo) * RANGE_MARGIN)
    pmin = _fit8(Decimal(repr(lo - margin)), ROUND_FLOOR)
    pmax = _fit8(Decimal(repr(hi + margin)), ROUND_CEILING)
    # below 1e-4 a float prints in exponent notation, which an EDF header field cannot hold: go outwards
    if 0 < abs(pmin) < _TINY:
        pmin = -_TINY if pmin < 0 else Decimal(0)
    if 0 < abs(pmax) < _TINY:
        pmax = _TINY if pmax > 0 else Decimal(0)
    return float(pmin), float(pmax)


# -- data records --------------------------------------------------------------------------------------
def _exact_rate(fs: float) -> Fraction | None:
    f = Fraction(fs).limit_denominator(MAX_RECORD_S)
    return f if abs(float(f) - fs) <= 1e-9 * fs else None


def record_plan(rates: Sequence[float]) -> tuple[int, list[float]]:
    """The data record duration (whole seconds) and each channel's rate in the file.

    A rate ``p/q`` (in lowest terms, ``q`` <= :data:`MAX_RECORD_S`) has a whole number of samples in
    ``d`` seconds exactly when ``q`` divides ``d``, so ``d`` is the least common multiple of the ``q``.
    When that exceeds :data:`MAX_RECORD_S`, records are 1 s. A rate without a whole number of samples per
    record is replaced by the nearest one that has (it is then resampled).
    """
    exact = [_exact_rate(fs) for fs in rates]
    d = 1
    for f in exact:
        if f is not None:
            d = math.lcm(d, f.denominator)
    if d > MAX_RECORD_S:
        d = 1
    out = []
    for fs, f in zip(rates, exact, strict=True):
        if f is not None and d % f.denominator == 0:
            out.append(fs)
        else:
            out.append(max(1, round(fs * d)) / d)
    return d, out


def _resample(x: npt.NDArray[np.float64], fs: float, new_fs: float) -> npt.NDArray[np.float64]:
    """Linear interpolation onto ``k / new_fs``; a NaN neighbour gives NaN (a gap stays a gap)."""
    n_new = math.floor((x.size - 1) * new_fs / fs) + 1 if x.size else 0
    positions = np.arange(n_new) * (fs / new_fs)
    out: npt.NDArray[np.float64] = np.interp(positions, np.arange(x.size), x)
    return out


# -- gaps ----------------------------------------------------------------------------------------------
def _subtract(a: float, b: float, covers: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Parts of ``[a, b)`` outside every interval of ``covers``."""
    pieces = [(a, b)]
    for c0, c1 in covers:
        nxt = []
        for p0, p1 in pieces:
            if c1 <= p0 + 1e-9 or c0 >= p1 - 1e-9:
                nxt.append((p0, p1))
                continue
            if c0 > p0 + 1e-9:
                nxt.append((p0, c0))
            if c1 < p1 - 1e-9:
                nxt.append((c1, p1))
        pieces = nxt
    return pieces


def _missing_runs(missing: npt.NDArray[np.bool_]) -> npt.NDArray[np.intp]:
    edges = np.flatnonzero(np.diff(np.concatenate(([False], missing, [False])).astype(np.int8)))
    return edges.reshape(-1, 2)


# -- writing -------------------------------------------------------------------------------------------
def write_edf_plus(
    path: str | os.PathLike[str],
    signals: Sequence[Signal],
    events: Sequence[Event],
    start: dt.datetime | None,
    *,
    duration_s: float | None = None,
    sleep_onset_s: float | None = None,
    final_wake_s: float | None = None,
    annotations: Sequence[Annotation] = (),
    equipment: str = "NightCramp",
) -> EdfExport:
    """Write ``signals`` and ``events`` as one EDF+C file at ``path`` (see the module notes for the layout).

    Parameters
    ----------
    path : path-like
        The file to create (mode 0600; an existing file is replaced atomically).
    signals : sequence of Signal
        EMG ``(n,)`` in µV and acceleration ``(3, n)`` in g, each on its own clock from t=0; NaN = missing.
    events : sequence of Event
        The detected events; each becomes one annotation (:func:`event_text`).
    start : datetime or None
        Wall-clock start of the recording (its local time fields are written; EDF has no zone). None
        writes the EDF+ "unknown" start date (01.01.85 00.00.00, ``Startdate X``).
    duration_s : float, optional
        Length of the recording in seconds (default: the longest signal).
    sleep_onset_s, final_wake_s : float, optional
        Annotated as ``Sleep onset`` and ``Final wake`` when given.
    annotations : sequence of Annotation
        Further annotations to carry (e.g. those of the source file), written as they are.
    equipment : str
        The equipment code in the EDF+ recording field.

    Raises
    ------
    EdfExportError
        Nothing to write, a start date EDF cannot hold (before 1985 or after 2084), values too large for
        an 8-character header field, or the file cannot be written.
    """
    out = Path(path)
    if not signals:
        raise EdfExportError(out, f"cannot write {out}: the recording has no signal to export")
    if start is not None and not 1985 <= start.year <= 2084:
        raise EdfExportError(out, f"cannot write {out}: EDF holds start dates from 1985 to 2084, not {start.date()}")
    end_s = max(s.data.shape[-1] / s.info.fs_hz for s in signals)
    if duration_s is not None:
        end_s = max(end_s, duration_s)
    else:
        duration_s = end_s

    labels = _unique([label for s in signals for label in _labels(s)])
    channels: list[tuple[str, Signal, npt.NDArray[Any]]] = []
    i = 0
    for s in signals:
        rows = s.data.reshape(1, -1) if s.info.kind == "emg" else s.data
        for row in rows:
            channels.append((labels[i], s, row))
            i += 1
    record_s, rates = record_plan([s.info.fs_hz for _, s, _ in channels])
    n_records = max(1, math.ceil(end_s / record_s - 1e-9))
    file_end = n_records * record_s

    edf_signals: list[EdfSignal] = []
    resampled: dict[str, tuple[float, float]] = {}
    missing_by_stream: dict[str, list[tuple[float, float]]] = {}
    for (label, s, row), fs in zip(channels, rates, strict=True):
        x = np.asarray(row, dtype=np.float64)
        if fs != s.info.fs_hz:
            x = _resample(x, s.info.fs_hz, fs)
            resampled[label] = (s.info.fs_hz, fs)
        n = round(fs * record_s) * n_records
        x = x[:n]
        missing = ~np.isfinite(x)
        missing = np.concatenate((missing, np.ones(n - x.size, dtype=bool)))
        runs = _missing_runs(missing)
        missing_by_stream.setdefault(s.info.name, []).extend((a / fs, b / fs) for a, b in runs.tolist())
        try:
            pmin, pmax = physical_range(x, has_fill=bool(runs.size))
        except ValueError:
            raise EdfExportError(
                out, f"cannot write {out}: channel {label} has values too large for EDF ({np.nanmax(np.abs(x)):g})"
            ) from None
        data = np.full(n, GAP_FILL)
        data[: x.size] = x
        data[missing] = GAP_FILL
        edf_signals.append(
            EdfSignal(
                data,
                fs,
                label=label,
                transducer_type="surface EMG" if s.info.kind == "emg" else "3-axis accelerometer",
                physical_dimension="uV" if s.info.kind == "emg" else "g",
                physical_range=(pmin, pmax),
                digital_range=_DIGITAL,
            )
        )

    written = event_annotations(events, sleep_onset_s=sleep_onset_s, final_wake_s=final_wake_s)
    written += [_annotation(a.onset_s, a.duration_s, a.text) for a in annotations]
    written += _gap_annotations(events, missing_by_stream, duration_s)
    if file_end > duration_s + 1e-9:
        written.append(_annotation(duration_s, file_end - duration_s, "End of recording"))
    written.sort(key=lambda a: (a.onset_s, a.text))

    edf = Edf(
        edf_signals,
        patient=Patient(),
        recording=EdfRecording(startdate=None if start is None else start.date(), equipment_code=_subfield(equipment)),
        starttime=None if start is None else start.time().replace(microsecond=0),
        data_record_duration=record_s,
        annotations=[EdfAnnotation(a.onset_s, a.duration_s, a.text) for a in written],
    )
    if start is not None and start.microsecond:
        # the fraction of a second goes into every time-keeping annotation; set afterwards, edfio rounds
        # each shifted onset to 12 decimals (441.4 s stays "+441.573438", not "+441.57343799999997")
        edf.starttime = start.time()
    _write_private(out, edf)
    return EdfExport(out, record_s, n_records, tuple(labels), tuple(written), resampled)


def _gap_annotations(
    events: Sequence[Event], missing: dict[str, list[tuple[float, float]]], duration_s: float
) -> list[Annotation]:
    """``Signal gap <stream>`` for every filled stretch before the recording's end that no ``signal_gap``
    event of that stream covers (the detector reports gaps on its 100-ms frames; a reader may not)."""
    out: list[Annotation] = []
    for name, runs in missing.items():
        covers = sorted(
            (e.start_s, e.end_s) for e in events if e.kind == "signal_gap" and e.fields.get("stream") == name
        )
        pieces: set[tuple[float, float]] = set()
        for a, b in runs:
            b = min(b, duration_s)
            if b > a:
                pieces.update(_subtract(a, b, covers))
        for a, b in sorted(pieces):
            out.append(_annotation(a, b - a, f"Signal gap {stream_text(name)}"))
    return out


def _subfield(text: str) -> str:
    """An EDF+ header subfield: printable ASCII without spaces, at most 40 characters."""
    cleaned = "".join(c if 33 <= ord(c) <= 126 else "_" for c in text)[:40]
    return cleaned or "X"


def _write_private(path: Path, edf: Edf) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        raise EdfExportError(path, f"cannot write {path} ({exc.strerror or exc})") from exc
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            edf.write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise EdfExportError(path, f"cannot write {path} ({exc.strerror or exc})") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
