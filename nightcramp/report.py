"""A self-contained HTML morning report of one night (inline SVG, no scripts, fonts or images).

Every number and mark on the page is drawn from the ``cramp-night/1`` document, and every text is escaped.
"""

from __future__ import annotations

import html
import os
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
.headline{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0}
.card{border:1px solid #bbb;border-radius:6px;padding:.6rem 1rem;min-width:8rem}
.card .num{font-size:1.8rem;font-weight:700}.card .lbl{font-size:.85rem;color:#444}
table{border-collapse:collapse;margin:.5rem 0;font-size:.92rem}
th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:left} th{background:#f2f2f2}
figure{margin:0} figcaption{font-size:.85rem;color:#444}
.note{font-size:.9rem;color:#333}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}table,figure{break-inside:avoid}}
"""


def esc(x: object) -> str:
    return html.escape(str(x), quote=True)


def render_report(night: Mapping[str, Any]) -> str:
    """The report page of a ``cramp-night/1`` document."""
    s, src = night["summary"], night["source"]
    start = src.get("start_time")
    title = f"Night of {start[:10]}" if start else "Night report"
    cards = [
        (s["cramp_count"], "cramps"),
        (duration(s["cramp_longest_s"]), "longest cramp"),
        (s["cramps_followed_by_awakening"], "cramps that woke you"),
        (s["awakening_count"], "awakenings"),
        (duration(s["total_sleep_s"]), "asleep"),
        (s["out_of_bed_count"], "times out of bed"),
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
        '<section aria-labelledby="h-headline"><h2 id="h-headline">Headline</h2><div class="headline">',
    ]
    for num, label in cards:
        shown = "-" if num is None else num  # not measured (the tables below say why)
        parts.append(f'<div class="card"><div class="num">{esc(shown)}</div><div class="lbl">{esc(label)}</div></div>')
    parts.append("</div></section>")
    parts.append(_timeline(night))
    parts.append(_cramp_table(night))
    parts.append(_summary_table(night))
    parts.append(
        '<section aria-labelledby="h-methods"><h2 id="h-methods">Methods</h2>'
        f'<p class="note">{esc(night.get("methods", ""))}</p>'
        f'<p class="note">{esc(night.get("software", ""))}, schema {esc(night.get("schema", ""))}.</p></section>'
    )
    parts.append("</body></html>")
    return "\n".join(parts)


def _timeline(night: Mapping[str, Any]) -> str:
    src = night["source"]
    total = max(float(src["duration_s"]), 1.0)
    start = src.get("start_time")
    rows = [
        r
        for r in ROWS
        if any(e["kind"] == r[0] and (r[1] is None or e["leg"] == (r[1] or None)) for e in night["events"])
    ]
    rows = rows or [ROWS[0]]
    left, width, row_h = 150, 860, 22
    height = 30 + row_h * len(rows)
    out = [
        '<section aria-labelledby="h-timeline"><h2 id="h-timeline">The night</h2><figure>',
        f'<svg role="img" aria-labelledby="tl-title tl-desc" width="{left + width + 10}" height="{height}" '
        f'viewBox="0 0 {left + width + 10} {height}" xmlns="http://www.w3.org/2000/svg" font-size="12">',
        '<title id="tl-title">Timeline of the night</title>',
        '<desc id="tl-desc">One row per kind of event; bars show when each event happened. '
        "The table below lists the same events.</desc>",
    ]
    for i in range(0, 9):
        x = left + width * i / 8
        out.append(f'<line x1="{x:.1f}" y1="18" x2="{x:.1f}" y2="{height}" stroke="#ddd"/>')
        anchor = "start" if i == 0 else "end" if i == 8 else "middle"
        label = esc(clock(total * i / 8, start)[:5])
        out.append(f'<text x="{x:.1f}" y="12" text-anchor="{anchor}">{label}</text>')
    for r, (kind, leg, label, colour) in enumerate(rows):
        y = 22 + r * row_h
        out.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end">{esc(label)}</text>')
        for e in night["events"]:
            if e["kind"] != kind or (leg is not None and e["leg"] != (leg or None)):
                continue
            x0 = left + width * e["start_s"] / total
            w = max(width * (e["end_s"] - e["start_s"]) / total, 1.5)
            tip = esc(f"{label} at {clock(e['start_s'], start)}, {duration(e['end_s'] - e['start_s'])}")
            out.append(
                f'<rect x="{x0:.1f}" y="{y + 2}" width="{w:.1f}" height="{row_h - 6}" fill="{colour}">'
                f"<title>{tip}</title></rect>"
            )
    out.append("</svg><figcaption>Times are clock times of the night; red marks missing data.</figcaption>")
    out.append("</figure>")
    out.append(_event_table(night))
    out.append("</section>")
    return "\n".join(out)


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


def _cramp_table(night: Mapping[str, Any]) -> str:
    start = night["source"].get("start_time")
    cramps = [e for e in night["events"] if e["kind"] == "cramp"]
    head = '<section aria-labelledby="h-cramps"><h2 id="h-cramps">Cramps</h2>'
    if not cramps:
        return head + "<p>No cramp was detected this night.</p></section>"
    rows = []
    for i, c in enumerate(cramps, 1):
        woke = {True: "yes", False: "no", None: "unknown"}[c.get("awakening")]
        rows.append(
            f"<tr><td>{i}</td><td>{esc(clock(c['start_s'], start))}</td><td>{esc(c['leg'])}</td>"
            f"<td>{esc(duration(c['end_s'] - c['start_s']))}</td><td>{_peak(c)}</td>"
            f"<td>{esc(woke)}</td><td>{esc(', '.join(c.get('evidence', [])))}</td>"
            f"<td>{c.get('confidence', 0):.2f}</td></tr>"
        )
    return (
        head + "<table><caption>Detected cramps</caption><thead><tr><th>#</th><th>start</th><th>leg</th>"
        "<th>length</th><th>peak (µV RMS)</th><th>awakening after</th><th>evidence</th><th>confidence</th>"
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


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
