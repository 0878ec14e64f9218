"""``cramp``: NightCramp's command line.

Errors a user can cause (a wrong path, a file that is not a recording, bad options) are printed as one
sentence and exit with status 2; nothing else turns errors into exit codes.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gzip
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from detector.events import Event
from detector.night import Notice
from firmware_bridge.errors import BridgeError
from firmware_bridge.formats import Annotation, Recording, RecordingError, parse_channel_map, read_recording
from firmware_bridge.formats.edf_export import write_edf_plus
from firmware_bridge.formats.native import journal_recording, start_datetime
from firmware_bridge.journal import MAGIC, Journal, JournalWriter, read_journal
from firmware_bridge.profiles import PROFILES
from firmware_bridge.sources import ReplaySource
from nightcramp import __version__, bands
from nightcramp.allocator import keep_freed_memory
from nightcramp.nightjson import iso_time, night_json, write_night_json, write_private
from nightcramp.progress import Progress
from nightcramp.report import write_report
from nightcramp.session import (
    NightResult,
    NightSession,
    SessionError,
    analyze_journal,
    analyze_recording,
    journal_duration_s,
    replay_recording,
)
from nightcramp.text import clock, format_event, format_summary

log = logging.getLogger("nightcramp")
RECORDINGS = Path(__file__).resolve().parent.parent / "recordings"
DEMO_NIGHT = RECORDINGS / "demo-night.ncr.gz"


class UserError(Exception):
    """A problem the user can fix; printed as one sentence."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    keep_freed_memory()  # the analysis' temporaries reuse freed memory (nightcramp.allocator)
    logging.basicConfig(level=logging.WARNING, format="cramp: %(message)s")
    logging.getLogger("bleak").setLevel(logging.ERROR)  # its notes (e.g. on the BlueZ version) are not for users
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        result: int = args.func(args)
        return result
    except (UserError, BridgeError, SessionError, RecordingError, bands.BandsError) as exc:
        print(f"cramp: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("cramp: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"cramp: error:{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cramp", description="Detect night-time leg cramps from a calf band.")
    p.add_argument("--version", action="version", version=f"nightcramp {__version__}")
    sub = p.add_subparsers(metavar="COMMAND")

    d = sub.add_parser("demo", help="replay a bundled night end to end, print the summary, write the report")
    d.add_argument("--recording", type=Path, default=DEMO_NIGHT, help="night to replay (default: bundled)")
    d.add_argument("--out", type=Path, default=Path("out/demo"), help="folder for the JSON and report")
    d.set_defaults(func=cmd_demo)

    s = sub.add_parser("simulate", help="simulate a night as a recording (plus its ground truth)")
    s.add_argument("out", type=Path, help="recording to create (.ncr); the truth goes to OUT.truth.json")
    s.add_argument("--hours", type=float, default=8.0)
    s.add_argument("--legs", default="left,right", help="comma-separated: left, right or both")
    s.add_argument("--emg-fs", default="1000", help="EMG rate in Hz, or 'none'")
    s.add_argument("--acc-fs", default="100", help="accelerometer rate in Hz, or 'none'")
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--cramps", type=int, default=None, help="number of cramps (default: random)")
    s.add_argument("--mains", type=float, default=50.0, choices=(50.0, 60.0), help="mains frequency in Hz")
    s.add_argument("--resolution-uv", type=float, default=0.1, help="the band's EMG resolution, µV per count")
    s.add_argument("--date", help="the evening the night starts, YYYY-MM-DD (default: last evening)")
    s.set_defaults(func=cmd_simulate)

    a = sub.add_parser("analyze", help="analyse a recorded night (.ncr, EDF/EDF+, BDF); print the summary")
    a.add_argument("path", type=Path)
    _channel_option(a)
    a.add_argument("--json", type=Path, help="write the night JSON (cramp-night/1) here")
    a.add_argument("--report", type=Path, help="write the HTML report here")
    a.add_argument("--edf", type=Path, help="write the signals and every detected event as EDF+ here")
    a.set_defaults(func=cmd_analyze)

    rp = sub.add_parser("report", help="analyse a recorded night and write its morning report (HTML)")
    rp.add_argument("path", type=Path)
    rp.add_argument(
        "-o", "--out", type=Path, help="the HTML file to write (default: beside the recording, NAME.report.html)"
    )
    _channel_option(rp)
    rp.add_argument("--json", type=Path, help="also write the night JSON (cramp-night/1) here")
    rp.set_defaults(func=cmd_report)

    rv = sub.add_parser("review", help="step through the night's cramps, confirm, reject, add; fill the diary")
    rv.add_argument("path", type=Path)
    _channel_option(rv)
    rv.add_argument("--duration", type=float, help="close the window after this many seconds")
    rv.add_argument("--screenshot", type=Path, help="save the window to this PNG before closing")
    rv.set_defaults(func=cmd_review)

    tr = sub.add_parser("trend", help="analyse many nights (a folder) and show the trend over weeks")
    tr.add_argument("folder", type=Path)
    tr.add_argument(
        "--compare", metavar="TAG", help="compare the nights before a diary tag with the nights that have it"
    )
    tr.add_argument("--html", type=Path, help="the page to write (default: FOLDER/trend.html)")
    tr.add_argument("--csv", type=Path, help="the table to write (default: FOLDER/trend.csv)")
    tr.add_argument("--workers", type=int, help="local processes (default: all cores)")
    tr.add_argument("--scheduler", metavar="ADDRESS", help="a Dask distributed scheduler, e.g. tcp://10.0.0.5:8786")
    tr.set_defaults(func=cmd_trend)

    x = sub.add_parser("export", help="analyse a recorded night and write it as EDF+ with the events as annotations")
    x.add_argument("path", type=Path)
    x.add_argument("out", type=Path, help="EDF+ file to write (.edf)")
    _channel_option(x)
    x.set_defaults(func=cmd_export)

    r = sub.add_parser("replay", help="replay a recorded night, printing events as they are detected")
    r.add_argument("path", type=Path)
    _channel_option(r)
    r.add_argument("--speed", default="max", help="times real time, or 'max' (default)")
    r.add_argument("--json", type=Path, help="write the night JSON here at the end")
    r.add_argument("--report", type=Path, help="write the HTML report here at the end")
    r.add_argument("--kinds", default="all", help="comma-separated event kinds to print (default: all)")
    r.add_argument("--view", action="store_true", help="show the live window while replaying")
    r.add_argument("--window", type=float, default=30.0, help="seconds of signal the window shows (default 30)")
    r.add_argument("--duration", type=float, help="with --view: close the window after this many seconds")
    r.add_argument("--screenshot", type=Path, help="with --view: save the window to this PNG before closing")
    r.set_defaults(func=cmd_replay)

    dc = sub.add_parser("decode", help="decode captured notification payloads (hex) with a band profile, as JSON")
    dc.add_argument("hex", nargs="+", help="one notification payload per argument, consecutive frames in order")
    dc.add_argument("--profile", required=True, help=f"band profile: {', '.join(sorted(PROFILES))}")
    dc.add_argument("--factor", type=float, help="Polar PMD factor from the start response")
    dc.add_argument("--setting", action="append", metavar="KEY=VALUE", help="a profile setting, e.g. acc_fs_hz=52")
    dc.set_defaults(func=bands.cmd_decode)

    sc = sub.add_parser("scan", help="list nearby bands and the profile that matches each")
    sc.add_argument("--timeout", type=float, default=5.0, help="seconds to scan (default 5)")
    sc.add_argument("--all", action="store_true", help="list every advertising device, not only known bands")
    sc.set_defaults(func=bands.cmd_scan)

    rc = sub.add_parser("record", help="record one or two bands all night, detecting as it goes")
    rc.add_argument("--device", action="append", metavar="ADDR_OR_NAME", help="band address or (part of) its name")
    rc.add_argument("--leg", action="append", choices=("left", "right"), help="leg of each --device, in order")
    rc.add_argument("--profile", action="append", help="band profile, if the advertisement does not say")
    rc.add_argument("--out", type=Path, help="recording to create (default: night-DATE-TIME.ncr)")
    rc.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    rc.add_argument("--json", type=Path, help="write the night JSON here at the end")
    rc.add_argument("--report", type=Path, help="write the HTML report here at the end")
    rc.add_argument("--view", action="store_true", help="show the live window while recording")
    rc.add_argument("--window", type=float, default=30.0, help="seconds of signal the window shows (default 30)")
    rc.add_argument("--screenshot", type=Path, help="with --view: save the window to this PNG before it closes")
    rc.set_defaults(func=bands.cmd_record)

    e = sub.add_parser("evaluate", help="accuracy on simulated nights never used while tuning")
    e.add_argument("--seed-base", type=int, default=None, help="first seed of the suite (default: 900000)")
    e.add_argument("--scale", type=float, default=1.0, help="night lengths times this (e.g. 0.25 for a quick look)")
    e.add_argument("--json", type=Path, help="write every score here")
    e.set_defaults(func=cmd_evaluate)

    b = sub.add_parser("bench", help="speed and memory, as ratios against references measured in the same run")
    b.add_argument("--repeat", type=int, default=3, help="timed runs of each measure (best is kept)")
    b.add_argument(
        "--pairs", type=int, default=5, help="turns of our analysis and the scipy reference (best of each is kept)"
    )
    b.add_argument("--json", type=Path, help="write the numbers here")
    b.set_defaults(func=cmd_bench)
    return p


def _channel_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--channel",
        action="append",
        metavar="LABEL=KIND[:LEG][:AXIS]",
        help="what a channel of another tool's file is, e.g. 'EMG1=emg:left', 'AccX=acc:right:x' or 'ECG=ignore' "
        "(repeatable)",
    )
    p.add_argument(
        "--leg",
        choices=("left", "right"),
        help="the leg of a band whose file does not say (Polar Sensor Logger, one-channel OpenBCI, CSV)",
    )


# -- helpers ---------------------------------------------------------------------------------------
def _is_journal(path: Path) -> bool:
    if path.name.lower().endswith((".ncr", ".ncr.gz")):
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError:
        return False
    if head[:2] == b"\x1f\x8b":  # a compressed journal, or a compressed text export
        try:
            with gzip.open(path, "rb") as gz:
                head = gz.read(len(MAGIC))
        except (OSError, EOFError):
            return False
    return head == MAGIC


def _open_night(path: Path, channels: list[str] | None, leg: str | None = None) -> Journal | Recording:
    """A native journal, or a recording made by another tool (EDF/EDF+/BDF, text exports); warnings go to
    stderr."""
    if not path.exists():
        raise UserError(f"{path} does not exist; give the path of a recording (.ncr, .edf, .bdf, .txt or .csv)")
    if path.is_dir():
        raise UserError(f"{path} is a folder; give the path of a recording (.ncr, .edf, .bdf, .txt or .csv) inside it")
    if _is_journal(path):
        if channels or leg:
            raise UserError("--channel and --leg apply to other tools' files; a .ncr recording says what it holds")
        journal = _open(path)
        _warn_journal(journal)
        return journal
    try:
        mapping = parse_channel_map(channels)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    rec = read_recording(path, mapping, leg=leg)
    for w in rec.warnings:
        print(f"cramp: warning: {w}", file=sys.stderr)
    return rec


def _open(path: Path) -> Journal:
    if not path.exists():
        raise UserError(f"{path} does not exist; give the path of a recording (.ncr)")
    if path.is_dir():
        raise UserError(f"{path} is a folder; give the path of a recording (.ncr) inside it")
    return read_journal(path)


def _finish(
    result: NightResult, night: Journal | Recording, json_path: Path | None, report_path: Path | None
) -> dict[str, Any]:
    if isinstance(night, Journal):  # a recording's result already carries its source and start
        result.start_unix_ns = night.start_unix_ns
        result.source = {"path": str(night.path), "format": "nightcramp-journal", "complete": night.complete}
    if (json_path or report_path) and any(e.kind == "cramp" for e in result.events):
        result.pictures = _pictures(result, night)
    result.review = _review(result, night)
    doc = night_json(result)
    if json_path:
        write_night_json(result, json_path)
    if report_path:
        write_report(doc, report_path)
    return doc


def _review(result: NightResult, night: Journal | Recording) -> dict[str, Any]:
    """The review file beside the recording, applied to this analysis ({} when there is none)."""
    from nightcramp.sidecar import Sidecar, SidecarError, reviewed_cramps, sidecar_path

    path = Path(night.path)
    if not sidecar_path(path).exists():
        return {}
    try:
        side = Sidecar.load(path)
    except SidecarError as exc:
        print(f"cramp: warning: {exc}; the report shows the detector's results alone", file=sys.stderr)
        return {}
    cramps, agreement = reviewed_cramps([e.to_json() for e in result.events], side)
    return {
        "file": str(side.path),
        "cramps": cramps,
        "agreement": agreement,
        "diary": side.diary,
        "markers": side.markers,
    }


def _pictures(result: NightResult, night: Journal | Recording) -> list[dict[str, Any]]:
    """The signals around each cramp, for the report (a journal is decoded again into arrays for them)."""
    from nightcramp.pictures import cramp_pictures

    try:
        rec = night if isinstance(night, Recording) else journal_recording(night)
    except RecordingError:
        return []
    return cramp_pictures(rec, [e.to_json() for e in result.events])


def _warn_journal(journal: Journal) -> None:
    if not journal.complete:
        print(
            f"cramp: note: {journal.path} was not closed cleanly (recording interrupted); "
            f"analysing the {journal_duration_s(journal) / 3600:.1f} h it holds",
            file=sys.stderr,
        )


def _positive(text: str, what: str, *, none: tuple[str, ...], unit: str) -> float | None:
    """``text`` as a positive number, or None for one of the words in ``none``."""
    if text.lower() in none:
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise UserError(f"{what} must be a positive {unit} or {none[0]!r}, got {text!r}")
    return value


def _rate(text: str, what: str) -> float | None:
    return _positive(text, what, none=("none", "0", "off"), unit="rate in Hz")


# -- commands --------------------------------------------------------------------------------------
def cmd_analyze(args: argparse.Namespace) -> int:
    if args.edf:
        _check_output(args.edf, args.path)
    night = _open_night(args.path, args.channel, args.leg)
    result = analyze_journal(night) if isinstance(night, Journal) else analyze_recording(night)
    doc = _finish(result, night, args.json, args.report)
    print(format_summary(doc))
    for label, path in (("night JSON", args.json), ("report", args.report)):
        if path:
            print(f"Wrote the {label} to {path}")
    if args.edf:
        _write_edf(night, result, args.edf)
    return 0


def report_path_for(recording: Path) -> Path:
    """``night.ncr.gz`` -> ``night.report.html`` beside it."""
    name = recording.name
    for ext in (".gz", ".ncr", ".edf", ".bdf", ".csv", ".txt"):
        if name.lower().endswith(ext):
            name = name[: -len(ext)]
    return recording.with_name((name or recording.name) + ".report.html")


def cmd_report(args: argparse.Namespace) -> int:
    out = args.out or report_path_for(args.path)
    if out.is_dir():
        raise UserError(f"{out} is a folder; give the name of the HTML file to write, e.g. {out / 'night.html'}")
    if not out.parent.is_dir():
        raise UserError(f"cannot write {out}: the folder {out.parent} does not exist; create it or choose another")
    night = _open_night(args.path, args.channel, args.leg)
    result = analyze_journal(night) if isinstance(night, Journal) else analyze_recording(night)
    doc = _finish(result, night, args.json, out)
    print(format_summary(doc))
    print(f"Wrote the report to {out}")
    if args.json:
        print(f"Wrote the night JSON to {args.json}")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from nightcramp.sidecar import Sidecar, SidecarError

    if args.duration is not None and not args.duration > 0:
        raise UserError(f"--duration must be a positive number of seconds, got {args.duration}")
    try:
        sidecar = Sidecar.load(Path(args.path))
    except SidecarError as exc:
        raise UserError(str(exc)) from None
    night = _open_night(args.path, args.channel, args.leg)
    print(f"Analysing {args.path.name} ...", file=sys.stderr, flush=True)
    if isinstance(night, Journal):
        result = analyze_journal(night)
        rec, start = journal_recording(night), _start_time(night)
    else:
        result, rec, start = analyze_recording(night), night, night.start_wall
    events = [e.to_json() for e in result.events]
    from nightcramp.review import run_review

    window = run_review(rec, events, sidecar, start=start, duration_s=args.duration, screenshot=args.screenshot)
    if args.screenshot is not None:
        print(f"Saved the window to {args.screenshot}")
    side = window.sidecar
    reviewed = sum(1 for e in side.episodes)
    print(
        f"Review saved in {side.path}: {reviewed} cramp(s) reviewed, {len(side.added)} added"
        if side.path.exists()
        else "Nothing was reviewed; no review file was written."
    )
    return 0


def cmd_trend(args: argparse.Namespace) -> int:
    from nightcramp import trend

    folder: Path = args.folder
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder; give the folder that holds the nights' recordings")
    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers must be 1 or more, got {args.workers}")
    paths = trend.find_nights(folder)
    if not paths:
        raise UserError(f"{folder} holds no recording (.ncr, .edf, .bdf, .csv or .txt)")
    where = (
        f"the cluster at {args.scheduler}" if args.scheduler else f"{args.workers or os.cpu_count()} local processes"
    )
    print(f"Analysing {len(paths)} nights on {where} ...", file=sys.stderr, flush=True)
    bar = Progress(len(paths), label="nights", unit="nights")
    try:
        rows = trend.analyse_nights(
            paths, workers=args.workers, scheduler=args.scheduler, on_done=lambda n: bar.update(n)
        )
    except OSError as exc:  # the cluster cannot be reached
        raise UserError(f"cannot reach the Dask scheduler at {args.scheduler} ({exc})") from None
    bar.done()
    comparison = trend.compare(rows, args.compare) if args.compare else None
    html_path, csv_path = args.html or folder / "trend.html", args.csv or folder / "trend.csv"
    trend.write_csv(rows, csv_path)
    write_private(html_path, trend.render_trend(rows, comparison))
    for r in rows:
        if r["error"]:
            print(f"cramp: warning: {r['file']} was left out: {r['error']}", file=sys.stderr)
    ok = [r for r in rows if not r["error"]]
    print(f"{len(ok)} nights, {sum(r['cramps'] for r in ok)} cramps; wrote {html_path} and {csv_path}")
    if comparison:
        c = comparison
        if "rate_ratio" in c:
            lo, hi = c["ci95"]
            print(
                f"With {c['tag']}: {c['mean_after']:.2f} cramps a night ({c['nights_after']} nights) against "
                f"{c['mean_before']:.2f} before ({c['nights_before']} nights): rate ratio {c['rate_ratio']:.2f} "
                f"(95 % CI {lo:.2f}-{hi:.2f}), permutation p = {c['p_permutation']:.3f}"
            )
        if c.get("warning"):
            print(f"cramp: note: {c['warning']}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    _check_output(args.out, args.path)
    night = _open_night(args.path, args.channel, args.leg)
    hours = (journal_duration_s(night) if isinstance(night, Journal) else night.duration_s) / 3600
    print(f"Analysing {args.path.name} ({hours:.1f} h) ...", file=sys.stderr, flush=True)
    result = analyze_journal(night) if isinstance(night, Journal) else analyze_recording(night)
    _write_edf(night, result, args.out)
    return 0


def _check_output(out: Path, source: Path) -> None:
    """Refuse, before the analysis, an export path that is a folder, lies in no folder or is the recording."""
    if out.is_dir():
        raise UserError(f"{out} is a folder; give the name of the EDF+ file to write, e.g. {out / 'night.edf'}")
    if not out.parent.is_dir():
        raise UserError(f"cannot write {out}: the folder {out.parent} does not exist; create it or choose another")
    if out.exists() and source.exists() and out.samefile(source):
        raise UserError(f"{out} is the recording being exported; give another name for the EDF+ file")


def _write_edf(night: Journal | Recording, result: NightResult, out: Path) -> None:
    """Write the night as EDF+ (signals plus every event as an annotation) and say so."""
    print(f"Writing the EDF+ to {out} ...", file=sys.stderr, flush=True)
    carried: list[Annotation] = []  # a journal's markers are events already; another file's notes are carried
    if isinstance(night, Journal):
        recording, start = journal_recording(night), start_datetime(night.start_unix_ns)
    else:
        recording, carried = night, list(night.annotations)
        start = dt.datetime.fromisoformat(night.start_wall) if night.start_wall else None
    export = write_edf_plus(
        out,
        recording.signals,
        result.events,
        start,
        duration_s=result.duration_s,
        sleep_onset_s=result.summary.get("sleep_onset_s"),
        final_wake_s=result.summary.get("final_wake_s"),
        annotations=carried,
        equipment=f"NightCramp_{__version__}",
    )
    for label, (old, new) in export.resampled.items():
        print(f"cramp: note: {label} resampled from {old:g} Hz to {new:g} Hz to fit whole EDF records", file=sys.stderr)
    print(
        f"Wrote the EDF+ to {out} ({len(export.labels)} channels, {len(export.annotations)} annotations, "
        f"{export.record_s}-s records)"
    )


def cmd_replay(args: argparse.Namespace) -> int:
    speed = _speed(str(args.speed))
    night = _open_night(args.path, args.channel, args.leg)
    if args.view:
        return _replay_view(night, args, speed)
    if args.duration is not None or args.screenshot is not None:
        raise UserError("--duration and --screenshot belong to the live window; add --view")
    kinds = None if args.kinds == "all" else set(args.kinds.split(","))
    start = _start_time(night) if isinstance(night, Journal) else night.start_wall

    def on_event(e: Event) -> None:
        if kinds is None or e.kind in kinds:
            progress.clear()
            print(format_event(e.to_json(), start), flush=True)

    def on_notice(n: Notice) -> None:
        if kinds is None or "cramp" in kinds:
            progress.clear()
            print(format_notice(n, start), flush=True)

    if isinstance(night, Journal):
        progress = Progress(journal_duration_s(night), label="replay")
        result = asyncio.run(_replay(night, speed, on_event, on_notice, progress))
    else:
        progress = Progress(night.duration_s, label="replay")
        replayed = replay_recording(
            night, speed=speed, on_event=on_event, on_notice=on_notice, on_progress=progress.update
        )
        assert replayed is not None  # only a live window stops a replay early
        result = replayed
    progress.done()
    doc = _finish(result, night, args.json, args.report)
    print()
    print(format_summary(doc))
    return 0


def _replay_view(night: Journal | Recording, args: argparse.Namespace, speed: float) -> int:
    if not args.window > 0:
        raise UserError(f"--window must be a positive number of seconds, got {args.window}")
    if args.duration is not None and not args.duration > 0:
        raise UserError(f"--duration must be a positive number of seconds, got {args.duration}")
    from firmware_bridge.formats.native import band_streams
    from nightcramp import live
    from nightcramp.sidecar import Sidecar, SidecarError

    try:
        sidecar = Sidecar.load(Path(args.path))  # "cramp now" presses go here: the recording is only read
    except SidecarError as exc:
        raise UserError(str(exc)) from None
    pace = 60.0 if str(args.speed) == "max" else speed  # a window shows the night at a watchable pace
    if isinstance(night, Journal):
        streams = [s for info in night.devices.values() for s in band_streams(info).infos]
        start = _start_time(night)
        start_unix = None if night.start_unix_ns is None else night.start_unix_ns / 1e9
        journal = night
        work = lambda feed: live.replay_journal(journal, feed, sidecar=sidecar)  # noqa: E731
    else:
        streams = [s.info for s in night.signals]
        start = night.start_wall
        start_unix = _unix_time(night.start_wall)
        recording = night
        work = lambda feed: live.replay_file(recording, feed, sidecar=sidecar)  # noqa: E731
    if not streams:
        raise UserError(f"{args.path} describes no band; there is nothing to show")
    result, window = live.run_window(
        streams,
        work,
        speed=pace,
        window_s=args.window,
        duration_s=args.duration,
        screenshot=args.screenshot,
        start_unix_s=start_unix,
    )
    if args.screenshot is not None:
        print(f"Saved the window to {args.screenshot}")
    if sidecar.markers:
        print(f"Markers are kept in {sidecar.path} ({len(sidecar.markers)} in all).")
    if result is None:
        print(f"Closed at {clock(window.now_s(), start)}; the recording is unchanged.")
        return 0
    doc = _finish(result, night, args.json, args.report)
    print(format_summary(doc))
    return 0


def _unix_time(iso: str | None) -> float | None:
    """Seconds since the epoch of an ISO-8601 time (local time when it has no zone)."""
    if iso is None:
        return None
    try:
        return dt.datetime.fromisoformat(iso).timestamp()
    except ValueError:
        return None


def _speed(text: str) -> float:
    value = _positive(text, "--speed", none=("max", "inf"), unit="number (times real time)")
    return math.inf if value is None else value


def _start_time(journal: Journal) -> str | None:
    return iso_time(journal.start_unix_ns)


def format_notice(n: Notice, start: str | None) -> str:
    return f"{clock(n.t_s, start)}  ... possible cramp, {n.leg or ''} calf, since {clock(n.since_s, start)}"


async def _replay(
    journal: Journal,
    speed: float,
    on_event: Callable[[Event], None],
    on_notice: Callable[[Notice], None],
    progress: Progress,
) -> NightResult:
    session = NightSession(on_event=on_event, on_notice=on_notice)
    async with ReplaySource(journal, speed=speed) as source:
        async for item in source.items():
            session.add(item)
            progress.update(session.last_t_ns / 1e9)
    return session.finish(journal_duration_s(journal))


def cmd_demo(args: argparse.Namespace) -> int:
    path: Path = args.recording
    if not path.exists():
        raise UserError(f"the demo night {path} is missing; run 'make demo' from a full checkout")
    journal = _open(path)
    start = _start_time(journal)
    print(
        f"Replaying {path.name}: {journal_duration_s(journal) / 3600:.1f} h, "
        f"{len(journal.devices)} band(s), at maximum speed\n"
    )
    shown = {"cramp", "awakening", "out_of_bed", "plm_series", "marker"}

    def on_event(e: Event) -> None:
        if e.kind in shown:
            progress.clear()
            print(format_event(e.to_json(), start), flush=True)

    def on_notice(n: Notice) -> None:
        progress.clear()
        print(format_notice(n, start), flush=True)

    progress = Progress(journal_duration_s(journal), label="night")
    t0 = time.perf_counter()
    result = asyncio.run(_replay(journal, math.inf, on_event, on_notice, progress))
    progress.done()
    elapsed = time.perf_counter() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    json_path, report_path = args.out / "night.json", args.out / "report.html"
    doc = _finish(result, journal, json_path, report_path)
    print()
    print(format_summary(doc))
    print(
        f"\nReplayed {result.duration_s / 3600:.1f} h in {elapsed:.1f} s "
        f"({result.duration_s / max(elapsed, 1e-9):,.0f}x real time)."
    )
    print(f"Night JSON: {json_path}\nReport:     {report_path}  (open it in a browser)")
    return 0


def cmd_simulate(args: argparse.Namespace) -> int:
    from detector.simulate import NightConfig, simulate_night
    from firmware_bridge.sources import synthesize

    legs = tuple(x.strip() for x in args.legs.split(",") if x.strip())
    if not legs or any(leg not in ("left", "right") for leg in legs) or len(set(legs)) != len(legs):
        raise UserError(f"--legs must be 'left', 'right' or 'left,right', got {args.legs!r}")
    emg_fs, acc_fs = _rate(args.emg_fs, "--emg-fs"), _rate(args.acc_fs, "--acc-fs")
    _bedtime_ns(np.random.default_rng(0), args.date)  # a bad --date is refused before the simulation
    if emg_fs is None and acc_fs is None:
        raise UserError("a night needs EMG or an accelerometer: give --emg-fs or --acc-fs a rate")
    if not 0 < args.hours <= 14:
        raise UserError(f"--hours must be between 0 and 14, got {args.hours}")
    out: Path = args.out
    truth_path = out.with_name(out.name.removesuffix(".gz").removesuffix(".ncr") + ".truth.json")
    if out.exists():
        raise UserError(f"{out} already exists; recordings are never overwritten, choose another name")
    try:
        config = NightConfig(
            duration_s=args.hours * 3600.0,
            legs=legs,
            emg_fs_hz=emg_fs,
            acc_fs_hz=acc_fs,
            mains_hz=args.mains,
            n_cramps=args.cramps,
        )
    except ValueError as exc:
        raise UserError(str(exc)) from None
    rng = np.random.default_rng(args.seed)
    print(
        f"Simulating {args.hours:g} h, legs {','.join(legs)}, EMG {emg_fs or 'none'} Hz, "
        f"accelerometer {acc_fs or 'none'} Hz, seed {args.seed} ...",
        file=sys.stderr,
    )
    night = simulate_night(config, rng=rng)
    if not 0.01 <= args.resolution_uv <= 10:
        raise UserError(f"--resolution-uv must be between 0.01 and 10 µV, got {args.resolution_uv}")
    devices, items = synthesize(night, rng=rng, emg_uv_per_count=args.resolution_uv)
    start_ns = _bedtime_ns(np.random.default_rng([args.seed, 1]), args.date)
    meta = {"simulated": True, "seed": args.seed}
    with JournalWriter(out, software=f"nightcramp {__version__}", meta=meta, start_unix_ns=start_ns) as writer:
        for info in devices:
            writer.add_device(info)
        _write_items(writer, items)
    write_private(truth_path, json.dumps(night.truth_json(), indent=1) + "\n")
    n_cramps = sum(1 for e in night.truth if e.kind == "cramp")
    print(
        f"Wrote {out} ({os.path.getsize(out) / 1e6:.1f} MB, {sum(1 for _ in items)} items, "
        f"{n_cramps} simulated cramps) and its ground truth {truth_path}"
    )
    return 0


def _bedtime_ns(rng: np.random.Generator, date: str | None = None) -> int:
    """A plausible start for a simulated night: between 22:30 and 24:00 local time on the evening of
    ``date`` (YYYY-MM-DD), last evening by default."""
    now = dt.datetime.now().astimezone()
    day = now.date() - dt.timedelta(days=0 if now.hour >= 22 else 1)
    if date is not None:
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            raise UserError(f"--date must be a date like 2026-11-21, got {date!r}") from None
    start = dt.datetime.combine(day, dt.time(22, 30), tzinfo=now.tzinfo)
    return int((start + dt.timedelta(minutes=int(rng.integers(0, 90)))).timestamp() * 1e9)


def _write_items(writer: JournalWriter, items: Sequence[object]) -> None:
    from firmware_bridge.journal import JournalEvent
    from firmware_bridge.sources import Packet

    for item in items:
        if isinstance(item, Packet):
            writer.write_packet(item.device, item.t_rx_ns, item.payload)
        elif isinstance(item, JournalEvent):
            writer.write_event(item.t_ns, item.kind, device=item.device, **dict(item.fields))


def cmd_evaluate(args: argparse.Namespace) -> int:
    from nightcramp.evaluation import DEFAULT_SEED_BASE, evaluate, format_rows, format_table

    if not 0.05 <= args.scale <= 2.0:
        raise UserError(f"--scale must be between 0.05 and 2, got {args.scale}")
    base = DEFAULT_SEED_BASE if args.seed_base is None else args.seed_base
    progress = Progress(1.0, label="nights")

    def tick(done: int, total: int) -> None:
        progress.update(done / total)

    result = evaluate(seed_base=base, scale=args.scale, progress=tick)
    progress.done()
    print(format_rows(result))
    print()
    print(format_table(result))
    if args.json:
        doc = {
            "seed_base": base,
            "scale": args.scale,
            "pooled": {k: v.to_json() for k, v in result["pooled"].items()},
            "cramps_on_cramp_free_nights": result["cramps_on_cramp_free_nights"],
            "nights": [
                {
                    **{k: v for k, v in r.items() if k != "scores"},
                    "scores": {k: s.to_json() for k, s in r["scores"].items()},
                }
                for r in result["rows"]
            ],
        }
        write_private(args.json, json.dumps(doc, indent=1) + "\n")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from nightcramp.bench import format_bench, run_bench

    if not 1 <= args.repeat <= 10:
        raise UserError(f"--repeat must be between 1 and 10, got {args.repeat}")
    if not 1 <= args.pairs <= 20:
        raise UserError(f"--pairs must be between 1 and 20, got {args.pairs}")
    res = run_bench(repeat=args.repeat, pairs=args.pairs, log=lambda m: print(m, file=sys.stderr))
    print(format_bench(res))
    if args.json:
        write_private(args.json, json.dumps(res, indent=1) + "\n")
    return 0
