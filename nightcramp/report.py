"""A self-contained HTML morning report of one night (inline SVG, no scripts, fonts or images).

Every number and mark on the page is drawn from the ``cramp-night/1`` document, and every text is escaped.
The page has, in order: the headline numbers; the night as a timeline (per leg the calf muscle's activity,
the leg's movement and posture minute by minute, then one row per kind of event, missing data in red) with
the same numbers hour by hour as a table; each cramp with a small picture of the signals around it and the
picture's numbers; sleep; data quality; and the methods with the parameters used. Colours are the
Okabe-Ito palette (safe for colour-blind readers) and every kind of event also has its own label and
marker shape, so colour is never the only cue. Numbers that come straight from the JSON carry a
``data-json`` attribute naming where (the tests read the rendered page back and compare).
"""

from __future__ import annotations

import html
import math
import os
import statistics
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nightcramp.nightjson import write_private
from nightcramp.text import clock, duration

# Okabe-Ito colour-blind-safe palette; every row also has its own label, so colour is never the only cue
ROWS: tuple[tuple[str, str | None, str, str], ...] = (
    ("cramp", "left", "Cramp, left", "#D55E00"),
    ("cramp", "right", "Cramp, right", "#D55E00"),
    ("cramp", "", "Cramp, leg unknown", "#D55E00"),  # "": events whose leg is null
    ("limb_movement", "left", "Leg movement, left", "#0072B2"),
    ("limb_movement", "right", "Leg movement, right", "#0072B2"),
    ("limb_movement", "", "Leg movement, leg unknown", "#0072B2"),
    ("plm_series", None, "PLM series", "#56B4E9"),
    ("large_movement", None, "Large movement", "#009E73"),
    ("awakening", None, "Awakening", "#E69F00"),
    ("out_of_bed", None, "Out of bed", "#CC79A7"),
    ("artifact", None, "Artifact", "#999999"),
    ("signal_gap", None, "Missing data", "#C00000"),
    ("marker", None, "Marker", "#000000"),
)

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1050px;
color:#111;line-height:1.4;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
h3{font-size:1rem;margin:1.2rem 0 .3rem}
.headline{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}
.card{border:1px solid #bbb;border-radius:6px;padding:.6rem 1rem;min-width:8rem}
.card .num{font-size:1.8rem;font-weight:700}.card .lbl{font-size:.85rem;color:#444}
table{border-collapse:collapse;margin:.5rem 0;font-size:.92rem}
th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:left} th{background:#f2f2f2}
td.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:0} figcaption{font-size:.85rem;color:#444}
svg{max-width:100%;height:auto}
.episode{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start;margin:.8rem 0;padding:.5rem 0;
border-top:1px solid #eee} .episode figure{max-width:470px}
.note{font-size:.9rem;color:#333}
summary{cursor:pointer;color:#0072B2}
@page{margin:14mm}
@media print{body{margin:0;max-width:none;font-size:10pt}h2{break-after:avoid}
table,figure,.episode,.card{break-inside:avoid}summary{display:none}a{color:inherit}}
"""

#: a marker shape per kind of event (besides its colour and its row's label)
SHAPES = {
    "cramp": "M0,-5 L5,4 L-5,4 Z",  # triangle
    "awakening": "M-4,0 A4,4 0 1,0 4,0 A4,4 0 1,0 -4,0",  # circle
    "out_of_bed": "M-4,-4 H4 V4 H-4 Z",  # square
    "marker": "M0,-5 L5,0 L0,5 L-5,0 Z",  # diamond
}
LEG_ROWS = (  # per leg, minute by minute: (stream kind, overview field, label, colour)
    ("emg", "rms_uv", "Calf muscle (EMG RMS)", "#0072B2"),
    ("acc", "movement_mg", "Leg movement", "#009E73"),
    ("acc", "upright_share", "Upright (out of bed)", "#CC79A7"),
)


def esc(x: object) -> str:
    return html.escape(str(x), quote=True)


def render_report(night: Mapping[str, Any]) -> str:
    """The report page of a ``cramp-night/1`` document."""
    s, src = night["summary"], night["source"]
    start = src.get("start_time")
    title = f"Night of {start[:10]}" if start else "Night report"
    cards = [
        ("cramp_count", s["cramp_count"], "cramps"),
        ("cramp_longest_s", s["cramp_longest_s"], "longest cramp"),
        ("cramps_followed_by_awakening", s["cramps_followed_by_awakening"], "cramps that woke you"),
        ("awakening_count", s["awakening_count"], "awakenings"),
        ("total_sleep_s", s["total_sleep_s"], "asleep"),
        ("out_of_bed_count", s["out_of_bed_count"], "times out of bed"),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)} - NightCramp</title><style>{CSS}</style></head><body>",
        f"<header><h1>{esc(title)}</h1>",
        f'<p class="note">{esc(duration(src["duration_s"]))} recorded from '
        f"{esc(', '.join(st['name'] for st in src['streams']))}"
        f"{' starting ' + esc(clock(0.0, start)) if start else ''}.</p></header>",
        "<main>",
        '<section aria-labelledby="h-headline"><h2 id="h-headline">Headline</h2><div class="headline">',
    ]
    for key, num, label in cards:
        if num is None:  # a count the recording cannot give, or no value (no cramp, no sleep found)
            shown: str | int | float = "not measured" if key in _NOT_MEASURED_IF_NULL else "-"
        else:
            shown = duration(num) if key.endswith("_s") else num
        parts.append(
            f'<div class="card"><div class="num" data-json="summary.{key}">{esc(shown)}</div>'
            f'<div class="lbl">{esc(label)}</div></div>'
        )
    review = night.get("review")
    if review:
        parts.append(
            f'<div class="card"><div class="num" data-json="review.cramps.length">{len(review["cramps"])}</div>'
            '<div class="lbl">cramps after your review</div></div>'
        )
    parts.append("</div></section>")
    parts.append(_timeline(night))
    parts.append(_cramp_section(night))
    if review:
        parts.append(_review_section(night))
    parts.append(_summary_table(night))
    parts.append(
        '<section aria-labelledby="h-methods"><h2 id="h-methods">Methods</h2>'
        f'<p class="note">{esc(night.get("methods", ""))}</p>'
        f'<p class="note">{esc(night.get("software", ""))}, schema {esc(night.get("schema", ""))}.</p></section>'
    )
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _legs(night: Mapping[str, Any]) -> list[tuple[str | None, dict[str, str]]]:
    """Each leg with its streams by kind, left first."""
    legs: dict[str | None, dict[str, str]] = {}
    for st in night["source"]["streams"]:
        legs.setdefault(st["leg"], {})[st["kind"]] = st["name"]
    return sorted(legs.items(), key=lambda kv: (kv[0] is None, kv[0] or ""))


def _timeline(night: Mapping[str, Any]) -> str:
    src = night["source"]
    total = max(float(src["duration_s"]), 1.0)
    start = src.get("start_time")
    overview = night.get("overview") or {}
    minute = float(overview.get("minute_s", 60.0))
    tracks = overview.get("streams", {})
    activity = []  # (label, colour, values, scale, unit, usable) per leg and track
    for leg, kinds in _legs(night):
        for kind, field, label, colour in LEG_ROWS:
            name = kinds.get(kind)
            if name is None or name not in tracks:
                continue
            values = tracks[name][field]
            finite = [v for v in values if v is not None]
            if field == "upright_share":
                scale = 1.0
            else:  # the night's own range: the 95th percentile fills the row
                scale = max(sorted(finite)[int(0.95 * (len(finite) - 1))] if finite else 0.0, 1e-9)
            side = (leg or "leg unknown").capitalize() if leg else "Leg unknown"
            activity.append((f"{label}, {side.lower()}", colour, values, scale, tracks[name]))
    rows = [
        r
        for r in ROWS
        if any(e["kind"] == r[0] and (r[1] is None or e["leg"] == (r[1] or None)) for e in night["events"])
    ]
    left, width, row_h, act_h = 190, 820, 22, 30
    top = 22
    height = top + act_h * len(activity) + row_h * max(len(rows), 1) + 8
    out = [
        '<section aria-labelledby="h-timeline"><h2 id="h-timeline">The night</h2><figure>',
        f'<svg role="img" aria-labelledby="tl-title tl-desc" width="{left + width + 10}" height="{height}" '
        f'viewBox="0 0 {left + width + 10} {height}" xmlns="http://www.w3.org/2000/svg" font-size="12">',
        '<title id="tl-title">Timeline of the night</title>',
        "<desc id=\"tl-desc\">Per leg, minute by minute: the calf muscle's activity, the leg's movement and "
        "whether the shank was upright; then one row per kind of event, with bars showing when each happened. "
        "Missing data is red. The tables below give the same numbers.</desc>",
    ]
    for i in range(0, 9):
        x = left + width * i / 8
        out.append(f'<line x1="{x:.1f}" y1="16" x2="{x:.1f}" y2="{height}" stroke="#ddd"/>')
        anchor = "start" if i == 0 else "end" if i == 8 else "middle"
        label = esc(clock(total * i / 8, start)[:5])
        out.append(f'<text x="{x:.1f}" y="12" text-anchor="{anchor}">{label}</text>')
    y = top
    for label, colour, values, scale, track in activity:
        usable, missing = track["usable_share"], track.get("missing_share", [0.0] * len(values))
        out.append(f'<text x="{left - 6}" y="{y + act_h / 2 + 4:.1f}" text-anchor="end">{esc(label)}</text>')
        out.append(f'<line x1="{left}" y1="{y + act_h - 2}" x2="{left + width}" y2="{y + act_h - 2}" stroke="#bbb"/>')
        w = width * minute / total
        for k, v in enumerate(values):
            x0 = left + width * k * minute / total
            if usable[k] == 0:  # nothing usable this minute: missing (red) or unusable (grey)
                gone = (missing[k] or 0) >= 0.5
                fill, why = ("#C00000", "missing data") if gone else ("#999999", "unusable signal (artifact)")
                out.append(
                    f'<rect x="{x0:.1f}" y="{y + 2}" width="{max(w, 1):.1f}" height="{act_h - 4}" fill="{fill}" '
                    f'opacity="0.6"><title>{esc(clock(k * minute, start)[:5])}: {why}</title></rect>'
                )
                continue
            if v is None or v <= 0:
                continue
            h = min(1.0, v / scale) * (act_h - 6)
            out.append(
                f'<rect x="{x0:.1f}" y="{y + act_h - 2 - h:.1f}" width="{max(w - 0.3, 0.7):.1f}" height="{h:.1f}" '
                f'fill="{colour}"/>'
            )
        y += act_h
    for kind, leg, label, colour in rows:
        out.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{esc(label)}</text>')
        for e in night["events"]:
            if e["kind"] != kind or (leg is not None and e["leg"] != (leg or None)):
                continue
            x0 = left + width * e["start_s"] / total
            w = max(width * (e["end_s"] - e["start_s"]) / total, 1.5)
            what = f"{label} at {clock(e['start_s'], start)}, {duration(e['end_s'] - e['start_s'])}"
            if e.get("reason"):
                what += f" ({e['reason']})"
            out.append(
                f'<rect x="{x0:.1f}" y="{y + 2}" width="{w:.1f}" height="{row_h - 6}" fill="{colour}">'
                f"<title>{esc(what)}</title></rect>"
            )
            if kind in SHAPES:
                out.append(
                    f'<path d="{SHAPES[kind]}" transform="translate({x0:.1f},{y + row_h / 2 - 1:.1f})" '
                    f'fill="{colour}" stroke="#000" stroke-width="0.8"><title>{esc(what)}</title></path>'
                )
        y += row_h
    out.append(
        "</svg><figcaption>Clock times of the night. Activity rows: bar height is the minute's value against "
        "the night's own range (95th percentile = full height); the upright row is the share of the minute "
        "the shank was upright. Red marks missing data (the band sent nothing); grey marks a signal that was "
        "there but unusable (artifacts; the artifact row says which kind).</figcaption>"
    )
    out.append("</figure>")
    out.append(_hour_table(night))
    out.append(_event_table(night))
    out.append("</section>")
    return "\n".join(out)


_NOT_MEASURED_IF_NULL = {"awakening_count", "out_of_bed_count", "cramps_followed_by_awakening"}


def _hour_table(night: Mapping[str, Any]) -> str:
    """The timeline's numbers, hour by hour."""
    src = night["source"]
    start = src.get("start_time")
    total = float(src["duration_s"])
    overview = night.get("overview") or {}
    minute = float(overview.get("minute_s", 60.0))
    tracks = overview.get("streams", {})
    cols: list[tuple[str, str, str]] = []  # (header, stream, field)
    for leg, kinds in _legs(night):
        side = leg or "leg unknown"
        if "emg" in kinds and kinds["emg"] in tracks:
            cols.append((f"EMG RMS {side} (µV, median)", kinds["emg"], "rms_uv"))
        if "acc" in kinds and kinds["acc"] in tracks:
            cols.append((f"movement {side} (mg, mean)", kinds["acc"], "movement_mg"))
            cols.append((f"upright {side} (min)", kinds["acc"], "upright_share"))
    counted = ("cramp", "awakening", "limb_movement", "out_of_bed")
    summ = night["summary"]  # "-" where the recording cannot show a kind (as in the summary: not measured)
    measured = {
        "cramp": True,
        "awakening": summ["awakening_count"] is not None,
        "limb_movement": summ["lm_count"] is not None,
        "out_of_bed": summ["out_of_bed_count"] is not None,
    }
    head = "".join(f"<th>{esc(h)}</th>" for h in ["hour from", "cramps", "awakenings", "leg movements", "out of bed"])
    head += "".join(f"<th>{esc(h)}</th>" for h, _, _ in cols)
    body = []
    per_hour = max(1, round(3600 / minute))
    for h in range(max(1, math.ceil(total / 3600))):
        t0, t1 = h * 3600.0, min((h + 1) * 3600.0, total)
        counts: list[int | str] = [
            sum(1 for e in night["events"] if e["kind"] == k and t0 <= e["start_s"] < t1) if measured[k] else "-"
            for k in counted
        ]
        cells = [f"<td>{esc(clock(t0, start)[:5])}</td>", *(f'<td class="n">{c}</td>' for c in counts)]
        for _, name, field in cols:
            vals = [v for v in tracks[name][field][h * per_hour : (h + 1) * per_hour] if v is not None]
            if not vals:
                cells.append('<td class="n">-</td>')
            elif field == "rms_uv":
                cells.append(f'<td class="n">{statistics.median(vals):.1f}</td>')
            elif field == "movement_mg":
                cells.append(f'<td class="n">{statistics.fmean(vals):.0f}</td>')
            else:
                cells.append(f'<td class="n">{sum(vals) * minute / 60:.0f}</td>')
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        "<details open><summary>The night hour by hour (the timeline's numbers)</summary>"
        "<table><caption>Hour by hour</caption>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></details>"
    )


def _event_table(night: Mapping[str, Any]) -> str:
    start = night["source"].get("start_time")
    rows = [
        f"<tr><td>{esc(clock(e['start_s'], start))}</td><td>{esc(e['kind'].replace('_', ' '))}</td>"
        f"<td>{esc(e['leg'] or '')}</td><td>{esc(duration(e['end_s'] - e['start_s']))}</td>"
        f"<td>{esc(_details(e))}</td></tr>"
        for e in night["events"]
    ]
    return (
        "<details><summary>All events as a table</summary><table><caption>Events of the night</caption>"
        "<thead><tr><th>start</th><th>event</th><th>leg</th><th>length</th><th>details</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></details>"
    )


def _details(e: Mapping[str, Any]) -> str:
    skip = {"kind", "start_s", "end_s", "leg"}
    return ", ".join(f"{k}: {v}" for k, v in e.items() if k not in skip)


def _cramp_section(night: Mapping[str, Any]) -> str:
    start = night["source"].get("start_time")
    events = night["events"]
    cramps = [(i, e) for i, e in enumerate(events) if e["kind"] == "cramp"]
    head = '<section aria-labelledby="h-cramps"><h2 id="h-cramps">Cramps</h2>'
    if not cramps:
        return head + "<p>No cramp was detected this night.</p></section>"
    rows = []
    for n, (i, c) in enumerate(cramps, 1):
        woke = {True: "yes", False: "no", None: "unknown"}[c.get("awakening")]
        rows.append(
            f'<tr><td>{n}</td><td data-json="events.{i}.start_s">{esc(clock(c["start_s"], start))}</td>'
            f'<td data-json="events.{i}.leg">{esc(c["leg"])}</td>'
            f'<td data-json="events.{i}.duration">{esc(duration(c["end_s"] - c["start_s"]))}</td>'
            f'<td class="n" data-json="events.{i}.peak_uv">{_peak(c)}</td>'
            f"<td>{esc(woke)}</td><td>{esc(', '.join(c.get('evidence', [])))}</td>"
            f'<td class="n">{c.get("confidence", 0):.2f}</td></tr>'
        )
    out = [
        head,
        "<table><caption>Detected cramps</caption><thead><tr><th>#</th><th>start</th><th>leg</th>"
        "<th>length</th><th>peak (µV RMS)</th><th>awakening after</th><th>evidence</th><th>confidence</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>",
    ]
    pictures = {p["event"]: p for p in night.get("pictures", [])}
    if pictures:
        out.append("<h3>The signals around each cramp</h3>")
    for n, (i, c) in enumerate(cramps, 1):
        if i in pictures:
            out.append(_picture(n, c, pictures[i], start))
    out.append("</section>")
    return "\n".join(out)


def _picture(n: int, cramp: Mapping[str, Any], pic: Mapping[str, Any], start: str | None) -> str:
    """A small picture of the signals around one cramp, with its numbers as a table beside it."""
    t0, t1 = float(pic["t0_s"]), float(pic["t1_s"])
    span = max(t1 - t0, 1e-9)
    streams = sorted(
        pic["streams"].items(), key=lambda kv: (kv[1]["kind"] != "emg", kv[1]["leg"] != cramp["leg"], kv[0])
    )
    left, width, band = 90, 360, 46
    height = band * len(streams) + 20
    x_s = left + width * (cramp["start_s"] - t0) / span
    x_e = left + width * (cramp["end_s"] - t0) / span
    what = f"Cramp {n}, {cramp['leg']} calf, {clock(cramp['start_s'], start)}"
    svg = [
        f'<svg role="img" aria-label="{esc(what)}: the signals from {esc(clock(t0, start))} to '
        f'{esc(clock(t1, start))}; the table beside it gives their numbers" width="{left + width + 6}" '
        f'height="{height}" viewBox="0 0 {left + width + 6} {height}" xmlns="http://www.w3.org/2000/svg" '
        'font-size="11">',
        f'<rect x="{x_s:.1f}" y="0" width="{max(x_e - x_s, 1):.1f}" height="{height - 16}" fill="#D55E00" '
        'opacity="0.18"/>',
    ]
    # every EMG on one scale (a leg at rest looks at rest), set by the contraction itself: three times the
    # median of the cramping leg's column extremes during the cramp (movements as the sleeper wakes, often
    # far larger, are clipped so that the contraction stays visible)
    k_all = len(next(iter(pic["streams"].values()))["lo"]) if pic["streams"] else 0
    during = [j for j in range(k_all) if cramp["start_s"] <= t0 + span * (j + 0.5) / max(k_all, 1) <= cramp["end_s"]]
    emg_abs = sorted(
        abs(v)
        for st in pic["streams"].values()
        if st["kind"] == "emg" and (st["leg"] == cramp["leg"] or cramp["leg"] is None)
        for j in during
        for v in (st["lo"][j], st["hi"][j])
        if v is not None
    )
    emg_scale = 3.0 * emg_abs[len(emg_abs) // 2] if emg_abs else 1.0  # three times the typical extreme
    for r, (_name, st) in enumerate(streams):
        y0 = r * band + 2
        lo = [v for v in st["lo"] if v is not None]
        hi = [v for v in st["hi"] if v is not None]
        label = f"{'EMG' if st['kind'] == 'emg' else 'ACC'} {st['leg'] or ''}".strip()
        svg.append(f'<text x="{left - 6}" y="{y0 + band / 2 + 3:.0f}" text-anchor="end">{esc(label)}</text>')
        if not lo:
            continue
        vmin, vmax = (-emg_scale, emg_scale) if st["kind"] == "emg" else (min(lo), max(hi))
        rng = (vmax - vmin) or 1.0
        k = len(st["lo"])
        colour = "#555" if st["kind"] == "emg" else "#009E73"

        def y_of(v: float, y0: float = y0, vmin: float = vmin, rng: float = rng) -> float:
            return y0 + (band - 6) * (1 - min(max((v - vmin) / rng, 0.0), 1.0))

        segs = []
        for j, (a, b) in enumerate(zip(st["lo"], st["hi"], strict=True)):
            if a is None or b is None:
                continue
            x = left + width * (j + 0.5) / k
            segs.append(f"M{x:.1f},{y_of(b):.1f}V{y_of(a) + 0.6:.1f}")
        svg.append(f'<path d="{"".join(segs)}" stroke="{colour}" stroke-width="{width / k + 0.2:.2f}" fill="none"/>')
    svg.append(f'<text x="{left}" y="{height - 3}">{esc(clock(t0, start))}</text>')
    svg.append(f'<text x="{left + width}" y="{height - 3}" text-anchor="end">{esc(clock(t1, start))}</text>')
    svg.append("</svg>")
    rows = "".join(
        f"<tr><th scope='row'>{esc(name)}</th><td class='n'>{_num(st['peak_before'])}</td>"
        f"<td class='n'>{_num(st['peak_during'])}</td><td class='n'>{_num(st['peak_after'])}</td>"
        f"<td>{esc('µV' if st['unit'] == 'uV' else 'g from the median')}</td></tr>"
        for name, st in streams
    )
    table = (
        f"<table><caption>Cramp {n}: largest value before, during and after</caption><thead><tr><th>signal</th>"
        f"<th>before</th><th>during</th><th>after</th><th>unit</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    length = duration(cramp["end_s"] - cramp["start_s"])
    return (
        f'<div class="episode"><figure>{"".join(svg)}<figcaption>{esc(what)} ({esc(length)}), shaded; '
        f"30 s either side. The EMG traces share one scale (±{_num(round(emg_scale))} µV; larger values are cut off)."
        "</figcaption>"
        f"</figure>{table}</div>"
    )


def _review_section(night: Mapping[str, Any]) -> str:
    """What the sleeper's review says: the cramps as reviewed, how the detector agrees, and the diary."""
    start = night["source"].get("start_time")
    review = night["review"]
    a = review["agreement"]

    def share(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.0f} %"

    agree = [
        ("Detected cramps you confirmed", a["confirmed"], "confirmed"),
        ("... of which you moved the bounds (by more than 2 s)", a["adjusted"], "adjusted"),
        ("Detected cramps you rejected", a["rejected"], "rejected"),
        ("Cramps you added (the detector missed them)", a["added"], "added"),
        ("Detected cramps not reviewed yet", a["unreviewed"], "unreviewed"),
    ]
    rows = "".join(
        f"<tr><th scope='row'>{esc(k)}</th><td class='n' data-json='review.agreement.{key}'>{v}</td></tr>"
        for k, v, key in agree
    )
    rows += (
        f"<tr><th scope='row'>Detector's precision (confirmed of reviewed)</th>"
        f"<td class='n' data-json='review.agreement.precision'>{share(a['precision'])}</td></tr>"
        f"<tr><th scope='row'>Detector's recall (confirmed of confirmed and added)</th>"
        f"<td class='n' data-json='review.agreement.recall'>{share(a['recall'])}</td></tr>"
    )
    what = {None: "not reviewed", "confirmed": "confirmed", "added": "added by you"}
    cramps = "".join(
        f"<tr><td>{esc(clock(c['start_s'], start))}</td><td>{esc(c['leg'] or '')}</td>"
        f"<td>{esc(duration(c['end_s'] - c['start_s']))}</td><td>{esc(what.get(c.get('review'), ''))}</td></tr>"
        for c in review["cramps"]
    )
    d = review.get("diary", {})

    def score(v: int | None) -> str:
        return "not given" if v is None else f"{v} / 10"

    diary = (
        f"<tr><th scope='row'>Cramp severity</th><td data-json='review.diary.severity'>{esc(score(d.get('severity')))}"
        "</td></tr>"
        f"<tr><th scope='row'>Sleep disturbance</th><td data-json='review.diary.disturbance'>"
        f"{esc(score(d.get('disturbance')))}</td></tr>"
        f"<tr><th scope='row'>Tonight</th><td>{esc(', '.join(d.get('tags', [])) or '-')}</td></tr>"
        f"<tr><th scope='row'>Notes</th><td>{esc(d.get('notes') or '-')}</td></tr>"
    )
    return (
        '<section aria-labelledby="h-review"><h2 id="h-review">Your review</h2>'
        f'<p class="note">From {esc(Path(review["file"]).name)}, beside the recording.</p>'
        f"<table><caption>The detector against your review</caption><tbody>{rows}</tbody></table>"
        "<table><caption>Cramps after your review</caption><thead><tr><th>start</th><th>leg</th><th>length</th>"
        f"<th>review</th></tr></thead><tbody>{cramps}</tbody></table>"
        f"<table><caption>The night's diary</caption><tbody>{diary}</tbody></table></section>"
    )


def _num(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"


def _summary_table(night: Mapping[str, Any]) -> str:
    s = night["summary"]
    start = night["source"].get("start_time")
    rows = [
        ("Cramps (left / right)", f"{s['cramp_count']} ({s['cramp_count_left']} / {s['cramp_count_right']})"),
        ("Total cramp time", duration(s["cramp_total_s"])),
        ("Median cramp length", duration(s["cramp_median_s"])),
        ("Sleep onset", clock(s["sleep_onset_s"], start)),
        ("Final wake", clock(s["final_wake_s"], start)),
        ("Sleep period", duration(s["sleep_period_s"])),
        ("Total sleep", duration(s["total_sleep_s"])),
        ("Awake after sleep onset", duration(s["waso_s"])),
        ("Awakenings", _measured(s["awakening_count"], "no accelerometer")),
        ("Out of bed", _measured(s["out_of_bed_count"], "no accelerometer")),
        ("Leg movements", _measured(s["lm_count"], "no EMG")),
        (
            "PLMs (index per hour of sleep)",
            f"{s['plm_count']} ({s['plms_index']})" if s["plm_count"] is not None else "not measured (no EMG)",
        ),
        ("Large movements", _measured(s["large_movement_count"], "no accelerometer")),
    ]
    body = "".join(f"<tr><th scope='row'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    q = "".join(
        f"<tr><th scope='row'>{esc(n)}</th><td>{esc(duration(v['valid_s']))}</td>"
        f"<td>{esc(duration(v['artifact_s']))}</td><td>{esc(duration(v['missing_s']))}</td></tr>"
        for n, v in s["streams"].items()
    )
    return (
        '<section aria-labelledby="h-sleep"><h2 id="h-sleep">Sleep and movements</h2>'
        f"<table><caption>Night summary</caption><tbody>{body}</tbody></table></section>"
        '<section aria-labelledby="h-quality"><h2 id="h-quality">Data quality</h2>'
        "<table><caption>Usable, unusable and missing signal per stream</caption><thead><tr><th>stream</th>"
        f"<th>usable</th><th>artifact</th><th>missing</th></tr></thead><tbody>{q}</tbody></table></section>"
    )


def _peak(cramp: Mapping[str, Any]) -> str:
    """The EMG peak, or why there is none (a cramp found from the accelerometer alone)."""
    peak = cramp.get("peak_uv")
    return "-" if peak is None else f"{peak:.0f}"


def write_report(night: Mapping[str, Any], path: str | os.PathLike[str]) -> Path:
    return write_private(path, render_report(night))


def _measured(count: int | None, why: str) -> str:
    """A count, or what kept it from being measured."""
    return f"not measured ({why})" if count is None else str(count)
