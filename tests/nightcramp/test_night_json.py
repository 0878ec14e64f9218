"""The cramp-night/1 document is pinned: its keys, types and meaning."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from detector.events import EVENT_KINDS
from firmware_bridge.journal import read_journal
from nightcramp.nightjson import night_json, write_night_json
from nightcramp.session import analyze_journal

SOURCE_KEYS = {
    "path",
    "format",
    "start_time",
    "duration_s",
    "complete",
    "streams",
    "devices",
    "packets",
    "malformed_packets",
    "mains_hz",
}
STREAM_KEYS = {"name", "kind", "leg", "fs_hz", "unit"}
SUMMARY_KEYS = {
    "duration_s",
    "cramp_count",
    "cramp_count_left",
    "cramp_count_right",
    "cramp_total_s",
    "cramp_longest_s",
    "cramp_median_s",
    "cramps_followed_by_awakening",
    "sleep_onset_s",
    "final_wake_s",
    "sleep_period_s",
    "total_sleep_s",
    "waso_s",
    "awakening_count",
    "out_of_bed_count",
    "lm_count",
    "plm_count",
    "plms_index",
    "large_movement_count",
    "marker_count",
    "streams",
}
KIND_FIELDS = {
    "cramp": {"peak_uv", "evidence", "confidence", "awakening"},
    "plm_series": {"count"},
    "artifact": {"stream", "reason"},
    "signal_gap": {"stream"},
    "marker": {"label"},
}


@pytest.fixture(scope="module")
def doc(short_recording: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    journal = read_journal(short_recording)
    result = analyze_journal(journal)
    result.start_unix_ns = journal.start_unix_ns
    result.source = {
        "path": str(short_recording),
        "format": "nightcramp-journal",
        "complete": journal.complete,
    }
    out = tmp_path_factory.mktemp("json") / "night.json"
    write_night_json(result, out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    loaded = json.loads(out.read_text())
    assert loaded == json.loads(json.dumps(night_json(result)))
    return loaded


def test_top_level_layout(doc: dict) -> None:
    assert set(doc) == {"schema", "software", "source", "params", "methods", "events", "summary", "overview"}
    assert doc["schema"] == "cramp-night/1"
    assert doc["overview"]["minute_s"] == 60
    for s in doc["source"]["streams"]:
        fields = {"usable_share", "missing_share"} | (
            {"rms_uv", "active_share"} if s["kind"] == "emg" else {"movement_mg", "moving_share", "upright_share"}
        )
        assert set(doc["overview"]["streams"][s["name"]]) == fields
    assert set(doc["source"]) == SOURCE_KEYS
    assert doc["source"]["start_time"] is not None and "T" in doc["source"]["start_time"]
    assert doc["source"]["duration_s"] == pytest.approx(2400, abs=2)
    for s in doc["source"]["streams"]:
        assert set(s) == STREAM_KEYS and s["kind"] in ("emg", "acc") and s["leg"] in ("left", "right")
        assert s["unit"] == ("uV" if s["kind"] == "emg" else "g")
    assert set(doc["params"]) == {"frame_hz", "sync_every_s", "emg", "acc", "events"}
    assert doc["params"]["events"]["cramp_min_s"] == 10.0
    assert "Surface EMG" in doc["methods"]


def test_events_layout(doc: dict) -> None:
    assert doc["events"], "a night with cramps has events"
    starts = [e["start_s"] for e in doc["events"]]
    assert starts == sorted(starts)
    for e in doc["events"]:
        assert e["kind"] in EVENT_KINDS
        assert {"kind", "start_s", "end_s", "leg"} <= set(e)
        assert e["end_s"] >= e["start_s"] >= 0
        assert KIND_FIELDS.get(e["kind"], set()) <= set(e)
    cramps = [e for e in doc["events"] if e["kind"] == "cramp"]
    assert all(c["leg"] in ("left", "right") and c["evidence"] == ["emg", "acc"] for c in cramps)
    assert all(isinstance(c["awakening"], bool) and 0 <= c["confidence"] <= 1 for c in cramps)


def test_summary_matches_events(doc: dict) -> None:
    s = doc["summary"]
    assert set(s) == SUMMARY_KEYS
    cramps = [e for e in doc["events"] if e["kind"] == "cramp"]
    assert s["cramp_count"] == len(cramps) == s["cramp_count_left"] + s["cramp_count_right"]
    assert s["cramp_total_s"] == pytest.approx(sum(c["end_s"] - c["start_s"] for c in cramps), abs=0.2)
    assert s["cramps_followed_by_awakening"] == sum(c["awakening"] for c in cramps)
    assert s["lm_count"] == sum(e["kind"] == "limb_movement" for e in doc["events"])
    assert set(s["streams"]) == {st["name"] for st in doc["source"]["streams"]}
    for q in s["streams"].values():
        assert set(q) == {"valid_s", "artifact_s", "missing_s"}
        assert 0 <= q["valid_s"] <= s["duration_s"]
