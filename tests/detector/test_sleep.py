"""The sleep stage on hand-made frame tracks: where awakenings begin and what is only restless sleep."""

from __future__ import annotations

import numpy as np

from detector.params import EventParams
from detector.sleep import SleepStage

FH = 10  # frames per second


def night(segments: list[tuple[float, str]]) -> tuple[np.ndarray, ...]:
    """Frame tracks from (seconds, state): "sleep" (still, resting tone), "turn" (gross movement and a new
    orientation), "awake" (still, tone 1.4x rest)."""
    n = int(sum(d for d, _ in segments) * FH)
    grav = np.zeros((1, 3, n))
    grav[0, 2] = 1.0
    moving, tone = np.zeros(n), np.ones((1, 2, n))
    tone[0, 1] = 4.0  # resting level, µV
    t, side = 0, 1.0
    for dur, state in segments:
        k = int(dur * FH)
        if state == "turn":
            moving[t : t + k] = 1.0
            side = -side
        elif state == "awake":
            tone[0, 0, t : t + k] = 1.4
        grav[0, 1, t:] = 0.5 * side
        t += k
    return grav, moving, np.zeros(n), np.zeros(n), tone


def run(segments: list[tuple[float, str]]) -> SleepStage:
    stage = SleepStage(params=EventParams(tone_settle_s=0.0), frame_hz=FH, n_legs=1)
    grav, moving, upright, contracting, tone = night(segments)
    for a in range(0, moving.size, 3000):  # 5-min pushes
        b = a + 3000
        stage.push(a, grav[:, :, a:b], moving[a:b], upright[a:b], contracting[a:b], tone[:, :, a:b])
    stage.finish()
    return stage


def test_an_awakening_begins_with_raised_tone_not_at_a_turn_minutes_before() -> None:
    stage = run([(900, "sleep"), (5, "turn"), (200, "sleep"), (240, "awake"), (900, "sleep")])
    ((a, b),) = stage.awakenings
    assert abs(a / FH - 1105.0) <= 20.0 and abs(b / FH - 1345.0) <= 20.0  # the 30-s tone median lags a little


def test_tossing_for_a_minute_and_a_half_at_resting_tone_is_restless_sleep() -> None:
    tossing = [(10, "turn"), (15, "sleep")] * 3 + [(10, "turn")]
    stage = run([(900, "sleep"), *tossing, (900, "sleep")])
    assert stage.awakenings == []
    assert stage.state.restless  # the stretch between the sleep runs counts as sleep
