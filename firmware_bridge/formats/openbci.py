"""OpenBCI GUI raw files (``OpenBCI-RAW-<date>.txt``)::

    %OpenBCI Raw EXG Data
    %Number of channels = 8
    %Sample Rate = 250 Hz
    %Board = OpenBCI_GUI$BoardCytonSerial
    Sample Index, EXG Channel 0, ..., EXG Channel 7, Accel Channel 0, Accel Channel 1, Accel Channel 2, Other,
    ..., Analog Channel 2, Timestamp, Other, Timestamp (Formatted)
    0, -2187.41, ..., 0.000, 0.000, 0.000, ..., 1763852531.103, 0.0, 2025-11-22 23:02:11.103

EXG values are µV, acceleration is g, ``Timestamp`` is the computer's Unix time (s) when the sample arrived.
The EXG samples are on the board's own clock at the header's rate; the timeline is rebuilt from the
``Sample Index`` so that dropped samples become NaN (rules in :func:`_positions`).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping

import numpy as np

from detector.night import StreamInfo
from firmware_bridge.formats import _textio as tio
from firmware_bridge.formats._timing import MAX_RATE_HZ, MIN_RATE_HZ, Timing, place, to_uniform
from firmware_bridge.formats.recording import Annotation, ChannelRole, Recording, RecordingError, Signal

FORMAT = "OpenBCI GUI"
CYTON_INDEX_MODULUS = 256  #: a Cyton numbers its samples 0-255 and wraps
FALLBACK_GAP_S = 0.5  #: boards whose index is not understood: a Timestamp jump longer than this may be a dropout
MAX_DROPOUT_S = 86_400.0  #: a longer hole in one file is not one night's recording
START_WINDOW_S = 30.0  #: the arrival times of the first 30 s give the start (delivery only delays)
_EXG = re.compile(r"^exg channel \d+$")
_RATE = re.compile(r"sample rate\s*=\s*([0-9.]+)", re.IGNORECASE)
_BOARD = re.compile(r"board\s*=\s*(.+)$", re.IGNORECASE)


def is_openbci(lines: list[str]) -> bool:
    """Whether the first lines are an OpenBCI GUI raw file: ``%`` header lines naming OpenBCI."""
    return bool(lines) and lines[0].lstrip().startswith("%") and "openbci" in lines[0].lower()


def _positions(index: np.ndarray, stamps: np.ndarray, fs: float, board: str) -> tuple[np.ndarray, str | None]:
    """Each row's sample number on the board's clock (row 0 = 0), and a warning or None.

    - Cyton boards count samples 0-255 and wrap: the step from one row to the next is the index difference
      modulo 256 over the usual step (1, or 2 when a Daisy interleaves), and a longer step means dropped
      samples. A dropout of whole turns of the counter is invisible to the index: where the Timestamp step
      is more than half a turn longer, the turns lost are read from the arrival times (:func:`_lost`).
    - Other boards (whose index means something else, such as a Ganglion's packet numbers): one row is one
      sample, except where the Timestamp jumps by more than 0.5 s: the samples lost there are read from the
      arrival times (with a warning, since shorter dropouts cannot be found).
    """
    dts = np.diff(stamps)
    if "cyton" in board.lower():
        d = np.mod(np.diff(index), CYTON_INDEX_MODULUS).astype(np.int64)
        counts = np.bincount(d[d > 0], minlength=CYTON_INDEX_MODULUS)
        step = int(np.argmax(counts)) if counts.any() else 1
        steps = np.maximum(d // step, 1)
        turn = CYTON_INDEX_MODULUS // step
        suspect = np.flatnonzero(dts * fs - steps > turn / 2)
        return _lost(steps, stamps, fs, suspect, turn), None
    steps = np.ones(index.size - 1, dtype=np.int64)
    suspect = np.flatnonzero(dts > FALLBACK_GAP_S)
    warning = (
        f"the sample index of board {board!r} is not understood, so only dropouts longer than "
        f"{FALLBACK_GAP_S:g} s (Timestamp jumps) are kept as gaps"
    )
    return _lost(steps, stamps, fs, suspect, 1), warning


def _lost(steps: np.ndarray, stamps: np.ndarray, fs: float, suspect: np.ndarray, quantum: int) -> np.ndarray:
    """Row positions from ``steps``, with samples added after each ``suspect`` step where the arrival times
    show a loss, in multiples of ``quantum``.

    Arrival time = sample time + a delivery delay that is never negative, so the lead of the arrival times
    over the sample count, ``stamps * fs - position``, has the same lower envelope before and after a step
    unless samples were lost there. The loss is the rise of its minimum over the 2 s after the step against
    the 2 s before; a stall followed by a burst of late rows (nothing lost) does not raise that minimum.
    """
    pos = np.concatenate(([0], np.cumsum(steps)))
    window = max(int(2 * fs), 1)
    for k in suspect.tolist():
        i = k + 1
        a = max(0, i - window)
        lead = stamps[a : i + window] * fs - pos[a : i + window]
        rise = float(lead[i - a :].min() - lead[: i - a].min())
        if not np.isfinite(rise):
            raise RecordingError("arrival times that are not seconds")
        add = round(rise / quantum) * quantum if rise > quantum / 2 else 0
        if add > MAX_DROPOUT_S * fs:
            raise RecordingError(f"a dropout of {add / fs:.0f} s")
        if add > 0:
            pos[i:] += add
    return pos


def read_openbci(
    path: str | os.PathLike[str], channels: Mapping[str, ChannelRole] | None = None, leg: str | None = None
) -> Recording:
    """An OpenBCI GUI raw ``.txt`` as a :class:`Recording`.

    With one EXG channel it is ``emg:<leg>`` (leg unknown unless given) and the board's accelerometer, when
    it has recorded anything, ``acc:<leg>``. With several EXG channels a ``channels`` map must say which is
    calf EMG (``{"EXG Channel 0": ChannelRole("emg", "left", None)}``); then only the mapped channels are
    read, and the accelerometer only when its three ``Accel Channel`` columns are mapped too.
    """
    side = tio.check_leg(leg)
    head = tio.head_lines(path)
    if not is_openbci(head):
        raise RecordingError(f"{tio.name(path)} is not an OpenBCI GUI raw file (it does not start with '%OpenBCI')")
    meta = [line.lstrip("%").strip() for line in head if line.lstrip().startswith("%")]
    header_no = next((i for i, line in enumerate(head) if line.strip() and not line.lstrip().startswith("%")), None)
    if header_no is None:
        raise RecordingError(f"{tio.name(path)} has no table after its '%' header lines")
    labels = tuple(c.strip() for c in head[header_no].split(","))
    index = {tio.norm_label(c): i for i, c in enumerate(labels)}
    needed = ("sample index", "timestamp")
    lacking = [n for n in needed if n not in index]
    if lacking:
        raise RecordingError(
            f"{tio.name(path)} lacks the column{'s' if len(lacking) > 1 else ''} "
            f"{', '.join(repr(n.title()) for n in lacking)} of an OpenBCI GUI raw file (line {header_no + 1} is "
            f"{tio.clip(head[header_no])})"
        )
    rate = next((m for m in (_RATE.search(line) for line in meta) if m), None)
    if rate is None:
        raise RecordingError(f"{tio.name(path)} has no '%Sample Rate = ... Hz' header line")
    try:
        fs = float(rate.group(1))
    except ValueError:
        fs = float("nan")
    if not (MIN_RATE_HZ <= fs <= MAX_RATE_HZ):
        raise RecordingError(
            f"{tio.name(path)} states a sample rate of {rate.group(1)} Hz, outside {MIN_RATE_HZ:g}-{MAX_RATE_HZ:g} Hz"
        )
    board = next((m.group(1).strip() for m in (_BOARD.search(line) for line in meta) if m), "unknown")
    exg = [i for i, c in enumerate(labels) if _EXG.match(tio.norm_label(c))]
    accel = [index.get(f"accel channel {k}") for k in range(3)]
    has_accel = all(a is not None for a in accel)
    warnings: list[str] = []

    if channels:
        plan = tio.streams_from_map(path, labels, channels)
        if not plan:
            raise RecordingError(f"{tio.name(path)}: the --channel map names no EMG or accelerometer channel")
    elif len(exg) == 1:
        plan = [tio.StreamColumns("emg", side, (exg[0],))]
        if has_accel:
            plan.append(tio.StreamColumns("acc", side, tuple(a for a in accel if a is not None)))
    elif not exg:
        raise RecordingError(f"{tio.name(path)} has no 'EXG Channel' column, so it holds no EMG")
    else:
        names = ", ".join(labels[i] for i in exg)
        raise RecordingError(
            f"{tio.name(path)} has {len(exg)} EXG channels ({names}) and does not say which is calf EMG; name it "
            f"with --channel, e.g. --channel '{labels[exg[0]]}=emg:left'"
        )
    used = sorted({c for p in plan for c in p.columns})
    marker = index.get("marker channel")
    cols = [index["sample index"], index["timestamp"], *used, *([marker] if marker is not None else [])]
    layout = tio.Layout(",", header_no + 1, labels)
    values = tio.read_columns(path, layout, cols)
    if values.shape[1] < 2:
        rows = values.shape[1]
        raise RecordingError(
            f"{tio.name(path)} holds {rows} row{'s' if rows != 1 else ''} of data; a recording needs more"
        )
    tio.check_finite(path, layout, values, [labels[c] for c in cols])
    row = {c: values[k] for k, c in enumerate(cols)}
    sample_index, stamps = row[index["sample index"]], row[index["timestamp"]]
    if np.any(sample_index < 0) or np.any(sample_index != np.round(sample_index)):
        bad = int(np.flatnonzero((sample_index < 0) | (sample_index != np.round(sample_index)))[0])
        raise RecordingError(
            f"{tio.name(path)} line {tio.line_of_row(path, layout, bad)}: the Sample Index "
            f"{sample_index[bad]:g} is not a whole number from 0 up"
        )
    if float(np.median(stamps)) > 1e11:  # milliseconds rather than seconds
        stamps = stamps / 1000.0
    try:
        pos, note = _positions(sample_index.astype(np.int64), stamps, fs, board)
    except RecordingError as exc:
        raise RecordingError(
            f"{tio.name(path)}: the Timestamp column shows {exc}, which is not one night's recording"
        ) from None
    if note:
        warnings.append(f"{tio.name(path)}: {note}")
    n = int(pos[-1]) + 1
    if n > MAX_DROPOUT_S * fs + 300 * values.shape[1]:
        raise RecordingError(
            f"{tio.name(path)}: the Sample Index and Timestamp columns put {values.shape[1]} rows over "
            f"{n / fs:.0f} s, which is not a recording at {fs:g} Hz"
        )
    early = pos < START_WINDOW_S * fs
    start = float(np.min(stamps[early] - pos[early] / fs))
    if not (0.0 < start < 4.1e9):
        raise RecordingError(f"{tio.name(path)}: the Timestamp column ({stamps[0]:g}) is not Unix time in seconds")
    span = (stamps[-1] - stamps[0]) / max((pos[-1] - pos[0]) / fs, 1e-9)
    if values.shape[1] > 10 * fs and abs(span - 1.0) > 0.05:
        warnings.append(
            f"{tio.name(path)}: the Timestamp column runs {span:.2f} times as fast as the samples at the stated "
            f"{fs:g} Hz; check the '%Sample Rate' line"
        )

    signals: list[Signal] = []
    for p in plan:
        if p.kind == "emg":
            data = np.full(n, np.nan, dtype=np.float32)
            data[pos] = row[p.columns[0]]
            info = StreamInfo(name=p.name, kind="emg", leg=p.leg, fs_hz=fs, unit="uV")
            signals.append(Signal(info, data, (labels[p.columns[0]],)))
            continue
        xyz = np.stack([row[c] for c in p.columns])
        updated = np.any(xyz != 0.0, axis=0)  # all-zero rows: the accelerometer did not report (Cyton)
        if np.count_nonzero(updated) < 2:
            if channels:
                raise RecordingError(
                    f"{tio.name(path)}: the accelerometer columns mapped with --channel hold no readings"
                )
            continue
        at = pos[updated] / fs
        grid = to_uniform(path, Timing(at, fs / float(np.median(np.diff(pos[updated]))), 0.0), xyz[:, updated])
        data3 = place(grid, 0.0)
        info = StreamInfo(name=p.name, kind="acc", leg=p.leg, fs_hz=grid.fs, unit="g")
        signals.append(Signal(info, data3, tuple(labels[c] for c in p.columns)))
        if not channels:
            warnings.append(
                f"{tio.name(path)}: the board's accelerometer is taken to be on the same calf as the EMG; if the "
                "board was not worn there, map the EXG channel with --channel and leave the Accel channels out"
            )
    annotations: list[Annotation] = []
    if marker is not None:
        marks = row[marker]
        for k in np.flatnonzero(marks != 0):
            annotations.append(Annotation(float(pos[k] / fs), None, f"marker {marks[k]:g}"))
    return Recording(
        path=tio.as_path(path),
        format=FORMAT,
        start_wall=dt.datetime.fromtimestamp(start, tz=dt.UTC).isoformat(timespec="milliseconds"),
        duration_s=n / fs,
        signals=signals,
        annotations=annotations,
        warnings=warnings,
    )
