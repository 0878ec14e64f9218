"""The morning report as a reader gets it: rendered by headless Chromium (Debian's ``chromium``) to a
picture and a PDF, and read back from the rendered page: every number the page takes from the night JSON
equals the JSON's, the page is self-contained, and the timeline shows the night's activity and posture."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


def cramp(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "nightcramp", *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    d = tmp_path_factory.mktemp("report")
    rec = d / "night.ncr"
    made = cramp("simulate", str(rec), "--hours", "1.0", "--cramps", "2", "--seed", "12")
    assert made.returncode == 0, made.stderr
    p = cramp("report", str(rec), "--json", str(d / "night.json"))
    assert p.returncode == 0, p.stderr
    html = d / "night.report.html"  # the default: beside the recording
    assert html.exists() and f"Wrote the report to {html}" in p.stdout
    return rec, html, json.loads((d / "night.json").read_text())


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


class DataCells(HTMLParser):
    """Text of every element with a ``data-json`` attribute, in the rendered page."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._open.append((tag, dict(attrs).get("data-json")))
        if dict(attrs).get("data-json"):
            self.cells[dict(attrs)["data-json"] or ""] = ""

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            t, _ = self._open.pop()
            if t == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, key in self._open:
            if key:
                self.cells[key] += data


def seconds_of(text: str) -> float:
    """'1 h 05 min', '6 min 10 s', '21 s' back to seconds."""
    units = {"h": 3600, "min": 60, "s": 1}
    return float(sum(int(n) * units[u] for n, u in re.findall(r"(\d+) (h|min|s)\b", text)))


def clock_of(text: str, start: str) -> float:
    """'00:41:18' back to seconds after the night's start (the next day when earlier than the start)."""
    h, m, s = (int(x) for x in text.split(":"))
    sh, sm, ss = (int(x) for x in start[11:19].split(":"))
    return float((h * 3600 + m * 60 + s - (sh * 3600 + sm * 60 + ss)) % 86400)


@needs_chromium
def test_every_number_on_the_rendered_page_is_the_json_s(night: tuple[Path, Path, dict], tmp_path: Path) -> None:
    _, html, doc = night
    dom = chromium("--dump-dom", html.as_uri())
    assert dom.returncode == 0, dom.stderr
    parser = DataCells()
    parser.feed(dom.stdout)
    cells = parser.cells
    s = doc["summary"]
    assert cells["summary.cramp_count"] == str(s["cramp_count"]) and s["cramp_count"] >= 1
    assert cells["summary.awakening_count"] == str(s["awakening_count"])
    assert cells["summary.out_of_bed_count"] == str(s["out_of_bed_count"])
    assert cells["summary.cramps_followed_by_awakening"] == str(s["cramps_followed_by_awakening"])
    assert abs(seconds_of(cells["summary.cramp_longest_s"]) - s["cramp_longest_s"]) <= 0.5
    asleep = seconds_of(cells["summary.total_sleep_s"])
    assert abs(asleep - s["total_sleep_s"]) <= (0.5 if s["total_sleep_s"] < 3600 else 30)
    start = doc["source"]["start_time"]
    cramps = [(i, e) for i, e in enumerate(doc["events"]) if e["kind"] == "cramp"]
    assert len(cramps) == s["cramp_count"]
    for i, e in cramps:
        assert abs(clock_of(cells[f"events.{i}.start_s"], start) - e["start_s"]) <= 1.0
        assert cells[f"events.{i}.leg"] == e["leg"]
        assert abs(seconds_of(cells[f"events.{i}.duration"]) - (e["end_s"] - e["start_s"])) <= 0.5
        assert cells[f"events.{i}.peak_uv"] == f"{e['peak_uv']:.0f}"


@needs_chromium
def test_it_renders_to_a_picture_and_prints_to_a_pdf(night: tuple[Path, Path, dict], tmp_path: Path) -> None:
    from PySide6 import QtGui

    _, html, _ = night
    png, pdf = tmp_path / "report.png", tmp_path / "report.pdf"
    shot = chromium(f"--screenshot={png}", "--window-size=1100,2200", html.as_uri())
    assert shot.returncode == 0 and png.exists(), shot.stderr
    image = QtGui.QImage(str(png))
    colours = {image.pixel(x, y) for x in range(0, image.width(), 9) for y in range(0, image.height(), 9)}
    assert len(colours) > 30  # text, charts and the Okabe-Ito colours, not a blank page
    printed = chromium(f"--print-to-pdf={pdf}", "--no-pdf-header-footer", html.as_uri())
    assert printed.returncode == 0 and pdf.exists(), printed.stderr
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and data.count(b"/Type /Page") - data.count(b"/Type /Pages") >= 2


def test_the_page_is_self_contained_and_accessible(night: tuple[Path, Path, dict]) -> None:
    _, html, doc = night
    page = html.read_text()
    assert "<script" not in page and "<link" not in page and "<img" not in page and "@import" not in page
    assert not re.search(r"(src|href)\s*=\s*\"(https?:)?//", page)
    assert "url(" not in page  # no fonts or images fetched by the style sheet
    for h in ("Headline", "The night", "Cramps", "Sleep and movements", "Data quality", "Methods"):
        assert re.search(rf"<h2 id=\"h-[a-z]+\">{h}</h2>", page)
    # a table behind every chart: the timeline (hour by hour, all events) and each cramp's picture
    assert "<caption>Hour by hour</caption>" in page and "<caption>Events of the night</caption>" in page
    n = doc["summary"]["cramp_count"]
    assert page.count('<svg role="img"') == 1 + n and page.count("largest value before, during and after") == n
    assert "@media print" in page


def test_the_timeline_shows_the_night_s_activity_and_posture(night: tuple[Path, Path, dict]) -> None:
    """The overview behind the timeline against the simulator's truth: the shanks are upright while the
    sleeper is out of bed and not otherwise, and the cramping calf is most active in the cramp's minutes."""
    rec, _, doc = night
    truth = json.loads(rec.with_suffix(".truth.json").read_text())["events"]
    ov = doc["overview"]
    assert ov["minute_s"] == 60
    n_min = -(-int(doc["source"]["duration_s"]) // 60)
    for name, track in ov["streams"].items():
        assert all(len(v) == n_min for v in track.values()), name
    up = ov["streams"]["acc:left"]["upright_share"]
    out = [e for e in truth if e["kind"] == "out_of_bed"]
    inside = {m for e in out for m in range(int(e["start_s"] // 60) + 1, int(e["end_s"] // 60))}
    near = {m for e in out for m in range(int(e["start_s"] // 60) - 1, int(e["end_s"] // 60) + 2)}
    assert all(up[m] is not None and up[m] > 0.8 for m in inside)
    assert all(up[m] is None or up[m] < 0.05 for m in range(n_min) if m not in near)
    for c in (e for e in truth if e["kind"] == "cramp"):
        emg = ov["streams"][f"emg:{c['leg']}"]["rms_uv"]
        m = int((c["start_s"] + c["end_s"]) / 2 // 60)
        finite = sorted(v for v in emg if v is not None)
        assert emg[m] > 2 * finite[len(finite) // 2]  # well above the night's median minute
