"""The nightly summary as readable text, for the terminal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any


def clock(t_s: float | None, start_time: str | None) -> str:
    """A time in the night: the wall-clock time when the start is known, else hh:mm:ss into the recording."""
    if t_s is None:
        return "-"
    if start_time:
        t = dt.datetime.fromisoformat(start_time) + dt.timedelta(seconds=t_s)
        return t.strftime("%H:%M:%S")
    return duration(t_s, seconds=True)


def duration(s: float | None, *, seconds: bool = False) -> str:
    if s is None:
        return "-"
    total = round(s)
    h, rem = divmod(total, 3600)
    m, sec = divmod(rem, 60)
    if seconds:
        return f"{h:d}:{m:02d}:{sec:02d}"
    if h:
        return f"{h} h {m:02d} min"
    if m:
        return f"{m} min {sec:02d} s"
    return f"{sec} s"


def format_event(e: Mapping[str, Any], start_time: str | None) -> str:
    """One event line, e.g. ``02:13:05  cramp, left calf, 3 min 10 s, woke you up``."""
    kind = e["kind"]
    leg = f", {e['leg']} leg" if e.get("leg") else ""
    length = e["end_s"] - e["start_s"]
    when = clock(e["start_s"], start_time)
    if kind == "cramp":
        woke = {True: ", followed by an awakening", False: ", no awakening", None: ""}[e.get("awakening")]
        peak = e.get("peak_uv")
        how = f"peak {peak:.0f} µV" if peak is not None else "from the accelerometer (no EMG)"
        return f"{when}  CRAMP {e['leg'] or ''} calf, {duration(length)}, {how}{woke}"
    if kind == "marker":
        return f"{when}  marker: {e.get('label', '')}"
    if kind in ("artifact", "signal_gap"):
        what = e.get("reason", "missing data") if kind == "artifact" else "missing data"
        return f"{when}  {kind.replace('_', ' ')} on {e.get('stream')}: {what}, {duration(length)}"
    if kind == "plm_series":
        return f"{when}  PLM series{leg}: {e.get('count')} movements over {duration(length)}"
    return f"{when}  {kind.replace('_', ' ')}{leg}, {duration(length)}"


def format_summary(night: Mapping[str, Any]) -> str:
    """The morning summary of a ``cramp-night/1`` document."""
    s = night["summary"]
    src = night["source"]
    start = src.get("start_time")
    lines = []
    title = "Night of " + start[:10] if start else "Night"
    lines.append(f"{title}: {duration(src['duration_s'])} recorded")
    n = s["cramp_count"]
    if n == 0:
        lines.append("Cramps: none detected")
    else:
        legs = ", ".join(f"{s[f'cramp_count_{leg}']} {leg}" for leg in ("left", "right") if s[f"cramp_count_{leg}"])
        unknown = n - s["cramp_count_left"] - s["cramp_count_right"]
        legs = ", ".join(x for x in (legs, f"{unknown} on a leg the file does not name" if unknown else "") if x)
        lines.append(
            f"Cramps: {n} ({legs}); total {duration(s['cramp_total_s'])}, longest {duration(s['cramp_longest_s'])}, "
            f"median {duration(s['cramp_median_s'])}"
            + (
                f"; {s['cramps_followed_by_awakening']} followed by an awakening"
                if s["cramps_followed_by_awakening"] is not None
                else ""
            )
        )
        for e in night["events"]:
            if e["kind"] == "cramp":
                lines.append("  " + format_event(e, start))
    if s["sleep_onset_s"] is not None:
        lines.append(
            f"Sleep: onset {clock(s['sleep_onset_s'], start)}, final wake {clock(s['final_wake_s'], start)}, "
            f"asleep {duration(s['total_sleep_s'])} of {duration(s['sleep_period_s'])} "
            f"(awake after onset {duration(s['waso_s'])})"
        )
    elif s["awakening_count"] is not None:
        lines.append("Sleep: no sustained sleep found")
    else:
        lines.append("Sleep: not measured")
    if not any(st["kind"] == "acc" for st in src["streams"]) and s["awakening_count"] is not None:
        lines[-1] += " (from the EMG alone: no accelerometer)"
    out_of_bed = s["out_of_bed_count"] if s["out_of_bed_count"] is not None else "not measured (no accelerometer)"
    body = (
        f"Awakenings: {s['awakening_count']}   out of bed: {out_of_bed}   "
        if s["awakening_count"] is not None
        else "Awakenings, out of bed: not measured   "
    )
    legs = (
        f"leg movements: {s['lm_count']}   PLMs: {s['plm_count']} (index {s['plms_index']}/h)"
        if s["lm_count"] is not None
        else "leg movements: not measured (no EMG)"
    )
    large = f"   large movements: {s['large_movement_count']}" if s["large_movement_count"] is not None else ""
    lines.append(body + legs + large)
    quality = []
    for name, q in s["streams"].items():
        quality.append(f"{name} {duration(q['valid_s'])} usable, {duration(q['missing_s'])} missing")
    lines.append("Signal: " + "; ".join(quality))
    return "\n".join(lines)
