"""What a person adds to a night, kept beside the recording: ``NIGHT.ncr`` -> ``NIGHT.ncr.review.json``.

A recording is never modified once written. Markers pressed while watching a replay ("cramp now") go into
this sidecar file, with the time in seconds from the recording's start. The file names the recording it
belongs to by name, size and a hash of its first and last MiB, so a sidecar copied next to another file is
noticed instead of silently applied. Every change is written to a temporary file and renamed over the old
one, so a crash never leaves half a file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
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


@dataclass
class Sidecar:
    """The sidecar of one recording."""

    recording: Path
    markers: list[dict[str, Any]] = field(default_factory=list)  #: {"t_s", "label", "added"}

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
        return cls(recording, markers=list(markers))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "recording": fingerprint(self.recording),
            "markers": sorted(self.markers, key=lambda m: float(m["t_s"])),
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
