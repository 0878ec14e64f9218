"""Event matching for the evaluation, against hand-worked cases."""

from __future__ import annotations

from detector.evaluate import match_events, merge_bilateral, score_night
from detector.events import Event


def ev(kind: str, a: float, b: float, leg: str | None = "left") -> Event:
    return Event(kind, a, b, leg)


def test_one_to_one_matching_by_largest_overlap() -> None:
    truth = [ev("cramp", 10, 30), ev("cramp", 100, 120)]
    found = [ev("cramp", 12, 31), ev("cramp", 25, 40), ev("cramp", 300, 320)]
    s = match_events(truth, found, same_leg=True)
    assert (s.tp, s.fp, s.fn) == (1, 2, 1)
    assert s.onset_errors_s == [2.0]
    assert s.precision == 1 / 3 and s.recall == 1 / 2
    assert abs(s.f1 - 0.4) < 1e-12


def test_cramps_must_be_on_the_same_leg() -> None:
    s = match_events([ev("cramp", 0, 20, "left")], [ev("cramp", 0, 20, "right")], same_leg=True)
    assert (s.tp, s.fp, s.fn) == (0, 1, 1)


def test_bilateral_leg_movements_count_once() -> None:
    lms = [ev("limb_movement", 0, 1, "left"), ev("limb_movement", 2, 3, "right"), ev("limb_movement", 30, 31, "left")]
    merged = merge_bilateral(lms)
    assert [(e.start_s, e.end_s, e.leg) for e in merged] == [(0, 3, None), (30, 31, "left")]


def test_empty_nights_score_perfectly() -> None:
    scores = score_night([], [])
    assert all(s.f1 == 1.0 and s.tp == s.fp == s.fn == 0 for s in scores.values())
