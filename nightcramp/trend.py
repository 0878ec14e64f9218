"""``cramp trend DIR``: many nights side by side, to see whether stretching, hydration or magnesium helped.

Every recording in the folder (``.ncr``, ``.ncr.gz``, EDF/BDF, text exports) is analysed, in parallel on
all local cores, or on a Dask distributed cluster given its scheduler's address (a clinic's or a study's).
A night with a review file beside it counts its reviewed cramps and carries its diary (tags, severity).
Out come a CSV, one row per night, and a self-contained HTML page: cramps per night and per leg with a
7-night rolling mean, cramp minutes, awakenings and sleep, the diary's tags along the time axis, and, for a
chosen tag, a before/after comparison:

- *before* is every night before the first night with the tag, *after* every night from then on that has
  the tag (nights from then on without it are left out: they are neither);
- the **rate ratio** of cramps per night after / before, with a 95 % confidence interval (Poisson counts,
  on the log scale, 0.5 added to a zero count);
- a **permutation test** of the difference in mean cramps per night: the nights' labels shuffled 20,000
  times (seeded, so the page is reproducible), two-sided;
- a plain warning when either side has fewer than ``MIN_NIGHTS`` nights: cramps vary a lot from night to
  night, and a handful of nights cannot show that something helped.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

from nightcramp.text import duration

SUFFIXES = (".ncr", ".ncr.gz", ".edf", ".bdf", ".edf.gz", ".bdf.gz", ".csv", ".csv.gz", ".txt", ".txt.gz")
MIN_NIGHTS = 7  #: nights needed on each side of a comparison before it says anything
ROLLING = 7  #: nights in the rolling mean
PERMUTATIONS = 20_000
COLUMNS = (
    "date", "file", "start_time", "hours", "cramps", "cramps_left", "cramps_right", "cramp_minutes",
    "awakenings", "sleep_hours", "reviewed", "detected", "confirmed", "rejected", "added", "severity",
    "disturbance", "tags", "error",
)  # fmt: skip


def find_nights(folder: Path) -> list[Path]:
    """The recordings in ``folder`` (not its review files, reports, JSON or simulator truth)."""
    out = []
    for p in sorted(folder.iterdir()):
        name = p.name.lower()
        if p.is_file() and name.endswith(SUFFIXES) and not name.startswith("trend"):
            out.append(p)
    return out


def night_row(path: str) -> dict[str, Any]:
    """One night's row (runs in a worker process or on a cluster worker): the analysis, the review file's
    cramps and diary where there is one; an ``error`` sentence instead when the file cannot be analysed."""
    from firmware_bridge.errors import BridgeError
    from firmware_bridge.formats import RecordingError, read_recording
    from firmware_bridge.journal import read_journal
    from nightcramp.cli import _is_journal
    from nightcramp.session import analyze_journal, analyze_recording
    from nightcramp.sidecar import Sidecar, SidecarError, reviewed_cramps

    p = Path(path)
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row["file"] = p.name
    try:
        if _is_journal(p):
            journal = read_journal(p)
            result = analyze_journal(journal)
            start_ns = journal.start_unix_ns
            start = (
                dt.datetime.fromtimestamp(start_ns / 1e9, dt.UTC).astimezone().isoformat(timespec="seconds")
                if start_ns is not None
                else None
            )
        else:
            rec = read_recording(p)
            result = analyze_recording(rec)
            start = rec.start_wall
    except (RecordingError, BridgeError, OSError, ValueError) as exc:
        row["error"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return row
    events = [e.to_json() for e in result.events]
    s = result.summary
    cramps = [e for e in events if e["kind"] == "cramp"]
    row["reviewed"] = False
    try:
        side = Sidecar.load(p)
    except SidecarError:
        side = None
    row["detected"] = len(cramps)
    if side is not None and side.reviewed:
        cramps, agreement = reviewed_cramps(events, side)
        row["reviewed"] = True
        row.update({k: agreement[k] for k in ("confirmed", "rejected", "added")})
    if side is not None:
        row["severity"], row["disturbance"] = side.diary.get("severity"), side.diary.get("disturbance")
        row["tags"] = ";".join(side.diary.get("tags", []))
    row.update(
        start_time=start,
        date=_evening(start),
        hours=round(result.duration_s / 3600, 3),
        cramps=len(cramps),
        cramps_left=sum(c["leg"] == "left" for c in cramps),
        cramps_right=sum(c["leg"] == "right" for c in cramps),
        cramp_minutes=round(sum(c["end_s"] - c["start_s"] for c in cramps) / 60, 2),
        awakenings=s["awakening_count"],
        sleep_hours=None if s["total_sleep_s"] is None else round(s["total_sleep_s"] / 3600, 3),
    )
    return row


def _evening(start: str | None) -> str | None:
    """The date of the evening a night began (a start after midnight belongs to the evening before)."""
    if start is None:
        return None
    t = dt.datetime.fromisoformat(start)
    return (t - dt.timedelta(hours=12)).date().isoformat()


def analyse_nights(
    paths: Sequence[Path],
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    on_done: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Every night's row, in parallel: on ``workers`` local processes (default: all cores), or on the Dask
    distributed cluster at ``scheduler``. ``on_done(n)`` is told how many nights are finished."""
    rows: list[dict[str, Any]] = []
    if scheduler is not None:
        from distributed import Client
        from distributed import as_completed as dask_completed

        with Client(scheduler, timeout="20s") as client:  # type: ignore[no-untyped-call]
            futures = client.map(night_row, [str(p) for p in paths], pure=False)
            for future in dask_completed(futures):  # type: ignore[no-untyped-call]
                rows.append(future.result())
                if on_done:
                    on_done(len(rows))
    else:
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            for done in as_completed([pool.submit(night_row, str(p)) for p in paths]):
                rows.append(done.result())
                if on_done:
                    on_done(len(rows))
    return sort_rows(rows)


def sort_rows(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nights in time order (by start; nights without a start time last, by file name)."""
    return sorted(rows, key=lambda r: (r["start_time"] is None, r["start_time"] or "", r["file"]))


def rolling_mean(values: Sequence[float | None], n: int = ROLLING) -> list[float | None]:
    """The mean of each night and the up to ``n - 1`` nights before it (None where none had a value)."""
    out: list[float | None] = []
    for i in range(len(values)):
        window = [v for v in values[max(0, i - n + 1) : i + 1] if v is not None]
        out.append(round(sum(window) / len(window), 3) if window else None)
    return out


def compare(rows: Sequence[Mapping[str, Any]], tag: str, *, seed: int = 0) -> dict[str, Any]:
    """Cramps per night before the first night tagged ``tag`` and on the tagged nights from then on."""
    ok = [r for r in rows if r.get("error") is None and r.get("cramps") is not None]
    has = [tag in (r.get("tags") or "").split(";") for r in ok]
    first = next((i for i, h in enumerate(has) if h), None)
    before = [int(r["cramps"]) for r, _ in zip(ok[:first], has[:first], strict=True)] if first is not None else []
    after = [int(r["cramps"]) for r, h in zip(ok, has, strict=True) if h]
    out: dict[str, Any] = {"tag": tag, "nights_before": len(before), "nights_after": len(after)}
    if first is None:
        out["warning"] = f"No night is tagged {tag!r}; add the tag in the review of the nights it applies to."
        return out
    out["first_night"] = ok[first]["date"] or ok[first]["file"]
    if not before or not after:
        out["warning"] = f"There is no night before the first night tagged {tag!r}: nothing to compare with."
        return out
    sb, sa = sum(before), sum(after)
    out["mean_before"], out["mean_after"] = round(sb / len(before), 3), round(sa / len(after), 3)
    cb, ca = (sb or 0.5), (sa or 0.5)  # a zero count gets half a cramp, so that the ratio stays finite
    log_rr = math.log((ca / len(after)) / (cb / len(before)))
    se = math.sqrt(1 / ca + 1 / cb)
    out["rate_ratio"] = round(math.exp(log_rr), 3)
    out["ci95"] = [round(math.exp(log_rr - 1.96 * se), 3), round(math.exp(log_rr + 1.96 * se), 3)]
    out["p_permutation"] = permutation_p(before, after, seed=seed)
    if len(before) < MIN_NIGHTS or len(after) < MIN_NIGHTS:
        out["warning"] = (
            f"Too few nights to tell: {len(before)} before and {len(after)} with {tag!r}; cramps vary a lot "
            f"from night to night, so at least {MIN_NIGHTS} on each side are needed for even a rough answer."
        )
    return out


def permutation_p(a: Sequence[int], b: Sequence[int], *, n: int = PERMUTATIONS, seed: int = 0) -> float:
    """Two-sided p-value of the difference in means of ``a`` and ``b`` under random relabelling."""
    x = np.asarray([*a, *b], dtype=float)
    observed = abs(np.mean(b) - np.mean(a))
    rng = np.random.default_rng(seed)
    idx = np.argsort(rng.random((n, x.size)), axis=1)
    shuffled = x[idx]
    diffs = np.abs(shuffled[:, len(a) :].mean(axis=1) - shuffled[:, : len(a)].mean(axis=1))
    return round(float((np.sum(diffs >= observed - 1e-12) + 1) / (n + 1)), 4)


def write_csv(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    from nightcramp.nightjson import write_private

    lines: list[str] = []

    class _Sink:
        def write(self, s: str) -> int:
            lines.append(s)
            return len(s)

    w = csv.DictWriter(_Sink(), fieldnames=[*COLUMNS, "cramps_rolling_7"], lineterminator="\n")
    w.writeheader()
    for r, roll in zip(rows, rolling_mean([r["cramps"] for r in rows]), strict=True):
        w.writerow({**{k: "" if r.get(k) is None else r[k] for k in COLUMNS}, "cramps_rolling_7": roll})
    write_private(path, "".join(lines))


# -- the page ---------------------------------------------------------------------------------------------
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:1050px;
color:#111;line-height:1.4;padding:0 1rem}
h1{font-size:1.6rem} h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #ccc;padding:.2rem .5rem;text-align:left} th{background:#f2f2f2}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.warn{border-left:4px solid #E69F00;background:#fff8e6;padding:.5rem 1rem}
svg{max-width:100%;height:auto} figcaption{font-size:.85rem;color:#444}
@media print{body{margin:0;max-width:none;font-size:10pt}table,figure{break-inside:avoid}}
"""


def esc(x: object) -> str:
    return html.escape(str(x), quote=True)


def render_trend(rows: Sequence[Mapping[str, Any]], comparison: Mapping[str, Any] | None) -> str:
    ok = [r for r in rows if r.get("error") is None]
    failed = [r for r in rows if r.get("error") is not None]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Cramp trend - NightCramp</title><style>{CSS}</style></head><body><main>",
        f"<h1>{len(ok)} nights</h1>",
    ]
    if ok:
        first, last = ok[0]["date"] or ok[0]["file"], ok[-1]["date"] or ok[-1]["file"]
        total = sum(r["cramps"] for r in ok)
        parts.append(
            f'<p>From {esc(first)} to {esc(last)}: <span data-json="total_cramps">{total}</span> cramps, '
            f"{total / len(ok):.1f} a night on average; {sum(1 for r in ok if r['reviewed'])} nights reviewed.</p>"
        )
    reviewed = [r for r in ok if r["reviewed"]]
    if reviewed:
        conf, rej, add = (sum(r[k] or 0 for r in reviewed) for k in ("confirmed", "rejected", "added"))
        prec = f"{100 * conf / (conf + rej):.0f} %" if conf + rej else "-"
        rec = f"{100 * conf / (conf + add):.0f} %" if conf + add else "-"
        parts.append(
            f"<p>The detector against your reviews ({len(reviewed)} night{'s' if len(reviewed) != 1 else ''}): "
            "you confirmed "
            f'<span data-json="confirmed">{conf}</span> of the {conf + rej} detected cramps you reviewed '
            f"(precision {prec}) and added {add} it missed (recall {rec}). The counts below are the reviewed "
            "ones where a night has a review.</p>"
        )
    if comparison:
        parts.append(_comparison(comparison))
    parts.append(_chart(ok))
    parts.append(_table(rows))
    if failed:
        parts.append("<h2>Nights that could not be analysed</h2><ul>")
        parts += [f"<li>{esc(r['file'])}: {esc(r['error'])}</li>" for r in failed]
        parts.append("</ul>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _comparison(c: Mapping[str, Any]) -> str:
    tag = esc(c["tag"])
    out = [f'<section aria-labelledby="h-cmp"><h2 id="h-cmp">Before and with {tag}</h2>']
    if "rate_ratio" in c:
        lo, hi = c["ci95"]
        change = (1 - c["rate_ratio"]) * 100
        words = "fewer" if change > 0 else "more"
        out.append(
            f"<p>Before the first night with {tag} ({esc(c['first_night'])}): <b>{c['mean_before']:.2f}</b> cramps a "
            f"night over {c['nights_before']} nights; on the {c['nights_after']} nights with {tag}: "
            f"<b>{c['mean_after']:.2f}</b>. That is {abs(change):.0f} % {words} "
            f'(rate ratio <span data-json="rate_ratio">{c["rate_ratio"]:.2f}</span>, 95 % confidence interval '
            f"{lo:.2f} to {hi:.2f}; permutation test p = {c['p_permutation']:.3f}).</p>"
        )
        if hi < 1:
            out.append(f"<p>The whole interval lies below 1: the nights with {tag} had fewer cramps, beyond what "
                       "chance alone would usually give. This cannot say that the change caused it.</p>")  # fmt: skip
        elif lo > 1:
            out.append(f"<p>The whole interval lies above 1: the nights with {tag} had more cramps.</p>")
        else:
            out.append("<p>The interval includes 1 (no change): these nights cannot tell a difference apart from "
                       "chance.</p>")  # fmt: skip
    if c.get("warning"):
        out.append(f'<p class="warn" role="note">{esc(c["warning"])}</p>')
    out.append("</section>")
    return "\n".join(out)


def _chart(rows: Sequence[Mapping[str, Any]]) -> str:
    if not rows:
        return "<p>No night could be analysed.</p>"
    n = len(rows)
    left, width, top = 150, 840, 20
    band = 90
    tags = sorted({t for r in rows for t in (r.get("tags") or "").split(";") if t})
    panels = [
        ("cramps", "Cramps a night", "#D55E00"),
        ("cramp_minutes", "Cramp minutes", "#CC79A7"),
        ("awakenings", "Awakenings", "#E69F00"),
        ("sleep_hours", "Hours asleep", "#0072B2"),
    ]
    height = top + band * len(panels) + 18 * len(tags) + 30
    step = width / n
    out = [
        "<h2>Night by night</h2><figure>",
        f'<svg role="img" aria-labelledby="t-title t-desc" width="{left + width + 10}" height="{height}" '
        f'viewBox="0 0 {left + width + 10} {height}" xmlns="http://www.w3.org/2000/svg" font-size="11">',
        '<title id="t-title">Nights over time</title>',
        '<desc id="t-desc">Per night: cramps (left leg dark, right leg light) with the 7-night rolling mean as a '
        "line, cramp minutes, awakenings and hours asleep; below, a row per diary tag with a dot on each night "
        "that had it. The table below gives the same numbers.</desc>",
    ]
    for p, (key, label, colour) in enumerate(panels):
        y0 = top + p * band
        vals = [r.get(key) for r in rows]
        finite = [float(v) for v in vals if v is not None]
        vmax = max(finite, default=1.0) or 1.0
        out.append(f'<text x="{left - 8}" y="{y0 + band / 2}" text-anchor="end">{esc(label)}</text>')
        out.append(f'<text x="{left - 8}" y="{y0 + 10}" text-anchor="end" fill="#666">{vmax:g}</text>')
        out.append(f'<line x1="{left}" y1="{y0 + band - 10}" x2="{left + width}" y2="{y0 + band - 10}" stroke="#bbb"/>')
        scale = (band - 16) / vmax
        for i, r in enumerate(rows):
            x = left + i * step + step * 0.15
            w = max(step * 0.7, 1.0)
            base = y0 + band - 10
            if key == "cramps":  # stacked by leg, the left leg darker
                hl, hr = (r["cramps_left"] or 0) * scale, (r["cramps_right"] or 0) * scale
                other = ((r["cramps"] or 0) - (r["cramps_left"] or 0) - (r["cramps_right"] or 0)) * scale
                night = r["date"] or r["file"]
                tip = f"{night}: {r['cramps']} cramps ({r['cramps_left']} left, {r['cramps_right']} right)"
                for h, fill, below in ((hl, colour, 0.0), (hr, "#F4B183", hl), (other, "#999", hl + hr)):
                    if h > 0:
                        out.append(
                            f'<rect x="{x:.1f}" y="{base - below - h:.1f}" width="{w:.1f}" height="{h:.1f}" '
                            f'fill="{fill}"><title>{esc(tip)}</title></rect>'
                        )
            elif r.get(key) is not None:
                h = float(r[key]) * scale
                tip = f"{r['date'] or r['file']}: {r[key]} {label.lower()}"
                out.append(
                    f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{colour}">'
                    f"<title>{esc(tip)}</title></rect>"
                )
        if key == "cramps":
            roll = rolling_mean([r["cramps"] for r in rows])
            pts = " ".join(
                f"{left + (i + 0.5) * step:.1f},{y0 + band - 10 - v * scale:.1f}"
                for i, v in enumerate(roll)
                if v is not None
            )
            out.append(f'<polyline points="{pts}" fill="none" stroke="#000" stroke-width="2" stroke-dasharray="5,3"/>')
            out.append(
                f'<text x="{left + width}" y="{y0 + 10}" text-anchor="end">dark: left leg, light: right leg; '
                f"dashed: {ROLLING}-night rolling mean</text>"
            )
    y = top + band * len(panels)
    for t in tags:
        out.append(f'<text x="{left - 8}" y="{y + 12}" text-anchor="end">{esc(t)}</text>')
        for i, r in enumerate(rows):
            if t in (r.get("tags") or "").split(";"):
                cx = left + (i + 0.5) * step
                out.append(f'<circle cx="{cx:.1f}" cy="{y + 8}" r="4" fill="#009E73"><title>{esc(t)}</title></circle>')
        y += 18
    for i, r in enumerate(rows):  # date labels, thinned to fit
        if i % max(1, math.ceil(n / 12)) == 0:
            x = left + (i + 0.5) * step
            out.append(f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle">{esc((r["date"] or "")[5:])}</text>')
    out.append("</svg><figcaption>Each column is a night, in time order.</figcaption></figure>")
    return "\n".join(out)


def _table(rows: Sequence[Mapping[str, Any]]) -> str:
    head = ("night", "file", "hours", "cramps", "left", "right", "cramp time", "7-night mean", "awakenings",
            "asleep", "reviewed", "severity", "disturbance", "tags")  # fmt: skip
    roll = rolling_mean([r["cramps"] if r.get("error") is None else None for r in rows])
    body = []
    for i, (r, m) in enumerate(zip(rows, roll, strict=True)):
        if r.get("error") is not None:
            continue
        cells = [
            esc(r["date"] or "-"), esc(r["file"]), f"{r['hours']:.1f}",
            f'<span data-json="rows.{i}.cramps">{r["cramps"]}</span>', r["cramps_left"], r["cramps_right"],
            esc(duration(r["cramp_minutes"] * 60)), "-" if m is None else f"{m:.1f}",
            "-" if r["awakenings"] is None else r["awakenings"],
            "-" if r["sleep_hours"] is None else esc(duration(r["sleep_hours"] * 3600)),
            "yes" if r["reviewed"] else "no", "-" if r["severity"] is None else r["severity"],
            "-" if r["disturbance"] is None else r["disturbance"], esc((r["tags"] or "").replace(";", ", ")),
        ]  # fmt: skip
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (
        "<h2>The nights as a table</h2><table><caption>One row per night</caption><thead><tr>"
        + "".join(f"<th>{h}</th>" for h in head)
        + f"</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )
