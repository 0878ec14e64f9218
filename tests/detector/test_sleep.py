"""The sleep stage on hand-made frame tracks: where awakenings begin and what is only restless sleep."""

from __future__ import annotations

import numpy as np
import pytest

from detector.params import EventParams
from detector.sleep import SleepStage
from detector.streaming import median_last

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


def acc_only(moves_s: list[float], n_s: float) -> SleepStage:
    """A night without EMG, lying still but for short (1-s) small movements at ``moves_s``."""
    n = int(n_s * FH)
    grav = np.zeros((1, 3, n))
    grav[0, 2] = 1.0
    small = np.zeros(n)
    for t in moves_s:
        small[int(t * FH) : int((t + 1.0) * FH)] = 1.0
    stage = SleepStage(params=EventParams(), frame_hz=FH, n_legs=1)
    for a in range(0, n, 1234):  # odd pushes: a movement may straddle two
        b = a + 1234
        z = np.zeros(min(b, n) - a)
        stage.push(a, grav[:, :, a:b], z, z, z, None, small[a:b])
    stage.finish()
    return stage


def test_without_emg_irregular_fidgeting_for_minutes_is_an_awakening() -> None:
    rng = np.random.default_rng(3)
    fidgets = 1200.0 + np.cumsum(rng.exponential(30.0, 12))  # about 2 per minute, irregular
    fidgets = fidgets[fidgets < 1500.0]
    ((a, b),) = acc_only(fidgets.tolist(), 2700.0).awakenings
    assert 1180.0 <= a / FH <= fidgets[2] + 5.0 and b / FH >= fidgets[-1]


def test_without_emg_periodic_leg_movements_are_sleep_and_sparse_ones_too() -> None:
    plm = [1200.0 + 25.0 * i + 3.0 * np.sin(i) for i in range(30)]  # a PLM series: every 25 s, regular
    assert acc_only(plm, 3600.0).awakenings == []
    sparse = [1200.0, 1380.0, 1560.0, 1740.0]  # one every 3 minutes: restless sleep
    assert acc_only(sparse, 3000.0).awakenings == []


def test_without_emg_lying_still_awake_then_fidgeting_before_sleep_is_not_sleep_then_an_awakening() -> None:
    rng = np.random.default_rng(5)
    fidgets = 240.0 + np.cumsum(rng.exponential(25.0, 60))  # still for 4-5 min, then restless ...
    stage = acc_only(fidgets[fidgets < 1200.0].tolist(), 3600.0)  # ... to 20 min, then asleep
    assert stage.awakenings == []
    assert stage.state.onset is not None and 1150.0 <= stage.state.onset / FH <= 1260.0


@pytest.mark.parametrize("m", [1, 2, 7, 300])
def test_epoch_median_is_numpys(m: int) -> None:
    x = np.random.default_rng(m).lognormal(0.0, 1.0, (2, 50, m))
    x[0, 3, :] = 0.0
    np.testing.assert_array_equal(median_last(x.copy()), np.median(x, axis=-1))
