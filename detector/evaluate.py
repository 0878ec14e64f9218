"""Event-level evaluation against simulator ground truth.

Matching is one-to-one and by overlap: a detected event matches the truth event of the same kind that it
overlaps most (cramps must also be on the same leg), each truth event at most once. Leg movements are
compared after merging bilateral movements whose onsets are closer than 5 s into one, as the AASM counts
them (and as the simulator's truth lists them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from detector.events import Event


@dataclass
class Score:
    """Counts of one event kind over one or more nights."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    onset_errors_s: list[float] = field(default_factory=list)

    def add(self, other: Score) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.onset_errors_s += other.onset_errors_s

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def median_onset_error_s(self) -> float | None:
        return float(np.median(self.onset_errors_s)) if self.onset_errors_s else None

    def to_json(self) -> dict[str, Any]:
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "median_onset_error_s": None if self.median_onset_error_s is None else round(self.median_onset_error_s, 3),
        }


def _overlap(a: Event, b: Event) -> float:
    return min(a.end_s, b.end_s) - max(a.start_s, b.start_s)


def match_events(truth: Sequence[Event], found: Sequence[Event], *, same_leg: bool) -> Score:
    """One-to-one overlap matching of two event lists of one kind."""
    pairs = []
    for i, t in enumerate(truth):
        for j, f in enumerate(found):
            if same_leg and t.leg != f.leg:
                continue
            ov = _overlap(t, f)
            if ov > 0 or (ov == 0 and t.duration_s == 0 and f.duration_s == 0 and t.start_s == f.start_s):
                pairs.append((ov, i, j))
    pairs.sort(key=lambda p: -p[0])
    used_t: set[int] = set()
    used_f: set[int] = set()
    score = Score()
    for _, i, j in pairs:
        if i in used_t or j in used_f:
            continue
        used_t.add(i)
        used_f.add(j)
        score.tp += 1
        score.onset_errors_s.append(abs(found[j].start_s - truth[i].start_s))
    score.fn = len(truth) - len(used_t)
    score.fp = len(found) - len(used_f)
    return score


def merge_bilateral(lms: Sequence[Event], window_s: float = 5.0) -> list[Event]:
    """Leg movements with onsets closer than ``window_s`` on different legs become one (leg None)."""
    out: list[Event] = []
    for e in sorted(lms, key=lambda x: x.start_s):
        last = out[-1] if out else None
        if last is not None and e.start_s - last.start_s < window_s and e.leg != last.leg and last.leg is not None:
            out[-1] = Event(last.kind, last.start_s, max(last.end_s, e.end_s), None)
        else:
            out.append(e)
    return out


def score_night(truth: Sequence[Event], found: Sequence[Event]) -> dict[str, Score]:
    """Scores of one night: cramps, awakenings, leg movements."""

    def of(events: Sequence[Event], kind: str) -> list[Event]:
        return [e for e in events if e.kind == kind]

    return {
        "cramp": match_events(of(truth, "cramp"), of(found, "cramp"), same_leg=True),
        "awakening": match_events(of(truth, "awakening"), of(found, "awakening"), same_leg=False),
        "limb_movement": match_events(
            merge_bilateral(of(truth, "limb_movement")), merge_bilateral(of(found, "limb_movement")), same_leg=False
        ),
    }
