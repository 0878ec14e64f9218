"""EDF/BDF files written by other libraries (edfio, pyedflib, MNE) from known arrays, for reader tests.

Each writer takes EMG in µV and acceleration in g per leg (as the simulator makes them) and writes them in
the unit asked for, so a test knows exactly what the file should read back as.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

import edfio
import numpy as np
import numpy.typing as npt
import pyedflib
import pyedflib.highlevel as pyedf

EMG_PER_UV = {"uV": 1.0, "mV": 1e-3, "V": 1e-6}
ACC_PER_G = {"g": 1.0, "mg": 1e3, "m/s2": 9.80665}
EMG_RANGE_UV = 3276.8
ACC_RANGE_G = 8.0
#: the written physical range per unit (EDF keeps 8 characters of it; 0.005 V is 5000 µV)
EMG_RANGE = {"uV": EMG_RANGE_UV, "mV": EMG_RANGE_UV * 1e-3, "V": 0.005}
START = dt.datetime(2026, 11, 21, 23, 4, 5)
Array = npt.NDArray[np.floating]


def channels(
    emg: Mapping[str, Array],
    acc: Mapping[str, Array],
    *,
    emg_unit: str = "uV",
    acc_unit: str = "g",
    emg_label: str = "EMG {L}",
    acc_label: str = "Acc {L} {A}",
) -> list[tuple[str, str, Array, float]]:
    """(label, unit, values in that unit, full scale in that unit) per channel; NaN written as 0."""
    out = []
    for leg in sorted(set(emg) | set(acc)):
        L = leg[0].upper()
        if leg in emg:
            k = EMG_PER_UV[emg_unit]
            out.append((emg_label.format(L=L, leg=leg), emg_unit, np.nan_to_num(emg[leg] * k), EMG_RANGE[emg_unit]))
        if leg in acc:
            k = ACC_PER_G[acc_unit]
            for axis, row in zip("XYZ", acc[leg], strict=True):
                label = acc_label.format(L=L, leg=leg, A=axis)
                out.append((label, acc_unit, np.nan_to_num(row * k), ACC_RANGE_G * k))
    return out


def write_edfio(
    path: Path,
    chans: Sequence[tuple[str, str, Array, float]],
    rates: Sequence[float],
    *,
    bdf: bool = False,
    start: dt.datetime = START,
    annotations: Sequence[tuple[float, float | None, str]] = (),
    record_s: float | None = None,
) -> Path:
    cls, sig = (edfio.Bdf, edfio.BdfSignal) if bdf else (edfio.Edf, edfio.EdfSignal)
    dig = (-(2**23), 2**23 - 1) if bdf else (-32768, 32767)
    signals = [
        sig(
            np.asarray(x, dtype=np.float64),
            fs,
            label=label,
            physical_dimension=unit,
            physical_range=(-fs_, fs_),
            digital_range=dig,
        )
        for (label, unit, x, fs_), fs in zip(chans, rates, strict=True)
    ]
    rec = cls(
        signals,
        starttime=start.time(),
        recording=edfio.Recording(startdate=start.date()),
        annotations=[edfio.EdfAnnotation(o, d, t) for o, d, t in annotations],
        data_record_duration=record_s,
    )
    rec.write(path)
    return path


def write_pyedflib(
    path: Path,
    chans: Sequence[tuple[str, str, Array, float]],
    rates: Sequence[float],
    *,
    bdf: bool = False,
    start: dt.datetime = START,
    annotations: Sequence[tuple[float, float | None, str]] = (),
) -> Path:
    dmax = 2**23 - 1 if bdf else 32767
    heads = [
        pyedf.make_signal_header(label, unit, fs, -fs_, fs_, -dmax - 1, dmax)
        for (label, unit, _, fs_), fs in zip(chans, rates, strict=True)
    ]
    header = pyedf.make_header(startdate=start)
    header["annotations"] = [[o, -1 if d is None else d, t] for o, d, t in annotations]
    kind = pyedflib.FILETYPE_BDFPLUS if bdf else pyedflib.FILETYPE_EDFPLUS
    pyedf.write_edf(str(path), [np.asarray(x, dtype=np.float64) for _, _, x, _ in chans], heads, header, file_type=kind)
    return path


def write_mne(
    path: Path,
    chans: Sequence[tuple[str, str, Array, float]],
    fs: float,
    *,
    start: dt.datetime = START,
    annotations: Sequence[tuple[float, float | None, str]] = (),
) -> Path:
    """MNE's export: one rate for every channel; EMG typed ``emg`` (exported in µV), the rest ``misc``
    (exported without a unit)."""
    import mne

    types = ["emg" if unit in EMG_PER_UV else "misc" for _, unit, _, _ in chans]
    data = np.array(
        [x / EMG_PER_UV[u] * 1e-6 if t == "emg" else x for (_, u, x, _), t in zip(chans, types, strict=True)]
    )
    raw = mne.io.RawArray(data, mne.create_info([c[0] for c in chans], fs, types), verbose=False)
    raw.set_meas_date(start.replace(tzinfo=dt.UTC))
    if annotations:
        raw.set_annotations(
            mne.Annotations(
                [a[0] for a in annotations], [a[1] or 0.0 for a in annotations], [a[2] for a in annotations]
            )
        )
    raw.export(path, fmt="edf", overwrite=True, verbose=False)
    return path


def make_discontinuous(src: Path, dst: Path, keep: npt.NDArray[np.bool_]) -> Path:
    """Copy an EDF+C/BDF+C file as EDF+D/BDF+D holding only the data records where ``keep`` is True.

    Each record keeps its own time-keeping annotation (its true onset), so the records that remain sit at
    the right times and the dropped ones become gaps: a valid discontinuous file by the EDF+ rules.
    """
    raw = src.read_bytes()
    ns = int(raw[252:256])
    hb = 256 * (ns + 1)
    bps = 3 if raw[:1] == b"\xff" else 2
    spr = [int(raw[256 + ns * 216 + 8 * i : 256 + ns * 216 + 8 * (i + 1)]) for i in range(ns)]
    rec_bytes = sum(spr) * bps
    n = (len(raw) - hb) // rec_bytes
    assert keep.shape == (n,) and keep[0]
    records = np.frombuffer(raw, dtype=np.uint8, offset=hb, count=n * rec_bytes).reshape(n, rec_bytes)
    head = bytearray(raw[:hb])
    head[192:197] = head[192:197].replace(b"+C", b"+D")
    head[236:244] = f"{int(keep.sum()):<8d}".encode()
    dst.write_bytes(bytes(head) + records[keep].tobytes())
    return dst
