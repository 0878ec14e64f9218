"""The review sidecar beside a recording: saved at once and atomically, read back, never applied to another
file, and bad files named in one sentence."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from nightcramp.sidecar import Sidecar, SidecarError, sidecar_path


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    path = tmp_path / "night.ncr"
    path.write_bytes(os.urandom(3 << 20))  # larger than the two hashed ends together
    return path


def test_markers_are_saved_at_once_and_read_back_in_time_order(recording: Path) -> None:
    before = recording.read_bytes()
    side = Sidecar.load(recording)
    assert side.markers == [] and not side.path.exists()
    side.add_marker(1234.5678, "cramp now", added="2026-11-22T03:12:00+0100")
    side.add_marker(99.0, "cramp now", added="2026-11-22T02:00:00+0100")
    doc = json.loads(sidecar_path(recording).read_text())
    assert doc["format"] == "nightcramp-review" and doc["recording"]["name"] == "night.ncr"
    again = Sidecar.load(recording)
    assert [m["t_s"] for m in again.to_json()["markers"]] == [99.0, 1234.568]
    assert recording.read_bytes() == before  # the recording itself is never touched
    assert sorted(p.name for p in recording.parent.iterdir()) == ["night.ncr", "night.ncr.review.json"]


def test_a_sidecar_of_another_recording_is_refused(recording: Path) -> None:
    Sidecar.load(recording).add_marker(10.0, "cramp now", added="x")
    data = bytearray(recording.read_bytes())
    data[-1] ^= 0xFF  # the same name, other content at the end
    recording.write_bytes(bytes(data))
    with pytest.raises(SidecarError, match="different recording"):
        Sidecar.load(recording)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "cannot be read"),
        ('{"format": "something else"}', "not a NightCramp review file"),
        ('{"format": "nightcramp-review", "version": 99}', "version 99"),
    ],
)
def test_bad_sidecars_are_named_in_one_sentence(recording: Path, text: str, problem: str) -> None:
    sidecar_path(recording).write_text(text)
    with pytest.raises(SidecarError, match=problem) as info:
        Sidecar.load(recording)
    assert str(sidecar_path(recording)) in str(info.value) and "\n" not in str(info.value)


def test_malformed_markers_are_refused(recording: Path) -> None:
    side = Sidecar.load(recording)
    side.add_marker(1.0, "cramp now", added="x")
    doc = json.loads(side.path.read_text())
    doc["markers"] = [{"label": "no time"}]
    side.path.write_text(json.dumps(doc))
    with pytest.raises(SidecarError, match="markers are malformed"):
        Sidecar.load(recording)


def test_a_sidecar_that_cannot_be_written_is_one_sentence(recording: Path) -> None:
    sidecar_path(recording).mkdir()  # something in the way that even root cannot replace with a file
    side = Sidecar(recording)
    with pytest.raises(SidecarError, match="cannot be written") as info:
        side.add_marker(1.0, "cramp now", added="x")
    assert "\n" not in str(info.value)
    assert sorted(p.name for p in recording.parent.iterdir()) == ["night.ncr", "night.ncr.review.json"]
