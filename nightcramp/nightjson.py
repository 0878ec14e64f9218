"""The night JSON (``cramp-night/1``): the stable, versioned result of analysing one night.

Layout::

    {"schema": "cramp-night/1",
     "software": "nightcramp 0.1.0",
     "source": {"path", "format", "start_time" (ISO-8601 or null), "duration_s", "complete",
                "streams": [{"name", "kind": "emg"|"acc", "leg": "left"|"right"|null, "fs_hz", "unit"}],
                "devices": [{"device", "profile", "leg", "name", "address", "link": {"packets",
                             "malformed_packets", "gaps", "frames_overlapping", "clock_drift_ppm"}}],
                "packets", "malformed_packets", "mains_hz": {stream: Hz or null},
                and for a file made by another tool (EDF/BDF): "channels": {stream: [file labels]},
                "annotations": [{"onset_s", "duration_s" (or null), "text"}], "warnings": [sentences]},
     "params": {...every detector parameter, in physical units...},
     "methods": "a paragraph describing the analysis",
     "events": [{"kind", "start_s", "end_s", "leg", ...kind-specific fields}],
     "summary": {...SPEC section 3 names in snake_case, "streams": {name: {valid_s, artifact_s, missing_s}}},
     "overview": {"minute_s": 60, "streams": {name: {per-minute lists, null where nothing was usable:
                  EMG "rms_uv", "active_share", "usable_share"; accelerometer "movement_mg", "moving_share",
                  "upright_share", "usable_share"}}},
     "pictures": [{"event": index into events, "t0_s", "t1_s", per stream {"lo", "hi"} per column}]
                 (only when the analysis had the signals at hand: cramp analyze / report / replay),
     "review": {"file", "cramps": [the cramps as reviewed, each with "review": null|"confirmed"|"added"],
                "agreement": {"confirmed", "rejected", "adjusted", "added", "unreviewed", "precision", "recall"},
                "diary": {"severity", "disturbance", "notes", "tags"}, "markers": [...]}
                (only when the recording has a review file beside it: cramp review)}

Times are seconds from the recording start; ``start_time`` anchors them to the wall clock (a journal's
start in local time with its UTC offset; another tool's file's start as the file states it, without zone).
A count the recording cannot give is null, not 0: leg movements and PLMs without EMG; awakenings, getting up,
large movements and cramps followed by an awakening without an accelerometer.
A stream whose leg the file does not say is named ``emg:unknown`` / ``acc:unknown`` and has ``"leg": null``,
as do its events.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from nightcramp import __version__
from nightcramp.methods import methods_paragraph
from nightcramp.session import NightResult

SCHEMA = "cramp-night/1"


def iso_time(unix_ns: int | None) -> str | None:
    """ISO-8601 local time with UTC offset, or None."""
    if unix_ns is None:
        return None
    return dt.datetime.fromtimestamp(unix_ns / 1e9, tz=dt.UTC).astimezone().isoformat(timespec="seconds")


def night_json(result: NightResult) -> dict[str, Any]:
    """The ``cramp-night/1`` document of one analysed night."""
    src = dict(result.source)
    extra = {k: src[k] for k in ("channels", "annotations", "warnings") if k in src}
    start = iso_time(result.start_unix_ns) if result.start_unix_ns is not None else result.start_time
    return {
        "schema": SCHEMA,
        "software": f"nightcramp {__version__}",
        "source": {
            "path": src.get("path"),
            "format": src.get("format", "nightcramp-journal"),
            "start_time": start,
            "duration_s": round(result.duration_s, 3),
            "complete": src.get("complete"),
            "streams": [
                {
                    "name": s.name,
                    "kind": s.kind,
                    "leg": s.leg if s.leg in ("left", "right") else None,
                    "fs_hz": s.fs_hz,
                    "unit": s.unit,
                }
                for s in result.streams
            ],
            "devices": [
                {
                    "device": d.device,
                    "profile": d.profile,
                    "leg": d.leg,
                    "name": d.name,
                    "address": d.address,
                    **({"link": result.link[d.device]} if d.device in result.link else {}),
                }
                for d in result.devices
            ],
            "packets": result.packets,
            "malformed_packets": result.malformed,
            "mains_hz": result.mains_hz,
            **extra,
        },
        "params": result.params.to_json(),
        "methods": methods_paragraph(result),
        "events": [e.to_json() for e in result.events],
        "summary": result.summary,
        "overview": result.overview,
        **({"pictures": result.pictures} if result.pictures else {}),
        **({"review": result.review} if result.review else {}),
    }


def write_private(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` readable by the user alone (0600), replacing it atomically."""
    p = Path(path)
    tmp = p.with_name(f".{p.name}.tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, p)
    return p


def write_night_json(result: NightResult, path: str | os.PathLike[str]) -> Path:
    return write_private(path, json.dumps(night_json(result), indent=1, ensure_ascii=False) + "\n")
