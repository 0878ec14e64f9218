"""What a person adds to a night, kept beside the recording: ``NIGHT.ncr`` -> ``NIGHT.ncr.review.json``.

A recording is never modified once written. What the sleeper adds goes into this sidecar file instead, with
times in seconds from the recording's start:

- ``markers``: "cramp now" presses while watching a replay;
- ``episodes``: the review of each detected cramp: confirmed or rejected, with the bounds the reviewer set
  (``detected`` keeps the detector's own bounds, which identify the episode when the night is analysed
  again);
- ``added``: cramps the detector missed, added by the reviewer;
- ``diary``: the night's severity and sleep disturbance (0-10), notes, and tags such as stretching,
  hydration, magnesium, exercise or a medication change (the trends compare nights by them).
 The file names the recording it
belongs to by name, size and a hash of its first and last MiB, so a sidecar copied next to another file is
noticed instead of silently applied. Every change is written to a temporary file and renamed over the old
one, so a crash never leaves half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT = "nightcramp-review"
VERSION = 1
SUFFIX = ".review.json"
_EDGE = 1 << 20  # bytes hashed at each end of the recording


class SidecarError(Exception):
    """The sidecar cannot be read or written; the message is one sentence naming the file."""


def sidecar_path(recording: Path) -> Path:
    return recording.with_name(recording.name + SUFFIX)


def fingerprint(recording: Path) -> dict[str, Any]:
    """Name, size and a SHA-256 of the first and last MiB: cheap even for an 8-h BDF, and changes with the file."""
    size = recording.stat().st_size
    h = hashlib.sha256()
    with recording.open("rb") as fh:
        h.update(fh.read(_EDGE))
        if size > _EDGE:
            fh.seek(max(_EDGE, size - _EDGE))
            h.update(fh.read(_EDGE))
    return {"name": recording.name, "size": size, "sha256_ends": h.hexdigest()}


TAGS = ("stretching", "hydration", "magnesium", "exercise", "medication change")  #: offered in the review
STATUSES = ("confirmed", "rejected")


@dataclass
class Sidecar:
    """The sidecar of one recording."""

    recording: Path
    markers: list[dict[str, Any]] = field(default_factory=list)  #: {"t_s", "label", "added"}
    #: {"detected": {"start_s", "end_s", "leg"}, "status", "start_s", "end_s", "leg"} per reviewed cramp
    episodes: list[dict[str, Any]] = field(default_factory=list)
    added: list[dict[str, Any]] = field(default_factory=list)  #: {"start_s", "end_s", "leg"}: missed cramps
    diary: dict[str, Any] = field(default_factory=dict)  #: {"severity", "disturbance", "notes", "tags"}

    @property
    def path(self) -> Path:
        return sidecar_path(self.recording)

    @classmethod
    def load(cls, recording: Path) -> Sidecar:
        """The recording's sidecar, or an empty one when there is none yet."""
        path = sidecar_path(recording)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(recording)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise SidecarError(f"{path}: cannot be read as a review file ({exc})") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise SidecarError(f"{path}: not a NightCramp review file")
        if doc.get("version") != VERSION:
            raise SidecarError(
                f"{path}: review file version {doc.get('version')} is not supported (expected {VERSION})"
            )
        stated = doc.get("recording", {})
        actual = fingerprint(recording)
        if stated.get("size") != actual["size"] or stated.get("sha256_ends") != actual["sha256_ends"]:
            raise SidecarError(
                f"{path}: belongs to a different recording than {recording.name} (size or content differ); "
                "move it away to start a new review"
            )
        markers = doc.get("markers", [])
        if not isinstance(markers, list) or not all(
            isinstance(m, dict) and isinstance(m.get("t_s"), int | float) for m in markers
        ):
            raise SidecarError(f"{path}: its markers are malformed")
        episodes, added, diary = doc.get("episodes", []), doc.get("added", []), doc.get("diary", {})
        if not isinstance(episodes, list) or not all(_is_episode(e) for e in episodes):
            raise SidecarError(f"{path}: its reviewed episodes are malformed")
        if not isinstance(added, list) or not all(_is_span(a) for a in added):
            raise SidecarError(f"{path}: its added cramps are malformed")
        if not isinstance(diary, dict) or not _is_diary(diary):
            raise SidecarError(f"{path}: its diary is malformed (severity and disturbance are 0-10)")
        return cls(recording, markers=list(markers), episodes=list(episodes), added=list(added), diary=dict(diary))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "recording": fingerprint(self.recording),
            "markers": sorted(self.markers, key=lambda m: float(m["t_s"])),
            "episodes": sorted(self.episodes, key=lambda e: float(e["detected"]["start_s"])),
            "added": sorted(self.added, key=lambda a: float(a["start_s"])),
            "diary": self.diary,
        }

    def save(self) -> None:
        path = self.path
        text = json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"
        try:
            fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    fh.write(text)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise SidecarError(f"{path}: cannot be written ({exc.strerror or exc})") from None

    def add_marker(self, t_s: float, label: str, added: str) -> None:
        """A marker at ``t_s`` s from the recording's start, saved at once."""
        self.markers.append({"t_s": round(float(t_s), 3), "label": label, "added": added})
        self.save()

    # -- the review --------------------------------------------------------------------------------------
    def review_of(self, cramp: Mapping[str, Any]) -> dict[str, Any] | None:
        """The review of a detected cramp (a night-JSON event), matched by leg and overlapping detected
        bounds, so that it still applies when the night is analysed again."""
        for e in self.episodes:
            d = e["detected"]
            if d.get("leg") == cramp.get("leg") and d["start_s"] < cramp["end_s"] and cramp["start_s"] < d["end_s"]:
                return e
        return None

    def set_review(
        self, cramp: Mapping[str, Any], status: str, *, start_s: float | None = None, end_s: float | None = None
    ) -> None:
        """Confirm or reject a detected cramp, optionally with new bounds; saved at once."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        detected = {"start_s": cramp["start_s"], "end_s": cramp["end_s"], "leg": cramp.get("leg")}
        entry = {
            "detected": detected,
            "status": status,
            "start_s": round(float(cramp["start_s"] if start_s is None else start_s), 3),
            "end_s": round(float(cramp["end_s"] if end_s is None else end_s), 3),
            "leg": cramp.get("leg"),
        }
        old = self.review_of(cramp)
        if old is not None:
            self.episodes.remove(old)
        self.episodes.append(entry)
        self.save()

    def clear_review(self, cramp: Mapping[str, Any]) -> None:
        old = self.review_of(cramp)
        if old is not None:
            self.episodes.remove(old)
            self.save()

    def add_cramp(self, start_s: float, end_s: float, leg: str | None) -> None:
        """A cramp the detector missed; saved at once."""
        if not end_s > start_s:
            raise ValueError("a cramp ends after it starts")
        self.added.append({"start_s": round(float(start_s), 3), "end_s": round(float(end_s), 3), "leg": leg})
        self.save()

    def remove_added(self, index: int) -> None:
        del self.added[index]
        self.save()

    def set_diary(self, **fields: Any) -> None:
        """Diary fields (severity, disturbance: 0-10 or None; notes: text; tags: list of text); saved at once."""
        diary = {**self.diary, **fields}
        if not _is_diary(diary):
            raise ValueError("severity and disturbance are whole numbers 0-10, tags a list of words")
        self.diary = diary
        self.save()

    @property
    def reviewed(self) -> bool:
        return bool(self.episodes or self.added)


def _is_span(a: object) -> bool:
    return (
        isinstance(a, dict)
        and isinstance(a.get("start_s"), int | float)
        and isinstance(a.get("end_s"), int | float)
        and a["end_s"] > a["start_s"]
        and a.get("leg") in ("left", "right", None)
    )


def _is_episode(e: object) -> bool:
    return isinstance(e, dict) and _is_span(e) and _is_span(e.get("detected")) and e.get("status") in STATUSES


def _is_diary(d: dict[str, Any]) -> bool:
    def score(v: object) -> bool:
        return v is None or (isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 10)

    tags = d.get("tags", [])
    return (
        score(d.get("severity"))
        and score(d.get("disturbance"))
        and isinstance(d.get("notes", ""), str)
        and isinstance(tags, list)
        and all(isinstance(t, str) and t.strip() for t in tags)
    )


def reviewed_cramps(
    events: Sequence[Mapping[str, Any]], side: Sidecar | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The night's cramps as reviewed, and how the detector and the review agree.

    Each detected cramp is kept (unreviewed or confirmed, with the reviewer's bounds) or dropped (rejected);
    cramps the reviewer added join them. ``agreement``: counts of confirmed, rejected, adjusted (bounds moved
    by more than 2 s), added and unreviewed cramps, and the detector's precision (confirmed / reviewed) and
    recall (confirmed / (confirmed + added)) against the review, None where there is nothing to divide.
    """
    out: list[dict[str, Any]] = []
    counts = dict.fromkeys(("confirmed", "rejected", "adjusted", "added", "unreviewed"), 0)
    for e in events:
        if e["kind"] != "cramp":
            continue
        r = side.review_of(e) if side is not None else None
        if r is None:
            counts["unreviewed"] += 1
            out.append({**e, "review": None})
            continue
        counts[r["status"]] += 1
        if r["status"] == "confirmed":
            moved = abs(r["start_s"] - e["start_s"]) > 2.0 or abs(r["end_s"] - e["end_s"]) > 2.0
            counts["adjusted"] += int(moved)
            out.append({**e, "start_s": r["start_s"], "end_s": r["end_s"], "review": "confirmed"})
    for a in side.added if side is not None else []:
        counts["added"] += 1
        out.append({"kind": "cramp", "start_s": a["start_s"], "end_s": a["end_s"], "leg": a["leg"], "review": "added"})
    out.sort(key=lambda c: c["start_s"])
    reviewed = counts["confirmed"] + counts["rejected"]
    agreement: dict[str, Any] = {
        **counts,
        "precision": round(counts["confirmed"] / reviewed, 3) if reviewed else None,
        "recall": round(counts["confirmed"] / (counts["confirmed"] + counts["added"]), 3)
        if counts["confirmed"] + counts["added"]
        else None,
    }
    return out, agreement
