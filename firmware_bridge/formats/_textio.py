"""Shared plumbing of the text-file readers: opening (plain or gzip), the header, numeric columns, errors.

Numbers are parsed by numpy's C ``loadtxt`` from the open file, line by line without a Python loop per row,
so an 8-hour file of millions of rows reads in seconds. Only when that fails is the file read again, slowly,
to name the first bad line in the error.
"""

from __future__ import annotations

import gzip
import io
import itertools
import os
import re
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt

from firmware_bridge.formats.recording import ChannelRole, RecordingError

FloatArray = npt.NDArray[np.float64]

#: errors that reading a damaged, truncated or unreadable (compressed) file can raise
READ_ERRORS = (OSError, EOFError, zlib.error, UnicodeError)

_GZIP_MAGIC = b"\x1f\x8b"
MAX_HEADER_LINES = 200  #: lines searched for a table's header row
LEGS = ("left", "right", "unknown")


def name(path: str | os.PathLike[str]) -> str:
    return os.fspath(path)


def open_text(path: str | os.PathLike[str]) -> IO[str]:
    """Open ``path`` as text, gunzipping it when it starts with the gzip magic bytes (whatever its name).

    Undecodable bytes become U+FFFD, so a binary file fails later as "not a number", never as a decode error.
    """
    try:
        with open(path, "rb") as raw:
            magic = raw.read(2)
        if magic == _GZIP_MAGIC:
            return io.TextIOWrapper(
                gzip.open(path, "rb"), encoding="utf-8-sig", errors="replace", newline=None
            )  # closing the wrapper closes the gzip file
        return open(path, encoding="utf-8-sig", errors="replace", newline=None)
    except FileNotFoundError:
        raise RecordingError(f"{name(path)} does not exist; check the path and try again") from None
    except IsADirectoryError:
        raise RecordingError(f"{name(path)} is a directory, not a recording file") from None
    except OSError as exc:
        raise RecordingError(f"cannot open {name(path)} ({exc.strerror or exc})") from None


def unreadable(path: str | os.PathLike[str], exc: BaseException) -> RecordingError:
    """The one-sentence error for a file that breaks while being read (cut gzip stream, I/O error)."""
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return RecordingError(f"cannot read {name(path)}: {reason} (the file is damaged or was cut short)")


def head_lines(path: str | os.PathLike[str], n: int = MAX_HEADER_LINES) -> list[str]:
    """The first ``n`` lines of the (decompressed) file, without line ends."""
    out: list[str] = []
    try:
        with open_text(path) as fh:
            for line in fh:
                out.append(line.rstrip("\r\n"))
                if len(out) >= n:
                    break
    except READ_ERRORS as exc:
        raise unreadable(path, exc) from None
    return out


def clip(text: str, n: int = 60) -> str:
    """``text`` shortened for an error message, quoted."""
    text = text.strip()
    return repr(text if len(text) <= n else text[: n - 3] + "...")


def norm_label(label: str) -> str:
    """A header label compared without regard to case and surrounding or repeated spaces."""
    return " ".join(label.split()).lower()


@dataclass(frozen=True, slots=True)
class Layout:
    """How a table's data lines are cut and which of its columns are wanted."""

    delimiter: str
    header_line: int  #: 1-based line number of the header row; data start on the next line
    labels: tuple[str, ...]  #: header labels as written (stripped)
    decimal_comma: bool = False  #: cells use "," as the decimal separator (then delimiter is not ",")
    empty_is_nan: bool = False  #: empty cells are missing values (NaN) rather than errors
    comment: str | None = None  #: lines starting with this (after spaces) are comments


_EMPTY_CELL: dict[str, re.Pattern[str]] = {}


def _prepare(layout: Layout) -> Callable[[str], str] | None:
    """The per-line rewrite the layout needs before numeric parsing, or None."""
    d = layout.delimiter
    if layout.empty_is_nan:
        pat = _EMPTY_CELL.setdefault(d, re.compile(rf"(^|{re.escape(d)})[ \t]*(?={re.escape(d)}|$)"))
        if layout.decimal_comma:
            return lambda s: pat.sub(r"\1nan", s.rstrip("\r\n").replace(",", "."))
        return lambda s: pat.sub(r"\1nan", s.rstrip("\r\n"))
    if layout.decimal_comma:
        return lambda s: s.replace(",", ".")
    return None


def _data_lines(fh: IO[str], layout: Layout) -> Iterable[str]:
    for _ in range(layout.header_line):
        fh.readline()
    prep = _prepare(layout)
    return fh if prep is None else map(prep, fh)


def read_columns(path: str | os.PathLike[str], layout: Layout, usecols: Sequence[int]) -> FloatArray:
    """The wanted columns of every data line as ``(len(usecols), n_rows)`` float64.

    Blank lines (and comment lines, when the layout has a comment marker) are skipped. Raises
    :class:`RecordingError` naming the first bad line: too few cells, or a cell that is not a number.
    """
    try:
        with open_text(path) as fh, warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="loadtxt: input contained no data", category=UserWarning)
            try:
                arr = np.loadtxt(
                    _data_lines(fh, layout),
                    delimiter=layout.delimiter,
                    usecols=tuple(usecols),
                    dtype=np.float64,
                    comments=layout.comment,
                    ndmin=2,
                    encoding=None,
                )
            except ValueError as exc:
                problem = _first_bad_line(path, layout, usecols)
                raise RecordingError(problem or f"{name(path)} has a line that cannot be read ({exc})") from None
    except READ_ERRORS as exc:
        raise unreadable(path, exc) from None
    return np.ascontiguousarray(arr.T)


def _skipped(line: str, comment: str | None) -> bool:
    """Whether ``loadtxt`` skips the line: nothing left once the line end and any comment are removed."""
    if comment is not None:
        line = line.split(comment, 1)[0]
    return not line.rstrip("\r\n")


def _data_rows(path: str | os.PathLike[str], layout: Layout) -> Iterator[tuple[int, str]]:
    """(line number, line) of every data line, as ``read_columns`` counts them (slow; for errors only)."""
    with open_text(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if lineno > layout.header_line and not _skipped(line, layout.comment):
                yield lineno, line


def _parses(lines: list[str], layout: Layout, usecols: Sequence[int]) -> bool:
    try:
        np.loadtxt(lines, delimiter=layout.delimiter, usecols=tuple(usecols), comments=layout.comment, ndmin=2)
    except ValueError:
        return False
    return True


_CHUNK = 20_000


def _first_bad_line(path: str | os.PathLike[str], layout: Layout, usecols: Sequence[int]) -> str | None:
    """The error sentence for the first line ``loadtxt`` refuses (found chunk by chunk, then line by line)."""
    prep = _prepare(layout) or (lambda s: s)
    chunk: list[tuple[int, str]] = []
    rows = _data_rows(path, layout)
    while True:
        chunk = [(n, prep(line)) for n, line in itertools.islice(rows, _CHUNK)]
        if not chunk:
            return None
        if _parses([line for _, line in chunk], layout, usecols):
            continue
        for lineno, line in chunk:
            if not _parses([line], layout, usecols):
                return _diagnose(path, layout, usecols, lineno, line)


def _diagnose(path: str | os.PathLike[str], layout: Layout, usecols: Sequence[int], lineno: int, line: str) -> str:
    text = line.split(layout.comment, 1)[0] if layout.comment is not None else line
    cells = text.rstrip("\r\n").split(layout.delimiter)
    if len(cells) <= max(usecols):
        return (
            f"{name(path)} line {lineno} has {len(cells)} cells where the header has {len(layout.labels)} "
            f"({clip(line)})"
        )
    for c in usecols:
        if not cells[c].strip() or not _parses([cells[c]], layout, (0,)):
            label = layout.labels[c] if c < len(layout.labels) else f"column {c + 1}"
            what = "is empty" if not cells[c].strip() else f"holds {clip(cells[c], 30)}, which is not a number"
            return f"{name(path)} line {lineno}: the cell in column {label!r} {what}"
    return f"{name(path)} line {lineno} cannot be read as numbers ({clip(line)})"


def line_of_row(path: str | os.PathLike[str], layout: Layout, row: int) -> int:
    """The file line number of data row ``row`` (0-based), for error messages (slow; errors only)."""
    try:
        for i, (lineno, _) in enumerate(_data_rows(path, layout)):
            if i == row:
                return lineno
    except READ_ERRORS:
        pass
    return layout.header_line + 1 + row


def first_lines_of_column(path: str | os.PathLike[str], layout: Layout, column: int, n_rows: int) -> list[str]:
    """Column ``column`` (as text, stripped) of the first ``n_rows`` data rows."""
    out: list[str] = []
    try:
        for _, line in _data_rows(path, layout):
            if len(out) >= n_rows:
                break
            cells = line.rstrip("\r\n").split(layout.delimiter)
            out.append(cells[column].strip() if column < len(cells) else "")
    except READ_ERRORS as exc:
        raise unreadable(path, exc) from None
    return out


def check_finite(path: str | os.PathLike[str], layout: Layout, cols: FloatArray, labels: Sequence[str]) -> None:
    """Refuse NaN or infinite values (a file that should hold only numbers), naming the first one's line."""
    bad = ~np.isfinite(cols)
    if bad.any():
        c, row = divmod(int(np.flatnonzero(bad.ravel())[0]), cols.shape[1])
        lineno = line_of_row(path, layout, row)
        raise RecordingError(
            f"{name(path)} line {lineno}: the cell in column {labels[c]!r} is {cols[c, row]} (not a finite number)"
        )


def check_leg(leg: str | None) -> str | None:
    """``leg`` as a leg name ("left", "right") or None (unknown); ValueError for anything else."""
    if leg is None:
        return None
    key = leg.strip().lower()
    key = {"l": "left", "r": "right"}.get(key, key)
    if key not in LEGS:
        raise RecordingError(f"leg {leg!r} is not one of left, right or unknown")
    return None if key == "unknown" else key


@dataclass(frozen=True, slots=True)
class StreamColumns:
    """One detector stream assembled from columns: EMG has one index, acceleration three (x, y, z)."""

    kind: str
    leg: str | None
    columns: tuple[int, ...]

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.leg or 'unknown'}"


def streams_from_map(
    path: str | os.PathLike[str], labels: Sequence[str], channels: Mapping[str, ChannelRole]
) -> list[StreamColumns]:
    """The streams a ``--channel`` map makes of a table's columns (labels compared without regard to case
    and spaces). Roles of kind ``ignore`` leave a column out. Raises :class:`RecordingError` for labels the
    file does not have, an accelerometer missing an axis, or two channels in one place."""
    index = {norm_label(lab): i for i, lab in enumerate(labels)}
    missing = [lab for lab in channels if norm_label(lab) not in index]
    if missing:
        raise RecordingError(
            f"{name(path)} has no column {', '.join(repr(m) for m in missing)}; its columns are "
            f"{', '.join(repr(lab) for lab in labels)}"
        )
    emg: dict[str | None, int] = {}
    acc: dict[str | None, dict[str, int]] = {}
    for lab, role in channels.items():
        col = index[norm_label(lab)]
        if role.kind == "emg":
            if role.leg in emg:
                raise RecordingError(
                    f"{name(path)}: two columns are mapped to EMG on the {role.leg or 'unknown'} leg "
                    f"({labels[emg[role.leg]]!r} and {lab!r}); map one EMG channel per leg"
                )
            emg[role.leg] = col
        elif role.kind == "acc" and role.axis is not None:
            axes = acc.setdefault(role.leg, {})
            if role.axis in axes:
                raise RecordingError(
                    f"{name(path)}: two columns are mapped to accelerometer axis {role.axis} on the "
                    f"{role.leg or 'unknown'} leg ({labels[axes[role.axis]]!r} and {lab!r})"
                )
            axes[role.axis] = col
    out = [StreamColumns("emg", leg, (col,)) for leg, col in emg.items()]
    for leg, axes in acc.items():
        lacking = [a for a in "xyz" if a not in axes]
        if lacking:
            raise RecordingError(
                f"{name(path)}: the accelerometer on the {leg or 'unknown'} leg is mapped without axis "
                f"{', '.join(lacking)}; map all three (e.g. '{labels[0]}=acc:{leg or 'unknown'}:x')"
            )
        out.append(StreamColumns("acc", leg, (axes["x"], axes["y"], axes["z"])))
    return out


def iso_wall(epoch_s: float) -> str:
    """Seconds since 1970-01-01 on a naive (zone-less) clock as ISO-8601 with milliseconds, no zone."""
    ms = np.datetime64(round(epoch_s * 1000.0), "ms")
    return str(np.datetime_as_string(ms, unit="ms"))


_WALL = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?$")


def parse_wall(texts: Sequence[str]) -> npt.NDArray[np.float64] | None:
    """ISO-8601 date-times without zone ("2026-07-16T21:34:53.930", a space instead of T, or a decimal comma)
    as seconds since 1970-01-01 on that clock; None when any is unreadable."""
    clean = [t.strip().replace(",", ".") for t in texts]
    if not clean or not all(_WALL.match(t) for t in set(clean)):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            stamps = np.array(clean, dtype="datetime64[us]")
    except (ValueError, OverflowError, TypeError, Warning):
        return None
    if np.isnat(stamps).any():
        return None
    return stamps.astype(np.int64).astype(np.float64) / 1e6


def as_path(path: str | os.PathLike[str]) -> Path:
    return Path(path)
